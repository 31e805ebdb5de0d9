// The resource engine across real processes: resource_worker_proc (built as
// DELTA_RESOURCE_WORKER_PROC) instances sharing one schema work every resource exactly once
// and never one resource in two places at a time, rescue the resources of a SIGKILLed
// process, claim only the kinds and namespaces they are configured for, work a resource
// that changed while it was worked again (after that work), and keep the leases of live
// work (claimed ahead or not) so that nothing is rescued from a live process. Each worker
// process logs every work() call it finished (CLOCK_REALTIME intervals) to a file of its
// own, and every work() call as it begins and as it returns (finished or interrupted) to
// an attempt log; the tests compare those logs with the rows, and check from the attempt
// logs that no two works of one resource overlapped, counting work a SIGKILL cut short
// (started, never ended) as running until the kill. Each test uses its own schema; the suite
// is named after the executable so `ctest -R resources_process` selects it. The tests of
// resources_process_pgtest_own_cluster cut every session of the database, and so run on a
// PostgreSQL cluster of their own (support/cluster.hpp).
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
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

#include <delta/admin.hpp>
#include <delta/client.hpp>
#include <delta/pg.hpp>
#include <delta/resource.hpp>

#include "support/cluster.hpp"
#include "support/intervals.hpp"
#include "support/pg_test.hpp"
#include "support/process_test.hpp"
#include "support/processes.hpp"
#include "support/worker_kinds.hpp"

#ifndef DELTA_RESOURCE_WORKER_PROC
#error \
    "DELTA_RESOURCE_WORKER_PROC must name the resource_worker_proc binary (see tests/CMakeLists.txt)"
#endif

namespace {

using namespace std::chrono_literals;
using namespace delta::testing;
using Clock = std::chrono::steady_clock;

class resources_process_pgtest : public delta::testing::ProcessTest {
 protected:
  resources_process_pgtest() : ProcessTest(DELTA_RESOURCE_WORKER_PROC, "sp") {}

  void SetUp() override {
    ProcessTest::SetUp();
    std::string dir_template =
        (std::filesystem::temp_directory_path() / "resources_process_XXXXXX").string();
    if (::mkdtemp(dir_template.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(), "mkdtemp");
    }
    log_dir_ = dir_template;
    informer_ = idle_client();  // informs and reads resources
  }

  void TearDown() override {
    informer_.reset();
    ProcessTest::TearDown();
    if (!log_dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(log_dir_, ignored);
    }
  }

  // The object ids of the rows `where` selects (a condition on delta_resource r).
  template <class... Args>
  std::set<std::string> ids_where(std::string_view where, const Args&... args) {
    std::set<std::string> ids;
    for (auto row : pool().exec(sql(fmt::format("SELECT r.object_id FROM {{s}}.delta_resource r "
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
  std::string resource_states() { return state_counts("delta_resource", "no resources"); }

  // The work log of the worker process `client_id`.
  std::string log_path(const std::string& client_id) const {
    return (std::filesystem::path(log_dir_) / (client_id + ".log")).string();
  }

  // The attempt log of `client_id`: every work() call as it begins and as it returns.
  std::string attempt_log_path(const std::string& client_id) const {
    return (std::filesystem::path(log_dir_) / (client_id + ".attempts.log")).string();
  }

  // Spawns a resource_worker_proc on this test's schema, logging to files of its own, and
  // waits until it has started.
  WorkerProcess& start_worker(const std::string& client_id, std::vector<std::string> args) {
    args.insert(args.begin(),
                {"--log", log_path(client_id), "--attempt-log", attempt_log_path(client_id)});
    return ProcessTest::start_worker(client_id, std::move(args));
  }

  // check_attempt_logs on the attempt logs of every worker process started so far (no two
  // works of one resource overlapped, work cut short by kill_worker counted until the kill;
  // only killed processes left work that never ended): call it once the live processes
  // have stopped. Returns the attempts by resource.
  WorkByResource check_attempts() {
    std::vector<std::string> paths;
    for (const auto& worker : workers())
      paths.push_back(attempt_log_path(worker->client_id()));
    return check_attempt_logs(paths);
  }

  // The work records of every worker process started so far (the logs of killed ones
  // too); a malformed line fails the test.
  std::vector<WorkRecord> work_records() {
    std::vector<WorkRecord> records;
    for (const auto& worker : workers()) {
      const std::string path = log_path(worker->client_id());
      const auto malformed = read_work_log(path, records);
      EXPECT_TRUE(malformed.empty()) << path << ": " << malformed.size()
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

  std::string log_dir_;
  std::unique_ptr<delta::Client> informer_;
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
      twice_summary += "\n  " + key + ":" + describe(list);
    }
  }
  EXPECT_EQ(twice, 0u) << "resources not worked exactly once (first 5):" << twice_summary;
  const auto [overlaps, overlap_summary] = overlapping_work(grouped);
  EXPECT_EQ(overlaps, 0u) << "overlapping work (first 5):" << overlap_summary;

  // Each resource's work ran after its claim (attempted_at) and before its outcome was
  // written (synced_at): the database's clock and the processes' CLOCK_REALTIME agree.
  std::size_t outside = 0;
  std::string outside_summary;
  for (auto row : pool().exec(sql(R"(
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
  check_attempts();
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
  // ago or more (every work takes 250 ms: it is in the middle of its next ones), one of
  // the works it runs began less than 150 ms ago (the kill cuts it short), and it still
  // holds (works, or has claimed to work next) resources it has not finished.
  std::size_t finished_before = 0;
  ASSERT_TRUE(poll_until(
      [&] {
        std::vector<WorkRecord> finished;
        read_work_log(log_path(doomed.client_id()), finished);
        if (finished.empty()) return false;
        std::int64_t latest_end_ns = 0;
        for (const auto& record : finished)
          latest_end_ns = std::max(latest_end_ns, record.end_ns);
        if (realtime_ns() - latest_end_ns < 50'000'000) return false;
        std::vector<WorkRecord> attempts;
        read_work_log(attempt_log_path(doomed.client_id()), attempts);
        if (std::none_of(attempts.begin(), attempts.end(), [](const WorkRecord& r) {
              return r.open && realtime_ns() - r.start_ns < 150'000'000;
            })) {
          return false;
        }
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
  kill_worker(doomed);
  const auto killed_at = Clock::now();
  // Once the server has ended the doomed process's sessions, no statement of it can still
  // commit: what it holds now is what it died holding.
  ASSERT_TRUE(poll_until(
      [&] {
        return scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                      "drw_" + schema_name() + "_" + doomed.client_id()) == 0;
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
    const std::string all = describe(list);
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
  // The attempt logs: no two works of one resource overlapped, counting the works the kill
  // cut short as running until the kill; each of those was of a resource the doomed
  // process held, and one at least was cut short.
  std::size_t cut_short = 0;
  for (const auto& [key, list] : check_attempts()) {
    for (const auto& attempt : list) {
      if (!attempt.open) continue;
      ++cut_short;
      EXPECT_EQ(attempt.pid, doomed.pid()) << describe(attempt);
      EXPECT_TRUE(held.contains(attempt.object_id)) << describe(attempt);
      EXPECT_EQ(attempt.attempt, 1) << describe(attempt);
    }
  }
  EXPECT_GT(cut_short, 0u) << "the kill cut no work short";
  std::printf("[ figures  ] the kill cut %zu works short\n", cut_short);
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
  check_attempts();
}

TEST_F(resources_process_pgtest, ChangedWhileWorkedIsWorkedAgainNeverConcurrently) {
  // Objects change twice while two processes work them: a resource being worked when it
  // changes is worked again once that work has ended, never at the same time.
  constexpr int kResources = 400;
  constexpr int kGenerations = 3;
  // A change counts as made during a work when its whole inform_many call (start to
  // return) lies within the work: the works last long enough, and the calls are short
  // enough, that this happens also on a slow machine or under TSan (25 objects a call
  // against 40 ms works once saw none).
  constexpr int kChangeBatch = 10;
  const std::vector<std::string> args{"--kinds",       "item", "--parallelism", "8",
                                      "--max-workers", "8",    "--work-ms",     "100"};
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
      bad_summary += "\n  " + key + ":" + describe(list);
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
  check_attempts();
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
    twice_summary += "\n  " + key + ":" + describe(list);
  }
  EXPECT_EQ(twice, 0u) << "resources worked more than once:" << twice_summary;
  const auto [overlaps, overlap_summary] = overlapping_work(grouped);
  EXPECT_EQ(overlaps, 0u) << "overlapping work:" << overlap_summary;

  EXPECT_EQ(a.terminate(kStopTimeout), 0);
  EXPECT_EQ(b.terminate(kStopTimeout), 0);
  check_attempts();
}

TEST_F(resources_process_pgtest, LeaderKilledTheNewLeaderRunsEveryResourceTaskAtOnce) {
  // Every resource task of the leader runs once an hour: after the first leader's runs at
  // its election, only another election runs them again soon -- at once, as a new leader
  // catches up on what the previous one left.
  const std::string hour = "3600000";
  const std::vector<std::string> args{"--kinds",
                                      "item",
                                      "--parallelism",
                                      "2",
                                      "--max-workers",
                                      "2",
                                      "--maintenance-interval-ms",
                                      hour,
                                      "--rescuer-interval-ms",
                                      hour,
                                      "--expiry-ms",
                                      hour,
                                      "--inform-interval-ms",
                                      hour,
                                      "--leader-ttl-ms",
                                      "1000",
                                      "--leader-renew-ms",
                                      "200"};
  WorkerProcess& a = start_worker("lead-a", args);
  WorkerProcess& b = start_worker("lead-b", args);
  auto current_leader = [&] {
    auto result =
        pool().exec(sql("SELECT leader_id FROM {s}.delta_leader WHERE expires_at > now()"));
    return result.empty() ? std::string() : result[0].get<std::string>(0);
  };
  std::string leader_id;
  ASSERT_TRUE(poll_until(
      [&] {
        leader_id = current_leader();
        return leader_id == a.client_id() || leader_id == b.client_id();
      },
      10s))
      << "leader: \"" << leader_id << "\"";
  WorkerProcess& leader = leader_id == a.client_id() ? a : b;
  WorkerProcess& follower = leader_id == a.client_id() ? b : a;
  auto inform_runs = [&] {
    return scalar(
        "SELECT count(*) FROM {s}.delta_job WHERE kind = 'delta.inform:item' AND "
        "state = 'completed'");
  };
  // The first leader's catch-up: the item informer, due since it never ran, ran once.
  ASSERT_TRUE(poll_until([&] { return inform_runs() == 1; }, 10s))
      << state_counts("delta_job", "no jobs");

  // What only the leader's tasks move: a synced resource past its namespace's expiry, a
  // resource leased to a client that does not exist, and the informer due again.
  ASSERT_NO_FATAL_FAILURE(inform_objects<Item>("expiring", 1, 1));
  ASSERT_NO_FATAL_FAILURE(inform_objects<Item>("stale", 1, 1));
  ASSERT_TRUE(poll_until([&] { return synced() == 2; }, 10s)) << resource_states();
  pool().exec(
      sql("UPDATE {s}.delta_resource SET state = 'synced', attempt = 1, "
          "synced_at = now() - interval '2 hours' WHERE object_id = 'expiring0'"));
  pool().exec(
      sql("UPDATE {s}.delta_resource SET state = 'pending', attempt = 1, "
          "attempted_at = now(), lease_owner = 'ghost', "
          "lease_expires_at = now() + interval '1 hour' WHERE object_id = 'stale0'"));
  pool().exec(
      sql("UPDATE {s}.delta_controller SET last_inform_started_at = now() - "
          "interval '2 hours' WHERE kind = 'item'"));
  // Since when a resource was synced, in CLOCK_REALTIME ns (0: it is not synced).
  const auto synced_since_ns = [&](const std::string& id) {
    return scalar(
        "SELECT CASE WHEN state = 'synced' THEN (extract(epoch FROM synced_at) * 1e9)::bigint "
        "ELSE 0 END FROM {s}.delta_resource WHERE object_id = $1",
        id);
  };

  const std::int64_t kill_ns = realtime_ns();
  kill_worker(leader);
  const auto killed_at = Clock::now();
  // A generous bound, not a speed: the lease lapses in 1 s and the tasks run at once.
  constexpr auto kBound = 15s;
  ASSERT_TRUE(poll_until([&] { return current_leader() == follower.client_id(); }, kBound))
      << "leader is still \"" << current_leader() << "\" " << elapsed_ms(killed_at)
      << " ms after the kill";
  const auto failover_ms = elapsed_ms(killed_at);

  // The expirer ran: the resource synced past its TTL was expired, and so worked again
  // (synced again after the kill, by the survivor).
  EXPECT_TRUE(poll_until([&] { return synced_since_ns("expiring0") > kill_ns; }, kBound))
      << resource_states();
  const delta::ResourceRow expiring = informer_->get_resource("item", "expiring0");
  EXPECT_EQ(expiring.attempt, 1) << "expiry resets the attempt";
  EXPECT_TRUE(expiring.errors.empty());
  // The rescuer ran: the resource of the unknown client failed, with why, and was worked
  // again (its backoff after one attempt is about a second).
  EXPECT_TRUE(poll_until([&] { return synced_since_ns("stale0") > kill_ns; }, kBound))
      << resource_states();
  const delta::ResourceRow stale = informer_->get_resource("item", "stale0");
  EXPECT_EQ(stale.attempt, 2) << "the rescued attempt counts";
  ASSERT_EQ(stale.errors.size(), 1u);
  EXPECT_EQ(stale.errors[0].type, "rescue");
  EXPECT_NE(stale.errors[0].error.find("ghost"), std::string::npos) << stale.errors[0].error;
  // Both were worked again by the survivor, after the kill.
  for (const std::string id : {"expiring0", "stale0"}) {
    std::vector<WorkRecord> survivor_works;
    read_work_log(log_path(follower.client_id()), survivor_works);
    EXPECT_EQ(std::count_if(
                  survivor_works.begin(), survivor_works.end(),
                  [&](const WorkRecord& r) { return r.object_id == id && r.start_ns > kill_ns; }),
              1)
        << id;
  }
  // The inform scheduler ran: a second run of the informer, inserted after the kill and
  // run by the survivor.
  EXPECT_TRUE(poll_until([&] { return inform_runs() == 2; }, kBound))
      << state_counts("delta_job", "no jobs");
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_job WHERE kind = 'delta.inform:item' AND "
                   "state = 'completed' AND created_at > to_timestamp($1::float8 / 1e9) AND "
                   "attempted_by = $2",
                   static_cast<double>(kill_ns), follower.client_id()),
            1);
  std::printf(
      "[ figures  ] new leader %lld ms after the kill; its expirer, rescuer and inform "
      "scheduler done at %lld ms\n",
      static_cast<long long>(failover_ms), static_cast<long long>(elapsed_ms(killed_at)));
  EXPECT_EQ(follower.terminate(kStopTimeout), 0);
  // No two works of one resource overlapped, a work the kill cut short counted until then.
  check_attempts();
}

// ---- every session of the database cut ----------------------------------------------

// resources_process_pgtest on a PostgreSQL cluster of the test's own: the test process and
// the worker processes it spawns (which inherit its environment) connect there through
// DATABASE_URL, so that a test may terminate every session of the database but its own
// (those of application_name kApplicationName) without touching other tests.
class resources_process_pgtest_own_cluster : public resources_process_pgtest {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<Cluster>();
    if (const char* url = std::getenv("DATABASE_URL")) previous_url_ = url;
    ::setenv("DATABASE_URL", cluster_->conninfo().c_str(), 1);
    resources_process_pgtest::SetUp();
  }

  void TearDown() override {
    resources_process_pgtest::TearDown();
    if (previous_url_) {
      ::setenv("DATABASE_URL", previous_url_->c_str(), 1);
    } else {
      ::unsetenv("DATABASE_URL");
    }
    if (HasFailure() && cluster_) {
      std::fprintf(stderr, "server log (last lines):\n%s\n", cluster_->server_log().c_str());
    }
    cluster_.reset();
  }

  // Terminates every client session of the database but the test's own; how many.
  std::int64_t terminate_sessions() {
    return scalar(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND backend_type = 'client backend' "
        "AND pid <> pg_backend_pid() AND application_name <> $1",
        std::string(kApplicationName));
  }

 private:
  std::unique_ptr<Cluster> cluster_;
  std::optional<std::string> previous_url_;
};

TEST_F(resources_process_pgtest_own_cluster,
       TerminatedSessionsLoseNothingAndWorkNothingTwiceAtOnce) {
  constexpr int kResources = 20000;
  constexpr int kRounds = 5;
  // Every 4th resource changes (generation 2) after the second round.
  constexpr int kChangeEvery = 4;
  // A claim whose reply is lost leaves its resources pending under a live client: a short
  // lease (work timeout + stuck threshold, 2.5 s) lets the rescuer hand them out again
  // within seconds. The client TTL is long: heartbeats go through cut sessions too, and a
  // live client taken for dead has its work rescued (and stops it: the fence).
  const std::vector<std::string> args{
      "--kinds",           "item", "--parallelism",        "16",    "--max-workers",   "16",
      "--work-ms",         "2",    "--client-ttl-ms",      "10000", "--leader-ttl-ms", "3000",
      "--work-timeout-ms", "2000", "--stuck-threshold-ms", "500"};
  WorkerProcess& a = start_worker("cut-a", args);
  WorkerProcess& b = start_worker("cut-b", args);
  const auto started = Clock::now();
  ASSERT_NO_FATAL_FAILURE(inform_objects<Item>("r", kResources, 1));

  int rounds = 0;
  std::int64_t terminated = 0;
  bool changed = false;
  while (rounds < kRounds && synced() < kResources) {
    const auto cut = terminate_sessions();
    ++rounds;
    terminated += cut;
    EXPECT_GT(cut, 0) << "round " << rounds << " found no session of the workers";
    if (rounds == 2) {
      std::vector<Item> objects;
      for (int n = 0; n < kResources; n += kChangeEvery)
        objects.push_back(Item{"r" + std::to_string(n), 2});
      const auto result = informer_->inform_many(objects);
      ASSERT_EQ(result.changed, objects.size());
      changed = true;
    }
    // The workers recover: resources are synced again after their sessions were cut.
    const auto after_cut = synced();
    ASSERT_TRUE(poll_until(
        [&] {
          const auto done = synced();
          return done > after_cut + 100 || done == kResources;
        },
        10s, 20ms))
        << "no progress after termination round " << rounds << ": " << resource_states();
  }
  EXPECT_GE(rounds, 3) << "the resources were synced before the sessions were cut 3 times";
  ASSERT_TRUE(changed);

  // Nothing lost: every resource synced at its last generation, with its content.
  ASSERT_TRUE(poll_until(
      [&] {
        return scalar(
                   "SELECT count(*) FROM {s}.delta_resource WHERE state = 'synced' AND "
                   "lease_owner IS NULL AND (object->>'value')::bigint = generation") == kResources;
      },
      60s))
      << resource_states();
  std::printf(
      "[ figures  ] %d rounds of pg_terminate_backend cut %lld sessions; %d resources synced "
      "in %lld ms; %lld needed more than one attempt\n",
      rounds, static_cast<long long>(terminated), kResources,
      static_cast<long long>(elapsed_ms(started)),
      static_cast<long long>(scalar("SELECT count(*) FROM {s}.delta_resource WHERE attempt > 1")));
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_resource"), kResources);
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_resource WHERE generation = 2"),
            kResources / kChangeEvery);
  // A rescue here may only be of a claim whose reply was cut (its lease ran out): the
  // clients lived throughout, and were never taken for dead.
  std::string rescues;
  for (auto row :
       pool().exec(sql("SELECT r.object_id || ': ' || (e->>'error') FROM {s}.delta_resource r, "
                       "unnest(r.errors) e WHERE e->>'type' = 'rescue' AND e->>'error' NOT LIKE "
                       "'%its lease expired%' ORDER BY r.object_id LIMIT 5")))
    rescues += "\n  " + row.get<std::string>(0);
  EXPECT_TRUE(rescues.empty()) << "work of live clients rescued (first 5):" << rescues;

  // The logs: every resource's last finished work is of its generation, and it was worked
  // at that generation no more often than claimed (a claim cut before its reply shows in
  // the attempt count, which a change resets).
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> rows;  // generation, attempt
  for (auto row : pool().exec(sql("SELECT object_id, generation, attempt FROM {s}.delta_resource")))
    rows["item/" + row.get<std::string>(0)] = {row.get<std::int64_t>(1), row.get<std::int64_t>(2)};
  const auto finished = by_resource(work_records());
  EXPECT_EQ(finished.size(), static_cast<std::size_t>(kResources)) << "resources never worked";
  std::size_t bad = 0;
  std::string bad_summary;
  for (const auto& [key, list] : finished) {
    const auto row = rows.find(key);
    const auto works_of_generation =
        std::count_if(list.begin(), list.end(), [&](const WorkRecord& r) {
          return row != rows.end() && r.generation == row->second.first;
        });
    const bool ok = row != rows.end() && list.back().generation == row->second.first &&
                    works_of_generation <= row->second.second;
    if (!ok && ++bad <= 5) {
      bad_summary += fmt::format("\n  {} (row generation {}, attempt {}):{}", key,
                                 row == rows.end() ? -1 : row->second.first,
                                 row == rows.end() ? -1 : row->second.second, describe(list));
    }
  }
  EXPECT_EQ(bad, 0u) << "resources whose last work is not of their generation, or worked more "
                        "often than claimed (first 5):"
                     << bad_summary;

  // Both processes lived through it and stop cleanly.
  EXPECT_EQ(a.terminate(kStopTimeout), 0);
  EXPECT_EQ(b.terminate(kStopTimeout), 0);
  // No two works of one resource overlapped, counting the works the fence interrupted;
  // every work ended.
  std::size_t works = 0;
  for (const auto& [key, list] : check_attempts())
    works += list.size();
  std::size_t finished_works = 0;
  for (const auto& [key, list] : finished)
    finished_works += list.size();
  EXPECT_GE(works, finished_works) << "finished works missing from the attempt logs";
  std::printf("[ figures  ] %zu works finished, %zu interrupted\n", finished_works,
              works - finished_works);
}

}  // namespace

namespace {

// The records of `records` whose object id starts with `prefix`.
std::vector<WorkRecord> with_prefix(const std::vector<WorkRecord>& records,
                                    const std::string& prefix) {
  std::vector<WorkRecord> out;
  for (const auto& record : records) {
    if (record.object_id.rfind(prefix, 0) == 0) out.push_back(record);
  }
  return out;
}

}  // namespace

TEST_F(resources_process_pgtest, ThreeProcessesTogetherKeepTheKindsRateAndConcurrency) {
  // Defaults registered by the first process: 50 starts a second, 5 at once; each process
  // alone would run 8 at once without a rate.
  const std::vector<std::string> args{"--kinds",           "item", "--parallelism", "8",
                                      "--max-workers",     "8",    "--work-ms",     "40",
                                      "--max-concurrency", "5",    "--rate-count",  "50",
                                      "--rate-per-ms",     "1000", "--poll-ms",     "100"};
  start_worker("limit-a", args);
  start_worker("limit-b", args);
  start_worker("limit-c", args);
  constexpr int kResources = 500;  // ten seconds at 50/s
  ASSERT_NO_FATAL_FAILURE(inform_objects<Item>("r", kResources, 1));
  ASSERT_TRUE(poll_until([&] { return synced() == kResources; }, 60s)) << resource_states();
  auto all = work_records();
  auto first = with_prefix(all, "r");
  ASSERT_EQ(first.size(), static_cast<std::size_t>(kResources));
  std::set<long> pids;
  for (const auto& record : first)
    pids.insert(record.pid);
  EXPECT_EQ(pids.size(), 3u) << "every process worked some";
  const auto [begin, end] = std::minmax_element(
      first.begin(), first.end(),
      [](const WorkRecord& a, const WorkRecord& b) { return a.start_ns < b.start_ns; });
  const double span_s = static_cast<double>(end->start_ns - begin->start_ns) / 1e9;
  std::printf(
      "[ figures  ] 3 processes: %d starts over %.2f s, at most %d in a second, %d at once\n",
      kResources, span_s, most_starts_in(first, 1'000'000'000), most_at_once(first));
  // At most count + 1 in any window of `per` (one start of burst; see kRecordedStartBurst
  // under ThreadSanitizer), and never more than 5
  // at once, from the starts and ends the processes recorded.
  EXPECT_LE(most_starts_in(first, 1'000'000'000), 50 + kRecordedStartBurst);
  EXPECT_LE(most_at_once(first), 5);
  EXPECT_GE(span_s, (kResources - 1) / 50.0 - 0.1) << "faster than 50 a second";

  // An operator's override reaches every process within a poll interval: 2 at once, no
  // rate.
  delta::Admin admin(shared_pool(), {.schema = schema_name()});
  admin.set_kind_limits("item", {.max_concurrency = 2});
  std::this_thread::sleep_for(300ms);
  ASSERT_NO_FATAL_FAILURE(inform_objects<Item>("o", 120, 1));
  ASSERT_TRUE(poll_until([&] { return synced() == kResources + 120; }, 60s)) << resource_states();
  const auto overridden = with_prefix(work_records(), "o");
  EXPECT_EQ(overridden.size(), 120u);
  EXPECT_LE(most_at_once(overridden), 2);
  EXPECT_GE(most_at_once(overridden), 2) << "the override left fewer than 2 at once";

  // Cleared: the defaults again.
  admin.clear_kind_limits("item");
  std::this_thread::sleep_for(300ms);
  ASSERT_NO_FATAL_FAILURE(inform_objects<Item>("c", 100, 1));
  ASSERT_TRUE(poll_until([&] { return synced() == kResources + 220; }, 60s)) << resource_states();
  const auto cleared = with_prefix(work_records(), "c");
  EXPECT_EQ(cleared.size(), 100u);
  EXPECT_LE(most_at_once(cleared), 5);
  EXPECT_LE(most_starts_in(cleared, 1'000'000'000), 50 + kRecordedStartBurst);
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_resource WHERE attempt <> 1 OR "
                   "cardinality(errors) > 0"),
            0)
      << "held back is not failed: one attempt each, no error";
}
