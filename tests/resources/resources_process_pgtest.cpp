// The resource engine across real processes: resource_worker_proc (built as
// DELTA_RESOURCE_WORKER_PROC) instances sharing one schema work every resource exactly once
// and never one resource in two places at a time, rescue the resources of a SIGKILLed
// process, claim only the kinds and namespaces they are configured for, work a resource
// that changed while it was worked again (after that work), and keep the leases of live
// work (claimed ahead or not) so that nothing is rescued from a live process. Each worker
// process logs every work() call it finished (CLOCK_REALTIME intervals) to a file of its
// own; the tests compare those logs with the rows. Each test uses its own schema; the suite
// is named after the executable so `ctest -R resources_process` selects it.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <delta/client.hpp>
#include <delta/migrate.hpp>
#include <delta/pg.hpp>
#include <delta/resource.hpp>

#include "support/pg_test.hpp"

#ifndef DELTA_RESOURCE_WORKER_PROC
#error \
    "DELTA_RESOURCE_WORKER_PROC must name the resource_worker_proc binary (see tests/CMakeLists.txt)"
#endif

extern char** environ;

namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr milliseconds kReadyTimeout = 15s;
constexpr milliseconds kStopTimeout = 20s;

// The objects resource_worker_proc works (same kinds and JSON form as there).
template <class Tag>
struct Obj {
  std::string key;
  std::int64_t value = 0;
  static constexpr std::string_view kind = Tag::name;
  std::string id() const { return key; }
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
using Item = Obj<ItemTag>;
using Alpha = Obj<AlphaTag>;
using Beta = Obj<BetaTag>;
using Gamma = Obj<GammaTag>;

std::int64_t realtime_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::int64_t elapsed_ms(Clock::time_point since) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - since).count();
}

// delta::testing::eventually, checking `condition` every `interval` (for conditions that
// cost a query).
bool poll_until(const std::function<bool()>& condition, milliseconds timeout,
                milliseconds interval = 50ms) {
  return delta::testing::eventually(
      [&] {
        if (condition()) return true;
        std::this_thread::sleep_for(interval);
        return false;
      },
      timeout);
}

// One finished work() call, as resource_worker_proc logs it:
//   <object_id> <generation> <start_ns> <end_ns> <pid> <kind> <attempt>
struct WorkRecord {
  std::string object_id;
  std::int64_t generation = 0;
  std::int64_t start_ns = 0;
  std::int64_t end_ns = 0;
  long pid = 0;
  std::string kind;
  int attempt = 0;
};

std::string describe(const WorkRecord& r) {
  return fmt::format("{}/{} gen {} attempt {} by pid {} [{} .. {}] ns", r.kind, r.object_id,
                     r.generation, r.attempt, r.pid, r.start_ns, r.end_ns);
}

// The records of one work log, appended to `out`; returns the lines that did not parse.
std::vector<std::string> read_work_log(const std::string& path, std::vector<WorkRecord>& out) {
  std::vector<std::string> malformed;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    WorkRecord record;
    std::string extra;
    if (!(fields >> record.object_id >> record.generation >> record.start_ns >> record.end_ns >>
          record.pid >> record.kind >> record.attempt) ||
        (fields >> extra) || record.end_ns < record.start_ns) {
      malformed.push_back(line);
      continue;
    }
    out.push_back(std::move(record));
  }
  return malformed;
}

// Per resource (kind/object_id), its work records ordered by start.
std::map<std::string, std::vector<WorkRecord>> by_resource(const std::vector<WorkRecord>& records) {
  std::map<std::string, std::vector<WorkRecord>> grouped;
  for (const auto& record : records)
    grouped[record.kind + "/" + record.object_id].push_back(record);
  for (auto& [key, list] : grouped) {
    std::sort(list.begin(), list.end(),
              [](const WorkRecord& a, const WorkRecord& b) { return a.start_ns < b.start_ns; });
  }
  return grouped;
}

// Pairs of work intervals of one resource that overlap (first `limit`), and how many.
std::pair<std::size_t, std::string> overlapping_work(
    const std::map<std::string, std::vector<WorkRecord>>& grouped, std::size_t limit = 5) {
  std::size_t count = 0;
  std::string summary;
  for (const auto& [key, list] : grouped) {
    for (std::size_t i = 1; i < list.size(); ++i) {
      if (list[i].start_ns >= list[i - 1].end_ns) continue;
      if (++count <= limit) {
        summary += "\n  " + describe(list[i - 1]) + " overlaps " + describe(list[i]);
      }
    }
  }
  return {count, summary};
}

// One resource_worker_proc. The destructor SIGKILLs and reaps it if it still runs, so no
// test leaves a process behind, whatever assertion failed.
class WorkerProcess {
 public:
  WorkerProcess(std::string client_id, std::string log_path, const std::vector<std::string>& args)
      : client_id_(std::move(client_id)), log_path_(std::move(log_path)) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      throw std::system_error(errno, std::generic_category(), "pipe2");
    }
    std::vector<std::string> arg_strings{
        DELTA_RESOURCE_WORKER_PROC, "--client-id", client_id_, "--log", log_path_, "--parent-pid",
        std::to_string(::getpid())};
    arg_strings.insert(arg_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& arg : arg_strings)
      argv.push_back(arg.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    const int rc =
        ::posix_spawn(&pid_, DELTA_RESOURCE_WORKER_PROC, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    if (rc != 0) {
      ::close(fds[0]);
      throw std::system_error(rc, std::generic_category(),
                              "posix_spawn " DELTA_RESOURCE_WORKER_PROC);
    }
    stdout_fd_ = fds[0];
  }
  ~WorkerProcess() {
    kill_hard();
    if (stdout_fd_ >= 0) ::close(stdout_fd_);
  }
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  const std::string& client_id() const noexcept { return client_id_; }
  const std::string& log_path() const noexcept { return log_path_; }
  long pid() const noexcept { return static_cast<long>(pid_); }

  // Whether the process has printed the line `line` (now or earlier), waiting up to
  // `timeout` for it.
  bool wait_for_line(const std::string& line, milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      if (std::find(lines_.begin(), lines_.end(), line) != lines_.end()) return true;
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      if (left.count() <= 0 || stdout_fd_ < 0) return false;
      pollfd pfd{stdout_fd_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
      char buffer[4096];
      const ssize_t n = ::read(stdout_fd_, buffer, sizeof buffer);
      if (n <= 0) {  // end of file: the process has exited
        if (n < 0 && errno == EINTR) continue;
        ::close(stdout_fd_);
        stdout_fd_ = -1;
        continue;
      }
      pending_.append(buffer, static_cast<std::size_t>(n));
      for (auto newline = pending_.find('\n'); newline != std::string::npos;
           newline = pending_.find('\n')) {
        lines_.push_back(pending_.substr(0, newline));
        pending_.erase(0, newline + 1);
      }
    }
  }

  // The crash case: SIGKILL, then reap.
  void kill_hard() {
    if (reaped_ || pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
    reaped_ = true;
  }

  // SIGTERM (a graceful client.stop()); returns the exit code once the process has
  // exited, or -1 if it did not exit normally within `timeout` (it is then killed).
  int terminate(milliseconds timeout) {
    if (reaped_) return exit_code();
    ::kill(pid_, SIGTERM);
    const bool exited = delta::testing::eventually(
        [&] {
          if (::waitpid(pid_, &status_, WNOHANG) != pid_) return false;
          reaped_ = true;
          return true;
        },
        timeout);
    if (!exited) {
      kill_hard();
      return -1;
    }
    return exit_code();
  }

 private:
  int exit_code() const { return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1; }

  std::string client_id_;
  std::string log_path_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string pending_;             // output after the last newline
  std::vector<std::string> lines_;  // every complete line printed so far
  bool reaped_ = false;
  int status_ = 0;
};

class resources_process_pgtest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = delta::testing::make_pool({.max_connections = 4});
    schema_ = delta::testing::unique_schema("sp");
    delta::migrate(*pool_, {.schema = schema_});
    std::string dir_template =
        (std::filesystem::temp_directory_path() / "resources_process_XXXXXX").string();
    if (::mkdtemp(dir_template.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(), "mkdtemp");
    }
    log_dir_ = dir_template;
    // Informs and reads resources; never started, so it works nothing and never leads.
    delta::Config config;
    config.schema = schema_;
    config.logger = delta::stderr_logger(delta::LogLevel::warn);
    informer_ = std::make_unique<delta::Client>(pool_, config);
  }

  void TearDown() override {
    workers_.clear();  // kills whatever still runs before its schema goes
    informer_.reset();
    if (pool_) delta::testing::drop_schema(*pool_, schema_);
    if (!log_dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(log_dir_, ignored);
    }
  }

  // `text` with {s} replaced by the quoted test schema.
  std::string sql(std::string_view text) const {
    return fmt::format(fmt::runtime(text), fmt::arg("s", "\"" + schema_ + "\""));
  }

  template <class... Args>
  std::int64_t scalar(std::string_view text, const Args&... args) {
    return pool_->exec(sql(text), args...).one().template get<std::int64_t>(0);
  }

  // The object ids of the rows `where` selects (a condition on delta_resource r).
  template <class... Args>
  std::set<std::string> ids_where(std::string_view where, const Args&... args) {
    std::set<std::string> ids;
    for (auto row : pool_->exec(sql(fmt::format("SELECT r.object_id FROM {{s}}.delta_resource r "
                                                "WHERE {}",
                                                where)),
                                args...)) {
      ids.insert(row.template get<std::string>(0));
    }
    return ids;
  }

  std::int64_t synced() {
    return scalar("SELECT count(*) FROM {s}.delta_resource WHERE state = 'synced'");
  }

  // "state=count ..." of every resource, for failure messages.
  std::string resource_states() {
    std::string summary;
    for (auto row : pool_->exec(
             sql("SELECT state::text, count(*) FROM {s}.delta_resource GROUP BY 1 ORDER BY 1"))) {
      summary += fmt::format("{}={} ", row.get<std::string>(0), row.get<std::int64_t>(1));
    }
    return summary.empty() ? "no resources" : summary;
  }

  // Spawns a resource_worker_proc on this test's schema, logging to a file of its own, and
  // waits until it has started.
  WorkerProcess& start_worker(const std::string& client_id, std::vector<std::string> args) {
    args.insert(args.begin(), {"--schema", schema_});
    workers_.push_back(std::make_unique<WorkerProcess>(
        client_id, (std::filesystem::path(log_dir_) / (client_id + ".log")).string(), args));
    WorkerProcess& worker = *workers_.back();
    if (!worker.wait_for_line("ready", kReadyTimeout)) {
      throw std::runtime_error("resource_worker_proc " + client_id + " did not print \"ready\"");
    }
    return worker;
  }

  // The work records of every worker process started so far (the logs of killed ones
  // too); a malformed line fails the test.
  std::vector<WorkRecord> work_records() {
    std::vector<WorkRecord> records;
    for (const auto& worker : workers_) {
      const auto malformed = read_work_log(worker->log_path(), records);
      EXPECT_TRUE(malformed.empty()) << worker->log_path() << ": " << malformed.size()
                                     << " malformed lines, first: \"" << malformed.front() << "\"";
    }
    return records;
  }

  // Informs `count` objects of type T with ids "<prefix><n>" and `value`, with
  // inform_many in batches; every one must be inserted or changed.
  template <class T>
  void inform_objects(const std::string& prefix, int count, std::int64_t value,
                      const std::string& namespace_name = "default", int batch = 5000) {
    for (int first = 0; first < count; first += batch) {
      std::vector<T> objects;
      for (int n = first; n < std::min(count, first + batch); ++n)
        objects.push_back(T{prefix + std::to_string(n), value});
      const auto result = informer_->inform_many(objects, {.namespace_name = namespace_name});
      ASSERT_EQ(result.inserted + result.changed, objects.size())
          << "unchanged " << result.unchanged << ", stale " << result.stale;
    }
  }

  std::shared_ptr<delta::pg::Pool> pool_;
  std::string schema_;
  std::string log_dir_;
  std::unique_ptr<delta::Client> informer_;
  std::vector<std::unique_ptr<WorkerProcess>> workers_;
};

TEST_F(resources_process_pgtest, TwoProcessesWorkTwentyThousandResourcesExactlyOnce) {
  constexpr int kResources = 20000;
  const std::vector<std::string> args{"--kinds",       "item", "--parallelism", "32",
                                      "--max-workers", "32",   "--work-ms",     "0"};
  WorkerProcess& a = start_worker("drain-a", args);
  WorkerProcess& b = start_worker("drain-b", args);

  const auto started = Clock::now();
  ASSERT_NO_FATAL_FAILURE(inform_objects<Item>("r", kResources, 1));
  const auto informed_ms = elapsed_ms(started);
  const bool drained = poll_until([&] { return synced() == kResources; }, 60s);
  const auto drained_ms = elapsed_ms(started);
  ASSERT_TRUE(drained) << "after " << drained_ms << " ms: " << resource_states();
  std::printf("[ figures  ] 2 processes synced %d resources in %lld ms (inform_many: %lld ms)\n",
              kResources, static_cast<long long>(drained_ms), static_cast<long long>(informed_ms));
  RecordProperty("drain_ms", std::to_string(drained_ms));

  // The rows: one claim each, no error, no lease left.
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_resource"), kResources);
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_resource WHERE generation <> 1 OR attempt <> 1 "
                   "OR cardinality(errors) > 0 OR lease_owner IS NOT NULL"),
            0);

  // The logs: each (object_id, generation) worked exactly once, by one of the two.
  const auto records = work_records();
  const auto grouped = by_resource(records);
  EXPECT_EQ(records.size(), static_cast<std::size_t>(kResources));
  EXPECT_EQ(grouped.size(), static_cast<std::size_t>(kResources));
  std::size_t twice = 0;
  std::string twice_summary;
  for (const auto& [key, list] : grouped) {
    if (list.size() == 1 && list[0].generation == 1) continue;
    if (++twice <= 5) {
      twice_summary += "\n  " + key + ":";
      for (const auto& record : list)
        twice_summary += " [" + describe(record) + "]";
    }
  }
  EXPECT_EQ(twice, 0u) << "resources not worked exactly once (first 5):" << twice_summary;
  const auto [overlaps, overlap_summary] = overlapping_work(grouped);
  EXPECT_EQ(overlaps, 0u) << "overlapping work (first 5):" << overlap_summary;

  // Each resource's work ran after its claim (attempted_at) and before its outcome was
  // written (synced_at): the database's clock and the processes' CLOCK_REALTIME agree.
  std::size_t outside = 0;
  std::string outside_summary;
  for (auto row : pool_->exec(sql(R"(
SELECT object_id, (extract(epoch FROM attempted_at) * 1000000)::bigint,
       (extract(epoch FROM synced_at) * 1000000)::bigint
FROM {s}.delta_resource)"))) {
    const auto it = grouped.find("item/" + row.get<std::string>(0));
    if (it == grouped.end()) continue;  // counted above
    const WorkRecord& last = it->second.back();
    const auto claimed_us = row.get<std::int64_t>(1);
    const auto synced_us = row.get<std::int64_t>(2);
    if (claimed_us <= last.start_ns / 1000 && last.end_ns / 1000 <= synced_us) continue;
    if (++outside <= 5) {
      outside_summary += fmt::format("\n  {} not within claim {} us .. synced {} us",
                                     describe(last), claimed_us, synced_us);
    }
  }
  EXPECT_EQ(outside, 0u) << "work outside its claim (first 5):" << outside_summary;

  // Both processes took part.
  std::map<long, std::int64_t> by_pid;
  for (const auto& record : records)
    ++by_pid[record.pid];
  std::printf("[ figures  ] work done: %s (pid %ld) %lld, %s (pid %ld) %lld\n",
              a.client_id().c_str(), a.pid(), static_cast<long long>(by_pid[a.pid()]),
              b.client_id().c_str(), b.pid(), static_cast<long long>(by_pid[b.pid()]));
  EXPECT_GT(by_pid[a.pid()], 0);
  EXPECT_GT(by_pid[b.pid()], 0);
  EXPECT_EQ(by_pid[a.pid()] + by_pid[b.pid()], kResources) << "records by an unknown pid";

  // SIGTERM is a graceful stop: exit code 0, and the clients are marked stopped.
  EXPECT_EQ(a.terminate(kStopTimeout), 0);
  EXPECT_EQ(b.terminate(kStopTimeout), 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_client WHERE stopped_at IS NOT NULL"), 2);
}

TEST_F(resources_process_pgtest, ResourcesOfASigkilledProcessAreRescuedAndWorkedByTheSurvivor) {
  // Enough resources that both processes keep a backlog claimed (a process may claim
  // more than it works at once) until the kill.
  constexpr int kResources = 120;
  constexpr int kParallelism = 8;
  const std::vector<std::string> args{"--kinds",
                                      "item",
                                      "--parallelism",
                                      std::to_string(kParallelism),
                                      "--max-workers",
                                      std::to_string(kParallelism),
                                      "--work-ms",
                                      "250",
                                      "--heartbeat-ms",
                                      "200",
                                      "--client-ttl-ms",
                                      "1000",
                                      "--leader-ttl-ms",
                                      "1000",
                                      "--leader-renew-ms",
                                      "200",
                                      "--rescuer-interval-ms",
                                      "100"};
  WorkerProcess& doomed = start_worker("crash-a", args);
  WorkerProcess& survivor = start_worker("crash-b", args);
  ASSERT_NO_FATAL_FAILURE(inform_objects<Item>("k", kResources, 1));

  // Kill the doomed process mid-work: it has finished works, its latest finished 50 ms
  // ago or more (every work takes 250 ms: it is in the middle of its next ones), and it
  // still holds (works, or has claimed to work next) resources it has not finished.
  std::size_t finished_before = 0;
  ASSERT_TRUE(poll_until(
      [&] {
        std::vector<WorkRecord> finished;
        read_work_log(doomed.log_path(), finished);
        if (finished.empty()) return false;
        std::int64_t latest_end_ns = 0;
        for (const auto& record : finished)
          latest_end_ns = std::max(latest_end_ns, record.end_ns);
        if (realtime_ns() - latest_end_ns < 50'000'000) return false;
        std::set<std::string> held_now =
            ids_where("r.state = 'pending' AND r.lease_owner = $1", doomed.client_id());
        for (const auto& record : finished)
          held_now.erase(record.object_id);
        finished_before = finished.size();
        return held_now.size() >= static_cast<std::size_t>(kParallelism);
      },
      10s, 5ms))
      << "the doomed process never held " << kParallelism << " unfinished resources; "
      << resource_states();
  const std::int64_t kill_ns = realtime_ns();
  doomed.kill_hard();
  const auto killed_at = Clock::now();
  // Once the server has ended the doomed process's sessions, no statement of it can still
  // commit: what it holds now is what it died holding.
  ASSERT_TRUE(poll_until(
      [&] {
        return scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                      "drw_" + schema_ + "_" + doomed.client_id()) == 0;
      },
      10s, 5ms))
      << "the killed process's sessions did not end";
  std::set<std::string> held = ids_where(
      "(r.state = 'pending' AND r.lease_owner = $1) OR EXISTS "
      "(SELECT 1 FROM unnest(r.errors) e WHERE e->>'type' = 'rescue')",  // rescued already
      doomed.client_id());
  ASSERT_FALSE(held.empty()) << "the doomed process held no resource when it died";

  const bool recovered = poll_until([&] { return synced() == kResources; }, 15s);
  const auto recovered_ms = elapsed_ms(killed_at);
  ASSERT_TRUE(recovered) << recovered_ms << " ms after the kill: " << resource_states();
  std::printf(
      "[ figures  ] killed after %zu works; the %zu resources it held were synced by the "
      "survivor %lld ms after the kill\n",
      finished_before, held.size(), static_cast<long long>(recovered_ms));

  // Exactly the resources the doomed process held were rescued, each once, and the rescue
  // counted as their first attempt.
  const auto rescued =
      ids_where("EXISTS (SELECT 1 FROM unnest(r.errors) e WHERE e->>'type' = 'rescue')");
  EXPECT_EQ(rescued, held);
  for (const auto& id : rescued) {
    const delta::ResourceRow row = informer_->get_resource("item", id);
    EXPECT_EQ(row.state, delta::ResourceState::synced) << id;
    EXPECT_EQ(row.generation, 1) << id;
    EXPECT_EQ(row.attempt, 2) << id << ": the lost attempt counts";
    EXPECT_FALSE(row.lease_owner.has_value()) << id;
    ASSERT_EQ(row.errors.size(), 1u) << id;
    EXPECT_EQ(row.errors[0].type, "rescue") << id;
    EXPECT_EQ(row.errors[0].attempt, 1) << id;
    EXPECT_NE(row.errors[0].error.find(doomed.client_id()), std::string::npos)
        << id << ": " << row.errors[0].error;
  }
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_resource WHERE NOT (object_id = ANY($1)) "
                   "AND (attempt <> 1 OR cardinality(errors) > 0 OR lease_owner IS NOT NULL)",
                   std::vector<std::string>(rescued.begin(), rescued.end())),
            0)
      << "resources not held by the killed process were claimed more than once";

  // The logs. A rescued resource was finished by the survivor, after the kill; the
  // doomed process may have finished it too if it died between returning from work() and
  // writing the outcome (then the outcome was lost and the work redone). Every other
  // resource was worked exactly once.
  const auto grouped = by_resource(work_records());
  EXPECT_EQ(grouped.size(), static_cast<std::size_t>(kResources));
  std::size_t redone = 0;
  for (const auto& [key, list] : grouped) {
    const std::string id = key.substr(key.find('/') + 1);
    std::string all;
    for (const auto& record : list)
      all += " [" + describe(record) + "]";
    if (!rescued.contains(id)) {
      EXPECT_EQ(list.size(), 1u) << key << ":" << all;
      continue;
    }
    ASSERT_FALSE(list.empty());
    const WorkRecord& last = list.back();
    EXPECT_EQ(last.pid, survivor.pid()) << key << ":" << all;
    EXPECT_GT(last.start_ns, kill_ns) << key << ":" << all;
    EXPECT_EQ(last.attempt, 2) << key << ":" << all;
    EXPECT_LE(list.size(), 2u) << key << ":" << all;
    if (list.size() == 2) {
      EXPECT_EQ(list[0].pid, doomed.pid()) << key << ":" << all;
      EXPECT_LT(list[0].end_ns, kill_ns) << key << ":" << all;
      ++redone;
    }
  }
  if (redone > 0) {
    std::printf(
        "[ figures  ] %zu rescued resources had finished work whose outcome died with "
        "the process\n",
        redone);
  }
  const auto [overlaps, overlap_summary] = overlapping_work(grouped);
  EXPECT_EQ(overlaps, 0u) << "overlapping work:" << overlap_summary;

  EXPECT_EQ(survivor.terminate(kStopTimeout), 0);
}

TEST_F(resources_process_pgtest, ProcessesClaimOnlyTheirKindsAndNamespaces) {
  // a runs alpha and gamma in east and shared; b runs beta and gamma in west and shared.
  // gamma/east is a's and gamma/west b's by namespace alone, alpha/shared a's and
  // beta/shared b's by kind alone; gamma/shared is either's; alpha/west and beta/east are
  // nobody's.
  constexpr int kPerGroup = 30;
  const std::vector<std::string> common{"--parallelism", "4", "--max-workers", "4",
                                        "--work-ms",     "2"};
  std::vector<std::string> a_args{"--kinds", "alpha,gamma", "--namespaces", "east,shared"};
  std::vector<std::string> b_args{"--kinds", "beta,gamma", "--namespaces", "west,shared"};
  a_args.insert(a_args.end(), common.begin(), common.end());
  b_args.insert(b_args.end(), common.begin(), common.end());
  WorkerProcess& a = start_worker("scope-a", a_args);
  WorkerProcess& b = start_worker("scope-b", b_args);

  struct Group {
    std::string kind;
    std::string ns;
    char owner;  // 'a', 'b', '*' (either) or '-' (nobody)
  };
  // Nobody's groups first: the oldest run_at, the first a wrong claim would take.
  const std::vector<Group> groups{
      {"alpha", "west", '-'},   {"beta", "east", '-'},  {"alpha", "east", 'a'},
      {"alpha", "shared", 'a'}, {"gamma", "east", 'a'}, {"beta", "west", 'b'},
      {"beta", "shared", 'b'},  {"gamma", "west", 'b'}, {"gamma", "shared", '*'}};
  int workable = 0;
  for (const auto& group : groups) {
    const std::string prefix = group.kind + "-" + group.ns + "-";
    if (group.kind == "alpha") {
      ASSERT_NO_FATAL_FAILURE(inform_objects<Alpha>(prefix, kPerGroup, 1, group.ns));
    } else if (group.kind == "beta") {
      ASSERT_NO_FATAL_FAILURE(inform_objects<Beta>(prefix, kPerGroup, 1, group.ns));
    } else {
      ASSERT_NO_FATAL_FAILURE(inform_objects<Gamma>(prefix, kPerGroup, 1, group.ns));
    }
    if (group.owner != '-') workable += kPerGroup;
  }
  ASSERT_TRUE(poll_until([&] { return synced() == workable; }, 20s)) << resource_states();

  // Nobody's resources were never claimed (the claimers went round many times while the
  // others were worked).
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_resource WHERE state = 'scheduled' "
                   "AND attempt = 0 AND attempted_at IS NULL AND lease_owner IS NULL "
                   "AND ((kind = 'alpha' AND namespace = 'west') "
                   "  OR (kind = 'beta' AND namespace = 'east'))"),
            2 * kPerGroup)
      << resource_states();

  // Who worked what, from the logs: per group, records by a's and by b's pid.
  const auto records = work_records();
  std::map<std::string, std::map<char, int>> worked;  // "kind/ns" -> 'a'/'b'/'?' -> count
  for (const auto& record : records) {
    const auto dash = record.object_id.find('-');
    const auto dash2 = record.object_id.find('-', dash + 1);
    const std::string ns = record.object_id.substr(dash + 1, dash2 - dash - 1);
    const char who = record.pid == a.pid() ? 'a' : record.pid == b.pid() ? 'b' : '?';
    ++worked[record.kind + "/" + ns][who];
  }
  std::string table;
  for (const auto& group : groups) {
    const auto& counts = worked[group.kind + "/" + group.ns];
    const auto count = [&](char who) {
      const auto it = counts.find(who);
      return it == counts.end() ? 0 : it->second;
    };
    table += fmt::format(" {}/{}: a={} b={};", group.kind, group.ns, count('a'), count('b'));
    const std::string where = group.kind + "/" + group.ns;
    EXPECT_EQ(count('?'), 0) << where << " worked by an unknown pid";
    switch (group.owner) {
      case 'a':
        EXPECT_EQ(count('a'), kPerGroup) << where;
        EXPECT_EQ(count('b'), 0) << where << " worked by b, which does not run it";
        break;
      case 'b':
        EXPECT_EQ(count('b'), kPerGroup) << where;
        EXPECT_EQ(count('a'), 0) << where << " worked by a, which does not run it";
        break;
      case '*':
        EXPECT_EQ(count('a') + count('b'), kPerGroup) << where;
        break;
      default:
        EXPECT_EQ(count('a') + count('b'), 0) << where << " is nobody's but was worked";
    }
  }
  std::printf("[ figures  ] work by group:%s\n", table.c_str());
  const auto [overlaps, overlap_summary] = overlapping_work(by_resource(records));
  EXPECT_EQ(overlaps, 0u) << "overlapping work:" << overlap_summary;

  EXPECT_EQ(a.terminate(kStopTimeout), 0);
  EXPECT_EQ(b.terminate(kStopTimeout), 0);
}

TEST_F(resources_process_pgtest, ChangedWhileWorkedIsWorkedAgainNeverConcurrently) {
  // Objects change twice while two processes work them: a resource being worked when it
  // changes is worked again once that work has ended, never at the same time.
  constexpr int kResources = 400;
  constexpr int kGenerations = 3;
  constexpr int kChangeBatch = 25;
  const std::vector<std::string> args{"--kinds",       "item", "--parallelism", "8",
                                      "--max-workers", "8",    "--work-ms",     "40"};
  WorkerProcess& a = start_worker("change-a", args);
  WorkerProcess& b = start_worker("change-b", args);

  ASSERT_NO_FATAL_FAILURE(inform_objects<Item>("c", kResources, 1));
  // Per resource, the [start, end] ns of the inform_many calls that changed it to
  // generation 2, 3, ...: the change committed within that window.
  std::map<std::string, std::vector<std::pair<std::int64_t, std::int64_t>>> changes;
  for (int generation = 2; generation <= kGenerations; ++generation) {
    // Change everything once a few resources are synced: some are synced, some being
    // worked, most still scheduled. Small batches: a change commits within a work.
    ASSERT_TRUE(poll_until([&] { return synced() >= 40; }, 10s, 5ms)) << resource_states();
    for (int first = 0; first < kResources; first += kChangeBatch) {
      std::vector<Item> objects;
      for (int n = first; n < first + kChangeBatch; ++n)
        objects.push_back(Item{"c" + std::to_string(n), generation});
      const std::int64_t start_ns = realtime_ns();
      const auto result = informer_->inform_many(objects);
      const std::int64_t end_ns = realtime_ns();
      ASSERT_EQ(result.changed, objects.size());
      for (const auto& object : objects)
        changes["item/" + object.key].emplace_back(start_ns, end_ns);
    }
  }
  ASSERT_TRUE(poll_until(
      [&] {
        return scalar(
                   "SELECT count(*) FROM {s}.delta_resource WHERE state = 'synced' "
                   "AND generation = $1",
                   std::int64_t{kGenerations}) == kResources;
      },
      30s))
      << resource_states();
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_resource WHERE (object->>'value')::int <> $1 "
                   "OR attempt <> 1 OR cardinality(errors) > 0 OR lease_owner IS NOT NULL",
                   std::int32_t{kGenerations}),
            0);

  const auto records = work_records();
  const auto grouped = by_resource(records);
  EXPECT_EQ(grouped.size(), static_cast<std::size_t>(kResources));
  std::size_t bad = 0;
  std::string bad_summary;
  std::size_t reworked = 0;
  std::size_t worked_while_changed = 0;
  for (const auto& [key, list] : grouped) {
    // Generations strictly increase along the resource's works, and the last work is of
    // the final generation: each generation at most once, the final one exactly once.
    bool ok = list.back().generation == kGenerations;
    for (std::size_t i = 1; i < list.size(); ++i)
      ok = ok && list[i].generation > list[i - 1].generation;
    if (!ok && ++bad <= 5) {
      bad_summary += "\n  " + key + ":";
      for (const auto& record : list)
        bad_summary += " [" + describe(record) + "]";
    }
    if (!ok) continue;
    if (list.size() > 1) ++reworked;
    // Works during which the resource changed (its inform_many call began after the work
    // started and returned before it ended).
    for (const auto& record : list) {
      for (const auto& [start, end] : changes[key]) {
        if (record.start_ns < start && end < record.end_ns) ++worked_while_changed;
      }
    }
  }
  EXPECT_EQ(bad, 0u) << "resources whose works do not end with one work of generation "
                     << kGenerations << " (first 5):" << bad_summary;
  const auto [overlaps, overlap_summary] = overlapping_work(grouped);
  EXPECT_EQ(overlaps, 0u) << "overlapping work (first 5):" << overlap_summary;
  std::printf(
      "[ figures  ] %zu works in all; %zu resources worked more than once; %zu works were "
      "running while their object changed\n",
      records.size(), reworked, worked_while_changed);
  // At least the resources synced before the first change were worked again.
  EXPECT_GE(reworked, 40u);
  EXPECT_GT(worked_while_changed, 0u);

  EXPECT_EQ(a.terminate(kStopTimeout), 0);
  EXPECT_EQ(b.terminate(kStopTimeout), 0);
}

TEST_F(resources_process_pgtest, LiveProcessesNeverLoseLeasesOfWorkWithinItsTimeout) {
  // Every work() takes 200 ms of a 1 s work timeout, and a claim's lease is that timeout
  // plus a 200 ms stuck threshold; both processes stay alive. No lease may run out, so
  // nothing is rescued and nothing is worked twice, however many resources a process
  // claims at once and however long they wait for its one worker.
  constexpr int kResources = 12;
  const std::vector<std::string> args{"--kinds",
                                      "item",
                                      "--parallelism",
                                      "1",
                                      "--max-workers",
                                      "1",
                                      "--work-ms",
                                      "200",
                                      "--work-timeout-ms",
                                      "1000",
                                      "--stuck-threshold-ms",
                                      "200",
                                      "--rescuer-interval-ms",
                                      "100"};
  WorkerProcess& a = start_worker("lease-a", args);
  ASSERT_NO_FATAL_FAILURE(inform_objects<Item>("l", kResources, 1));
  ASSERT_TRUE(poll_until(
      [&] {
        return scalar("SELECT count(*) FROM {s}.delta_resource WHERE lease_owner = $1",
                      a.client_id()) > 0;
      },
      10s, 5ms))
      << resource_states();
  WorkerProcess& b = start_worker("lease-b", args);
  ASSERT_TRUE(poll_until([&] { return synced() == kResources; }, 20s)) << resource_states();

  std::string rescues;
  for (const auto& id :
       ids_where("EXISTS (SELECT 1 FROM unnest(r.errors) e WHERE e->>'type' = 'rescue')")) {
    const delta::ResourceRow row = informer_->get_resource("item", id);
    rescues += "\n  " + id + ": " + (row.errors.empty() ? "" : row.errors.front().error);
  }
  EXPECT_TRUE(rescues.empty()) << "resources of live processes rescued:" << rescues;
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_resource WHERE attempt <> 1"), 0);

  const auto grouped = by_resource(work_records());
  EXPECT_EQ(grouped.size(), static_cast<std::size_t>(kResources));
  std::size_t twice = 0;
  std::string twice_summary;
  for (const auto& [key, list] : grouped) {
    if (list.size() == 1) continue;
    ++twice;
    twice_summary += "\n  " + key + ":";
    for (const auto& record : list)
      twice_summary += " [" + describe(record) + "]";
  }
  EXPECT_EQ(twice, 0u) << "resources worked more than once:" << twice_summary;
  const auto [overlaps, overlap_summary] = overlapping_work(grouped);
  EXPECT_EQ(overlaps, 0u) << "overlapping work:" << overlap_summary;

  EXPECT_EQ(a.terminate(kStopTimeout), 0);
  EXPECT_EQ(b.terminate(kStopTimeout), 0);
}

}  // namespace
