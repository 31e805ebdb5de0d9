// Flow control (docs/flow-control.md): the limits of one scope -- a kind, a namespace or a
// job queue -- and the arithmetic of the rate limiter, shared by the resource claim and the
// job fetch. The values in force live in the database (migration 0005); a process keeps a
// snapshot of them only to choose between the plain claim and the limited one.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <delta/rate_limit.hpp>
#include <delta/time.hpp>

namespace delta::internal {

inline constexpr int kMaxConcurrencyLimit = 1'000'000;

struct FlowLimit {
  std::optional<int> concurrency;
  std::optional<RateLimit> rate;
  bool any() const noexcept { return concurrency.has_value() || rate.has_value(); }
  friend bool operator==(const FlowLimit&, const FlowLimit&) = default;
};

// Appends what is wrong with a scope's limits to `problems`: `where` names the scope (e.g.
// `controllers["user"]`), `concurrency_field` the concurrency field's name.
void check_flow_limit(std::vector<std::string>& problems, std::string_view where,
                      std::string_view concurrency_field, const FlowLimit& limit);
// "50/1s", "20 at once", "none": for logs and the CLI.
std::string describe(const FlowLimit& limit);

// One scope's rate limiter in a limited claim: starts are spaced `step` apart from `next`
// on (the stored rate_tat, or now when it is in the past), and a claim may take the starts
// that fall before now + lookahead.
struct RateCell {
  std::chrono::microseconds step{0};  // per / count
  Timestamp next;                     // the earliest time the next start may happen
  // How many starts fit before now + lookahead.
  int available(Timestamp now, std::chrono::microseconds lookahead) const;
  // Takes the next start (not before `earliest`), moving `next` past it.
  Timestamp take(Timestamp earliest);
};

// The interval between two starts of `rate` (per / count and 2%, at least 1 µs).
std::chrono::microseconds rate_step(const RateLimit& rate);
// How far ahead of now a limited claim takes its rate's starts: long enough to claim a
// batch at high rates, short enough that a claimed resource waits little for its start.
std::chrono::microseconds rate_lookahead(const RateLimit& rate);

}  // namespace delta::internal
