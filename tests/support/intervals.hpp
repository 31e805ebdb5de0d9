// Work intervals across processes: each worker process appends one line per finished
// work() call to a log of its own (WorkLog); the test reads the logs back and checks that
// no resource was worked by two processes at overlapping times.
//
// One line per finished work() call, fields separated by one space:
//   <object_id> <generation> <start_ns> <end_ns> <pid> <kind> <attempt>
// start_ns / end_ns are CLOCK_REALTIME nanoseconds, comparable between processes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <delta/resource.hpp>

namespace delta::testing {

// CLOCK_REALTIME in nanoseconds since the epoch.
std::int64_t realtime_ns();

// A work log being written: one line per finished work() call, written and flushed
// under a lock (so a SIGKILLed process leaves a record of exactly the work it finished).
// Thread-safe.
class WorkLog {
 public:
  // Creates (or truncates) the file at `path`; throws std::runtime_error if it cannot.
  explicit WorkLog(const std::string& path);
  ~WorkLog();
  WorkLog(const WorkLog&) = delete;
  WorkLog& operator=(const WorkLog&) = delete;

  // Appends the line of `row`'s work from `start_ns` to `end_ns` by this process.
  void record(const ResourceRow& row, std::int64_t start_ns, std::int64_t end_ns);

 private:
  std::mutex mutex_;
  std::FILE* file_;
};

// One finished work() call, as read back from a work log.
struct WorkRecord {
  std::string object_id;
  std::int64_t generation = 0;
  std::int64_t start_ns = 0;
  std::int64_t end_ns = 0;
  long pid = 0;
  std::string kind;
  int attempt = 0;
};

// "kind/object_id gen G attempt A by pid P [start .. end] ns", for failure messages.
std::string describe(const WorkRecord& record);
// " [describe(r)]" for each of `records`.
std::string describe(const std::vector<WorkRecord>& records);

// Appends the records of the work log at `path` to `out`; returns the lines that did not
// parse (a missing file has none).
std::vector<std::string> read_work_log(const std::string& path, std::vector<WorkRecord>& out);

// Per resource ("kind/object_id"), its work records ordered by start.
using WorkByResource = std::map<std::string, std::vector<WorkRecord>>;
WorkByResource by_resource(const std::vector<WorkRecord>& records);

// How many pairs of work intervals of one resource overlap, and a description of the
// first `limit` of them.
std::pair<std::size_t, std::string> overlapping_work(const WorkByResource& grouped,
                                                     std::size_t limit = 5);

}  // namespace delta::testing
