// runtime::NotifyLimiter: at most one wake-up per key per window, and none lost.
#include "runtime/notify_limiter.hpp"

#include <chrono>
#include <mutex>
#include <vector>

#include <gtest/gtest.h>

#include "support/pg_test.hpp"

namespace {

using namespace std::chrono_literals;
using delta::runtime::Context;
using delta::runtime::NotifyLimiter;

struct Sent {
  std::mutex mutex;
  std::vector<NotifyLimiter::Key> keys;  // guarded by mutex
  NotifyLimiter::Sender sender() {
    return [this](const std::vector<NotifyLimiter::Key>& owed) {
      std::lock_guard lock(mutex);
      keys.insert(keys.end(), owed.begin(), owed.end());
    };
  }
  std::size_t count() {
    std::lock_guard lock(mutex);
    return keys.size();
  }
};

Context with_limit(std::chrono::milliseconds limit) {
  Context ctx;
  ctx.options.notify_rate_limit = limit;
  ctx.options.logger = [](delta::LogLevel, std::string_view) {};
  return ctx;
}

TEST(notify_limiter_test, WithoutALimitEveryWriteNotifies) {
  Context ctx = with_limit(0ms);
  Sent sent;
  NotifyLimiter limiter(ctx, sent.sender());
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(limiter.should_notify("jobs", {"default"}));
  EXPECT_EQ(sent.count(), 0u) << "nothing is owed";
}

TEST(notify_limiter_test, ASuppressedWakeUpIsSentOnceAfterItsWindow) {
  Context ctx = with_limit(50ms);
  Sent sent;
  NotifyLimiter limiter(ctx, sent.sender());
  EXPECT_TRUE(limiter.should_notify("jobs", {"default"})) << "the first write of a window";
  EXPECT_FALSE(limiter.should_notify("jobs", {"default"}));
  EXPECT_FALSE(limiter.should_notify("jobs", {"default"}));
  EXPECT_TRUE(limiter.should_notify("jobs", {"mail"})) << "keys are limited apart";
  EXPECT_TRUE(limiter.should_notify("resources", {"default"})) << "and so are channels";
  ASSERT_TRUE(delta::testing::eventually([&] { return sent.count() >= 1; }));
  // A second trailing wake-up would come within the next window.
  EXPECT_TRUE(delta::testing::consistently([&] { return sent.count() == 1; }, 120ms));
  std::lock_guard lock(sent.mutex);
  ASSERT_EQ(sent.keys.size(), 1u) << "two suppressed writes owe one wake-up";
  EXPECT_EQ(sent.keys.front(), (NotifyLimiter::Key{"jobs", "default"}));
}

TEST(notify_limiter_test, AWriteWithSeveralKeysNotifiesWhenAnyIsDue) {
  Context ctx = with_limit(1h);
  Sent sent;
  NotifyLimiter limiter(ctx, sent.sender());
  EXPECT_TRUE(limiter.should_notify("jobs", {"a"}));
  EXPECT_FALSE(limiter.should_notify("jobs", {"a"}));
  EXPECT_TRUE(limiter.should_notify("jobs", {"a", "b"})) << "b was never announced";
}

TEST(notify_limiter_test, AFailingSendIsLoggedAndAfterStopEveryWriteNotifies) {
  Context ctx = with_limit(20ms);
  std::mutex mutex;
  std::vector<std::string> lines;
  ctx.options.logger = [&](delta::LogLevel, std::string_view line) {
    std::lock_guard lock(mutex);
    lines.emplace_back(line);
  };
  NotifyLimiter limiter(ctx, [](const std::vector<NotifyLimiter::Key>&) {
    throw std::runtime_error("connection refused");
  });
  EXPECT_TRUE(limiter.should_notify("jobs", {"default"}));
  EXPECT_FALSE(limiter.should_notify("jobs", {"default"}));
  ASSERT_TRUE(delta::testing::eventually([&] {
    std::lock_guard lock(mutex);
    return !lines.empty();
  }));
  {
    std::lock_guard lock(mutex);
    EXPECT_NE(lines.front().find("could not send a wake-up: connection refused"),
              std::string::npos);
  }
  limiter.stop();
  EXPECT_TRUE(limiter.should_notify("jobs", {"default"}));
  EXPECT_TRUE(limiter.should_notify("jobs", {"default"}));
}

}  // namespace
