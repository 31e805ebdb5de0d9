// The fence's horizon and its state, without a database: closed once the last recorded
// heartbeat was sent longer than the horizon ago, open again at the next, never moved
// back by an older one; each episode logged and counted once.
#include "runtime/fence.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

using delta::runtime::Fence;
using std::chrono::milliseconds;

TEST(fence_test, TheHorizonFallsBetweenTheNextHeartbeatAndTheTtl) {
  EXPECT_EQ(Fence::horizon(milliseconds(5000), milliseconds(15000)), milliseconds(12000));
  EXPECT_EQ(Fence::horizon(milliseconds(500), milliseconds(2000)), milliseconds(1600));
  // A TTL barely longer than the interval: halfway between them.
  EXPECT_EQ(Fence::horizon(milliseconds(1000), milliseconds(1100)), milliseconds(1050));
  for (int interval = 100; interval < 10000; interval += 700) {
    for (int ttl = interval + 2; ttl < 30000; ttl += 977) {
      const auto horizon = Fence::horizon(milliseconds(interval), milliseconds(ttl));
      EXPECT_GT(horizon, milliseconds(interval)) << interval << " " << ttl;
      EXPECT_LT(horizon, milliseconds(ttl)) << interval << " " << ttl;
    }
  }
}

TEST(fence_test, ClosedPastTheHorizonOpenAgainAtTheNextHeartbeat) {
  std::vector<std::string> logged;
  delta::runtime::Context ctx{nullptr, {}};
  ctx.options.heartbeat_interval = milliseconds(500);
  ctx.options.client_ttl = milliseconds(2000);
  ctx.options.logger = [&](delta::LogLevel, std::string_view line) { logged.emplace_back(line); };
  Fence fence(ctx);
  const auto now = Fence::Clock::now();
  EXPECT_FALSE(fence.fenced(now));  // nothing recorded yet: nothing runs either
  EXPECT_EQ(fence.closes_at(), Fence::Clock::time_point::max());

  const auto sent = now - milliseconds(1700);  // a heartbeat recorded long ago
  fence.recorded(sent);
  EXPECT_EQ(fence.closes_at(), sent + milliseconds(1600));
  EXPECT_FALSE(fence.fenced(sent + milliseconds(1599)));
  EXPECT_TRUE(fence.fenced(sent + milliseconds(1600)));
  EXPECT_TRUE(fence.fenced());
  ASSERT_EQ(logged.size(), 1U);  // one episode, one record
  EXPECT_NE(logged[0].find("fenced"), std::string::npos) << logged[0];

  fence.recorded(sent - milliseconds(100));  // an older one moves nothing
  EXPECT_EQ(fence.closes_at(), sent + milliseconds(1600));
  EXPECT_TRUE(fence.fenced());
  EXPECT_EQ(logged.size(), 1U);

  fence.recorded(Fence::Clock::now());  // recorded again: open, and said so
  EXPECT_FALSE(fence.fenced());
  ASSERT_EQ(logged.size(), 2U);
  EXPECT_NE(logged[1].find("works again"), std::string::npos) << logged[1];

  const auto snapshot = ctx.metrics->snapshot();
  double episodes = -1, gauge = -1;
  for (const auto& family : snapshot) {
    if (family.name == "delta_fence_episodes_total") episodes = family.samples.at(0).value;
    if (family.name == "delta_fenced") gauge = family.samples.at(0).value;
  }
  EXPECT_EQ(episodes, 1);
  EXPECT_EQ(gauge, 0);
}

TEST(fence_test, AHeartbeatRecordedOnlyAfterTheHorizonStartsANewEpoch) {
  delta::runtime::Context ctx{nullptr, {}};
  ctx.options.heartbeat_interval = milliseconds(500);
  ctx.options.client_ttl = milliseconds(2000);
  ctx.options.logger = delta::null_logger();
  Fence fence(ctx);
  const auto now = Fence::Clock::now();
  fence.recorded(now - milliseconds(300));
  fence.recorded(now - milliseconds(100));  // in time: the same epoch
  EXPECT_EQ(fence.epoch(), 0U);
  // As after a freeze: the previous heartbeat was sent 1.7 s ago and nobody looked at the
  // fence meanwhile; the next one is recorded, and the fence is open again, but what was
  // taken before may have been rescued.
  Fence frozen(ctx);
  frozen.recorded(now - milliseconds(1700));
  frozen.recorded(Fence::Clock::now());
  EXPECT_FALSE(frozen.fenced());
  EXPECT_EQ(frozen.epoch(), 1U);
  // One closing, one epoch: seeing it closed and then recording again counts once.
  Fence seen(ctx);
  seen.recorded(now - milliseconds(1700));
  EXPECT_TRUE(seen.fenced());
  EXPECT_TRUE(seen.fenced());
  seen.recorded(Fence::Clock::now());
  EXPECT_EQ(seen.epoch(), 1U);
}

}  // namespace
