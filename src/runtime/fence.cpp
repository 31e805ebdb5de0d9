#include "runtime/fence.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace delta::runtime {

Fence::Fence(Context& ctx)
    : ctx_(ctx),
      horizon_(horizon(ctx.options.heartbeat_interval, ctx.options.client_ttl)),
      fenced_gauge_(&ctx.metrics->gauge(
          "delta_fenced",
          "1 while this client is fenced: its heartbeat has not been recorded for long enough "
          "that its work may soon be rescued, so it works nothing.",
          {})),
      episodes_(&ctx.metrics->counter(
          "delta_fence_episodes_total",
          "Times this client fenced itself (its heartbeat could not be recorded).", {})) {}

std::chrono::milliseconds Fence::horizon(std::chrono::milliseconds heartbeat_interval,
                                         std::chrono::milliseconds client_ttl) {
  // A fifth of the TTL before it, but always after the next heartbeat is due.
  const auto margin = std::min(client_ttl / 5, (client_ttl - heartbeat_interval) / 2);
  return client_ttl - std::max(margin, std::chrono::milliseconds(0));
}

void Fence::recorded(Clock::time_point sent) {
  // Recorded only after the horizon passed (frozen, or a heartbeat that took that long):
  // the fence was closed meanwhile, whether or not a thread saw it.
  const auto now = Clock::now();
  if (now >= closes_at()) entered(now);
  const auto ticks = sent.time_since_epoch().count();
  auto last = last_sent_.load(std::memory_order_relaxed);
  while (ticks > last && !last_sent_.compare_exchange_weak(last, ticks)) {
  }
  if (in_episode_.load() && !fenced(Clock::now()) && in_episode_.exchange(false)) {
    fenced_gauge_->set(0);
    ctx_.log(LogLevel::info,
             fmt::format("client {}: its heartbeat is recorded again; it works again", ctx_.id()),
             {{"client", ctx_.id()}});
  }
}

Fence::Clock::time_point Fence::closes_at() const noexcept {
  const auto last = last_sent_.load(std::memory_order_relaxed);
  if (last == 0) return Clock::time_point::max();
  return Clock::time_point(Clock::duration(last)) + horizon_;
}

bool Fence::fenced(Clock::time_point now) const {
  if (now < closes_at()) return false;
  if (!in_episode_.load(std::memory_order_relaxed)) entered(now);
  return true;
}

void Fence::entered(Clock::time_point now) const {
  if (in_episode_.exchange(true)) return;
  epoch_.fetch_add(1, std::memory_order_acq_rel);
  episodes_->add();
  fenced_gauge_->set(1);
  const auto since =
      std::chrono::duration_cast<std::chrono::milliseconds>(now - (closes_at() - horizon_));
  ctx_.log(LogLevel::warn,
           fmt::format("client {}: no heartbeat recorded for {} ms (client_ttl {} ms): fenced; "
                       "it claims and starts nothing and stops what runs until a heartbeat "
                       "is recorded again",
                       ctx_.id(), since.count(), ctx_.options.client_ttl.count()),
           {{"client", ctx_.id()},
            {"since_heartbeat_ms", since.count()},
            {"client_ttl_ms", ctx_.options.client_ttl.count()}});
}

}  // namespace delta::runtime
