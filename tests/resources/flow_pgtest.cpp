// Flow control (docs/flow-control.md) against a live PostgreSQL: concurrency caps and rate
// limits of kinds and job queues hold across clients sharing the database, the value in
// force is the one stored in the database, and bad limits are refused before anything is
// written. (Separate processes: flow_process_pgtest.)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <delta/delta.hpp>

#include "support/pg_test.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using delta::testing::eventually;

// Starts and ends of work, and the most that ran at once.
class Tracker {
 public:
  void begin() {
    std::lock_guard lock(mutex_);
    starts_.push_back(Clock::now());
    most_ = std::max(most_, ++running_);
  }
  void end() {
    std::lock_guard lock(mutex_);
    --running_;
    ++done_;
  }
  int most() const {
    std::lock_guard lock(mutex_);
    return most_;
  }
  int done() const {
    std::lock_guard lock(mutex_);
    return done_;
  }
  // The most starts in any window of length `window`.
  int most_in(Clock::duration window) const {
    std::lock_guard lock(mutex_);
    auto starts = starts_;
    std::sort(starts.begin(), starts.end());
    int most = 0;
    for (std::size_t i = 0, j = 0; i < starts.size(); ++i) {
      while (starts[i] - starts[j] >= window)
        ++j;
      most = std::max(most, static_cast<int>(i - j + 1));
    }
    return most;
  }
  Clock::duration span() const {
    std::lock_guard lock(mutex_);
    auto [first, last] = std::minmax_element(starts_.begin(), starts_.end());
    return starts_.empty() ? Clock::duration{} : *last - *first;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Clock::time_point> starts_;
  int running_ = 0;
  int most_ = 0;
  int done_ = 0;
};

// The limits the next clients' kind declares (settings() is static).
std::optional<int> g_concurrency;
std::optional<delta::RateLimit> g_rate;

struct Limited {
  std::string key;
  static constexpr std::string_view kind = "limited";
  std::string id() const { return key; }
  static delta::ObjectSettings settings() {
    return {.parallelism = 8,
            .inform_interval = std::chrono::milliseconds(-1),
            .max_concurrency = g_concurrency,
            .rate_limit = g_rate};
  }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Limited, key)

class LimitedController : public delta::Controller<Limited> {
 public:
  LimitedController(Tracker& tracker, std::chrono::milliseconds work)
      : tracker_(tracker), work_(work) {}
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<Limited>&) override {
    tracker_.begin();
    std::this_thread::sleep_for(work_);
    tracker_.end();
    return delta::synced();
  }

 private:
  Tracker& tracker_;
  std::chrono::milliseconds work_;
};

struct Chore {
  int n = 0;
  static constexpr std::string_view kind = "chore";
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Chore, n)

class ChoreWorker : public delta::jobs::Worker<Chore> {
 public:
  ChoreWorker(Tracker& tracker, std::chrono::milliseconds work) : tracker_(tracker), work_(work) {}
  delta::jobs::JobResult work(delta::jobs::JobContext&, const delta::jobs::Job<Chore>&) override {
    tracker_.begin();
    std::this_thread::sleep_for(work_);
    tracker_.end();
    return delta::jobs::complete();
  }

 private:
  Tracker& tracker_;
  std::chrono::milliseconds work_;
};

class flow_pgtest : public ::testing::Test {
 protected:
  void TearDown() override {
    g_concurrency.reset();
    g_rate.reset();
  }
  delta::Config resource_config(
      Tracker& tracker, std::chrono::milliseconds work,
      delta::Logger logger = delta::stderr_logger(delta::LogLevel::warn)) {
    delta::Config config;
    config.schema = schema_.name();
    config.controllers.add(std::make_shared<LimitedController>(tracker, work));
    config.namespaces["default"] = {.max_workers = 8};
    config.poll_interval = 100ms;
    config.logger = std::move(logger);
    return config;
  }
  delta::Config job_config(Tracker& tracker, std::chrono::milliseconds work,
                           delta::jobs::QueueConfig queue) {
    delta::Config config;
    config.schema = schema_.name();
    config.workers.add(std::make_shared<ChoreWorker>(tracker, work));
    config.queues["default"] = queue;
    config.poll_interval = 100ms;
    config.logger = delta::stderr_logger(delta::LogLevel::warn);
    return config;
  }
  void inform(delta::Client& client, int count) {
    std::vector<Limited> objects;
    for (int i = 0; i < count; ++i)
      objects.push_back({"k" + std::to_string(i)});
    client.inform_many(objects);
  }

  delta::testing::ScratchSchema schema_{"flow", delta::testing::SchemaStart::migrated};
};

TEST_F(flow_pgtest, AKindsConcurrencyCapHoldsAcrossClients) {
  g_concurrency = 3;
  Tracker tracker;
  delta::Client a(delta::testing::make_pool(), resource_config(tracker, 20ms));
  delta::Client b(delta::testing::make_pool(), resource_config(tracker, 20ms));
  a.start();
  b.start();
  inform(a, 60);
  ASSERT_TRUE(eventually([&] { return tracker.done() == 60; }, 30s)) << tracker.done();
  // Two clients with 8 workers each would run 16 at once without the cap.
  EXPECT_LE(tracker.most(), 3);
  EXPECT_GE(tracker.most(), 2) << "the cap let fewer run than it allows";
  EXPECT_TRUE(
      eventually([&] { return schema_.count("delta_resource WHERE state = 'synced'") == 60; }));
  a.stop();
  b.stop();
}

TEST_F(flow_pgtest, AKindsRateLimitSpacesStartsAcrossClients) {
  g_rate = delta::RateLimit{10, 200ms};  // a start every 20 ms
  Tracker tracker;
  delta::Client a(delta::testing::make_pool(), resource_config(tracker, 1ms));
  delta::Client b(delta::testing::make_pool(), resource_config(tracker, 1ms));
  a.start();
  b.start();
  inform(a, 40);
  ASSERT_TRUE(eventually([&] { return tracker.done() == 40; }, 30s)) << tracker.done();
  // At most count + 1 starts in any window of `per` (one token of burst), and no more
  // than one per step on average over the whole run.
  EXPECT_LE(tracker.most_in(200ms), 11);
  EXPECT_GE(tracker.span(), 39 * 20ms - 40ms);
  a.stop();
  b.stop();
}

TEST_F(flow_pgtest, AQueuesGlobalMaxWorkersHoldsAcrossClients) {
  Tracker tracker;
  const delta::jobs::QueueConfig queue{.max_workers = 8, .global_max_workers = 2};
  delta::Client a(delta::testing::make_pool(), job_config(tracker, 20ms, queue));
  delta::Client b(delta::testing::make_pool(), job_config(tracker, 20ms, queue));
  a.start();
  b.start();
  std::vector<delta::jobs::JobInsert> batch;
  for (int i = 0; i < 40; ++i)
    batch.push_back(delta::jobs::make_insert(Chore{i}));
  a.jobs().insert_many(batch);
  ASSERT_TRUE(eventually([&] { return tracker.done() == 40; }, 30s)) << tracker.done();
  EXPECT_LE(tracker.most(), 2);
  EXPECT_TRUE(
      eventually([&] { return schema_.count("delta_job WHERE state = 'completed'") == 40; }));
  a.stop();
  b.stop();
}

TEST_F(flow_pgtest, AQueuesRateLimitSpacesStarts) {
  Tracker tracker;
  const delta::jobs::QueueConfig queue{.max_workers = 8, .rate_limit = delta::RateLimit{10, 200ms}};
  delta::Client a(delta::testing::make_pool(), job_config(tracker, 1ms, queue));
  delta::Client b(delta::testing::make_pool(), job_config(tracker, 1ms, queue));
  a.start();
  b.start();
  std::vector<delta::jobs::JobInsert> batch;
  for (int i = 0; i < 40; ++i)
    batch.push_back(delta::jobs::make_insert(Chore{i}));
  a.jobs().insert_many(batch);
  ASSERT_TRUE(eventually([&] { return tracker.done() == 40; }, 30s)) << tracker.done();
  EXPECT_LE(tracker.most_in(200ms), 11);
  EXPECT_GE(tracker.span(), 39 * 20ms - 40ms);
  a.stop();
  b.stop();
}

TEST_F(flow_pgtest, TheStoredDefaultWinsAndADifferentOneIsLoggedOnce) {
  g_concurrency = 3;
  Tracker tracker;
  delta::Client first(delta::testing::make_pool(), resource_config(tracker, 1ms));
  first.start();
  EXPECT_EQ(
      schema_.scalar("SELECT max_concurrency FROM {s}.delta_controller WHERE kind = 'limited'"), 3);
  g_concurrency = 5;
  std::mutex mutex;
  std::vector<std::string> warnings;
  delta::Logger logger([&](const delta::LogRecord& record) {
    if (record.level != delta::LogLevel::warn) return;
    std::lock_guard lock(mutex);
    warnings.emplace_back(record.message);
  });
  delta::Client second(delta::testing::make_pool(), resource_config(tracker, 1ms, logger));
  second.start();
  inform(second, 5);
  ASSERT_TRUE(eventually([&] { return tracker.done() == 5; }, 20s));
  EXPECT_EQ(
      schema_.scalar("SELECT max_concurrency FROM {s}.delta_controller WHERE kind = 'limited'"), 3);
  {
    std::lock_guard lock(mutex);
    const auto about = std::count_if(warnings.begin(), warnings.end(), [](const std::string& m) {
      return m.find("kind limited") != std::string::npos &&
             m.find("differ from those registered") != std::string::npos;
    });
    EXPECT_EQ(about, 1) << "warnings: " << warnings.size();
  }
  first.stop();
  second.stop();
}

TEST_F(flow_pgtest, AnOverrideTakesEffectInEveryClientAndClearingRestoresTheDefault) {
  g_concurrency = 4;
  Tracker before, during, after;
  std::atomic<Tracker*> tracker{&before};
  // One controller per client, counting into whichever tracker is current.
  struct Switching : delta::Controller<Limited> {
    std::atomic<Tracker*>& current;
    explicit Switching(std::atomic<Tracker*>& t) : current(t) {}
    delta::WorkResult work(delta::WorkContext&, const delta::Resource<Limited>&) override {
      Tracker* t = current.load();
      t->begin();
      std::this_thread::sleep_for(15ms);
      t->end();
      return delta::synced();
    }
  };
  auto config = [&] {
    delta::Config c;
    c.schema = schema_.name();
    c.controllers.add(std::make_shared<Switching>(tracker));
    c.namespaces["default"] = {.max_workers = 8};
    c.poll_interval = 100ms;
    c.logger = delta::stderr_logger(delta::LogLevel::warn);
    return c;
  };
  delta::Client a(delta::testing::make_pool(), config());
  delta::Client b(delta::testing::make_pool(), config());
  a.start();
  b.start();
  delta::Admin admin(delta::testing::make_pool(), {.schema = schema_.name()});
  admin.set_kind_limits("limited", {.max_concurrency = 1});
  // Every client reads the limits again within its poll interval.
  std::this_thread::sleep_for(250ms);
  tracker = &during;
  inform(a, 30);
  ASSERT_TRUE(eventually([&] { return during.done() >= 20; }, 20s)) << during.done();
  EXPECT_EQ(during.most(), 1);
  const auto listed = admin.list_controllers().front().limits;
  EXPECT_EQ(listed.in_force.max_concurrency, 1);
  EXPECT_EQ(listed.defaults.max_concurrency, 4);
  EXPECT_TRUE(listed.overridden_at.has_value());

  admin.clear_kind_limits("limited");
  std::this_thread::sleep_for(250ms);
  tracker = &after;
  std::vector<Limited> more;
  for (int i = 0; i < 60; ++i)
    more.push_back({"m" + std::to_string(i)});
  a.inform_many(more);
  ASSERT_TRUE(eventually([&] { return after.done() >= 60; }, 20s)) << after.done();
  EXPECT_LE(after.most(), 4);
  EXPECT_GE(after.most(), 2) << "the default cap of 4 was not back in force";
  EXPECT_FALSE(admin.list_controllers().front().limits.overridden_at.has_value());
  a.stop();
  b.stop();
}

TEST_F(flow_pgtest, TheAdminApiRefusesBadLimitsAndUnknownScopes) {
  Tracker tracker;
  delta::Client client(delta::testing::make_pool(), resource_config(tracker, 1ms));
  client.start();
  delta::Admin admin(delta::testing::make_pool(), {.schema = schema_.name()});
  const auto refused = [&](auto&& call, const std::string& field) {
    try {
      call();
      ADD_FAILURE() << "accepted; expected a ValidationError about " << field;
    } catch (const delta::ValidationError& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  };
  refused([&] { admin.set_kind_limits("limited", {.max_concurrency = 0}); }, "max_concurrency");
  refused(
      [&] {
        admin.set_kind_limits("limited", {.rate_limit = delta::RateLimit{0, 1s}});
      },
      "rate_limit.count");
  refused(
      [&] {
        admin.set_queue_limits("q", {.rate_limit = delta::RateLimit{5, 0ms}});
      },
      "rate_limit.per");
  refused([&] { admin.set_kind_limits("nosuch", {.max_concurrency = 2}); }, "nosuch");
  refused([&] { admin.set_namespace_limits("nosuch", {.max_concurrency = 2}); }, "nosuch");
  EXPECT_EQ(schema_.count("delta_controller WHERE limits_overridden_at IS NOT NULL"), 0);
  EXPECT_EQ(schema_.count("delta_queue WHERE name = 'q'"), 0);
  client.stop();
}

// An object whose content changes; its kind debounces changes by 200 ms.
struct Churned {
  std::string key;
  int n = 0;
  static constexpr std::string_view kind = "churned";
  std::string id() const { return key; }
  static delta::ObjectSettings settings() {
    return {.parallelism = 4,
            .inform_interval = std::chrono::milliseconds(-1),
            .debounce = std::chrono::milliseconds(200)};
  }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Churned, key, n)

class ChurnedController : public delta::Controller<Churned> {
 public:
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<Churned>& r) override {
    std::lock_guard lock(mutex);
    worked.emplace_back(r.object.key, r.object.n);
    at[r.object.key] = Clock::now();
    return delta::synced();
  }
  std::mutex mutex;
  std::vector<std::pair<std::string, int>> worked;
  std::map<std::string, Clock::time_point> at;
};

TEST_F(flow_pgtest, ADebouncedObjectIsWorkedOnceWithItsLastContent) {
  auto controller = std::make_shared<ChurnedController>();
  delta::Config config;
  config.schema = schema_.name();
  config.controllers.add(controller);
  config.namespaces["default"] = {.max_workers = 4};
  config.poll_interval = 50ms;
  config.logger = delta::stderr_logger(delta::LogLevel::warn);
  delta::Client client(delta::testing::make_pool(), config);
  client.start();
  const auto started = Clock::now();
  client.inform(Churned{"calm", 1});
  for (int n = 1; n <= 20; ++n) {
    client.inform(Churned{"busy", n});
    std::this_thread::sleep_for(10ms);
  }
  const auto last_change = Clock::now();
  ASSERT_TRUE(
      eventually([&] { return schema_.count("delta_resource WHERE state = 'synced'") == 2; }));
  // Nothing more is worked once both settled.
  EXPECT_TRUE(delta::testing::consistently(
      [&] {
        std::lock_guard lock(controller->mutex);
        return controller->worked.size() == 2;
      },
      400ms));
  std::lock_guard lock(controller->mutex);
  const auto busy = std::count(controller->worked.begin(), controller->worked.end(),
                               std::pair<std::string, int>{"busy", 20});
  EXPECT_EQ(busy, 1) << "busy was worked " << controller->worked.size() - 1 << " times";
  // The calm object waited its own debounce, not for the busy one to settle.
  EXPECT_GE(controller->at["calm"] - started, 190ms);
  EXPECT_LT(controller->at["calm"], controller->at["busy"]);
  EXPECT_GE(controller->at["busy"] - last_change, 150ms);
  EXPECT_EQ(schema_.scalar("SELECT generation FROM {s}.delta_resource WHERE object_id = 'busy'"),
            20);
}

TEST_F(flow_pgtest, ASmallNamespaceIsNotHeldBackByABigOnesBacklog) {
  Tracker tracker;
  std::mutex mutex;
  std::map<std::string, Clock::time_point> worked;
  struct Timed : delta::Controller<Limited> {
    std::mutex& mutex;
    std::map<std::string, Clock::time_point>& worked;
    Timed(std::mutex& m, std::map<std::string, Clock::time_point>& w) : mutex(m), worked(w) {}
    delta::WorkResult work(delta::WorkContext&, const delta::Resource<Limited>& r) override {
      std::this_thread::sleep_for(2ms);
      std::lock_guard lock(mutex);
      worked[r.row.namespace_name + "/" + r.object.key] = Clock::now();
      return delta::synced();
    }
  };
  // The time from inform to work of small's 20 alone, then behind big's backlog with
  // fairness on and off.
  std::map<std::string, Clock::duration> took;
  for (const std::string mode : {"alone", "fair", "unfair"}) {
    const bool fair = mode != "unfair";
    {
      std::lock_guard lock(mutex);
      worked.clear();
    }
    schema_.pool().exec(schema_.sql("DELETE FROM {s}.delta_resource"));
    delta::Config config;
    config.schema = schema_.name();
    config.controllers.add(std::make_shared<Timed>(mutex, worked));
    config.namespaces["big"] = {.max_workers = 8};
    config.namespaces["small"] = {.max_workers = 8};
    config.poll_interval = 100ms;
    config.fair_namespaces = fair;
    config.logger = delta::stderr_logger(delta::LogLevel::warn);
    delta::Client informer(delta::testing::make_pool(), config);
    std::vector<Limited> backlog;
    for (int i = 0; mode != "alone" && i < 3000; ++i)
      backlog.push_back({"b" + std::to_string(i)});
    if (!backlog.empty()) informer.inform_many(backlog, {.namespace_name = "big"});
    delta::Client client(delta::testing::make_pool(), config);
    client.start();
    ASSERT_TRUE(eventually([&] {
      std::lock_guard lock(mutex);
      return backlog.empty() || worked.size() >= 200;
    }));
    std::vector<Limited> few;
    for (int i = 0; i < 20; ++i)
      few.push_back({"s" + std::to_string(i)});
    const auto informed = Clock::now();
    informer.inform_many(few, {.namespace_name = "small"});
    Clock::duration slowest{};
    const bool all = eventually(
        [&] {
          std::lock_guard lock(mutex);
          slowest = {};
          for (const auto& object : few) {
            auto it = worked.find("small/" + object.key);
            if (it == worked.end()) return false;
            slowest = std::max(slowest, it->second - informed);
          }
          return true;
        },
        30s);
    const auto big_left =
        schema_.count("delta_resource WHERE namespace = 'big' AND state <> 'synced'");
    took[mode] = slowest;
    std::cout << "[ figures  ] " << mode << ": the 20 of small worked within "
              << std::chrono::duration_cast<std::chrono::milliseconds>(slowest).count()
              << " ms of their inform, with " << big_left << " of big's 3000 left\n";
    if (mode == "fair") {
      ASSERT_TRUE(all);
      // Served in turn: small's work is done long before big's backlog, in a small
      // multiple of the time it takes alone.
      EXPECT_GE(big_left, 1500);
      EXPECT_LE(took["fair"], 10 * took["alone"] + 500ms);
    }
    client.stop();
  }
}

TEST_F(flow_pgtest, BadLimitsAreConfigErrorsNamingTheField) {
  Tracker tracker;
  const auto refused = [&](const delta::Config& config, const std::string& field) {
    try {
      delta::Client client(delta::testing::make_pool(), config);
      ADD_FAILURE() << "accepted; expected an error naming " << field;
    } catch (const delta::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  };
  g_concurrency = 0;
  refused(resource_config(tracker, 1ms), "controllers[\"limited\"].max_concurrency");
  g_concurrency.reset();
  g_rate = delta::RateLimit{0, 1s};
  refused(resource_config(tracker, 1ms), "controllers[\"limited\"].rate_limit.count");
  g_rate = delta::RateLimit{-5, 1s};
  refused(resource_config(tracker, 1ms), "controllers[\"limited\"].rate_limit.count");
  g_rate = delta::RateLimit{10, 0ms};
  refused(resource_config(tracker, 1ms), "controllers[\"limited\"].rate_limit.per");
  g_rate.reset();
  auto config = resource_config(tracker, 1ms);
  config.namespaces["default"].max_concurrency = -1;
  refused(config, "namespaces[\"default\"].max_concurrency");
  config = resource_config(tracker, 1ms);
  config.namespaces["default"].rate_limit = delta::RateLimit{1, 0ms};
  refused(config, "namespaces[\"default\"].rate_limit.per");
  refused(job_config(tracker, 1ms, {.global_max_workers = 0}),
          "queues[\"default\"].global_max_workers");
  refused(job_config(tracker, 1ms, {.rate_limit = delta::RateLimit{0, 1s}}),
          "queues[\"default\"].rate_limit.count");
  // Nothing was written: no controller row, no queue row.
  EXPECT_EQ(schema_.count("delta_controller"), 0);
  EXPECT_EQ(schema_.count("delta_queue"), 0);
}

}  // namespace
