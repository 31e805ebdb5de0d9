// PostgreSQL restarts and crashes under load (issue #24). Each test owns a throwaway
// cluster (support/cluster.hpp), never the suite's shared one, loads it — inform loops in
// this process, an informer run, two resource_worker_proc or job_worker_proc processes, the
// leader's maintenance — and then restarts it (pg_ctl restart -m fast: every session ends
// with 57P01) or crashes it (-m immediate: every server process dies, the next start runs
// crash recovery), the parameter of every test. No client is restarted: afterwards the
// tests check that they reconnected by themselves, that work resumed (the time it took is
// printed and recorded as the property resume_ms), and that nothing was lost, doubled or
// worked in two places at once. The last test keeps the database away for twice the
// client TTL. The suite is named after the executable, so `ctest -R restart_pgtest`
// selects it.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <delta/client.hpp>
#include <delta/errors.hpp>
#include <delta/jobs.hpp>
#include <delta/log.hpp>
#include <delta/migrate.hpp>
#include <delta/pg.hpp>
#include <delta/resource.hpp>

#include "support/cluster.hpp"
#include "support/intervals.hpp"
#include "support/pg_test.hpp"
#include "support/processes.hpp"
#include "support/worker_kinds.hpp"

#ifndef DELTA_JOB_WORKER_PROC
#error "DELTA_JOB_WORKER_PROC must name the job_worker_proc binary (see tests/CMakeLists.txt)"
#endif
#ifndef DELTA_RESOURCE_WORKER_PROC
#error "DELTA_RESOURCE_WORKER_PROC must name the resource_worker_proc binary"
#endif

namespace {

using namespace std::chrono_literals;
using namespace delta::testing;
using Clock = std::chrono::steady_clock;
using delta::testing::Item;

constexpr const char* kSchema = "faults";
// How long work may take to resume once the server is back before a test calls it a
// hang. Not a performance bound: the figures are printed.
constexpr auto kResumeBound = 30s;
constexpr std::chrono::milliseconds kReadyTimeout = 15s;
constexpr std::chrono::milliseconds kStopTimeout = 20s;

// Works every resource at once: synced. Counts its works.
template <class T>
class SyncingController : public delta::Controller<T> {
 public:
  delta::WorkResult work(delta::WorkContext& /*ctx*/, const delta::Resource<T>& /*r*/) override {
    ++worked;
    return delta::synced();
  }
  std::atomic<std::int64_t> worked{0};
};

// A failed job (an informer run cut by the fault) is retried after 200 ms, not attempt^4 s.
class QuickRetry final : public delta::jobs::RetryPolicy {
 public:
  std::chrono::milliseconds next_retry(const delta::jobs::JobRow& /*job*/) override {
    return 200ms;
  }
};

// A configuration on the test's schema with short intervals, logging warnings to stderr
// prefixed by `name`: heartbeats every 200 ms, a client TTL and leader TTL of 5 s (a
// restart does not make a client look dead), maintenance every 100-200 ms.
delta::Config fault_config(const std::string& name) {
  delta::Config config;
  config.schema = kSchema;
  config.id = name;
  config.logger = [name, inner = delta::stderr_logger(delta::LogLevel::warn)](
                      delta::LogLevel level, std::string_view message) {
    inner(level, "[" + name + "] " + std::string(message));
  };
  config.poll_interval = 100ms;
  config.inform_interval = -1ms;
  config.inform_jitter = -1ms;
  config.heartbeat_interval = 200ms;
  config.client_ttl = 5s;
  config.leader_ttl = 5s;
  config.leader_renew_interval = 200ms;
  config.scheduler_interval = 100ms;
  config.rescuer_interval = 100ms;
  config.maintenance_interval = 100ms;
  config.cleaner_interval = 200ms;
  config.job_cleaner_interval = 200ms;
  config.completer_flush_interval = 1ms;
  config.work_timeout = 3s;
  config.stuck_threshold = 1s;
  config.job_timeout = 3s;
  config.rescue_margin = 500ms;
  config.retry_policy = std::make_shared<QuickRetry>();
  return config;
}

// Whether `error` is what a client may see when the database goes away under a call: a
// delta::DatabaseError that says to retry. `what` describes it.
bool is_database_error(const std::exception_ptr& error, std::string& what) {
  try {
    std::rethrow_exception(error);
  } catch (const delta::DatabaseError& e) {
    what = fmt::format("{} retryable={}: {}", e.sqlstate(), e.retryable(),
                       std::string_view(e.what()).substr(0, 100));
    return e.retryable();
  } catch (const std::exception& e) {
    what = std::string("not a delta::DatabaseError: ") + e.what();
  } catch (...) {
    what = "not a std::exception";
  }
  return false;
}

class restart_pgtest : public ::testing::TestWithParam<Cluster::Stop> {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<Cluster>();
    pool_ = delta::pg::Pool::create(cluster_->conninfo(),
                                    {.max_connections = 6, .application_name = "fault-test"});
    delta::migrate(*pool_, {.schema = kSchema});
    std::string dir_template =
        (std::filesystem::temp_directory_path() / "restart_pgtest_XXXXXX").string();
    if (::mkdtemp(dir_template.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(), "mkdtemp");
    }
    log_dir_ = dir_template;
  }

  void TearDown() override {
    workers_.clear();  // killed before their database goes
    pool_.reset();
    if (HasFailure() && cluster_) {
      std::fprintf(stderr, "server log (last lines):\n%s\n", cluster_->server_log().c_str());
    }
    cluster_.reset();
    std::error_code ignored;
    if (!log_dir_.empty()) std::filesystem::remove_all(log_dir_, ignored);
  }

  Cluster& cluster() const { return *cluster_; }
  const std::shared_ptr<delta::pg::Pool>& pool() const { return pool_; }

  // A pool of the client under test on this test's cluster.
  std::shared_ptr<delta::pg::Pool> client_pool(std::size_t connections = 16) const {
    return delta::pg::Pool::create(cluster_->conninfo(), {.max_connections = connections});
  }

  static std::string sql(std::string_view text) {
    return fmt::format(fmt::runtime(text), fmt::arg("s", fmt::format("\"{}\"", kSchema)));
  }

  // The rows of sql(text), with the test's own pool: a connection the fault broke is
  // retried for a while (the test's reads are not what is under test).
  template <class... Args>
  delta::pg::Result query(std::string_view text, const Args&... args) const {
    const auto give_up = Clock::now() + 20s;
    for (;;) {
      try {
        return pool_->exec(sql(text), args...);
      } catch (const delta::DatabaseError& e) {
        if (!e.retryable() || Clock::now() > give_up) throw;
        std::this_thread::sleep_for(20ms);
      }
    }
  }
  template <class... Args>
  std::int64_t scalar(std::string_view text, const Args&... args) const {
    return query(text, args...).one().template get<std::int64_t>(0);
  }

  // "state=count ..." of `table`, for failure messages.
  std::string states(std::string_view table) const {
    std::string summary;
    for (auto row : query(fmt::format(
             "SELECT state::text, count(*) FROM {{s}}.{} GROUP BY 1 ORDER BY 1", table))) {
      summary += fmt::format("{}={} ", row.get<std::string>(0), row.get<std::int64_t>(1));
    }
    return summary.empty() ? "none" : summary;
  }

  // Restarts or crashes the server (the test's parameter); returns once it accepts
  // connections again.
  Clock::time_point fault() {
    const auto down = Clock::now();
    cluster_->restart(GetParam());
    const auto back = Clock::now();
    mark_back();
    std::printf("[ figures  ] %s: the server was away for %lld ms\n", name_of(GetParam()),
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(back - down).count()));
    return back;
  }

  // Notes the time the server came back (for check_work_logs and check_executions).
  void mark_back() {
    back_ns_ = realtime_ns();
    back_at_ = delta::now();
  }

  // Waits until `progress` exceeds what it was when the server came back (`back`); the
  // time that took is printed and recorded as the property resume_ms. -1 when it did not
  // within kResumeBound.
  std::int64_t resume_ms(Clock::time_point back, const std::function<std::int64_t()>& progress,
                         std::string_view what) {
    const std::int64_t at_back = progress();
    if (!eventually([&] { return progress() > at_back; }, kResumeBound, 10ms)) return -1;
    const std::int64_t ms = elapsed_ms(back);
    std::printf("[ figures  ] %s: %.*s resumed %lld ms after the server was back\n",
                name_of(GetParam()), static_cast<int>(what.size()), what.data(),
                static_cast<long long>(ms));
    RecordProperty("resume_ms", std::to_string(ms));
    return ms;
  }

  // Spawns `program` with the test's schema and cluster and waits until it is ready.
  WorkerProcess& start_worker(const std::string& program, const std::string& client_id,
                              std::vector<std::string> args) {
    args.insert(args.begin(), {"--schema", kSchema, "--database-url", cluster_->conninfo()});
    workers_.push_back(std::make_unique<WorkerProcess>(program, client_id, args));
    WorkerProcess& worker = *workers_.back();
    if (!worker.wait_for_line("ready", kReadyTimeout)) {
      throw std::runtime_error(program + " " + client_id + " did not print \"ready\"");
    }
    return worker;
  }

  // A resource_worker_proc logging its works to work_log(client_id).
  WorkerProcess& start_resource_worker(const std::string& client_id,
                                       std::vector<std::string> args) {
    args.insert(args.begin(), {"--log", work_log(client_id)});
    return start_worker(DELTA_RESOURCE_WORKER_PROC, client_id, std::move(args));
  }
  std::string work_log(const std::string& client_id) const {
    return (std::filesystem::path(log_dir_) / (client_id + ".log")).string();
  }
  // The work records of every worker started so far; a malformed line fails the test.
  std::vector<WorkRecord> work_records() {
    std::vector<WorkRecord> records;
    for (const auto& worker : workers_) {
      const auto malformed = read_work_log(work_log(worker->client_id()), records);
      EXPECT_TRUE(malformed.empty()) << malformed.size() << " malformed lines";
    }
    return records;
  }

  // The table job_worker_proc records each execution in (see job_worker_proc.cpp).
  void create_execution_table() {
    query(proc_execution_ddl("{s}"));
    query("CREATE INDEX ON {s}.proc_execution (job_id)");
  }

  // Informs `count` items "<prefix><n>" of `value` with `client`, in batches.
  static void inform_items(delta::Client& client, const std::string& prefix, int count,
                           std::int64_t value) {
    constexpr int kBatch = 5000;
    for (int first = 0; first < count; first += kBatch) {
      std::vector<Item> objects;
      for (int n = first; n < std::min(count, first + kBatch); ++n)
        objects.push_back(Item{prefix + std::to_string(n), value});
      const auto result = client.inform_many(objects);
      ASSERT_EQ(result.inserted + result.changed, objects.size());
    }
  }

  // Resources synced at their current generation, with no lease.
  std::int64_t synced_resources() const {
    return scalar(
        "SELECT count(*) FROM {s}.delta_resource WHERE state = 'synced' AND lease_owner IS NULL");
  }

  // The resource checks every test with worker processes ends with: each resource's last
  // work is of its current generation; it was worked at most once per attempt (a claim
  // whose work or outcome the fault cut shows in the attempt count) -- except that a crash
  // may undo a claim made just before it (claims commit with synchronous_commit off, see
  // docs/resources.md), so after a crash only the works started once the server was back
  // are bound by the attempt count; and, unless `overlaps_allowed`, no two works of one
  // resource overlapped. Prints the figures.
  void check_work_logs(bool overlaps_allowed) {
    std::map<std::string, std::pair<std::int64_t, std::int64_t>> rows;  // generation, attempt
    for (auto row : query("SELECT kind || '/' || object_id, generation, attempt "
                          "FROM {s}.delta_resource")) {
      rows[row.get<std::string>(0)] = {row.get<std::int64_t>(1), row.get<std::int64_t>(2)};
    }
    const bool crash = GetParam() == Cluster::Stop::immediate;
    const auto grouped = by_resource(work_records());
    EXPECT_EQ(grouped.size(), rows.size()) << "resources never worked";
    std::size_t bad = 0;
    std::size_t reworked = 0;
    std::size_t lost_claims = 0;
    std::string bad_summary;
    for (const auto& [key, list] : grouped) {
      const auto row = rows.find(key);
      const auto works = static_cast<std::int64_t>(list.size());
      const auto works_after = static_cast<std::int64_t>(std::count_if(
          list.begin(), list.end(), [&](const WorkRecord& r) { return r.start_ns >= back_ns_; }));
      const std::int64_t attempts = row == rows.end() ? 0 : row->second.second;
      const bool ok = row != rows.end() && list.back().generation == row->second.first &&
                      works_after <= attempts && (crash || works <= attempts);
      if (works > 1) ++reworked;
      if (works > attempts) ++lost_claims;
      if (!ok && ++bad <= 5) {
        bad_summary +=
            fmt::format("\n  {} (row generation {}, attempt {}):{}", key,
                        row == rows.end() ? -1 : row->second.first, attempts, describe(list));
      }
    }
    EXPECT_EQ(bad, 0u) << "resources whose last work is not of their generation, or worked "
                          "more often than claimed (first 5; server back at "
                       << back_ns_ << " ns):" << bad_summary;
    const auto [overlaps, overlap_summary] = overlapping_work(grouped);
    if (!overlaps_allowed) {
      EXPECT_EQ(overlaps, 0u) << "overlapping work (first 5):" << overlap_summary;
    }
    std::printf(
        "[ figures  ] %zu resources worked more than once (%zu more often than their attempt "
        "count: claims the crash undid), %zu overlapping works%s\n",
        reworked, lost_claims, overlaps, overlap_summary.c_str());
  }

  // The job checks: every job completed, each ran at least once, and no more often than
  // its attempt count (an attempt the fault cut may have run, then been rescued or its
  // outcome lost) -- after a crash, counting only the runs that started once the server
  // was back, as a crash may undo a fetch made just before it (synchronous_commit off,
  // see docs/jobs.md). Prints the figures.
  void check_executions(std::int64_t jobs) {
    EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_job WHERE kind = 'proc_job'"), jobs);
    EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_job WHERE kind = 'proc_job' AND "
                     "state = 'completed'"),
              jobs)
        << states("delta_job");
    EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_job j WHERE kind = 'proc_job' AND NOT EXISTS "
                     "(SELECT 1 FROM {s}.proc_execution e WHERE e.job_id = j.id)"),
              0)
        << "completed jobs that never ran";
    const bool crash = GetParam() == Cluster::Stop::immediate;
    std::string over;
    for (auto row : query(R"(
SELECT j.id, j.attempt, count(e.id), string_agg(e.client_id || ' attempt ' || e.attempt, ', ')
FROM {s}.delta_job j JOIN {s}.proc_execution e ON e.job_id = j.id
WHERE NOT $1 OR e.started_at >= $2
GROUP BY j.id, j.attempt HAVING count(e.id) > j.attempt ORDER BY j.id LIMIT 5)",
                          crash, back_at_)) {
      over +=
          fmt::format("\n  job {} attempt {} ran {} times: {}", row.get<std::int64_t>(0),
                      row.get<std::int64_t>(1), row.get<std::int64_t>(2), row.get<std::string>(3));
    }
    EXPECT_TRUE(over.empty()) << "jobs run more often than attempted (first 5):" << over;
    std::printf(
        "[ figures  ] %lld jobs ran more than once (%lld more often than their attempt count), "
        "%lld needed more than one attempt\n",
        static_cast<long long>(
            scalar("SELECT count(*) FROM (SELECT job_id FROM {s}.proc_execution GROUP BY 1 "
                   "HAVING count(*) > 1) twice")),
        static_cast<long long>(
            scalar("SELECT count(*) FROM (SELECT j.id FROM {s}.delta_job j JOIN "
                   "{s}.proc_execution e ON e.job_id = j.id GROUP BY j.id, j.attempt "
                   "HAVING count(*) > j.attempt) over")),
        static_cast<long long>(scalar("SELECT count(*) FROM {s}.delta_job WHERE attempt > 1")));
  }

  std::vector<std::unique_ptr<WorkerProcess>>& workers() { return workers_; }

 private:
  std::unique_ptr<Cluster> cluster_;
  std::shared_ptr<delta::pg::Pool> pool_;
  std::string log_dir_;
  std::vector<std::unique_ptr<WorkerProcess>> workers_;
  std::int64_t back_ns_ = 0;  // CLOCK_REALTIME when the server was last back
  delta::Timestamp back_at_{};
};

// ---- informs in this process ----------------------------------------------------------

// One informing thread: every round informs its objects with value = the round, and
// remembers the last round whose call returned. Thread-safe counters.
struct Informer {
  std::atomic<std::int64_t> returned{0};
  std::atomic<std::int64_t> failed{0};
  std::atomic<std::int64_t> last_returned_round{0};
  std::atomic<std::int64_t> longest_call_ms{0};
  std::atomic<std::int64_t> returned_since_back{0};
  // Written by the thread only, read once it has ended: per object id, the last round
  // whose call returned and the last round tried.
  std::map<std::string, std::int64_t> returned_value;
  std::map<std::string, std::int64_t> tried_value;
  std::mutex mutex;
  std::vector<std::string> wrong_errors;  // guarded by mutex (read while threads run)
  std::set<std::string> database_errors;  // as is_database_error describes them
};

TEST_P(restart_pgtest, InformLoopsStoreEveryReturnedInform) {
  constexpr int kManyThreads = 3;    // inform_many of kObjects objects
  constexpr int kSingleThreads = 1;  // inform() of one object at a time
  constexpr int kObjects = 200;
  constexpr std::int64_t kRoundsAfterBack = 5;
  delta::Config config = fault_config("informer");
  config.controllers.add(std::make_shared<SyncingController<Item>>());
  delta::Client client(client_pool(), config);  // inform-only: no namespaces, not started

  std::atomic<bool> back{false};
  std::vector<std::unique_ptr<Informer>> informers;
  for (int t = 0; t < kManyThreads + kSingleThreads; ++t)
    informers.push_back(std::make_unique<Informer>());
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kManyThreads + kSingleThreads; ++t) {
      threads.emplace_back([&, t](std::stop_token stop) {
        Informer& self = *informers[static_cast<std::size_t>(t)];
        const bool many = t < kManyThreads;
        for (std::int64_t round = 1; !stop.stop_requested(); ++round) {
          std::vector<Item> objects;
          for (int n = 0; n < (many ? kObjects : 1); ++n) {
            const int id = many ? n : static_cast<int>(round % kObjects);
            objects.push_back(Item{fmt::format("t{}-{}", t, id), round});
          }
          const auto started = Clock::now();
          std::exception_ptr error;
          try {
            if (many) {
              client.inform_many(objects);
            } else {
              client.inform(objects.front());
            }
          } catch (...) {
            error = std::current_exception();
          }
          const std::int64_t took = elapsed_ms(started);
          self.longest_call_ms = std::max(self.longest_call_ms.load(), took);
          for (const auto& object : objects)
            self.tried_value[object.key] = round;
          if (!error) {
            ++self.returned;
            if (many) self.last_returned_round = round;
            for (const auto& object : objects)
              self.returned_value[object.key] = round;
            if (back) ++self.returned_since_back;
            continue;
          }
          ++self.failed;
          std::string what;
          if (!is_database_error(error, what)) {
            std::lock_guard lock(self.mutex);
            self.wrong_errors.push_back(what);
            return;
          }
          self.database_errors.insert(what);
          std::this_thread::sleep_for(10ms);  // the database is away: do not spin
        }
      });
    }
    auto wrong_errors = [&] {
      std::string summary;
      for (auto& informer : informers) {
        std::lock_guard lock(informer->mutex);
        for (const auto& what : informer->wrong_errors)
          summary += "\n  " + what;
      }
      return summary;
    };
    auto all = [&](auto&& condition) {
      return std::all_of(informers.begin(), informers.end(),
                         [&](const auto& informer) { return condition(*informer); });
    };
    ASSERT_TRUE(eventually([&] { return all([](Informer& i) { return i.returned >= 3; }); }, 20s));
    const auto back_at = fault();
    back = true;
    const std::int64_t resumed = resume_ms(
        back_at,
        [&] {
          std::int64_t least = INT64_MAX;
          for (const auto& informer : informers)
            least = std::min(least, informer->returned_since_back.load());
          return least;
        },
        "every informing thread");
    EXPECT_GE(resumed, 0) << "an informing thread made no progress after the fault; errors "
                             "that ended one:"
                          << wrong_errors();
    ASSERT_TRUE(eventually(
        [&] { return all([](Informer& i) { return i.returned_since_back >= kRoundsAfterBack; }); },
        kResumeBound));
    for (auto& thread : threads)
      thread.request_stop();
  }  // joined: no call is in flight any more

  std::int64_t failed = 0;
  for (int t = 0; t < kManyThreads + kSingleThreads; ++t) {
    Informer& informer = *informers[static_cast<std::size_t>(t)];
    failed += informer.failed;
    EXPECT_TRUE(informer.wrong_errors.empty())
        << "thread " << t << ": " << informer.wrong_errors.front();
    EXPECT_LT(informer.longest_call_ms, std::chrono::milliseconds(kResumeBound).count())
        << "thread " << t << ": an inform call hung";
    for (const auto& message : informer.database_errors)
      std::printf("[ errors   ] thread %d: %s\n", t, message.c_str());
  }
  std::printf("[ figures  ] %lld inform calls failed with a DatabaseError\n",
              static_cast<long long>(failed));

  // Each inform_many thread's last call returned: every one of its objects is stored at
  // that round's value. Every object holds the value of the last call for it that
  // returned, or of a later one that threw after its commit -- never an older one.
  for (int t = 0; t < kManyThreads; ++t) {
    const std::int64_t last = informers[static_cast<std::size_t>(t)]->last_returned_round;
    EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_resource WHERE object_id LIKE $1 AND "
                     "(object->>'value')::bigint = $2",
                     fmt::format("t{}-%", t), last),
              kObjects)
        << "thread " << t << ": objects not stored at round " << last;
  }
  std::map<std::string, std::int64_t> stored;
  for (auto row : query("SELECT object_id, (object->>'value')::bigint FROM {s}.delta_resource"))
    stored[row.get<std::string>(0)] = row.get<std::int64_t>(1);
  std::size_t wrong = 0;
  std::string wrong_summary;
  for (const auto& informer : informers) {
    for (const auto& [id, tried] : informer->tried_value) {
      const auto returned = informer->returned_value.find(id);
      const auto it = stored.find(id);
      const std::int64_t value = it == stored.end() ? -1 : it->second;
      const std::int64_t floor = returned == informer->returned_value.end() ? 1 : returned->second;
      if (it != stored.end() && value >= floor && value <= tried) continue;
      if (returned == informer->returned_value.end() && it == stored.end()) continue;
      if (++wrong <= 5) {
        wrong_summary += fmt::format("\n  {}: stored {}, last returned {}, last tried {}", id,
                                     value, floor, tried);
      }
    }
  }
  EXPECT_EQ(wrong, 0u) << "objects not at the content of their last returned inform:"
                       << wrong_summary;
}

// ---- an informer run -------------------------------------------------------------------

// Lists kTotal objects with value = their number, pausing every 200 so that a run lasts a
// few seconds.
class ListingController : public SyncingController<Item> {
 public:
  static constexpr int kTotal = 20000;
  void inform(delta::InformContext& ctx, const delta::InformOptions& /*options*/,
              delta::InformSink<Item>& out) override {
    ++runs;
    for (int n = 0; n < kTotal; ++n) {
      if (n % 200 == 0) std::this_thread::sleep_for(15ms);
      if (ctx.stop_requested() || !out.emit(Item{"o" + std::to_string(n), n})) return;
    }
  }
  std::atomic<int> runs{0};
};

TEST_P(restart_pgtest, InformerRunCutByTheFaultIsRetriedAndStoresEveryObject) {
  auto controller = std::make_shared<ListingController>();
  delta::Config config = fault_config("informer");
  config.controllers.add(controller);
  config.namespaces["default"] = {.max_workers = 16};
  delta::Client client(client_pool(), config);
  client.start();
  client.schedule_inform({.kind = "item"});

  auto stored = [&] { return scalar("SELECT count(*) FROM {s}.delta_resource"); };
  ASSERT_TRUE(eventually([&] { return stored() >= 3000; }, 30s)) << stored() << " stored";
  const std::int64_t stored_before = stored();
  const auto back = fault();
  EXPECT_LT(stored_before, ListingController::kTotal) << "the run ended before the fault";
  const std::int64_t resumed = resume_ms(
      back, [&] { return synced_resources(); }, "syncing");
  EXPECT_GE(resumed, 0) << "nothing was synced after the fault: " << states("delta_resource");

  ASSERT_TRUE(eventually(
      [&] {
        return scalar(
                   "SELECT count(*) FROM {s}.delta_job WHERE kind = 'delta.inform:item' AND "
                   "state = 'completed'") == 1;
      },
      60s, 50ms))
      << "inform jobs: " << states("delta_job");
  ASSERT_TRUE(
      eventually([&] { return synced_resources() == ListingController::kTotal; }, 60s, 50ms))
      << states("delta_resource");
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_resource WHERE object_id <> "
                   "'o' || (object->>'value') OR generation <> 1"),
            0)
      << "objects stored with other content";
  const auto run = client.last_inform_run("item");
  ASSERT_TRUE(run.has_value());
  EXPECT_TRUE(run->succeeded) << run->error;
  std::printf("[ figures  ] %d informer runs; the last emitted %zu objects\n",
              controller->runs.load(), run->emitted);
  client.stop();
}

// ---- worker processes ------------------------------------------------------------------

TEST_P(restart_pgtest, TwoProcessesSyncTwentyThousandResourcesThroughTheFault) {
  constexpr int kResources = 20000;
  const std::vector<std::string> args{
      "--kinds",           "item", "--parallelism",        "32",   "--max-workers",   "32",
      "--work-ms",         "0",    "--client-ttl-ms",      "5000", "--leader-ttl-ms", "5000",
      "--work-timeout-ms", "3000", "--stuck-threshold-ms", "1000"};
  start_resource_worker("sync-a", args);
  start_resource_worker("sync-b", args);
  delta::Client informer(client_pool(4), fault_config("inform"));
  ASSERT_NO_FATAL_FAILURE(inform_items(informer, "r", kResources, 1));

  ASSERT_TRUE(eventually([&] { return synced_resources() >= 4000; }, 60s, 20ms))
      << states("delta_resource");
  const auto back = fault();
  EXPECT_LT(synced_resources(), kResources) << "everything was synced before the fault";
  EXPECT_GE(resume_ms(
                back, [&] { return synced_resources(); }, "syncing"),
            0)
      << states("delta_resource");
  ASSERT_TRUE(eventually([&] { return synced_resources() == kResources; }, 60s, 50ms))
      << states("delta_resource");

  check_work_logs(false);
  for (const auto& worker : workers())
    EXPECT_EQ(worker->terminate(kStopTimeout), 0) << worker->client_id();
}

TEST_P(restart_pgtest, TwoProcessesDrainTwentyThousandJobsThroughTheFault) {
  constexpr std::int64_t kJobs = 20000;
  create_execution_table();
  const std::vector<std::string> args{"--job-timeout-ms", "3000", "--rescue-margin-ms", "500",
                                      "--client-ttl-ms",  "5000"};
  start_worker(DELTA_JOB_WORKER_PROC, "drain-a", args);
  start_worker(DELTA_JOB_WORKER_PROC, "drain-b", args);
  delta::Client inserter(client_pool(4), fault_config("insert"));
  for (std::int64_t first = 0; first < kJobs; first += 5000) {
    std::vector<delta::jobs::JobInsert> jobs;
    for (std::int64_t n = first; n < first + 5000; ++n)
      jobs.push_back(delta::jobs::make_insert(ProcJob{n}));
    ASSERT_EQ(inserter.jobs().insert_many(jobs).size(), jobs.size());
  }
  auto completed = [&] {
    return scalar("SELECT count(*) FROM {s}.delta_job WHERE state = 'completed'");
  };
  ASSERT_TRUE(eventually([&] { return completed() >= 4000; }, 60s, 20ms)) << states("delta_job");
  const auto back = fault();
  EXPECT_LT(completed(), kJobs) << "everything was done before the fault";
  EXPECT_GE(resume_ms(back, completed, "draining"), 0) << states("delta_job");
  ASSERT_TRUE(eventually([&] { return completed() == kJobs; }, 60s, 50ms)) << states("delta_job");

  check_executions(kJobs);
  for (const auto& worker : workers())
    EXPECT_EQ(worker->terminate(kStopTimeout), 0) << worker->client_id();
}

// ---- the leader's maintenance ------------------------------------------------------------

struct Chore {
  static constexpr std::string_view kind = "chore";
  std::int64_t n = 0;
};
void to_json(nlohmann::json& json, const Chore& chore) {
  json = nlohmann::json{{"n", chore.n}};
}
void from_json(const nlohmann::json& json, Chore& chore) {
  json.at("n").get_to(chore.n);
}

// Records which chores ran; each takes `duration`.
class ChoreWorker : public delta::jobs::Worker<Chore> {
 public:
  explicit ChoreWorker(std::chrono::milliseconds duration = 0ms) : duration_(duration) {}
  delta::jobs::JobResult work(delta::jobs::JobContext& ctx,
                              const delta::jobs::Job<Chore>& job) override {
    const auto until = Clock::now() + duration_;
    while (Clock::now() < until && !ctx.stop_requested())
      std::this_thread::sleep_for(5ms);
    std::lock_guard lock(mutex_);
    ran_.insert(job.args.n);
    return delta::jobs::complete();
  }
  bool ran(std::int64_t n) {
    std::lock_guard lock(mutex_);
    return ran_.count(n) > 0;
  }

  std::size_t ran_count() {
    std::lock_guard lock(mutex_);
    return ran_.size();
  }

 private:
  const std::chrono::milliseconds duration_;
  std::mutex mutex_;
  std::set<std::int64_t> ran_;
};

TEST_P(restart_pgtest, LeaderMaintenanceRunsAgainAfterTheFault) {
  auto worker = std::make_shared<ChoreWorker>();
  delta::Config config = fault_config("leader");
  config.workers.add(worker);
  config.queues["default"] = {.max_workers = 4};
  config.controllers.add(std::make_shared<SyncingController<Item>>());
  config.namespaces["default"] = {.max_workers = 4};
  config.completed_job_retention = 500ms;
  delta::Client client(client_pool(), config);
  client.start();
  ASSERT_TRUE(eventually([&] { return client.is_leader(); }, 10s));

  // One round of what only the leader's tasks do: the scheduler makes a job due in
  // 300 ms available; the job rescuer hands back a job "running" under a client that does
  // not exist; the resource rescuer a resource leased to it; the cleaner deletes both jobs
  // once completed for the retention. Waits until all of it happened.
  std::int64_t round_n = 0;
  auto round = [&](std::string_view when) {
    ++round_n;
    delta::jobs::InsertOpts later;
    later.scheduled_at = delta::now() + 300ms;
    const auto scheduled = client.jobs().insert(Chore{2 * round_n}, later).job.id;
    const auto orphan = client.jobs().insert(Chore{2 * round_n + 1}, later).job.id;
    query(
        "UPDATE {s}.delta_job SET state = 'running', attempt = 1, attempted_at = now(), "
        "attempted_by = 'ghost' WHERE id = $1 AND state = 'scheduled'",
        orphan);
    const std::string key = fmt::format("m{}", round_n);
    client.inform(Item{key, 1});
    ASSERT_TRUE(eventually(
        [&] {
          return scalar(
                     "SELECT count(*) FROM {s}.delta_resource WHERE object_id = $1 AND "
                     "state = 'synced'",
                     key) == 1;
        },
        kResumeBound, 20ms));
    query(
        "UPDATE {s}.delta_resource SET state = 'pending', attempt = attempt + 1, "
        "lease_owner = 'ghost', lease_expires_at = now() + interval '1 hour' "
        "WHERE object_id = $1",
        key);
    const bool done = eventually(
        [&] {
          return worker->ran(2 * round_n) && worker->ran(2 * round_n + 1) &&
                 scalar("SELECT count(*) FROM {s}.delta_job WHERE id IN ($1, $2)", scheduled,
                        orphan) == 0 &&
                 scalar(
                     "SELECT count(*) FROM {s}.delta_resource WHERE object_id = $1 AND "
                     "state = 'synced' AND cardinality(errors) = 1",
                     key) == 1;
        },
        kResumeBound, 20ms);
    ASSERT_TRUE(done) << when << ": scheduled ran " << worker->ran(2 * round_n) << ", orphan ran "
                      << worker->ran(2 * round_n + 1) << "; jobs: " << states("delta_job")
                      << "; resources: " << states("delta_resource");
  };
  ASSERT_NO_FATAL_FAILURE(round("before the fault"));
  const auto back = fault();
  ASSERT_TRUE(eventually([&] { return client.is_leader(); }, kResumeBound))
      << "the only client did not lead again";
  ASSERT_NO_FATAL_FAILURE(round("after the fault"));
  const std::int64_t ms = elapsed_ms(back);
  std::printf("[ figures  ] %s: a round of maintenance done %lld ms after the server was back\n",
              name_of(GetParam()), static_cast<long long>(ms));
  RecordProperty("resume_ms", std::to_string(ms));
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_leader WHERE leader_id = 'leader'"), 1);
  client.stop();
}

// ---- away for longer than the client TTL -----------------------------------------------

// The database is away for twice the client TTL, and one resource worker and one job
// worker die meanwhile (SIGKILL just before the server goes): the live clients come back
// by themselves, a leader is elected again, what the dead ones held is rescued exactly
// once, and nothing is rescued twice.
TEST_P(restart_pgtest, AwayForTwiceTheClientTtlClientsReturnAndRescueOnce) {
  constexpr int kResources = 300;
  constexpr std::int64_t kJobs = 300;
  constexpr auto kClientTtl = 1500ms;
  create_execution_table();
  const std::string ttl = std::to_string(kClientTtl.count());
  const std::vector<std::string> resource_args{
      "--kinds",           "item", "--parallelism",        "8",   "--max-workers",   "8",
      "--work-ms",         "100",  "--client-ttl-ms",      ttl,   "--leader-ttl-ms", ttl,
      "--work-timeout-ms", "3000", "--stuck-threshold-ms", "1000"};
  const std::vector<std::string> job_args{"--max-workers",      "8",  "--sleep-ms",       "100",
                                          "--client-ttl-ms",    ttl,  "--job-timeout-ms", "3000",
                                          "--rescue-margin-ms", "500"};
  std::vector<WorkerProcess*> live{&start_resource_worker("away-ra", resource_args),
                                   &start_worker(DELTA_JOB_WORKER_PROC, "away-ja", job_args)};
  WorkerProcess& dead_resources = start_resource_worker("away-rb", resource_args);
  WorkerProcess& dead_jobs = start_worker(DELTA_JOB_WORKER_PROC, "away-jb", job_args);
  delta::Client feeder(client_pool(4), fault_config("feed"));
  ASSERT_NO_FATAL_FAILURE(inform_items(feeder, "w", kResources, 1));
  std::vector<delta::jobs::JobInsert> jobs;
  for (std::int64_t n = 0; n < kJobs; ++n)
    jobs.push_back(delta::jobs::make_insert(ProcJob{n}));
  ASSERT_EQ(feeder.jobs().insert_many(jobs).size(), jobs.size());
  auto completed = [&] {
    return scalar("SELECT count(*) FROM {s}.delta_job WHERE state = 'completed'");
  };
  auto held = [&] {
    return scalar(
               "SELECT count(*) FROM {s}.delta_resource WHERE state = 'pending' AND "
               "lease_owner = 'away-rb'") > 0 &&
           scalar(
               "SELECT count(*) FROM {s}.delta_job WHERE state = 'running' AND "
               "attempted_by = 'away-jb'") > 0;
  };
  ASSERT_TRUE(eventually([&] { return synced_resources() >= 30 && completed() >= 30 && held(); },
                         30s, 20ms))
      << states("delta_resource") << "; " << states("delta_job");

  dead_resources.kill_hard();
  dead_jobs.kill_hard();
  // Once the server has ended their sessions, nothing of theirs can still commit: what
  // they hold now is what they died holding.
  ASSERT_TRUE(eventually(
      [&] {
        return scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                      std::string("drw_faults_away-rb")) == 0;
      },
      10s, 5ms));
  // Claims and fetches commit with synchronous_commit off: without a flush, the crash could
  // undo what the dead committed last, and the rows read below would not be theirs after
  // recovery. A checkpoint writes every commit so far, so what is read is what the crash
  // leaves.
  query("CHECKPOINT");
  std::set<std::int64_t> held_resources;
  for (auto row : query("SELECT id FROM {s}.delta_resource WHERE state = 'pending' AND "
                        "lease_owner = 'away-rb'"))
    held_resources.insert(row.get<std::int64_t>(0));
  std::set<std::int64_t> held_jobs;
  for (auto row : query("SELECT id FROM {s}.delta_job WHERE state = 'running' AND "
                        "attempted_by = 'away-jb'"))
    held_jobs.insert(row.get<std::int64_t>(0));

  // The fault itself lasts a time, not a condition: the server stays down for 2 x TTL.
  cluster().stop(GetParam());
  const auto down = Clock::now();
  std::this_thread::sleep_for(2 * kClientTtl);
  cluster().start();
  const auto back = Clock::now();
  mark_back();
  std::printf(
      "[ figures  ] %s: the server was away for %lld ms (client TTL %lld ms); the dead "
      "held %zu resources and %zu jobs\n",
      name_of(GetParam()), static_cast<long long>(elapsed_ms(down) - elapsed_ms(back)),
      static_cast<long long>(kClientTtl.count()), held_resources.size(), held_jobs.size());

  // The live clients heartbeat again by themselves, and one of them leads.
  std::string clients;
  EXPECT_TRUE(eventually(
      [&] {
        clients.clear();
        for (auto row :
             query("SELECT id, (extract(epoch FROM now() - heartbeat_at) * 1000)::bigint "
                   "FROM {s}.delta_client WHERE id LIKE 'away-%' ORDER BY id")) {
          if (row.get<std::int64_t>(1) < kClientTtl.count())
            clients += row.get<std::string>(0) + " ";
        }
        return clients == "away-ja away-ra ";
      },
      kResumeBound, 50ms))
      << "clients heartbeating: " << clients;
  std::printf("[ figures  ] the live clients heartbeat again %lld ms after the server was back\n",
              static_cast<long long>(elapsed_ms(back)));
  EXPECT_TRUE(eventually(
      [&] {
        return scalar(
                   "SELECT count(*) FROM {s}.delta_leader WHERE leader_id IN "
                   "('away-ra', 'away-ja') AND expires_at > now()") == 1;
      },
      kResumeBound, 50ms))
      << "no live leader after the outage";
  EXPECT_GE(resume_ms(
                back, [&] { return synced_resources() + completed(); }, "work"),
            0);

  ASSERT_TRUE(eventually([&] { return synced_resources() == kResources && completed() == kJobs; },
                         60s, 50ms))
      << states("delta_resource") << "; " << states("delta_job");

  // What the dead held: rescued exactly once each, naming the dead client. Nothing was
  // rescued twice.
  auto rescues_of = [&](std::string_view table, std::string_view client) {
    std::map<std::int64_t, std::int64_t> rescues;
    for (auto row :
         query(fmt::format(
                   "SELECT id, (SELECT count(*) FROM unnest(errors) e WHERE e->>'type' = 'rescue' "
                   "AND e->>'error' LIKE $1) FROM {{s}}.{}",
                   table),
               fmt::format("%{}%", client)))
      rescues[row.get<std::int64_t>(0)] = row.get<std::int64_t>(1);
    return rescues;
  };
  const auto resource_rescues = rescues_of("delta_resource", "away-rb");
  for (const auto id : held_resources) {
    const auto it = resource_rescues.find(id);
    EXPECT_EQ(it == resource_rescues.end() ? -1 : it->second, 1) << "resource " << id;
  }
  const auto job_rescues = rescues_of("delta_job", "away-jb");
  for (const auto id : held_jobs) {
    const auto it = job_rescues.find(id);
    EXPECT_EQ(it == job_rescues.end() ? -1 : it->second, 1) << "job " << id;
  }
  for (const auto* table : {"delta_resource", "delta_job"}) {
    EXPECT_EQ(scalar(fmt::format("SELECT count(*) FROM {{s}}.{} WHERE (SELECT count(*) FROM "
                                 "unnest(errors) e WHERE e->>'type' = 'rescue') > 1",
                                 table)),
              0)
        << table << ": rows rescued twice";
  }
  std::printf("[ figures  ] rescued: %lld resources, %lld jobs (of live clients: %lld, %lld)\n",
              static_cast<long long>(
                  scalar("SELECT count(*) FROM {s}.delta_resource WHERE EXISTS (SELECT 1 FROM "
                         "unnest(errors) e WHERE e->>'type' = 'rescue')")),
              static_cast<long long>(
                  scalar("SELECT count(*) FROM {s}.delta_job WHERE EXISTS (SELECT 1 FROM "
                         "unnest(errors) e WHERE e->>'type' = 'rescue')")),
              static_cast<long long>(
                  scalar("SELECT count(*) FROM {s}.delta_resource WHERE EXISTS (SELECT 1 FROM "
                         "unnest(errors) e WHERE e->>'type' = 'rescue' AND e->>'error' LIKE "
                         "'%away-ra%')")),
              static_cast<long long>(
                  scalar("SELECT count(*) FROM {s}.delta_job WHERE EXISTS (SELECT 1 FROM "
                         "unnest(errors) e WHERE e->>'type' = 'rescue' AND e->>'error' LIKE "
                         "'%away-ja%')")));
  // A live client taken for dead may still be working what was rescued from it: two works
  // of one resource can overlap after such an outage (there is no self-fencing yet), so
  // overlaps are only counted here.
  check_work_logs(true);
  check_executions(kJobs);
  for (auto* worker : live)
    EXPECT_EQ(worker->terminate(kStopTimeout), 0) << worker->client_id();
}

// ---- regressions -------------------------------------------------------------------------

// Not parameterised: the fault is a stop.
class restart_pgtest_regression : public restart_pgtest {};

// A queue runner whose last fetch filled every free slot kept believing more jobs waited
// after a failed fetch, so that its backoff was cut to the 2 ms refill cooldown: while the
// database was away it tried (and logged) a fetch every few milliseconds -- hundreds in a
// fraction of a second -- instead of backing off from 100 ms.
TEST_F(restart_pgtest_regression, QueueRunnerBacksOffWhileTheDatabaseIsAway) {
  auto worker = std::make_shared<ChoreWorker>(50ms);
  std::atomic<int> fetch_failures{0};
  delta::Config config = fault_config("backoff");
  config.logger = [&](delta::LogLevel /*level*/, std::string_view message) {
    if (contains(message, "queue default: fetch failed")) ++fetch_failures;
  };
  config.workers.add(worker);
  config.queues["default"] = {.max_workers = 4};
  delta::Client client(client_pool(), config);
  std::vector<delta::jobs::JobInsert> jobs;
  for (std::int64_t n = 0; n < 400; ++n)
    jobs.push_back(delta::jobs::make_insert(Chore{n}));
  ASSERT_EQ(client.jobs().insert_many(jobs).size(), jobs.size());
  client.start();
  ASSERT_TRUE(eventually([&] { return worker->ran_count() >= 8; }, 10s));  // full batches

  cluster().stop(Cluster::Stop::fast);
  const auto down = Clock::now();
  ASSERT_TRUE(eventually([&] { return fetch_failures > 0; }, 10s)) << "no fetch failed";
  std::this_thread::sleep_for(1s);  // the fault: the database stays away for a second
  const int failures = fetch_failures;
  const auto away_ms = elapsed_ms(down);
  cluster().start();
  // 100, 200, 400, 800 ms: a handful of fetches in a second.
  EXPECT_LE(failures, 10) << failures << " failed fetches in " << away_ms << " ms";
  const auto ran = worker->ran_count();
  EXPECT_TRUE(eventually([&] { return worker->ran_count() > ran; }, kResumeBound))
      << "no job ran after the database was back";
  client.stop();
}

INSTANTIATE_TEST_SUITE_P(, restart_pgtest,
                         ::testing::Values(Cluster::Stop::fast, Cluster::Stop::immediate),
                         [](const ::testing::TestParamInfo<Cluster::Stop>& param_info) {
                           return std::string(name_of(param_info.param));
                         });

}  // namespace
