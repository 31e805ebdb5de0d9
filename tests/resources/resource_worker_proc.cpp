// resource_worker_proc: one resource-engine worker process for resources_process_pgtest (not a
// test).
//
// It starts a delta::Client with short intervals on the schema it is given, with a
// controller for each kind named by --kinds (from "item", "alpha", "beta", "gamma") and
// the namespaces named by --namespaces. Each work() call sleeps --work-ms, appends one line
// for the finished work to the --log file (flushed before work() returns, so a SIGKILLed
// process leaves a record of exactly the work it finished) and returns synced. It prints
// "ready" on stdout once started and runs until SIGTERM or SIGINT (then client.stop()).
//
//   resource_worker_proc --schema t_1_1 --client-id a --kinds item,alpha
//       --namespaces default,east --parallelism 8 --max-workers 8 --work-ms 5 --log a.log
//
// One line of the log per finished work() call, fields separated by one space:
//   <object_id> <generation> <start_ns> <end_ns> <pid> <kind> <attempt>
// start_ns / end_ns are CLOCK_REALTIME nanoseconds, comparable between processes.
//
// Lines it prints on stdout (each flushed at once):
//   ready                 the client has started
//   stopped               client.stop() has returned (graceful exit follows)
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <delta/client.hpp>
#include <delta/controller.hpp>
#include <delta/errors.hpp>
#include <delta/log.hpp>
#include <delta/pg.hpp>

#include "support/pg_test.hpp"

namespace {

using std::chrono::milliseconds;

// Per-kind parallelism, read by every object type's settings() hook (set from the command
// line before the client is built).
int g_parallelism = 4;

// The objects the test informs: same kinds and JSON form as in resources_process_pgtest.cpp.
template <class Tag>
struct Obj {
  std::string key;
  std::int64_t value = 0;
  static constexpr std::string_view kind = Tag::name;
  std::string id() const { return key; }
  static delta::ObjectSettings settings() {
    // No informer: periodic informer runs are off.
    return {.parallelism = g_parallelism, .inform_interval = milliseconds(-1)};
  }
};
template <class Tag>
void to_json(nlohmann::json& json, const Obj<Tag>& object) {
  json = nlohmann::json{{"key", object.key}, {"value", object.value}};
}
template <class Tag>
void from_json(const nlohmann::json& json, Obj<Tag>& object) {
  json.at("key").get_to(object.key);
  json.at("value").get_to(object.value);
}
struct ItemTag {
  static constexpr std::string_view name = "item";
};
struct AlphaTag {
  static constexpr std::string_view name = "alpha";
};
struct BetaTag {
  static constexpr std::string_view name = "beta";
};
struct GammaTag {
  static constexpr std::string_view name = "gamma";
};

struct Settings {
  std::string schema;
  std::string client_id;
  std::vector<std::string> kinds{"item"};
  std::vector<std::string> namespaces{"default"};
  int parallelism = 4;
  int max_workers = 4;
  int work_ms = 0;
  std::string log_path;
  int poll_ms = 100;
  int heartbeat_ms = 200;
  int client_ttl_ms = 1000;
  int leader_ttl_ms = 1000;
  int leader_renew_ms = 200;
  int rescuer_interval_ms = 100;
  int work_timeout_ms = 60000;
  int stuck_threshold_ms = 60000;
  int stop_grace_ms = 5000;
  std::string log_level = "warn";
};

void print_line(const std::string& line) {
  std::fputs((line + "\n").c_str(), stdout);
  std::fflush(stdout);
}

std::int64_t realtime_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// The work log: one line per finished work() call, written and flushed under a lock.
class WorkLog {
 public:
  explicit WorkLog(const std::string& path) : file_(std::fopen(path.c_str(), "w")) {
    if (file_ == nullptr) throw std::runtime_error("cannot open the work log " + path);
  }
  ~WorkLog() { std::fclose(file_); }
  WorkLog(const WorkLog&) = delete;
  WorkLog& operator=(const WorkLog&) = delete;

  void record(const delta::ResourceRow& row, std::int64_t start_ns, std::int64_t end_ns) {
    const std::string line = fmt::format("{} {} {} {} {} {} {}\n", row.object_id, row.generation,
                                         start_ns, end_ns, ::getpid(), row.kind, row.attempt);
    std::lock_guard lock(mutex_);
    std::fputs(line.c_str(), file_);
    std::fflush(file_);
  }

 private:
  std::mutex mutex_;
  std::FILE* file_;
};

// Sleeps `duration`; returns early (false) when `ctx` is asked to stop.
bool sleep_unless_stopped(const delta::WorkContext& ctx, milliseconds duration) {
  const auto until = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < until) {
    if (ctx.stop_requested()) return false;
    std::this_thread::sleep_for(std::min(milliseconds(5), duration));
  }
  return true;
}

template <class T>
class RecordingController : public delta::Controller<T> {
 public:
  RecordingController(std::shared_ptr<WorkLog> log, milliseconds work)
      : log_(std::move(log)), work_(work) {}

  delta::WorkResult work(delta::WorkContext& ctx, const delta::Resource<T>& resource) override {
    const std::int64_t start_ns = realtime_ns();
    if (work_.count() > 0 && !sleep_unless_stopped(ctx, work_)) {
      return delta::retry("interrupted while working");  // not finished: not recorded
    }
    log_->record(resource.row, start_ns, realtime_ns());
    return delta::synced();
  }

 private:
  std::shared_ptr<WorkLog> log_;
  milliseconds work_;
};

std::shared_ptr<delta::ControllerBase> make_controller(const std::string& kind,
                                                       std::shared_ptr<WorkLog> log,
                                                       milliseconds work) {
  if (kind == ItemTag::name) return std::make_shared<RecordingController<Obj<ItemTag>>>(log, work);
  if (kind == AlphaTag::name) {
    return std::make_shared<RecordingController<Obj<AlphaTag>>>(log, work);
  }
  if (kind == BetaTag::name) return std::make_shared<RecordingController<Obj<BetaTag>>>(log, work);
  if (kind == GammaTag::name) {
    return std::make_shared<RecordingController<Obj<GammaTag>>>(log, work);
  }
  throw std::runtime_error("unknown kind " + kind + " (item, alpha, beta or gamma)");
}

delta::LogLevel parse_level(const std::string& name) {
  if (name == "debug") return delta::LogLevel::debug;
  if (name == "info") return delta::LogLevel::info;
  if (name == "error") return delta::LogLevel::error;
  return delta::LogLevel::warn;
}

int run(const Settings& settings) {
  // SIGTERM and SIGINT are taken by sigwait below; block them before any thread starts
  // so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  g_parallelism = settings.parallelism;
  auto log = std::make_shared<WorkLog>(settings.log_path);

  delta::pg::PoolOptions pool_options;
  // A claimer per namespace, the finisher, maintenance, the job queue: no connection is
  // held while work runs.
  pool_options.max_connections = 8 + 2 * settings.namespaces.size();
  // The test finds this process's connections in pg_stat_activity by this name.
  pool_options.application_name = "drw_" + settings.schema + "_" + settings.client_id;
  auto pool = delta::testing::make_pool(pool_options);

  delta::Config config;
  config.schema = settings.schema;
  config.id = settings.client_id;
  const std::string prefix = fmt::format("[{} pid {}] ", settings.client_id, ::getpid());
  config.logger = [prefix, inner = delta::stderr_logger(parse_level(settings.log_level))](
                      delta::LogLevel level, std::string_view message) {
    inner(level, prefix + std::string(message));
  };
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
  for (const auto& kind : settings.kinds) {
    config.controllers.add(make_controller(kind, log, milliseconds(settings.work_ms)));
  }
  for (const auto& name : settings.namespaces) {
    config.namespaces[name] = {.max_workers = settings.max_workers};
  }

  delta::Client client(pool, config);
  client.start();
  print_line("ready");

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  client.stop(milliseconds(settings.stop_grace_ms));
  print_line("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Die with the test that spawned us, even if it crashes before its teardown.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);

  Settings settings;
  pid_t parent_pid = 0;
  CLI::App app("A delta resource worker process for resources_process_pgtest.");
  app.add_option("--schema", settings.schema, "delta schema (migrated)")->required();
  app.add_option("--client-id", settings.client_id, "delta client id")->required();
  app.add_option("--kinds", settings.kinds, "kinds to run controllers for (item,alpha,beta,gamma)")
      ->delimiter(',');
  app.add_option("--namespace,--namespaces", settings.namespaces, "namespaces to work")
      ->delimiter(',');
  app.add_option("--parallelism", settings.parallelism, "each kind's parallelism");
  app.add_option("--max-workers", settings.max_workers, "each namespace's max_workers");
  app.add_option("--work-ms", settings.work_ms, "time each work() call takes");
  app.add_option("--log", settings.log_path, "file receiving one line per finished work")
      ->required();
  app.add_option("--poll-ms", settings.poll_ms, "Config::poll_interval");
  app.add_option("--heartbeat-ms", settings.heartbeat_ms, "Config::heartbeat_interval");
  app.add_option("--client-ttl-ms", settings.client_ttl_ms, "Config::client_ttl");
  app.add_option("--leader-ttl-ms", settings.leader_ttl_ms, "Config::leader_ttl");
  app.add_option("--leader-renew-ms", settings.leader_renew_ms, "Config::leader_renew_interval");
  app.add_option("--rescuer-interval-ms", settings.rescuer_interval_ms, "Config::rescuer_interval");
  app.add_option("--work-timeout-ms", settings.work_timeout_ms, "Config::work_timeout");
  app.add_option("--stuck-threshold-ms", settings.stuck_threshold_ms, "Config::stuck_threshold");
  app.add_option("--stop-grace-ms", settings.stop_grace_ms, "grace given to client.stop()");
  app.add_option("--log-level", settings.log_level, "debug, info, warn or error");
  app.add_option("--parent-pid", parent_pid, "exit at once if this is not our parent");
  CLI11_PARSE(app, argc, argv);
  if (parent_pid != 0 && ::getppid() != parent_pid) return 3;  // the parent died already

  try {
    return run(settings);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "resource_worker_proc (%s): %s\n", settings.client_id.c_str(), e.what());
    return 2;
  }
}
