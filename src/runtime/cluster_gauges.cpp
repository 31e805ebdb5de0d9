#include "runtime/cluster_gauges.hpp"

#include <map>
#include <optional>
#include <string>
#include <tuple>

#include "schema/sql.hpp"

namespace delta::runtime {

namespace {

constexpr const char* kResourceStates[] = {"scheduled", "pending", "synced", "failed",
                                           "degraded",  "expired", "deleted"};
constexpr const char* kJobStates[] = {"available", "scheduled", "running",  "retryable",
                                      "completed", "cancelled", "discarded"};

MetricFamily gauge(std::string name, std::string help, std::vector<std::string> label_names) {
  return MetricFamily{.name = std::move(name),
                      .help = std::move(help),
                      .type = MetricType::gauge,
                      .label_names = std::move(label_names)};
}

MetricSample sample(std::vector<std::pair<std::string, std::string>> labels, double value) {
  return MetricSample{.labels = std::move(labels), .value = value};
}

// Due rows and the oldest one's wait, summed over the rows of one kind or queue.
struct Due {
  double count = 0;
  double lag = 0;
};

}  // namespace

ClusterGauges::ClusterGauges(Context& ctx, std::function<bool()> is_leader)
    : ctx_(ctx), is_leader_(std::move(is_leader)) {
  const internal::StoreStatements statements("dp", "runtime", ctx_.options.schema);
  statement_ = statements.cached("cluster_gauges");
}

void ClusterGauges::register_task(LeaderTasks& tasks) {
  const auto interval = ctx_.options.cluster_metrics_interval;
  if (interval.count() <= 0) return;
  const std::string lane(kLane);
  tasks.add(lane, "cluster gauges", interval, [this] { refresh(); });
  tasks.start_with_runtime(lane);
}

void ClusterGauges::refresh() {
  auto conn = ctx_.pool->acquire();
  const auto result = conn->exec_prepared(statement_);
  conn.release();

  // Every (kind, namespace) and queue seen gets every state, 0 where it has no rows, so
  // that an alert on a state's count sees 0 rather than no series.
  std::map<std::pair<std::string, std::string>, std::map<std::string, double>> resources;
  std::map<std::string, std::map<std::string, double>> jobs;
  std::map<std::string, Due> kind_due;
  std::map<std::string, Due> queue_due;
  for (auto row : result) {
    const auto what = row.template get<std::string>(0);
    const auto name = row.template get<std::string>(1);
    const auto state = row.template get<std::string>(3);
    const auto count = static_cast<double>(row.template get<std::int64_t>(4));
    const auto due = static_cast<double>(row.template get<std::int64_t>(5));
    const auto lag = row.template get<std::optional<double>>(6);
    Due& total = what == "resource" ? kind_due[name] : queue_due[name];
    total.count += due;
    if (lag && *lag > total.lag) total.lag = *lag;
    if (what == "resource") {
      resources[{name, row.template get<std::string>(2)}][state] += count;
    } else {
      jobs[name][state] += count;
    }
  }

  std::vector<MetricFamily> families;
  auto by_state = gauge("delta_resources",
                        "Resources per kind, namespace and state (the whole cluster; exported "
                        "by the leader).",
                        {"kind", "namespace", "state"});
  for (const auto& [key, states] : resources) {
    for (const char* state : kResourceStates) {
      const auto it = states.find(state);
      by_state.samples.push_back(
          sample({{"kind", key.first}, {"namespace", key.second}, {"state", state}},
                 it == states.end() ? 0 : it->second));
    }
  }
  families.push_back(std::move(by_state));
  auto kinds_due =
      gauge("delta_resources_due",
            "Resources due but not claimed, per kind (runnable and run_at passed).", {"kind"});
  auto kinds_lag = gauge("delta_resources_lag_seconds",
                         "How long the oldest resource due but not claimed has waited since it "
                         "was due, per kind (0: none waits).",
                         {"kind"});
  for (const auto& [kind, due] : kind_due) {
    kinds_due.samples.push_back(sample({{"kind", kind}}, due.count));
    kinds_lag.samples.push_back(sample({{"kind", kind}}, due.lag));
  }
  families.push_back(std::move(kinds_due));
  families.push_back(std::move(kinds_lag));
  auto depth = gauge("delta_queue_depth", "Jobs per queue and state (the whole cluster).",
                     {"queue", "state"});
  for (const auto& [queue, states] : jobs) {
    for (const char* state : kJobStates) {
      const auto it = states.find(state);
      depth.samples.push_back(
          sample({{"queue", queue}, {"state", state}}, it == states.end() ? 0 : it->second));
    }
  }
  families.push_back(std::move(depth));
  auto queues_due =
      gauge("delta_jobs_due", "Jobs available and due but not fetched, per queue.", {"queue"});
  auto queues_lag = gauge("delta_queue_lag_seconds",
                          "How long the oldest available job has waited since it was due, per "
                          "queue (0: none waits).",
                          {"queue"});
  for (const auto& [queue, due] : queue_due) {
    queues_due.samples.push_back(sample({{"queue", queue}}, due.count));
    queues_lag.samples.push_back(sample({{"queue", queue}}, due.lag));
  }
  families.push_back(std::move(queues_due));
  families.push_back(std::move(queues_lag));

  std::lock_guard lock(mutex_);
  families_ = std::move(families);
  refreshed_ = Clock::now();
}

void ClusterGauges::collect(std::vector<MetricFamily>& out) const {
  const auto interval = ctx_.options.cluster_metrics_interval;
  if (interval.count() <= 0 || !is_leader_()) return;
  std::lock_guard lock(mutex_);
  if (families_.empty() || Clock::now() - refreshed_ > 3 * interval) return;
  out.insert(out.end(), families_.begin(), families_.end());
  const auto age = std::chrono::duration<double>(Clock::now() - refreshed_).count();
  MetricFamily fresh = gauge("delta_cluster_gauges_age_seconds",
                             "How old the cluster-wide gauges are (the leader refreshes them "
                             "every cluster_metrics_interval).",
                             {});
  fresh.samples.push_back(sample({}, age));
  out.push_back(std::move(fresh));
}

}  // namespace delta::runtime
