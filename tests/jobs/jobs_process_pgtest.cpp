// delta::jobs across real processes: job_worker_proc (built as DELTA_JOB_WORKER_PROC)
// instances sharing one schema drain jobs exactly once, survive SIGKILL of a worker and
// of the leader, insert periodic jobs once per period through restarts, and recover from
// pg_terminate_backend. Every worker process writes each attempt it starts and ends to a
// log of its own (support/intervals.hpp); the tests check from those logs that no two
// attempts of one job overlapped in time (an attempt of a killed process ends at the kill)
// and that each job's last attempt ended, besides the counts in the tables; and that three
// processes together keep the queue's flow limits (rate and concurrency), an operator's
// override of them too. Each test uses
// its own schema; the suite is named after the executable so `ctest -R jobs_process`
// selects it.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <delta/admin.hpp>
#include <delta/client.hpp>
#include <delta/jobs.hpp>
#include <delta/pg.hpp>

#include "support/intervals.hpp"
#include "support/pg_test.hpp"
#include "support/process_test.hpp"
#include "support/processes.hpp"
#include "support/worker_kinds.hpp"

#ifndef DELTA_JOB_WORKER_PROC
#error "DELTA_JOB_WORKER_PROC must name the job_worker_proc binary (see tests/CMakeLists.txt)"
#endif

namespace {

using namespace std::chrono_literals;
using namespace delta::testing;
using Clock = std::chrono::steady_clock;

// The timing job_worker_proc runs with.
constexpr std::chrono::milliseconds kClientTtl = 1500ms;
constexpr std::chrono::milliseconds kLeaderTtl = 1500ms;

class jobs_process_pgtest : public delta::testing::ProcessTest {
 protected:
  jobs_process_pgtest() : ProcessTest(DELTA_JOB_WORKER_PROC, "jp") {}

  void SetUp() override {
    ProcessTest::SetUp();
    // One row per execution of a job, written by job_worker_proc's worker after the
    // job's work; `token` identifies the execution (see job_worker_proc.cpp).
    pool().exec(proc_execution_ddl("\"" + schema_name() + "\""));
    inserter_ = idle_client();  // inserts and reads jobs
    std::string dir_template =
        (std::filesystem::temp_directory_path() / "jobs_process_XXXXXX").string();
    if (::mkdtemp(dir_template.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(), "mkdtemp");
    }
    log_dir_ = dir_template;
  }

  void TearDown() override {
    inserter_.reset();
    ProcessTest::TearDown();
    if (!log_dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(log_dir_, ignored);
    }
  }

  // The attempt log of the worker process `client_id`.
  std::string attempt_log(const std::string& client_id) const {
    return (std::filesystem::path(log_dir_) / (client_id + ".log")).string();
  }

  // The attempts in the logs of every worker process started so far (killed ones too); a
  // malformed line fails the test.
  std::vector<WorkRecord> attempt_records() {
    std::vector<WorkRecord> records;
    for (const auto& worker : workers()) {
      const std::string path = attempt_log(worker->client_id());
      const auto malformed = read_work_log(path, records);
      EXPECT_TRUE(malformed.empty()) << path << ": " << malformed.size()
                                     << " malformed lines, first: \"" << malformed.front() << "\"";
    }
    return records;
  }

  // The checks of the attempt logs every test ends with: check_attempt_logs (no two
  // attempts of one job overlapped, an attempt of a killed process lasting until its kill;
  // no process but a killed one left an attempt that never ended); and, if
  // `every_job_completed`, every job is completed and its last attempt, by start, ended and
  // is the attempt the job was completed with. Returns the attempts by job ("kind/id").
  WorkByResource check_attempts(bool every_job_completed = true) {
    std::vector<std::string> paths;
    for (const auto& worker : workers())
      paths.push_back(attempt_log(worker->client_id()));
    const auto grouped = check_attempt_logs(paths);
    std::size_t attempts = 0;
    for (const auto& [key, list] : grouped)
      attempts += list.size();
    std::printf("[ figures  ] %zu attempts of %zu jobs in the attempt logs\n", attempts,
                grouped.size());
    if (!every_job_completed) return grouped;

    std::size_t bad = 0;
    std::string bad_summary;
    for (auto row :
         pool().exec(sql("SELECT kind || '/' || id, attempt, state::text FROM {s}.delta_job"))) {
      const auto key = row.get<std::string>(0);
      const auto attempt = row.get<std::int64_t>(1);
      const auto it = grouped.find(key);
      const bool ok = row.get<std::string>(2) == "completed" && it != grouped.end() &&
                      !it->second.back().open && it->second.back().attempt == attempt;
      if (!ok && ++bad <= 5) {
        bad_summary +=
            fmt::format("\n  {} ({}, attempt {}):{}", key, row.get<std::string>(2), attempt,
                        it == grouped.end() ? " never run" : describe(it->second));
      }
    }
    EXPECT_EQ(bad, 0u) << "jobs whose last attempt did not end completed (first 5):" << bad_summary;
    return grouped;
  }

  std::int64_t completed_jobs() {
    return scalar("SELECT count(*) FROM {s}.delta_job WHERE state = 'completed'");
  }

  // "state=count ..." of every job, for failure messages.
  std::string job_states() { return state_counts("delta_job", "no jobs"); }

  // Jobs executed more than once: who ran which attempt, and the errors the job
  // recorded (e.g. why it was rescued), for failure messages.
  std::string duplicate_executions() {
    std::string summary;
    for (auto row : pool().exec(sql(R"(
SELECT e.job_id, string_agg(e.client_id || ' attempt ' || e.attempt, ', ' ORDER BY e.id),
       coalesce(array_to_string(j.errors, '; '), '')
FROM {s}.proc_execution e LEFT JOIN {s}.delta_job j ON j.id = e.job_id
GROUP BY e.job_id, j.errors HAVING count(*) > 1 ORDER BY e.job_id LIMIT 5)"))) {
      summary += fmt::format("\n  job {} ran in {}; errors: {}", row.get<std::int64_t>(0),
                             row.get<std::string>(1), row.get<std::string>(2));
    }
    return summary.empty() ? "none" : summary;
  }

  // The client holding the leader lease row, or "".
  std::string current_leader() {
    auto result = pool().exec(sql("SELECT leader_id FROM {s}.delta_leader WHERE name = 'default'"));
    return result.empty() ? std::string() : result[0].get<std::string>(0);
  }

  // Spawns a job_worker_proc on this test's schema, logging its attempts to a file of its
  // own, and waits until it has started.
  WorkerProcess& start_worker(const std::string& client_id, std::vector<std::string> args = {}) {
    args.insert(args.begin(), {"--attempt-log", attempt_log(client_id)});
    return ProcessTest::start_worker(client_id, std::move(args));
  }

  // Inserts `count` proc_job jobs with insert_many, in batches.
  void insert_proc_jobs(std::int64_t count, std::int64_t batch = 5000) {
    for (std::int64_t first = 0; first < count; first += batch) {
      std::vector<delta::jobs::JobInsert> jobs;
      for (std::int64_t n = first; n < std::min(count, first + batch); ++n) {
        jobs.push_back(delta::jobs::make_insert(ProcJob{n}));
      }
      auto results = inserter_->jobs().insert_many(jobs);
      ASSERT_EQ(results.size(), jobs.size());
    }
  }

  std::unique_ptr<delta::Client> inserter_;
  std::string log_dir_;
};

TEST_F(jobs_process_pgtest, TwoProcessesDrainTwentyThousandJobsExactlyOnce) {
  constexpr std::int64_t kJobs = 20000;
  // Each job takes a little time, so that the attempts the overlap check compares are
  // intervals, not instants: 20,000 of them over 2 x 10 workers add about a second.
  constexpr int kWorkUs = 500;
  const std::vector<std::string> args{"--sleep-us", std::to_string(kWorkUs)};
  WorkerProcess& a = start_worker("drain-a", args);
  WorkerProcess& b = start_worker("drain-b", args);

  const auto started = Clock::now();
  ASSERT_NO_FATAL_FAILURE(insert_proc_jobs(kJobs));
  const auto inserted_ms = elapsed_ms(started);
  const bool drained = poll_until([&] { return completed_jobs() == kJobs; }, 60s);
  const auto drained_ms = elapsed_ms(started);
  ASSERT_TRUE(drained) << "after " << drained_ms << " ms: " << job_states();
  std::printf("[ figures  ] 2 processes drained %lld jobs in %lld ms (insert_many: %lld ms)\n",
              static_cast<long long>(kJobs), static_cast<long long>(drained_ms),
              static_cast<long long>(inserted_ms));
  RecordProperty("drain_ms", std::to_string(drained_ms));

  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_job"), kJobs) << job_states();
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_job WHERE attempt <> 1"), 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.proc_execution"), kJobs)
      << "jobs executed twice (first 5): " << duplicate_executions();
  EXPECT_EQ(scalar("SELECT count(DISTINCT job_id) FROM {s}.proc_execution"), kJobs);
  // Each recorded execution is the attempt the job was completed with, by that client.
  EXPECT_EQ(scalar(R"(SELECT count(*) FROM {s}.proc_execution e JOIN {s}.delta_job j
                      ON j.id = e.job_id AND j.attempt = e.attempt AND j.attempted_by = e.client_id)"),
            kJobs);
  // Both processes took part.
  const auto by_a =
      scalar("SELECT count(*) FROM {s}.proc_execution WHERE client_id = $1", a.client_id());
  const auto by_b =
      scalar("SELECT count(*) FROM {s}.proc_execution WHERE client_id = $1", b.client_id());
  std::printf("[ figures  ] executions: %s=%lld %s=%lld\n", a.client_id().c_str(),
              static_cast<long long>(by_a), b.client_id().c_str(), static_cast<long long>(by_b));
  EXPECT_GT(by_a, 0);
  EXPECT_GT(by_b, 0);

  // SIGTERM is a graceful stop: exit code 0, and the clients are marked stopped.
  EXPECT_EQ(a.terminate(kStopTimeout), 0);
  EXPECT_EQ(b.terminate(kStopTimeout), 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_client WHERE stopped_at IS NOT NULL"), 2);

  // The attempt logs: one attempt per job, lasting at least the work.
  const auto attempts = check_attempts();
  EXPECT_EQ(attempts.size(), static_cast<std::size_t>(kJobs));
  std::size_t not_once = 0;
  std::size_t short_attempts = 0;
  for (const auto& [key, list] : attempts) {
    if (list.size() != 1) ++not_once;
    for (const auto& attempt : list) {
      if (attempt.end_ns - attempt.start_ns < kWorkUs * 1000) ++short_attempts;
    }
  }
  EXPECT_EQ(not_once, 0u) << "jobs not attempted exactly once";
  EXPECT_EQ(short_attempts, 0u) << "attempts shorter than the work";
}

TEST_F(jobs_process_pgtest, JobOfASigkilledProcessIsRescuedAndCompletedByTheSurvivor) {
  const std::int64_t job_id = inserter_->jobs().insert(ProcJob{1}).job.id;
  WorkerProcess& doomed = start_worker("crash-a", {"--hang-job-id", std::to_string(job_id)});
  ASSERT_TRUE(doomed.wait_for_line(fmt::format("hanging {}", job_id), 10s));
  WorkerProcess& survivor = start_worker("crash-b");

  const delta::jobs::JobRow before = inserter_->jobs().get(job_id);
  ASSERT_EQ(before.state, delta::jobs::JobState::running);
  ASSERT_EQ(before.attempt, 1);
  ASSERT_EQ(before.attempted_by, doomed.client_id());

  kill_worker(doomed);
  const auto killed_at = Clock::now();
  const bool completed = poll_until(
      [&] { return inserter_->jobs().get(job_id).state == delta::jobs::JobState::completed; },
      kClientTtl + 5s);
  const auto recovered_ms = elapsed_ms(killed_at);
  ASSERT_TRUE(completed) << "job " << job_id << " is still "
                         << to_string(inserter_->jobs().get(job_id).state) << " " << recovered_ms
                         << " ms after its process was killed";
  std::printf("[ figures  ] SIGKILLed job completed by the survivor %lld ms after the kill\n",
              static_cast<long long>(recovered_ms));

  const delta::jobs::JobRow job = inserter_->jobs().get(job_id);
  EXPECT_EQ(job.attempt, 2);  // the lost attempt counts
  EXPECT_EQ(job.attempted_by, survivor.client_id());
  ASSERT_EQ(job.errors.size(), 1u);
  EXPECT_EQ(job.errors[0].type, "rescue");
  EXPECT_EQ(job.errors[0].attempt, 1);
  EXPECT_NE(job.errors[0].error.find(doomed.client_id()), std::string::npos) << job.errors[0].error;
  // Run exactly once to the end: by the survivor, in attempt 2.
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.proc_execution WHERE job_id = $1", job_id), 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.proc_execution WHERE job_id = $1 AND attempt = 2 "
                   "AND client_id = $2",
                   job_id, survivor.client_id()),
            1);

  // The attempt logs: attempt 1 started in the doomed process and never ended; attempt 2,
  // by the survivor, started after the kill (no overlap) and ended.
  const auto attempts = check_attempts();
  const auto it = attempts.find(fmt::format("proc_job/{}", job_id));
  ASSERT_NE(it, attempts.end());
  const auto& list = it->second;
  ASSERT_EQ(list.size(), 2u) << describe(list);
  EXPECT_TRUE(list[0].open) << describe(list);
  EXPECT_EQ(list[0].pid, doomed.pid()) << describe(list);
  EXPECT_EQ(list[0].attempt, 1) << describe(list);
  EXPECT_FALSE(list[1].open) << describe(list);
  EXPECT_EQ(list[1].pid, survivor.pid()) << describe(list);
}

TEST_F(jobs_process_pgtest, LeaderKilledAnotherProcessLeadsAndMaintenanceContinues) {
  WorkerProcess& a = start_worker("lead-a");
  WorkerProcess& b = start_worker("lead-b");
  std::string leader_id;
  ASSERT_TRUE(poll_until(
      [&] {
        leader_id = current_leader();
        return leader_id == a.client_id() || leader_id == b.client_id();
      },
      5s))
      << "leader: \"" << leader_id << "\"";
  WorkerProcess& leader = leader_id == a.client_id() ? a : b;
  WorkerProcess& follower = leader_id == a.client_id() ? b : a;

  kill_worker(leader);
  const auto killed_at = Clock::now();
  // Due after the kill: only a leader's scheduler makes it available.
  delta::jobs::InsertOpts opts;
  opts.scheduled_at = delta::now() + 500ms;
  const delta::jobs::JobRow scheduled = inserter_->jobs().insert(ProcJob{7}, opts).job;
  ASSERT_EQ(scheduled.state, delta::jobs::JobState::scheduled);

  ASSERT_TRUE(poll_until([&] { return current_leader() == follower.client_id(); }, kLeaderTtl + 3s))
      << "leader is still \"" << current_leader() << "\" " << elapsed_ms(killed_at)
      << " ms after the kill";
  const auto failover_ms = elapsed_ms(killed_at);

  const bool ran = poll_until(
      [&] { return inserter_->jobs().get(scheduled.id).state == delta::jobs::JobState::completed; },
      kLeaderTtl + 5s);
  ASSERT_TRUE(ran) << "the scheduled job is still "
                   << to_string(inserter_->jobs().get(scheduled.id).state);
  std::printf("[ figures  ] new leader %lld ms after the kill; scheduled job done at %lld ms\n",
              static_cast<long long>(failover_ms), static_cast<long long>(elapsed_ms(killed_at)));
  const delta::jobs::JobRow job = inserter_->jobs().get(scheduled.id);
  EXPECT_EQ(job.attempted_by, follower.client_id());
  EXPECT_EQ(job.attempt, 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.proc_execution WHERE job_id = $1 AND client_id = $2",
                   scheduled.id, follower.client_id()),
            1);
  check_attempts();
}

TEST_F(jobs_process_pgtest, PeriodicJobIsInsertedOncePerPeriodAcrossProcessesAndRestarts) {
  constexpr std::int64_t kIntervalMs = 1000;
  const std::vector<std::string> args{"--periodic-ms", std::to_string(kIntervalMs),
                                      "--run-on-start"};
  std::vector<WorkerProcess*> processes{
      &start_worker("tick-a", args), &start_worker("tick-b", args), &start_worker("tick-c", args)};
  auto ticks = [&] { return scalar("SELECT count(*) FROM {s}.delta_job WHERE kind = 'tick'"); };
  ASSERT_TRUE(poll_until([&] { return ticks() >= 3; }, 6s)) << ticks() << " ticks";

  // Restart the leader: SIGTERM (it resigns), then a new process, again with run_on_start.
  const std::string leader_id = current_leader();
  auto leader = std::find_if(processes.begin(), processes.end(),
                             [&](WorkerProcess* p) { return p->client_id() == leader_id; });
  ASSERT_NE(leader, processes.end()) << "leader: \"" << leader_id << "\"";
  EXPECT_EQ((*leader)->terminate(kStopTimeout), 0);
  start_worker((*leader)->client_id() + "-restarted", args);
  ASSERT_TRUE(poll_until([&] { return current_leader() != leader_id; }, kLeaderTtl + 3s));
  ASSERT_TRUE(poll_until([&] { return ticks() >= 8; }, 10s)) << ticks() << " ticks";

  // Over the window from the first insert until now (N ms): floor(N / interval) <= count
  // <= N / interval + 1.
  auto window = pool().exec(sql(R"(
SELECT count(*), (extract(epoch FROM now() - min(created_at)) * 1000)::bigint
FROM {s}.delta_job WHERE kind = 'tick')"));
  const auto count = window.one().get<std::int64_t>(0);
  const auto window_ms = window.one().get<std::int64_t>(1);
  std::printf("[ figures  ] %lld periodic jobs in a window of %lld ms (interval %lld ms)\n",
              static_cast<long long>(count), static_cast<long long>(window_ms),
              static_cast<long long>(kIntervalMs));
  EXPECT_GE(count, window_ms / kIntervalMs);
  EXPECT_LE(count * kIntervalMs, window_ms + kIntervalMs);

  // One schedule, and per period of it (aligned on its next_run_at) at most one job, by
  // creation and by scheduled time.
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_periodic_job"), 1);
  for (const char* column : {"created_at", "scheduled_at"}) {
    const auto crowded =
        scalar(fmt::format(R"(
SELECT count(*) FROM (
  SELECT floor((extract(epoch FROM j.{column}) - extract(epoch FROM p.next_run_at)) * 1000
               / {interval}) AS period
  FROM {{s}}.delta_job j, {{s}}.delta_periodic_job p
  WHERE j.kind = 'tick'
  GROUP BY 1 HAVING count(*) > 1) crowded)",
                           fmt::arg("column", column), fmt::arg("interval", kIntervalMs)));
    EXPECT_EQ(crowded, 0) << "periods with more than one job by " << column;
  }
  // And no tick was run twice.
  EXPECT_EQ(scalar("SELECT count(*) - count(DISTINCT job_id) FROM {s}.proc_execution "
                   "WHERE kind = 'tick'"),
            0);
  // Nor two attempts of one at a time. Checked once every process has stopped; the last
  // tick may still be due or running then, so not every job is completed.
  for (const auto& worker : workers())
    EXPECT_EQ(worker->terminate(kStopTimeout), 0) << worker->client_id();
  check_attempts(false);
}

TEST_F(jobs_process_pgtest, TerminatedConnectionsLoseNoJobAndRunNoneTwice) {
  constexpr std::int64_t kJobs = 8000;
  constexpr int kRounds = 5;
  // A fetch whose reply is lost leaves its jobs running under a live client: a short job
  // timeout lets the rescuer's backstop hand them out again within seconds. The client TTL
  // is long: heartbeats also go through cut connections, and a live client taken for dead
  // has its running jobs rescued and run a second time (by design: at least once).
  const std::vector<std::string> args{"--sleep-ms",         "5",   "--job-timeout-ms", "3000",
                                      "--rescue-margin-ms", "500", "--client-ttl-ms",  "10000"};
  WorkerProcess& a = start_worker("cut-a", args);
  WorkerProcess& b = start_worker("cut-b", args);
  const auto started = Clock::now();
  ASSERT_NO_FATAL_FAILURE(insert_proc_jobs(kJobs));

  const std::string application_name = "djw_" + schema_name();
  int rounds = 0;
  std::int64_t terminated = 0;
  while (rounds < kRounds && completed_jobs() < kJobs) {
    const auto cut = scalar(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE application_name = $1",
        application_name);
    ++rounds;
    terminated += cut;
    EXPECT_GT(cut, 0) << "round " << rounds << " found no connection of the workers";
    // The workers recover: jobs complete again after their connections were cut.
    const auto after_cut = completed_jobs();
    ASSERT_TRUE(poll_until(
        [&] {
          const auto done = completed_jobs();
          return done > after_cut + 100 || done == kJobs;
        },
        10s, 20ms))
        << "no progress after termination round " << rounds << ": " << job_states();
  }
  EXPECT_GE(rounds, 3) << "the jobs drained before the connections were cut 3 times";

  ASSERT_TRUE(poll_until([&] { return completed_jobs() == kJobs; }, 30s)) << job_states();
  std::printf(
      "[ figures  ] %d rounds of pg_terminate_backend cut %lld connections; %lld jobs drained "
      "in %lld ms; %lld jobs needed a second attempt\n",
      rounds, static_cast<long long>(terminated), static_cast<long long>(kJobs),
      static_cast<long long>(elapsed_ms(started)),
      static_cast<long long>(scalar("SELECT count(*) FROM {s}.delta_job WHERE attempt > 1")));
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.proc_execution"), kJobs)
      << "jobs executed twice (first 5): " << duplicate_executions();
  EXPECT_EQ(scalar("SELECT count(DISTINCT job_id) FROM {s}.proc_execution"), kJobs);
  // Both processes lived through it and stop cleanly.
  EXPECT_EQ(a.terminate(kStopTimeout), 0);
  EXPECT_EQ(b.terminate(kStopTimeout), 0);
  check_attempts();
}

TEST_F(jobs_process_pgtest, ThreeProcessesTogetherKeepTheQueuesRateAndConcurrency) {
  // Defaults registered by the first process: 50 starts a second, 5 at once; each process
  // alone would run 8 at once without a rate. A job takes 80 ms: under the cap alone 5
  // would start every 80 ms (62 a second), and under the rate alone 4 or 5 run at once,
  // more than the override's 2.
  constexpr int kRateCount = 50;  // a second
  constexpr int kAtOnce = 5;
  constexpr auto kPollInterval = 100ms;
  constexpr int kOverriddenAtOnce = 2;
  constexpr std::int64_t kSecondNs = 1'000'000'000;
  // As the processes are given them:
  const std::vector<std::string> args{"--max-workers",        "8",    "--sleep-ms",   "80",
                                      "--global-max-workers", "5",    "--rate-count", "50",
                                      "--rate-per-ms",        "1000", "--poll-ms",    "100"};
  start_worker("limit-a", args);
  start_worker("limit-b", args);
  start_worker("limit-c", args);
  // Ten seconds and more at 50 a second under the defaults, then 60 under the override
  // (2 at once: about 25 a second), then 100 under the defaults again.
  constexpr std::int64_t kFirst = 520, kOverridden = 60, kCleared = 100;
  constexpr std::int64_t kJobs = kFirst + kOverridden + kCleared;
  ASSERT_NO_FATAL_FAILURE(insert_proc_jobs(kJobs));
  ASSERT_TRUE(poll_until([&] { return completed_jobs() >= kFirst; }, 30s)) << job_states();

  // An operator's override while jobs run: 2 at once, no rate. It is committed when the
  // call returns; every process reads it within a poll interval, and a fetch under the old
  // limits may have taken starts up to the rate's lookahead (100 ms) ahead, so every start
  // from kSettleNs after the call on is under it (50 ms for that last fetch itself).
  constexpr std::int64_t kSettleNs = std::chrono::nanoseconds(kPollInterval + 100ms + 50ms).count();
  delta::Admin admin(shared_pool(), {.schema = schema_name()});
  admin.set_queue_limits("default", {.max_concurrency = kOverriddenAtOnce});
  const std::int64_t overridden_ns = realtime_ns();
  ASSERT_TRUE(poll_until([&] { return completed_jobs() >= kFirst + kOverridden; }, 30s))
      << job_states();
  // Cleared: the defaults again, in the same way.
  admin.clear_queue_limits("default");
  const std::int64_t cleared_ns = realtime_ns();
  ASSERT_TRUE(poll_until([&] { return completed_jobs() == kJobs; }, 30s)) << job_states();

  const auto all = attempt_records();
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kJobs)) << "one attempt a job";
  // Never more than the defaults' 5 at once, through both changes.
  EXPECT_LE(most_at_once(all), kAtOnce);

  // Under the defaults: every process worked some; at most count + 1 starts in any window
  // of `per` (one start of burst), at most 5 at once, from the starts and ends the
  // processes recorded.
  const auto first = started_between(all, INT64_MIN, overridden_ns);
  ASSERT_GE(first.size(), static_cast<std::size_t>(kFirst));
  EXPECT_EQ(pids_of(first).size(), 3u) << "every process worked some";
  const double span_s = static_cast<double>(start_span_ns(first)) / 1e9;
  const int first_most_in_second = most_starts_in(first, kSecondNs);
  const int first_most_at_once = most_at_once(all, INT64_MIN, overridden_ns);
  std::printf(
      "[ figures  ] 3 processes: %zu starts over %.2f s, at most %d in a second, %d at once\n",
      first.size(), span_s, first_most_in_second, first_most_at_once);
  EXPECT_LE(first_most_in_second, kRateCount + kRecordedStartBurst);
  EXPECT_LE(first_most_at_once, kAtOnce);
  EXPECT_GE(span_s, static_cast<double>(first.size() - 1) / kRateCount - 0.1)
      << "faster than 50 a second";

  // The override, in force in every process from kSettleNs after the call on. It took hold
  // after the last start with more than 2 at once.
  std::int64_t held_ns = overridden_ns;
  for (const auto& record : started_between(all, overridden_ns, cleared_ns)) {
    if (most_at_once(all, record.start_ns, record.start_ns + 1) > kOverriddenAtOnce)
      held_ns = std::max(held_ns, record.start_ns);
  }
  const auto overridden = started_between(all, overridden_ns + kSettleNs, cleared_ns);
  const int overridden_most_at_once = most_at_once(all, overridden_ns + kSettleNs, cleared_ns);
  const auto pids = pids_of(overridden);
  std::printf(
      "[ figures  ] overridden: in force %.1f ms after the call; from %lld ms on %d at once "
      "(%zu starts by %zu processes)\n",
      static_cast<double>(held_ns - overridden_ns) / 1e6,
      static_cast<long long>(kSettleNs / 1'000'000), overridden_most_at_once, overridden.size(),
      pids.size());
  EXPECT_LE(overridden_most_at_once, kOverriddenAtOnce);
  EXPECT_GE(overridden_most_at_once, kOverriddenAtOnce) << "the override left fewer at once";
  EXPECT_EQ(pids.size(), 3u) << "every process worked some under the override";

  // Cleared: the defaults in force again, the rate and more than 2 at once.
  const auto cleared = started_between(all, cleared_ns + kSettleNs, INT64_MAX);
  const int cleared_most_in_second = most_starts_in(cleared, kSecondNs);
  const int cleared_most_at_once = most_at_once(all, cleared_ns + kSettleNs);
  std::printf("[ figures  ] cleared: %zu starts, at most %d in a second, %d at once\n",
              cleared.size(), cleared_most_in_second, cleared_most_at_once);
  EXPECT_GE(cleared.size(), static_cast<std::size_t>(kCleared / 2));
  EXPECT_LE(cleared_most_in_second, kRateCount + kRecordedStartBurst);
  EXPECT_LE(cleared_most_at_once, kAtOnce);
  EXPECT_GT(cleared_most_at_once, kOverriddenAtOnce) << "the override is still in force";

  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_job WHERE attempt <> 1 OR "
                   "cardinality(errors) > 0"),
            0)
      << "held back is not failed: one attempt each, no error";
  // The processes lived through it and stop cleanly.
  for (const auto& worker : workers())
    EXPECT_EQ(worker->terminate(kStopTimeout), 0) << worker->client_id();
  check_attempts();
}

}  // namespace
