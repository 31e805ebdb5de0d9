#include "common/flow.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace delta {

std::string to_string(const RateLimit& rate) {
  const auto ms = rate.per.count();
  if (ms % 3'600'000 == 0) return fmt::format("{}/{}h", rate.count, ms / 3'600'000);
  if (ms % 60'000 == 0) return fmt::format("{}/{}m", rate.count, ms / 60'000);
  if (ms % 1000 == 0) return fmt::format("{}/{}s", rate.count, ms / 1000);
  return fmt::format("{}/{}ms", rate.count, ms);
}

}  // namespace delta

namespace delta::internal {

void check_flow_limit(std::vector<std::string>& problems, std::string_view where,
                      std::string_view concurrency_field, const FlowLimit& limit) {
  if (limit.concurrency && (*limit.concurrency < 1 || *limit.concurrency > kMaxConcurrencyLimit)) {
    problems.push_back(fmt::format("{}.{} must be in 1 .. {} (got {})", where, concurrency_field,
                                   kMaxConcurrencyLimit, *limit.concurrency));
  }
  if (limit.rate) {
    if (limit.rate->count < 1) {
      problems.push_back(
          fmt::format("{}.rate_limit.count must be >= 1 (got {})", where, limit.rate->count));
    }
    if (limit.rate->per < std::chrono::milliseconds(1)) {
      problems.push_back(fmt::format("{}.rate_limit.per must be at least 1 ms (got {} ms)", where,
                                     limit.rate->per.count()));
    }
  }
}

std::string describe(const FlowLimit& limit) {
  if (!limit.any()) return "none";
  std::string out;
  if (limit.rate) out = to_string(*limit.rate);
  if (limit.concurrency) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{} at once", *limit.concurrency);
  }
  return out;
}

std::chrono::microseconds rate_step(const RateLimit& rate) {
  // 2% wider than per / count: a worker thread that wakes a few milliseconds late for its
  // start (a busy machine) then does not show as a second start of burst in a window of
  // `per` (2% of a second is 20 ms of slack). The rate achieved is 98% of the limit.
  const auto per = std::chrono::duration_cast<std::chrono::microseconds>(rate.per);
  return std::max(std::chrono::microseconds(1), per * 102 / 100 / std::max(1, rate.count));
}

std::chrono::microseconds rate_lookahead(const RateLimit& rate) {
  // A tenth of a second's starts, at least one step: at 50/s a claim takes up to 6 starts,
  // at 10,000/s up to 1,000.
  return std::max(rate_step(rate), std::chrono::microseconds(100'000));
}

int RateCell::available(Timestamp now, std::chrono::microseconds lookahead) const {
  const Timestamp from = std::max(next, now);
  const auto room = now + lookahead - from;
  if (room.count() < 0) return 0;
  const auto starts = room / step + 1;
  return static_cast<int>(std::min<std::int64_t>(starts, 1'000'000));
}

Timestamp RateCell::take(Timestamp earliest) {
  const Timestamp at = std::max(next, earliest);
  next = at + step;
  return at;
}

}  // namespace delta::internal
