#include "runtime/hooks.hpp"

#include <fmt/format.h>

namespace delta::runtime {

namespace {
// A hook that throws on every call would otherwise log once per work.
constexpr std::chrono::seconds kLogEvery{10};
}  // namespace

HookCalls::HookCalls(Context& ctx)
    : ctx_(ctx),
      hooks_(ctx.options.hooks),
      errors_(&ctx.metrics->counter("delta_hook_errors_total",
                                    "Exceptions thrown by the hooks of Config::hooks (caught).",
                                    {})) {}

void HookCalls::failed(const char* what) const {
  errors_->add();
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  auto last = last_logged_ns_.load(std::memory_order_relaxed);
  if (last != 0 && now - last < std::chrono::nanoseconds(kLogEvery).count()) {
    unlogged_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (!last_logged_ns_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
    unlogged_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const auto more = unlogged_.exchange(0, std::memory_order_relaxed);
  ctx_.log(LogLevel::warn,
           more > 0 ? fmt::format("a hook threw: {} ({} more since the last report)", what, more)
                    : fmt::format("a hook threw: {}", what),
           {{"error", what}});
}

}  // namespace delta::runtime
