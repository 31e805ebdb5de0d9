#include "runtime/service.hpp"

#include <algorithm>
#include <thread>

#include <fmt/format.h>

namespace delta::runtime {

namespace {
using Clock = std::chrono::steady_clock;

void wait_while(const std::function<bool()>& busy, Clock::time_point end) {
  while (busy() && Clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}
}  // namespace

void stop_with_grace(const Context& ctx, std::chrono::milliseconds grace,
                     const std::function<bool()>& busy, Watchdog& watchdog,
                     const std::function<void()>& release, std::string_view what) {
  wait_while(busy, Clock::now() + grace);
  if (!busy()) return;
  ctx.log(LogLevel::info, fmt::format("stop: grace period over; cancelling running {}", what));
  watchdog.shutdown_all();
  // Work that honours its stop token returns quickly; give it a moment, then hand
  // whatever still runs to other processes.
  wait_while(busy, Clock::now() + std::min(grace, std::chrono::milliseconds(1000)));
  if (busy()) release();
}

}  // namespace delta::runtime
