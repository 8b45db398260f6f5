// The test addon's module entry: the real binding, hosted by the test double of the broker, plus `testing`.
#include <napi.h>

#include "../hooks.h"

namespace dfmq::testing
{
void installFakeHost();
Napi::Object testingExports(Napi::Env env);
} // namespace dfmq::testing

namespace
{

Napi::Object init(Napi::Env env, Napi::Object exports)
{
    dfmq::testing::installFakeHost();
    Napi::Object binding(env, dfmq::registerFlashmqBinding(env, exports));
    binding.Set("testing", dfmq::testing::testingExports(env));
    return binding;
}

} // namespace

NODE_API_MODULE(flashmq_binding_test, init)
