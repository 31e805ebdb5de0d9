// The start/stop protocol of the engines a client runs.
//
// A client starts its services in order and stops them in reverse, sharing one grace
// period. Each service stops in the same steps (stop_with_grace): it stops taking work
// and releases what it took but did not start; running work gets the grace period to
// finish; then its stop tokens are signalled and it gets a moment more (at most a
// second); whatever still runs is released for another process to take at once.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <string_view>

#include "runtime/context.hpp"
#include "runtime/watchdog.hpp"

namespace delta::runtime {

class Service {
 public:
  virtual ~Service() = default;
  virtual void start() = 0;
  // Idempotent; blocks until the service's threads have ended.
  virtual void stop(std::chrono::milliseconds grace) = 0;
};

// Whether any of `runners` (pointers to queue or namespace runners) has work in flight:
// taken, and not yet handed back finished.
template <class Runners>
bool any_in_flight(const Runners& runners) {
  return std::any_of(runners.begin(), runners.end(),
                     [](const auto& runner) { return runner->in_flight() > 0; });
}

// The middle of a service's stop, after it stopped taking work: waits up to `grace` while
// `busy()`, then signals every stop token of `watchdog` and waits up to min(grace, 1 s)
// more, then calls `release()` if still busy (release what still runs; it must not
// throw). `what` names the work in the log ("jobs", "work").
void stop_with_grace(const Context& ctx, std::chrono::milliseconds grace,
                     const std::function<bool()>& busy, Watchdog& watchdog,
                     const std::function<void()>& release, std::string_view what);

}  // namespace delta::runtime
