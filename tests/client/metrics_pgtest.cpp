// Client::metrics() after a known workload against a live PostgreSQL: N resources synced,
// M failing twice until degraded, K jobs completed and one cancelled, one informer run:
// every counter equals the workload, histograms agree with the counters, and the gauges
// of now (work in flight, pool, leadership) say what the process is doing.
#include <atomic>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <delta/delta.hpp>

#include "support/maintenance_config.hpp"
#include "support/pg_test.hpp"

namespace {

using delta::MetricFamily;
using delta::testing::eventually;
using delta::testing::ScratchSchema;

struct Item {
  std::string key;
  bool fail = false;
  static constexpr std::string_view kind = "item";
  std::string id() const { return key; }
  static delta::ObjectSettings settings() { return {.parallelism = 4}; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Item, key, fail)

class ItemController : public delta::Controller<Item> {
 public:
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<Item>& resource) override {
    return resource.object.fail ? delta::retry("upstream said no") : delta::synced();
  }
  void inform(delta::InformContext&, const delta::InformOptions&,
              delta::InformSink<Item>& sink) override {
    for (int i = 0; i < 5; ++i)
      sink.emit(Item{"listed-" + std::to_string(i)});
  }
};

struct Ping {
  int n = 0;
  static constexpr std::string_view kind = "ping";
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Ping, n)

class PingWorker : public delta::jobs::Worker<Ping> {
 public:
  delta::jobs::JobResult work(delta::jobs::JobContext&,
                              const delta::jobs::Job<Ping>& job) override {
    return job.args.n < 0 ? delta::jobs::cancel("negative") : delta::jobs::complete();
  }
};

using Labels = std::map<std::string, std::string>;

// The sample of family `name` whose labels include `labels`, or null.
const delta::MetricSample* sample(const std::vector<MetricFamily>& families, std::string_view name,
                                  const Labels& labels = {}) {
  for (const auto& family : families) {
    if (family.name != name) continue;
    for (const auto& candidate : family.samples) {
      bool all = true;
      for (const auto& [label, value] : labels) {
        bool found = false;
        for (const auto& [have, have_value] : candidate.labels)
          found = found || (have == label && have_value == value);
        all = all && found;
      }
      if (all) return &candidate;
    }
  }
  return nullptr;
}

double value(const std::vector<MetricFamily>& families, std::string_view name,
             const Labels& labels = {}) {
  const auto* found = sample(families, name, labels);
  return found ? found->value : -1;
}

TEST(metrics_pgtest, CountersEqualAKnownWorkload) {
  constexpr int kSynced = 60, kFailing = 7, kJobs = 40;
  ScratchSchema schema("metrics", delta::testing::SchemaStart::migrated);
  auto config = delta::testing::maintenance_config(schema.name());
  config.controllers.add(std::make_shared<ItemController>());
  config.namespaces["default"] = {.max_workers = 4};
  config.workers.add(std::make_shared<PingWorker>());
  config.queues["default"] = {.max_workers = 4};
  config.resource_backoff = [](int) { return std::chrono::milliseconds(10); };
  delta::Client client(schema.shared_pool(), config);
  client.start();

  std::vector<Item> items;
  for (int i = 0; i < kSynced; ++i)
    items.push_back({"ok-" + std::to_string(i)});
  client.inform_many(items);
  for (int i = 0; i < kFailing; ++i)
    client.inform(Item{"bad-" + std::to_string(i), true}, {.max_attempts = 2});
  client.inform(Item{"ok-0"});  // unchanged
  for (int i = 0; i < kJobs; ++i)
    client.jobs().insert(Ping{i});
  client.jobs().insert(Ping{-1});
  client.schedule_inform({.kind = "item"});

  ASSERT_TRUE(eventually([&] {
    return schema.count("delta_resource WHERE state = 'synced'") == kSynced + 5 &&
           schema.count("delta_resource WHERE state = 'degraded'") == kFailing &&
           schema.count("delta_job WHERE kind = 'ping' AND state IN ('completed', 'cancelled')") ==
               kJobs + 1;
  }));
  ASSERT_TRUE(eventually([&] { return client.last_inform_run("item").has_value(); }));
  ASSERT_TRUE(eventually([&] { return client.is_leader(); }));
  // Outcomes are counted when they are handed to the completer, before they are written:
  // by the time the table says so, every one was counted.
  const auto metrics = client.metrics();

  const Labels item_default{{"kind", "item"}, {"namespace", "default"}};
  auto reconciles = [&](const std::string& result) {
    Labels labels = item_default;
    labels["result"] = result;
    return value(metrics, "delta_reconcile_total", labels);
  };
  EXPECT_EQ(reconciles("synced"), kSynced + 5);
  EXPECT_EQ(reconciles("retry"), kFailing) << "the first attempt of each failing resource";
  EXPECT_EQ(reconciles("degraded"), kFailing) << "its second and last";
  EXPECT_EQ(reconciles("removed"), 0);
  EXPECT_EQ(reconciles("requeue_after"), 0);
  EXPECT_EQ(reconciles("error"), 0);

  const auto* duration = sample(metrics, "delta_reconcile_duration_seconds", {{"kind", "item"}});
  ASSERT_NE(duration, nullptr);
  EXPECT_EQ(duration->count, static_cast<std::uint64_t>(kSynced + 5 + 2 * kFailing));
  ASSERT_FALSE(duration->bucket_counts.empty());
  for (std::size_t i = 1; i < duration->bucket_counts.size(); ++i)
    EXPECT_LE(duration->bucket_counts[i - 1], duration->bucket_counts[i]);
  EXPECT_LE(duration->bucket_counts.back(), duration->count);
  EXPECT_GE(duration->sum, 0);

  const auto* batches = sample(metrics, "delta_claim_batch_size", {{"namespace", "default"}});
  ASSERT_NE(batches, nullptr);
  EXPECT_EQ(batches->sum, kSynced + 5 + 2 * kFailing) << "every claimed resource was worked once";
  EXPECT_GE(batches->count, 1u);

  EXPECT_EQ(value(metrics, "delta_resources_active", {{"kind", "item"}}), 0);

  auto informed = [&](const std::string& outcome) {
    return value(metrics, "delta_inform_objects_total", {{"kind", "item"}, {"outcome", outcome}});
  };
  EXPECT_EQ(informed("inserted"), kSynced + kFailing + 5);
  EXPECT_EQ(informed("unchanged"), 1);
  EXPECT_EQ(informed("changed"), 0);
  EXPECT_EQ(value(metrics, "delta_informer_runs_total", {{"kind", "item"}, {"result", "success"}}),
            1);
  EXPECT_EQ(value(metrics, "delta_informer_runs_total", {{"kind", "item"}, {"result", "failure"}}),
            0)
      << "registered at 0 from the start";
  const double last_success =
      value(metrics, "delta_informer_last_success_timestamp_seconds", {{"kind", "item"}});
  const double now_s =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_GT(last_success, now_s - 120);
  EXPECT_LE(last_success, now_s + 1);

  auto jobs = [&](const std::string& result) {
    return value(metrics, "delta_jobs_total",
                 {{"queue", "default"}, {"kind", "ping"}, {"result", result}});
  };
  EXPECT_EQ(jobs("completed"), kJobs);
  EXPECT_EQ(jobs("cancelled"), 1);
  EXPECT_EQ(jobs("failed"), 0);
  const auto* job_duration =
      sample(metrics, "delta_job_duration_seconds", {{"queue", "default"}, {"kind", "ping"}});
  ASSERT_NE(job_duration, nullptr);
  EXPECT_EQ(job_duration->count, static_cast<std::uint64_t>(kJobs + 1));

  EXPECT_EQ(value(metrics, "delta_is_leader"), 1);
  const auto stats = client.pool().stats();
  EXPECT_GE(value(metrics, "delta_pool_connections", {{"state", "idle"}}), 0);
  EXPECT_LE(value(metrics, "delta_pool_connections", {{"state", "in_use"}}) +
                value(metrics, "delta_pool_connections", {{"state", "idle"}}),
            static_cast<double>(client.pool().options().max_connections));
  EXPECT_EQ(value(metrics, "delta_pool_max_connections"),
            static_cast<double>(client.pool().options().max_connections));
  EXPECT_LE(value(metrics, "delta_pool_connections_opened_total"),
            static_cast<double>(stats.created));
  EXPECT_GE(value(metrics, "delta_pool_connections_opened_total"), 1);

  // Names are unique and sorted; every sample has the family's labels.
  for (std::size_t i = 1; i < metrics.size(); ++i)
    EXPECT_LT(metrics[i - 1].name, metrics[i].name);
  for (const auto& family : metrics) {
    for (const auto& s : family.samples) {
      ASSERT_EQ(s.labels.size(), family.label_names.size()) << family.name;
      for (std::size_t i = 0; i < s.labels.size(); ++i)
        EXPECT_EQ(s.labels[i].first, family.label_names[i]) << family.name;
    }
  }
  client.stop();
}

}  // namespace

namespace {

// The cluster-wide gauges: what every process wrote, counted by the leader's one query.
TEST(metrics_pgtest, ClusterGaugesCountTheWholeClusterOnTheLeaderOnly) {
  ScratchSchema schema("metrics_cluster", delta::testing::SchemaStart::migrated);
  {
    // What is counted, written by a client that never starts: 7 items that no process
    // works (2 of them then marked synced), 3 jobs on a queue that no process runs.
    auto config = delta::testing::maintenance_config(schema.name());
    config.controllers.add(std::make_shared<ItemController>());
    delta::Client feeder(schema.shared_pool(), config);
    for (int i = 0; i < 7; ++i)
      feeder.inform(Item{"c-" + std::to_string(i)});
    for (int i = 0; i < 3; ++i)
      feeder.jobs().insert(Ping{i}, {.queue = "idle"});
  }
  schema.pool().exec(
      schema.sql("UPDATE {s}.delta_resource SET state = 'synced', synced_at = "
                 "now() WHERE object_id IN ('c-0', 'c-1')"));

  // Neither client works the kind or the queue: the counts stay as written.
  auto config = delta::testing::maintenance_config(schema.name());
  config.cluster_metrics_interval = std::chrono::milliseconds(100);
  delta::Client leader(schema.shared_pool(), config);
  leader.start();
  ASSERT_TRUE(eventually([&] { return value(leader.metrics(), "delta_is_leader") == 1; }));
  std::vector<MetricFamily> seen;
  ASSERT_TRUE(eventually([&] {
    seen = leader.metrics();
    return value(seen, "delta_resources", {{"kind", "item"}, {"state", "scheduled"}}) == 5 &&
           value(seen, "delta_queue_depth", {{"queue", "idle"}, {"state", "available"}}) == 3;
  }));
  const Labels item{{"kind", "item"}, {"namespace", "default"}};
  auto with = [](Labels labels, const char* state) {
    labels["state"] = state;
    return labels;
  };
  EXPECT_EQ(value(seen, "delta_resources", with(item, "synced")), 2);
  EXPECT_EQ(value(seen, "delta_resources", with(item, "degraded")), 0) << "every state, 0 too";
  EXPECT_EQ(value(seen, "delta_resources_due", {{"kind", "item"}}), 5);
  EXPECT_GE(value(seen, "delta_resources_lag_seconds", {{"kind", "item"}}), 0);
  EXPECT_EQ(value(seen, "delta_queue_depth", {{"queue", "idle"}, {"state", "running"}}), 0);
  EXPECT_EQ(value(seen, "delta_jobs_due", {{"queue", "idle"}}), 3);
  EXPECT_GE(value(seen, "delta_queue_lag_seconds", {{"queue", "idle"}}), 0);
  EXPECT_GE(value(seen, "delta_cluster_gauges_age_seconds"), 0);
  // The lag grows while nothing is worked: a later refresh sees an older oldest.
  const double lag = value(seen, "delta_resources_lag_seconds", {{"kind", "item"}});
  EXPECT_TRUE(eventually([&] {
    return value(leader.metrics(), "delta_resources_lag_seconds", {{"kind", "item"}}) > lag + 0.1;
  }));

  // A process that does not lead exports none of them.
  auto other_config = delta::testing::maintenance_config(schema.name());
  other_config.cluster_metrics_interval = std::chrono::milliseconds(100);
  delta::Client other(schema.shared_pool(), other_config);
  other.start();
  ASSERT_EQ(value(other.metrics(), "delta_is_leader"), 0);
  EXPECT_EQ(sample(other.metrics(), "delta_resources"), nullptr);
  EXPECT_EQ(sample(other.metrics(), "delta_queue_depth"), nullptr);
  other.stop();
  leader.stop();
}

TEST(metrics_pgtest, ClusterGaugesOffWithAZeroIntervalAndANegativeOneIsRefused) {
  ScratchSchema schema("metrics_off", delta::testing::SchemaStart::migrated);
  auto config = delta::testing::maintenance_config(schema.name());
  config.cluster_metrics_interval = std::chrono::milliseconds(-1);
  try {
    delta::Client refused(schema.shared_pool(), config);
    ADD_FAILURE() << "a negative cluster_metrics_interval was accepted";
  } catch (const delta::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("cluster_metrics_interval"), std::string::npos)
        << e.what();
  }
  config.cluster_metrics_interval = std::chrono::milliseconds(0);
  delta::Client client(schema.shared_pool(), config);
  client.start();
  ASSERT_TRUE(eventually([&] { return value(client.metrics(), "delta_is_leader") == 1; }));
  client.jobs().insert(Ping{1}, {.queue = "idle"});
  // Off: no refresh ever runs, however long one waits; a few leader-task rounds suffice to
  // see that nothing appears.
  EXPECT_FALSE(eventually([&] { return sample(client.metrics(), "delta_queue_depth") != nullptr; },
                          std::chrono::milliseconds(600)));
  client.stop();
}

}  // namespace
