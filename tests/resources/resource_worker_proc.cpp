// resource_worker_proc: one resource-engine worker process for resources_process_pgtest
// (not a test).
//
// It starts a delta::Client with short intervals on the schema it is given, with a
// controller for each kind named by --kinds (from "item", "alpha", "beta", "gamma") and
// the namespaces named by --namespaces. Each work() call sleeps --work-ms, appends one line
// for the finished work to the --log file (support/intervals.hpp: flushed before work()
// returns, so a SIGKILLed process leaves a record of exactly the work it finished) and
// returns synced. Work interrupted by its stop token (a timeout, a stop, the fence) is
// recorded in the --interrupted-log file when one is given, and returns retry. With
// --attempt-log, every work() call is also written to that file: a line as it begins
// (before its work) and one as it returns, finished or interrupted, so that work of a
// SIGKILLed process shows as started and never ended. With --announce-starts it prints
// "started <object_id>" on stdout as each work() begins. Each
// controller's informer lists nothing; it runs periodically only with --inform-interval-ms.
// It prints "ready" on stdout once started and runs until SIGTERM or SIGINT (then
// client.stop()).
//
//   resource_worker_proc --schema t_1_1 --client-id a --kinds item,alpha
//       --namespaces default,east --parallelism 8 --max-workers 8 --work-ms 5 --log a.log
//       --attempt-log a.attempts.log
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <delta/client.hpp>
#include <delta/controller.hpp>
#include <delta/pg.hpp>

#include "support/intervals.hpp"
#include "support/pg_test.hpp"
#include "support/worker_kinds.hpp"
#include "support/worker_proc.hpp"

namespace {

using delta::testing::realtime_ns;
using delta::testing::WorkLog;
using std::chrono::milliseconds;

// --announce-starts (set before the client starts, read by its workers).
bool announce_starts = false;

// The logs a RecordingController writes.
struct Logs {
  std::shared_ptr<WorkLog> finished;
  std::shared_ptr<WorkLog> interrupted;  // null: interrupted work is not recorded
  std::shared_ptr<WorkLog> attempts;     // null: work is not recorded as it starts
};

struct Settings : delta::testing::WorkerOptions {
  std::vector<std::string> kinds{"item"};
  std::vector<std::string> namespaces{"default"};
  int parallelism = 4;
  int max_workers = 4;
  int work_ms = 0;
  std::string log_path;
  std::string interrupted_log_path;
  std::string attempt_log_path;
  int poll_ms = 100;
  int heartbeat_ms = 200;
  int client_ttl_ms = 1000;
  int leader_ttl_ms = 1000;
  int leader_renew_ms = 200;
  int rescuer_interval_ms = 100;
  int work_timeout_ms = 60000;
  int stuck_threshold_ms = 60000;
  int maintenance_interval_ms = 60000;
  int expiry_ms = 0;            // each namespace's resource_expiry; 0: none
  int inform_interval_ms = -1;  // each kind's inform interval; negative: none
  int max_concurrency = 0;      // each kind's default max_concurrency; 0: none
  int rate_count = 0;           // each kind's default rate limit, with rate_per_ms; 0: none
  int rate_per_ms = 1000;
};

template <class T>
class RecordingController : public delta::Controller<T> {
 public:
  RecordingController(Logs logs, milliseconds work) : logs_(std::move(logs)), work_(work) {}

  delta::WorkResult work(delta::WorkContext& ctx, const delta::Resource<T>& resource) override {
    // Its start line before the work, its end line once it returns.
    const delta::testing::LoggedWork logged(logs_.attempts.get(), resource.row);
    if (announce_starts) delta::testing::print_line("started " + resource.row.object_id);
    if (work_.count() > 0 && !delta::testing::sleep_unless_stopped(ctx, work_)) {
      // Not finished: only in the log of interrupted work.
      if (logs_.interrupted)
        logs_.interrupted->record(resource.row, logged.start_ns(), realtime_ns());
      return delta::retry("interrupted while working");
    }
    logs_.finished->record(resource.row, logged.start_ns(), realtime_ns());
    return delta::synced();
  }

  // Lists nothing: a run only moves the kind's cursor.
  void inform(delta::InformContext& /*ctx*/, const delta::InformOptions& /*options*/,
              delta::InformSink<T>& /*out*/) override {}

 private:
  Logs logs_;
  milliseconds work_;
};

template <class T>
bool add_controller_of(const std::string& kind, delta::Controllers& controllers, const Logs& logs,
                       milliseconds work) {
  if (kind != T::kind) return false;
  controllers.add(std::make_shared<RecordingController<T>>(logs, work));
  return true;
}

// Adds the RecordingController of `kind` (item, alpha, beta or gamma) to `controllers`.
void add_controller(const std::string& kind, delta::Controllers& controllers, const Logs& logs,
                    milliseconds work) {
  using namespace delta::testing;
  if (add_controller_of<Item>(kind, controllers, logs, work) ||
      add_controller_of<Alpha>(kind, controllers, logs, work) ||
      add_controller_of<Beta>(kind, controllers, logs, work) ||
      add_controller_of<Gamma>(kind, controllers, logs, work)) {
    return;
  }
  throw std::runtime_error("unknown kind " + kind + " (item, alpha, beta or gamma)");
}

int run(const Settings& settings) {
  delta::testing::worker_object_parallelism = settings.parallelism;
  delta::testing::worker_object_inform_interval = milliseconds(settings.inform_interval_ms);
  if (settings.max_concurrency > 0)
    delta::testing::worker_object_max_concurrency = settings.max_concurrency;
  if (settings.rate_count > 0) {
    delta::testing::worker_object_rate =
        delta::RateLimit{settings.rate_count, milliseconds(settings.rate_per_ms)};
  }
  Logs logs;
  logs.finished = std::make_shared<WorkLog>(settings.log_path);
  if (!settings.interrupted_log_path.empty()) {
    logs.interrupted = std::make_shared<WorkLog>(settings.interrupted_log_path);
  }
  if (!settings.attempt_log_path.empty()) {
    logs.attempts = std::make_shared<WorkLog>(settings.attempt_log_path);
  }

  delta::pg::PoolOptions pool_options;
  // A claimer per namespace, the finisher, maintenance, the job queue: no connection is
  // held while work runs.
  pool_options.max_connections = 8 + 2 * settings.namespaces.size();
  // The test finds this process's connections in pg_stat_activity by this name.
  pool_options.application_name = "drw_" + settings.schema + "_" + settings.client_id;
  auto pool = delta::testing::make_pool(pool_options);

  delta::Config config = delta::testing::worker_config(settings);
  config.poll_interval = milliseconds(settings.poll_ms);
  config.heartbeat_interval = milliseconds(settings.heartbeat_ms);
  config.client_ttl = milliseconds(settings.client_ttl_ms);
  config.leader_ttl = milliseconds(settings.leader_ttl_ms);
  config.leader_renew_interval = milliseconds(settings.leader_renew_ms);
  config.scheduler_interval = milliseconds(200);
  config.rescuer_interval = milliseconds(settings.rescuer_interval_ms);
  // A claim's lease lasts work_timeout + stuck_threshold.
  config.work_timeout = milliseconds(settings.work_timeout_ms);
  config.stuck_threshold = milliseconds(settings.stuck_threshold_ms);
  config.maintenance_interval = milliseconds(settings.maintenance_interval_ms);
  config.inform_jitter = milliseconds(-1);
  for (const auto& kind : settings.kinds)
    add_controller(kind, config.controllers, logs, milliseconds(settings.work_ms));
  for (const auto& name : settings.namespaces) {
    config.namespaces[name] = {.max_workers = settings.max_workers};
    if (settings.expiry_ms > 0)
      config.namespaces[name].resource_expiry = milliseconds(settings.expiry_ms);
  }

  return delta::testing::serve(pool, config, settings);
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  CLI::App app("A delta resource worker process for resources_process_pgtest.");
  app.add_option("--kinds", settings.kinds, "kinds to run controllers for (item,alpha,beta,gamma)")
      ->delimiter(',');
  app.add_option("--namespace,--namespaces", settings.namespaces, "namespaces to work")
      ->delimiter(',');
  app.add_option("--parallelism", settings.parallelism, "each kind's parallelism");
  app.add_option("--max-workers", settings.max_workers, "each namespace's max_workers");
  app.add_option("--work-ms", settings.work_ms, "time each work() call takes");
  app.add_option("--log", settings.log_path, "file receiving one line per finished work")
      ->required();
  app.add_option("--interrupted-log", settings.interrupted_log_path,
                 "file receiving one line per work its stop token interrupted");
  app.add_option("--attempt-log", settings.attempt_log_path,
                 "file receiving a line as each work() call begins and one as it returns");
  app.add_flag("--announce-starts", announce_starts,
               "print \"started <object_id>\" as each work() begins");
  app.add_option("--poll-ms", settings.poll_ms, "Config::poll_interval");
  app.add_option("--heartbeat-ms", settings.heartbeat_ms, "Config::heartbeat_interval");
  app.add_option("--client-ttl-ms", settings.client_ttl_ms, "Config::client_ttl");
  app.add_option("--leader-ttl-ms", settings.leader_ttl_ms, "Config::leader_ttl");
  app.add_option("--leader-renew-ms", settings.leader_renew_ms, "Config::leader_renew_interval");
  app.add_option("--rescuer-interval-ms", settings.rescuer_interval_ms, "Config::rescuer_interval");
  app.add_option("--work-timeout-ms", settings.work_timeout_ms, "Config::work_timeout");
  app.add_option("--stuck-threshold-ms", settings.stuck_threshold_ms, "Config::stuck_threshold");
  app.add_option("--maintenance-interval-ms", settings.maintenance_interval_ms,
                 "Config::maintenance_interval");
  app.add_option("--expiry-ms", settings.expiry_ms, "each namespace's resource_expiry (0: none)");
  app.add_option("--max-concurrency", settings.max_concurrency,
                 "each kind's default max_concurrency (0: none)");
  app.add_option("--rate-count", settings.rate_count,
                 "each kind's default rate limit: starts per --rate-per-ms (0: none)");
  app.add_option("--rate-per-ms", settings.rate_per_ms, "the rate limit's interval");
  app.add_option("--inform-interval-ms", settings.inform_interval_ms,
                 "each kind's inform interval (negative: no periodic informer runs)");
  return delta::testing::worker_main(argc, argv, "resource_worker_proc", app, settings,
                                     [&] { return run(settings); });
}
