// Runs a libuv loop (the Node environment's) inside FlashMQ's worker loop, on the same thread:
//   - libuv's backend fd (its epoll fd) sits in FlashMQ's epoll, so any I/O readiness wakes the broker loop;
//   - libuv's next timeout becomes one pending one-shot FlashMQ task, replaced only when a sooner one is needed
//     (a removed FlashMQ task still wakes the loop once, so tasks are not churned);
//   - after every pump and after every call into JavaScript from a hook, the timeout is read again (reschedule),
//     so timers and immediates created by that call run on time.
// A referenced idle-proof async handle keeps the loop "alive", so uv_backend_timeout reports real timer deadlines
// (it reports 0 for a loop without active handles, which would spin) and unreferenced timers still fire.

#ifndef DFMQ_UV_PUMP_H
#define DFMQ_UV_PUMP_H

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include <uv.h>

namespace dfmq
{

class UvPump
{
public:
    // `runOnce` must enter whatever scopes the loop's callbacks need and call uv_run(loop, UV_RUN_NOWAIT).
    UvPump(uv_loop_t *loop, std::function<void()> runOnce);
    ~UvPump();
    UvPump(const UvPump &) = delete;
    UvPump &operator=(const UvPump &) = delete;

    void start();
    // Takes the loop out of FlashMQ's epoll and cancels the pending task. Idempotent.
    void stop();
    // Closes the keep-alive handle; call after stop(), before the loop is closed. Runs the loop to finish it.
    void closeHandles();

    // Returns true if the fd was ours and the loop was run.
    bool onPollEvent(int fd);
    void pump();
    void reschedule();

    int backendFd() const { return backendFd_; }
    bool running() const { return started_ && !stopped_; }

    struct Stats
    {
        uint64_t pumps = 0;
        uint64_t tasksAdded = 0;
        uint64_t tasksReplaced = 0;
    };
    const Stats &stats() const { return stats_; }

private:
    uv_loop_t *loop_;
    std::function<void()> runOnce_;
    int backendFd_ = -1;
    bool started_ = false;
    bool stopped_ = false;
    bool inPump_ = false;
    uint32_t taskId_ = 0;
    std::chrono::steady_clock::time_point taskWhen_{};
    std::shared_ptr<int> token_ = std::make_shared<int>(0);
    uv_async_t *keepAlive_ = nullptr;
    Stats stats_;
};

} // namespace dfmq

#endif
