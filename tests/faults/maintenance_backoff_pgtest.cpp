// The leader's resource tasks against a live PostgreSQL whose delta_namespace table is
// renamed away for a while, as a botched operator's migration would: the expirer and the
// cleaner fail, each logs and counts it and retries after the documented backoff (100 ms
// doubling, at most the task's interval: docs/development.md), the loops that do not read
// the table (claims, the completer) carry on, and once the table is back both tasks run
// again on their own — none of the loops died.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <delta/delta.hpp>

#include "support/maintenance_config.hpp"
#include "support/metric_value.hpp"
#include "support/pg_test.hpp"

namespace {

using delta::testing::eventually;
using delta::testing::metric_value;
using delta::testing::ScratchSchema;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Item {
  std::string key;
  static constexpr std::string_view kind = "backoff_item";
  std::string id() const { return key; }
  static delta::ObjectSettings settings() { return {.parallelism = 2}; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Item, key)

class ItemController : public delta::Controller<Item> {
 public:
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<Item>&) override {
    return delta::synced();
  }
};

// The failures of the leader's tasks, as logged: per task, when (this process's steady
// time) and the retry delay it announced.
class TaskFailures {
 public:
  struct Failure {
    Clock::time_point at;
    std::int64_t retry_in_ms = 0;
  };

  delta::Logger logger() {
    return delta::Logger([this](const delta::LogRecord& record) {
      const auto* task = record.find("task");
      const auto* retry = record.find("retry_in_ms");
      if (task == nullptr || retry == nullptr) return;
      std::lock_guard lock(mutex_);
      failures_[task->to_string()].push_back({Clock::now(), std::get<std::int64_t>(retry->get())});
    });
  }
  std::vector<Failure> of(const std::string& task) const {
    std::lock_guard lock(mutex_);
    const auto it = failures_.find(task);
    return it == failures_.end() ? std::vector<Failure>{} : it->second;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::vector<Failure>> failures_;
};

// "100 200 400 ..." of `failures`' delays, for failure messages.
std::string delays(const std::vector<TaskFailures::Failure>& failures) {
  std::string text;
  for (const auto& failure : failures)
    text += std::to_string(failure.retry_in_ms) + " ";
  return text;
}

// Checks that `failures` announced the documented backoff: 100 ms doubling, capped at
// `interval`, and that each retry came no sooner than announced.
void expect_backoff(const std::string& task, const std::vector<TaskFailures::Failure>& failures,
                    std::chrono::milliseconds interval) {
  std::int64_t expected = 100;
  for (std::size_t i = 0; i < failures.size(); ++i) {
    EXPECT_EQ(failures[i].retry_in_ms, std::min<std::int64_t>(expected, interval.count()))
        << task << " failure " << i << "; delays: " << delays(failures);
    expected = std::min<std::int64_t>(expected * 2, interval.count());
    if (i == 0) continue;
    // A lower bound only (the retry may come later on a busy machine); 10 ms of slack
    // for the clocks of the log and the task loop.
    const auto gap =
        std::chrono::duration_cast<std::chrono::milliseconds>(failures[i].at - failures[i - 1].at);
    EXPECT_GE(gap.count() + 10, failures[i - 1].retry_in_ms)
        << task << " retried " << gap.count() << " ms after failure " << i - 1
        << "; delays: " << delays(failures);
  }
}

TEST(maintenance_backoff_pgtest, FailingResourceTasksBackOffAsDocumentedAndRunAgainAfterwards) {
  ScratchSchema schema("mbackoff", delta::testing::SchemaStart::migrated);
  constexpr auto kExpirerInterval = 1000ms;  // the expirer's backoff doubles 4 times first
  constexpr auto kCleanerInterval = 200ms;   // the cleaner's is capped after one
  TaskFailures failures;
  auto config = delta::testing::maintenance_config(schema.name());
  config.logger = failures.logger();
  config.maintenance_interval = kExpirerInterval;
  config.cleaner_interval = kCleanerInterval;
  config.controllers.add(std::make_shared<ItemController>());
  config.namespaces["default"] = {.max_workers = 2, .resource_expiry = std::chrono::hours(1)};
  delta::Client client(schema.shared_pool(), config);
  client.start();
  ASSERT_TRUE(eventually([&] { return client.is_leader(); }, 10s));
  client.inform(Item{"old"});
  ASSERT_TRUE(
      eventually([&] { return schema.count("delta_resource WHERE state = 'synced'") == 1; }));

  // The episode: the table is away; the synced resource is past its expiry.
  schema.pool().exec(schema.sql("ALTER TABLE {s}.delta_namespace RENAME TO delta_namespace_away"));
  schema.pool().exec(schema.sql(
      "UPDATE {s}.delta_resource SET synced_at = now() - interval '2 hours' WHERE object_id = "
      "'old'"));
  // 100 + 200 + 400 + 800 ms of backoff after the first failure, which comes within an
  // interval: five failures of the expirer within a generous bound.
  ASSERT_TRUE(eventually([&] { return failures.of("resource expirer").size() >= 5; }, 20s, 20ms))
      << "expirer delays: " << delays(failures.of("resource expirer"));
  ASSERT_GE(failures.of("resource cleaner").size(), 3u)
      << "cleaner delays: " << delays(failures.of("resource cleaner"));
  // Meanwhile what does not read the table carries on, and nothing expired.
  client.inform(Item{"during"});
  EXPECT_TRUE(eventually([&] {
    return schema.count("delta_resource WHERE object_id = 'during' AND state = 'synced'") == 1;
  }));
  EXPECT_EQ(schema.count("delta_resource WHERE object_id = 'old' AND state = 'synced' AND "
                         "synced_at < now() - interval '1 hour'"),
            1);
  const auto during = client.metrics();
  schema.pool().exec(schema.sql("ALTER TABLE {s}.delta_namespace_away RENAME TO delta_namespace"));
  const auto restored = Clock::now();

  const auto expirer = failures.of("resource expirer");
  const auto cleaner = failures.of("resource cleaner");
  expect_backoff("resource expirer", expirer, kExpirerInterval);
  expect_backoff("resource cleaner", cleaner, kCleanerInterval);
  EXPECT_GE(metric_value(during, "delta_background_errors_total", {{"loop", "resource expirer"}}),
            5);
  EXPECT_GE(metric_value(during, "delta_background_errors_total", {{"loop", "resource cleaner"}}),
            3);
  EXPECT_TRUE(client.health().ready) << client.health().reason;

  // Afterwards the expirer runs again by itself: the old resource is expired and worked
  // again (synced anew) ...
  ASSERT_TRUE(eventually(
      [&] {
        return schema.count(
                   "delta_resource WHERE object_id = 'old' AND state = 'synced' AND "
                   "synced_at > now() - interval '1 minute'") == 1;
      },
      15s, 20ms))
      << "the expirer did not run again after the table was back";
  const auto back_ms = delta::testing::elapsed_ms(restored);
  // ... and keeps running every interval: a second resource past its expiry is expired too.
  schema.pool().exec(schema.sql(
      "UPDATE {s}.delta_resource SET synced_at = now() - interval '2 hours' WHERE object_id = "
      "'during'"));
  EXPECT_TRUE(eventually(
      [&] {
        return schema.count(
                   "delta_resource WHERE object_id = 'during' AND state = 'synced' AND "
                   "synced_at > now() - interval '1 minute'") == 1;
      },
      15s, 20ms))
      << "the expirer stopped after its failures";
  std::printf(
      "[ figures  ] expirer failed %zu times (delays %s), cleaner %zu times; the expirer ran "
      "again %lld ms after the table was back\n",
      expirer.size(), delays(expirer).c_str(), cleaner.size(), static_cast<long long>(back_ms));
  client.stop(5s);
}

}  // namespace
