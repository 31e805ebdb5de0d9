// A fixture for tests that spawn worker programs sharing a migrated schema of their own.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include <delta/client.hpp>
#include <delta/pg.hpp>

#include "support/intervals.hpp"
#include "support/pg_test.hpp"
#include "support/processes.hpp"

namespace delta::testing {

// SetUp makes the schema (a pool of 4 connections); TearDown kills every worker process
// still running, then drops the schema. A derived fixture that adds clients of its own
// resets them in its TearDown before calling this one's.
class ProcessTest : public ::testing::Test {
 public:
  // How long a worker program may take to print "ready", and to exit after SIGTERM.
  static constexpr std::chrono::milliseconds kReadyTimeout = std::chrono::seconds(15);
  static constexpr std::chrono::milliseconds kStopTimeout = std::chrono::seconds(20);
  // The application_name of the test's own connections (its pool, the clients on it), by
  // which a test that terminates sessions tells them from the worker processes'.
  static constexpr std::string_view kApplicationName = "delta_process_test";

 protected:
  // `program` is the worker program's path; `schema_prefix` starts the schema's name.
  ProcessTest(std::string program, std::string schema_prefix);

  void SetUp() override;
  void TearDown() override;

  ScratchSchema& schema() const { return *schema_; }
  pg::Pool& pool() const { return schema_->pool(); }
  const std::shared_ptr<pg::Pool>& shared_pool() const { return schema_->shared_pool(); }
  const std::string& schema_name() const { return schema_->name(); }
  // ScratchSchema::sql and ScratchSchema::scalar on this test's schema.
  std::string sql(std::string_view text) const { return schema_->sql(text); }
  template <class... Args>
  std::int64_t scalar(std::string_view text, const Args&... args) const {
    return schema_->scalar(text, args...);
  }
  // A client on this schema (logging warnings to stderr) that is never started: it
  // inserts, informs and reads, works nothing and never leads.
  std::unique_ptr<Client> idle_client() const;
  // eventually(), checking `condition` every `interval` (for conditions that cost a
  // query).
  static bool poll_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                         std::chrono::milliseconds interval = std::chrono::milliseconds(50)) {
    return eventually(condition, timeout, interval);
  }
  // "state=count ..." of the rows of `table` (in this schema) by state, or `none`.
  std::string state_counts(std::string_view table, std::string_view none) const;

  // Spawns the worker program with `--schema <this schema> <args...>` and waits until it
  // has printed "ready"; throws std::runtime_error if it does not within kReadyTimeout.
  // The process lives until the test ends unless the test stops or kills it.
  WorkerProcess& start_worker(const std::string& client_id, std::vector<std::string> args);
  // Every worker process started so far, in start order (killed ones too).
  const std::vector<std::unique_ptr<WorkerProcess>>& workers() const { return workers_; }

  // SIGKILLs `worker` if it still runs (WorkerProcess::kill_hard, which reaps it) and
  // notes realtime_ns() then: for check_attempt_logs, the attempts it left open end there
  // (a dead process works no more). Returns that moment.
  std::int64_t kill_worker(WorkerProcess& worker);

  // The checks of the attempt logs (support/intervals.hpp: a line as each attempt starts,
  // one as it ends) at `paths`: a malformed line fails the test; an attempt a process
  // killed by kill_worker left open runs until its kill; one any other process left open
  // fails the test (call it once every attempt of the live processes has ended); and no
  // two attempts of one object ("kind/object_id") overlap. Returns the attempts by object.
  WorkByResource check_attempt_logs(const std::vector<std::string>& paths);

 private:
  std::string program_;
  std::string schema_prefix_;
  std::unique_ptr<ScratchSchema> schema_;
  std::vector<std::unique_ptr<WorkerProcess>> workers_;
  std::map<long, std::int64_t> killed_ns_;  // pid -> realtime_ns() once killed and reaped
};

}  // namespace delta::testing
