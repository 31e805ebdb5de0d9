// Listener (LISTEN/NOTIFY on a dedicated connection) against a live PostgreSQL.
// Channel names are unique per test, so tests can run in parallel.
//
// Suites are named after the executable so `ctest -R listener` selects them.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include <delta/errors.hpp>
#include <delta/pg.hpp>

#include "pg/listener.hpp"
#include "support/pg_test.hpp"

namespace {

namespace dt = delta::testing;
using delta::pg::Listener;
using delta::pg::ListenerOptions;
using delta::pg::Notification;
using delta::pg::Pool;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

ListenerOptions listener_options() {
  ListenerOptions options;
  options.connect.url = dt::database_url();
  options.connect.connect_timeout = 2s;
  options.connect.application_name = "delta-listener-test";
  options.reconnect_min = 10ms;
  options.reconnect_max = 100ms;
  return options;
}

void notify(Pool& pool, const std::string& channel, const std::string& payload) {
  pool.exec("SELECT pg_notify($1, $2)", channel, payload);
}

TEST(listener_pgtest, ReceivesNotificationWithPayload) {
  auto pool = dt::make_pool();
  Listener listener(listener_options());
  std::string channel = dt::unique_schema("ch");
  listener.listen(channel);
  EXPECT_TRUE(listener.connected());
  EXPECT_GT(listener.backend_pid(), 0);
  EXPECT_EQ(listener.reconnects(), 0U);

  std::string payload = "héllo 世界 🚀 \"quoted\" 'single' tab\t newline\n back\\slash";
  auto tx = pool->begin();
  auto sender_pid = tx.exec("SELECT pg_backend_pid()").one().get<std::int32_t>(0);
  tx.exec("SELECT pg_notify($1, $2)", channel, payload);
  tx.commit();

  auto received = listener.wait(5s);
  ASSERT_TRUE(received.has_value());
  EXPECT_EQ(received->channel, channel);
  EXPECT_EQ(received->payload, payload);
  EXPECT_EQ(received->sender_pid, sender_pid);
  // Delivered once.
  EXPECT_FALSE(listener.wait(50ms).has_value());
}

TEST(listener_pgtest, EmptyPayload) {
  auto pool = dt::make_pool();
  Listener listener(listener_options());
  std::string channel = dt::unique_schema("ch");
  listener.listen(channel);
  pool->exec("NOTIFY " + channel);
  auto received = listener.wait(5s);
  ASSERT_TRUE(received.has_value());
  EXPECT_EQ(received->channel, channel);
  EXPECT_EQ(received->payload, "");
}

TEST(listener_pgtest, ChannelNameIsTakenLiterally) {
  // pg_notify takes any string as channel; LISTEN must not case-fold or mangle it.
  auto pool = dt::make_pool();
  Listener listener(listener_options());
  std::string channel = "Delta.Events-" + dt::unique_schema("Ch");
  listener.listen(channel);
  notify(*pool, channel, "mixed");
  auto received = listener.wait(5s);
  ASSERT_TRUE(received.has_value());
  EXPECT_EQ(received->channel, channel);
  EXPECT_EQ(received->payload, "mixed");
}

TEST(listener_pgtest, WaitTimesOut) {
  Listener listener(listener_options());
  listener.listen(dt::unique_schema("ch"));
  auto start = Clock::now();
  EXPECT_FALSE(listener.wait(200ms).has_value());
  auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 180ms);
  EXPECT_LT(elapsed, 10s) << "wait() did not end at its timeout";
}

TEST(listener_pgtest, MultipleChannels) {
  auto pool = dt::make_pool();
  Listener listener(listener_options());
  std::string first = dt::unique_schema("ch");
  std::string second = dt::unique_schema("ch");
  std::string unheard = dt::unique_schema("ch");
  listener.listen(first);
  listener.listen(second);

  notify(*pool, first, "1");
  notify(*pool, unheard, "x");
  notify(*pool, second, "2");
  notify(*pool, first, "3");

  std::vector<std::pair<std::string, std::string>> received;
  for (int notification_idx = 0; notification_idx < 3; ++notification_idx) {
    auto notification = listener.wait(5s);
    ASSERT_TRUE(notification.has_value()) << "notification " << notification_idx;
    received.emplace_back(notification->channel, notification->payload);
  }
  // Notifications arrive in commit order.
  std::vector<std::pair<std::string, std::string>> expected = {
      {first, "1"}, {second, "2"}, {first, "3"}};
  EXPECT_EQ(received, expected);

  listener.unlisten(second);
  notify(*pool, second, "4");
  notify(*pool, first, "5");
  auto after_unlisten = listener.wait(5s);
  ASSERT_TRUE(after_unlisten.has_value());
  EXPECT_EQ(after_unlisten->channel, first);
  EXPECT_EQ(after_unlisten->payload, "5");
  EXPECT_FALSE(listener.wait(50ms).has_value());
}

TEST(listener_pgtest, InterruptWakesWaitFromAnotherThread) {
  auto pool = dt::make_pool();
  Listener listener(listener_options());
  std::string channel = dt::unique_schema("ch");
  listener.listen(channel);

  std::atomic<bool> started{false};
  std::atomic<bool> returned{false};
  std::optional<Notification> result;
  std::thread waiter([&] {
    started = true;
    result = listener.wait(30s);
    returned = true;
  });
  ASSERT_TRUE(dt::eventually([&] { return started.load(); }));
  // The waiter is in wait(): it stays there without a notification or an interrupt.
  const bool blocked = dt::consistently([&] { return !returned.load(); }, 100ms);
  auto interrupted_at = Clock::now();
  listener.interrupt();
  waiter.join();
  EXPECT_TRUE(blocked) << "wait() returned with nothing to return";
  EXPECT_FALSE(result.has_value());
  // Woken by the interrupt, not by wait()'s own 30 s limit.
  EXPECT_LT(Clock::now() - interrupted_at, 15s);

  // The interrupt is spent: the listener still receives notifications afterwards.
  notify(*pool, channel, "after interrupt");
  std::optional<Notification> received;
  ASSERT_TRUE(dt::eventually(
      [&] {
        received = listener.wait(100ms);
        return received.has_value();
      },
      5s));
  EXPECT_EQ(received->payload, "after interrupt");
}

TEST(listener_pgtest, InterruptBeforeWaitMakesNextWaitReturn) {
  Listener listener(listener_options());
  listener.listen(dt::unique_schema("ch"));
  listener.interrupt();
  auto start = Clock::now();
  EXPECT_FALSE(listener.wait(30s).has_value());
  EXPECT_LT(Clock::now() - start, 15s) << "the interrupt did not end the wait";
  // Only the next wait: the one after that waits its full timeout.
  start = Clock::now();
  EXPECT_FALSE(listener.wait(150ms).has_value());
  EXPECT_GE(Clock::now() - start, 130ms);
}

TEST(listener_pgtest, ReconnectsAfterBackendTerminated) {
  auto pool = dt::make_pool();
  std::atomic<int> reconnect_calls{0};
  std::atomic<int> error_calls{0};
  auto options = listener_options();
  options.on_reconnect = [&] { ++reconnect_calls; };
  options.on_error = [&](const std::string&) { ++error_calls; };
  Listener listener(options);
  std::string channel = dt::unique_schema("ch");
  listener.listen(channel);
  int old_pid = listener.backend_pid();
  ASSERT_GT(old_pid, 0);

  dt::terminate_backend(*pool, old_pid);
  EXPECT_TRUE(dt::eventually(
      [&] {
        EXPECT_NO_THROW(listener.wait(50ms));
        return listener.reconnects() == 1;
      },
      10s));
  EXPECT_EQ(listener.reconnects(), 1U);
  EXPECT_EQ(reconnect_calls, 1);
  EXPECT_GE(error_calls, 1);
  EXPECT_TRUE(listener.connected());
  EXPECT_GT(listener.backend_pid(), 0);
  EXPECT_NE(listener.backend_pid(), old_pid);

  // The channel was LISTENed again on the new connection.
  notify(*pool, channel, "after reconnect");
  auto received = listener.wait(5s);
  ASSERT_TRUE(received.has_value());
  EXPECT_EQ(received->channel, channel);
  EXPECT_EQ(received->payload, "after reconnect");
}

TEST(listener_pgtest, ListenWhileConnectionIsDownIsRemembered) {
  auto pool = dt::make_pool();
  Listener listener(listener_options());
  std::string first = dt::unique_schema("ch");
  std::string second = dt::unique_schema("ch");
  listener.listen(first);
  int old_pid = listener.backend_pid();
  ASSERT_GT(old_pid, 0);
  dt::terminate_backend(*pool, old_pid);

  EXPECT_NO_THROW(listener.listen(second));
  EXPECT_TRUE(dt::eventually(
      [&] {
        EXPECT_NO_THROW(listener.wait(50ms));
        return listener.connected() && listener.backend_pid() != old_pid;
      },
      10s));

  notify(*pool, second, "two");
  notify(*pool, first, "one");
  auto from_second = listener.wait(5s);
  ASSERT_TRUE(from_second.has_value());
  EXPECT_EQ(from_second->channel, second);
  auto from_first = listener.wait(5s);
  ASSERT_TRUE(from_first.has_value());
  EXPECT_EQ(from_first->channel, first);
}

TEST(listener_pgtest, RolledBackNotifyIsNotDelivered) {
  auto pool = dt::make_pool();
  Listener listener(listener_options());
  std::string channel = dt::unique_schema("ch");
  listener.listen(channel);
  {
    auto tx = pool->begin();
    tx.exec("SELECT pg_notify($1, $2)", channel, "rolled back");
    tx.rollback();
  }
  EXPECT_FALSE(listener.wait(300ms).has_value());

  // A committed one still arrives, and it is the first thing received.
  notify(*pool, channel, "committed");
  auto received = listener.wait(5s);
  ASSERT_TRUE(received.has_value());
  EXPECT_EQ(received->payload, "committed");
}

TEST(listener_pgtest, UnreachableServerNeverThrowsFromWait) {
  auto options = listener_options();
  options.connect.url = "postgresql://127.0.0.1:1/x";
  options.connect.connect_timeout = 1s;
  std::atomic<int> error_calls{0};
  options.on_error = [&](const std::string&) { ++error_calls; };
  Listener listener(options);
  try {
    listener.listen("unreachable");
  } catch (const delta::DatabaseError&) {
    // Reporting the first connection failure from listen() is allowed.
  }
  EXPECT_FALSE(listener.connected());
  EXPECT_EQ(listener.backend_pid(), 0);
  auto start = Clock::now();
  std::optional<Notification> received;
  EXPECT_NO_THROW(received = listener.wait(200ms));
  EXPECT_FALSE(received.has_value());
  EXPECT_LT(Clock::now() - start, 3s);
  EXPECT_GE(error_calls, 1);
  EXPECT_EQ(listener.reconnects(), 0U);
}

}  // namespace
