#include "uv_pump.h"

#include <sys/epoll.h>

#include "flashmq_abi.h"

namespace dfmq
{

UvPump::UvPump(uv_loop_t *loop, std::function<void()> runOnce)
    : loop_(loop), runOnce_(std::move(runOnce))
{
}

UvPump::~UvPump()
{
    stop();
}

void UvPump::start()
{
    if (started_)
        return;
    keepAlive_ = new uv_async_t;
    uv_async_init(loop_, keepAlive_, [](uv_async_t *) {});
    backendFd_ = uv_backend_fd(loop_);
    flashmq_poll_add_fd(backendFd_, EPOLLIN, std::weak_ptr<void>());
    started_ = true;
    pump();
}

void UvPump::stop()
{
    if (!started_ || stopped_)
        return;
    stopped_ = true;
    token_.reset();
    if (taskId_)
    {
        flashmq_remove_task(taskId_);
        taskId_ = 0;
    }
    if (backendFd_ >= 0)
        flashmq_poll_remove_fd(static_cast<uint32_t>(backendFd_));
}

void UvPump::closeHandles()
{
    if (!keepAlive_)
        return;
    uv_close(reinterpret_cast<uv_handle_t *>(keepAlive_), [](uv_handle_t *h) { delete reinterpret_cast<uv_async_t *>(h); });
    keepAlive_ = nullptr;
    // The close callback runs on the next loop pass.
    uv_run(loop_, UV_RUN_NOWAIT);
}

bool UvPump::onPollEvent(int fd)
{
    if (!started_ || fd != backendFd_)
        return false;
    pump();
    return true;
}

void UvPump::pump()
{
    if (!started_ || stopped_ || inPump_)
        return;
    inPump_ = true;
    stats_.pumps++;
    runOnce_();
    inPump_ = false;
    reschedule();
}

void UvPump::reschedule()
{
    if (!started_ || stopped_ || inPump_)
        return;

    uv_update_time(loop_);
    int timeout = uv_backend_timeout(loop_);
    if (timeout == 0 && !uv_loop_alive(loop_))
        timeout = -1; // nothing to do; 0 here would make us spin
    if (timeout < 0)
        return; // only I/O can wake us, and the backend fd is watched

    const auto now = std::chrono::steady_clock::now();
    const auto when = now + std::chrono::milliseconds(timeout);
    if (taskId_ && taskWhen_ <= when)
        return; // the pending task fires early enough; pump() re-reads the deadline then

    if (taskId_)
    {
        flashmq_remove_task(taskId_);
        stats_.tasksReplaced++;
    }
    std::weak_ptr<int> alive = token_;
    taskWhen_ = when;
    taskId_ = flashmq_add_task(
        [this, alive]() {
            if (alive.expired())
                return;
            taskId_ = 0;
            pump();
        },
        static_cast<uint32_t>(timeout));
    stats_.tasksAdded++;
}

} // namespace dfmq
