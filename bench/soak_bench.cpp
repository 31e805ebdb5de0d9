// soak_bench: mixed load for a long run (bench/soak drives it, restarting PostgreSQL under
// it and sampling the process): an informer listing --objects objects whose content
// changes every run, work of which 5 % fails its first attempt, a thread informing
// objects of its own with ever-newer content, and a thread inserting jobs. At the end it
// waits for the work to settle and checks that nothing was lost or doubled:
//   - every object whose inform returned is stored at the last content informed;
//   - every resource is synced at its current generation;
//   - every inserted job is completed, exactly once in the table, and ran at least once.
// Prints a line of counts every --report-s and a final verdict; exits 1 if anything is off.
//
//   soak_bench --minutes 60 --objects 2000     (DATABASE_URL or libpq's PG* variables)
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <delta/delta.hpp>

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::atomic<bool> interrupted{false};

struct Listed {
  std::string key;
  std::int64_t version = 0;
  static constexpr std::string_view kind = "soak_listed";
  std::string id() const { return key; }
  static delta::ObjectSettings settings() {
    return {.parallelism = 8, .inform_interval = std::chrono::milliseconds(60'000)};
  }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Listed, key, version)

struct Direct {
  std::string key;
  std::int64_t seq = 0;
  static constexpr std::string_view kind = "soak_direct";
  std::string id() const { return key; }
  static delta::ObjectSettings settings() { return {.parallelism = 4}; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Direct, key, seq)

struct Ping {
  std::int64_t n = 0;
  static constexpr std::string_view kind = "soak_ping";
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Ping, n)

// 5 % of the objects fail their first attempt at each generation.
bool fails_first(const std::string& key) {
  return std::hash<std::string>{}(key) % 20 == 0;
}

std::atomic<std::int64_t> works{0}, failed_on_purpose{0}, job_runs{0};

class ListedController : public delta::Controller<Listed> {
 public:
  explicit ListedController(int objects) : objects_(objects) {}
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<Listed>& resource) override {
    ++works;
    std::this_thread::sleep_for(1ms);  // the call to the other system
    if (fails_first(resource.object.key) && resource.row.attempt == 1) {
      ++failed_on_purpose;
      return delta::retry("the other system said no (on purpose)");
    }
    return delta::synced();
  }
  void inform(delta::InformContext&, const delta::InformOptions&,
              delta::InformSink<Listed>& sink) override {
    // A new version of everything each minute: every run changes every object.
    const auto version =
        std::chrono::duration_cast<std::chrono::minutes>(Clock::now().time_since_epoch()).count();
    for (int i = 0; i < objects_; ++i) {
      if (!sink.emit(Listed{fmt::format("listed-{}", i), version})) return;
    }
  }

 private:
  int objects_;
};

class DirectController : public delta::Controller<Direct> {
 public:
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<Direct>&) override {
    ++works;
    return delta::synced();
  }
};

class PingWorker : public delta::jobs::Worker<Ping> {
 public:
  delta::jobs::JobResult work(delta::jobs::JobContext&, const delta::jobs::Job<Ping>&) override {
    ++job_runs;
    return delta::jobs::complete();
  }
};

struct Options {
  int minutes = 60;
  int objects = 2000;
  int direct_objects = 500;
  int report_s = 10;
  std::string schema = "soak";
};

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&] {
      if (i + 1 >= argc) throw std::runtime_error(arg + " needs a value");
      return std::string(argv[++i]);
    };
    if (arg == "--minutes") {
      options.minutes = std::stoi(value());
    } else if (arg == "--objects") {
      options.objects = std::stoi(value());
    } else if (arg == "--report-s") {
      options.report_s = std::stoi(value());
    } else if (arg == "--schema") {
      options.schema = value();
    } else {
      throw std::runtime_error(
          "usage: soak_bench [--minutes M] [--objects N] [--report-s S] "
          "[--schema NAME]");
    }
  }
  return options;
}

std::int64_t scalar(delta::pg::Pool& pool, const std::string& sql) {
  return pool.exec(sql)[0].get<std::int64_t>(0);
}

int run(const Options& options) {
  const char* url = std::getenv("DATABASE_URL");
  auto pool = delta::pg::Pool::create(url != nullptr ? url : "",
                                      {.max_connections = 16, .acquire_timeout = 30s});
  pool->exec("DROP SCHEMA IF EXISTS " + options.schema + " CASCADE");
  delta::migrate(*pool, {.schema = options.schema});

  delta::Config config;
  config.schema = options.schema;
  config.logger = delta::stderr_logger(delta::LogLevel::warn);
  config.controllers.add(std::make_shared<ListedController>(options.objects));
  config.controllers.add(std::make_shared<DirectController>());
  config.namespaces["default"] = {.max_workers = 16};
  config.workers.add(std::make_shared<PingWorker>());
  config.queues["default"] = {.max_workers = 8};
  config.resource_backoff = [](int) { return 200ms; };
  config.inform_jitter = 0ms;
  config.completed_job_retention = std::chrono::hours(24);
  delta::Client client(pool, config);
  client.start();
  client.schedule_inform({.kind = "soak_listed"});

  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> inform_errors{0}, insert_errors{0}, informs{0}, inserts{0};
  std::mutex last_mutex;
  std::map<std::string, std::int64_t> last_informed;  // guarded by last_mutex
  std::thread informer([&] {
    std::mt19937 random(42);
    std::int64_t seq = 0;
    while (!stop) {
      const std::string key = fmt::format("direct-{}", random() % options.direct_objects);
      try {
        client.inform(Direct{key, ++seq});
        ++informs;
        std::lock_guard lock(last_mutex);
        last_informed[key] = seq;
      } catch (const delta::DatabaseError&) {
        ++inform_errors;  // may or may not be stored: a later inform of the key decides
        std::this_thread::sleep_for(100ms);
      }
      std::this_thread::sleep_for(20ms);
    }
  });
  std::atomic<std::int64_t> inserted_jobs{0};
  std::thread inserter([&] {
    std::int64_t n = 0;
    while (!stop) {
      try {
        client.jobs().insert(Ping{++n});
        ++inserted_jobs;
      } catch (const delta::DatabaseError&) {
        ++insert_errors;
        std::this_thread::sleep_for(100ms);
      }
      std::this_thread::sleep_for(20ms);
    }
  });

  const auto started = Clock::now();
  const auto until = started + std::chrono::minutes(options.minutes);
  auto next_report = started;
  while (Clock::now() < until && !interrupted) {
    if (Clock::now() >= next_report) {
      next_report += std::chrono::seconds(options.report_s);
      std::cout << fmt::format(
                       "soak {:>6.0f} s: works {} (failed on purpose {}), informs {} ({} errors), "
                       "jobs inserted {} ({} errors), job runs {}",
                       std::chrono::duration<double>(Clock::now() - started).count(), works.load(),
                       failed_on_purpose.load(), informs.load(), inform_errors.load(),
                       inserted_jobs.load(), insert_errors.load(), job_runs.load())
                << std::endl;
    }
    std::this_thread::sleep_for(200ms);
  }
  stop = true;
  informer.join();
  inserter.join();
  // What a failed inform left is settled by informing each key once more at its last
  // content (idempotent when it was stored).
  std::map<std::string, std::int64_t> expected;
  {
    std::lock_guard lock(last_mutex);
    expected = last_informed;
  }

  // Settle: everything synced at its generation, every job completed.
  const std::string resource = options.schema + ".delta_resource";
  const std::string job = options.schema + ".delta_job";
  const auto settle_until = Clock::now() + 5min;
  std::int64_t unsynced = -1, unfinished = -1;
  while (Clock::now() < settle_until) {
    try {
      unsynced = scalar(*pool, "SELECT count(*) FROM " + resource + " WHERE state <> 'synced'");
      unfinished = scalar(*pool, "SELECT count(*) FROM " + job +
                                     " WHERE kind = 'soak_ping' AND state <> 'completed'");
      if (unsynced == 0 && unfinished == 0) break;
    } catch (const delta::DatabaseError&) {
    }
    std::this_thread::sleep_for(500ms);
  }
  client.stop(10s);

  // Every returned inform stored at its last content.
  std::int64_t wrong_content = 0;
  for (const auto& [key, seq] : expected) {
    auto rows = pool->exec("SELECT (object->>'seq')::bigint FROM " + resource +
                               " WHERE kind = 'soak_direct' AND object_id = $1",
                           key);
    if (rows.empty() || rows[0].get<std::int64_t>(0) < seq) ++wrong_content;
  }
  const auto completed = scalar(
      *pool, "SELECT count(*) FROM " + job + " WHERE kind = 'soak_ping' AND state = 'completed'");
  const auto duplicate_jobs = scalar(*pool, "SELECT count(*) - count(DISTINCT args->>'n') FROM " +
                                                job + " WHERE kind = 'soak_ping'");
  const auto listed =
      scalar(*pool, "SELECT count(*) FROM " + resource + " WHERE kind = 'soak_listed'");
  const bool ok = unsynced == 0 && unfinished == 0 && wrong_content == 0 && duplicate_jobs == 0 &&
                  listed == options.objects && completed >= inserted_jobs.load() &&
                  job_runs.load() >= completed;
  std::cout << fmt::format(
                   "soak result: {} — resources not synced {}, informs not stored at their "
                   "last content {} of {}, listed resources {} of {}, jobs inserted {} "
                   "completed {} unfinished {} duplicated {} runs {}, works {}, inform errors "
                   "{}, insert errors {}",
                   ok ? "nothing lost, nothing doubled" : "FAILED", unsynced, wrong_content,
                   expected.size(), listed, options.objects, inserted_jobs.load(), completed,
                   unfinished, duplicate_jobs, job_runs.load(), works.load(), inform_errors.load(),
                   insert_errors.load())
            << std::endl;
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGINT, [](int) { interrupted = true; });
  std::signal(SIGTERM, [](int) { interrupted = true; });
  try {
    return run(parse(argc, argv));
  } catch (const std::exception& e) {
    std::cerr << "soak_bench: " << e.what() << "\n";
    return 2;
  }
}
