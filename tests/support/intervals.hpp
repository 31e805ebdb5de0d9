// Work intervals across processes: each worker process appends one line per finished
// work() call to a log of its own (WorkLog); the test reads the logs back and checks that
// no resource was worked by two processes at overlapping times.
//
// One line per finished work() call, fields separated by one space:
//   <object_id> <generation> <start_ns> <end_ns> <pid> <kind> <attempt>
// start_ns / end_ns are CLOCK_REALTIME nanoseconds, comparable between processes. A log
// may also hold a line for a work as it starts, with "-" for its end (WorkLog::begin): the
// work is open (started, not ended) until a line of the same work (kind, object id, pid,
// attempt and start) with its end follows; a process killed during a work leaves it open.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <delta/resource.hpp>

namespace delta::testing {

// CLOCK_REALTIME in nanoseconds since the epoch.
std::int64_t realtime_ns();

// A work log being written: one line per finished work() call (and, with begin(), one as
// it starts), written and flushed under a lock (so a SIGKILLed process leaves a record of
// exactly the work it finished, and started). Thread-safe.
class WorkLog {
 public:
  // Creates (or truncates) the file at `path`; throws std::runtime_error if it cannot.
  explicit WorkLog(const std::string& path);
  ~WorkLog();
  WorkLog(const WorkLog&) = delete;
  WorkLog& operator=(const WorkLog&) = delete;

  // Appends the line of `row`'s work from `start_ns` to `end_ns` by this process.
  void record(const ResourceRow& row, std::int64_t start_ns, std::int64_t end_ns);
  // The same for work on `object_id` of `kind` (a job: its id and kind, generation 1).
  void record(std::string_view kind, std::string_view object_id, std::int64_t generation,
              int attempt, std::int64_t start_ns, std::int64_t end_ns);
  // Appends the line of that work as it starts at `start_ns` (its end "-"); its record()
  // line, with the same start, ends it.
  void begin(std::string_view kind, std::string_view object_id, std::int64_t generation,
             int attempt, std::int64_t start_ns);

 private:
  void write(const std::string& line);

  std::mutex mutex_;
  std::FILE* file_;
};

// One work written to a WorkLog while it runs: its start line (WorkLog::begin) when made,
// its end line (WorkLog::record, the same start) when destroyed, however the work ends (a
// return or an exception). A process killed in between leaves the work open in the log.
// With a null log it writes nothing. Not thread-safe (one work, one thread).
class LoggedWork {
 public:
  LoggedWork(WorkLog* log, std::string_view kind, std::string_view object_id,
             std::int64_t generation, int attempt);
  // The work of `row` (its kind, object id, generation and attempt).
  LoggedWork(WorkLog* log, const ResourceRow& row);
  ~LoggedWork();
  LoggedWork(const LoggedWork&) = delete;
  LoggedWork& operator=(const LoggedWork&) = delete;

  // realtime_ns() when the work started, as its start line says.
  std::int64_t start_ns() const { return start_ns_; }

 private:
  WorkLog* log_;
  std::string kind_;
  std::string object_id_;
  std::int64_t generation_;
  int attempt_;
  std::int64_t start_ns_;
};

// One work() call, as read back from a work log: finished, or open (started, not ended).
struct WorkRecord {
  // The end of an open work: it may still run, so it overlaps every later work.
  static constexpr std::int64_t kOpenEnd = INT64_MAX;

  std::string object_id;
  std::int64_t generation = 0;
  std::int64_t start_ns = 0;
  std::int64_t end_ns = 0;  // kOpenEnd while open, unless end_open_work set when it stopped
  bool open = false;        // its log has its start and no end
  long pid = 0;
  std::string kind;
  int attempt = 0;
};

// "kind/object_id gen G attempt A by pid P [start .. end] ns", for failure messages.
std::string describe(const WorkRecord& record);
// " [describe(r)]" for each of `records`.
std::string describe(const std::vector<WorkRecord>& records);

// Appends the records of the work log at `path` to `out`, one per work (a start line and
// the end line of the same work are one record); returns the lines that did not parse (a
// missing file has none).
std::vector<std::string> read_work_log(const std::string& path, std::vector<WorkRecord>& out);

// Gives the open works of process `pid` the end `end_ns` (the process was dead by then: a
// realtime_ns() taken once it was killed and reaped); they stay open. Returns how many.
std::size_t end_open_work(std::vector<WorkRecord>& records, long pid, std::int64_t end_ns);

// Per resource ("kind/object_id"), its work records ordered by start.
using WorkByResource = std::map<std::string, std::vector<WorkRecord>>;
WorkByResource by_resource(const std::vector<WorkRecord>& records);

// How many pairs of work intervals of one resource overlap, and a description of the
// first `limit` of them.
std::pair<std::size_t, std::string> overlapping_work(const WorkByResource& grouped,
                                                     std::size_t limit = 5);

// Flow limits, from the records of every process (the works of a kind or a job queue):

// The most works of `records` running at one moment, over the starts in [from_ns, until_ns)
// (every start by default): at each such start, the works running then, it and those that
// began before it too. An end at the instant of a start comes before it.
int most_at_once(const std::vector<WorkRecord>& records, std::int64_t from_ns = INT64_MIN,
                 std::int64_t until_ns = INT64_MAX);

// The most starts of `records` in any window of `window_ns`.
int most_starts_in(const std::vector<WorkRecord>& records, std::int64_t window_ns);

// How many starts beyond its count a rate limit lets the workers record in a window of its
// `per`: one, the limiter's burst. Under ThreadSanitizer two: its instrumented worker
// threads wake for their start up to tens of milliseconds late (more than the 2% the
// limiter spaces starts wider), so a start recorded late can land in the window of the
// starts after it.
#if defined(__SANITIZE_THREAD__)
inline constexpr int kRecordedStartBurst = 2;
#else
inline constexpr int kRecordedStartBurst = 1;
#endif

// The records of `records` that start in [from_ns, until_ns).
std::vector<WorkRecord> started_between(const std::vector<WorkRecord>& records,
                                        std::int64_t from_ns, std::int64_t until_ns);

// The processes (pids) of `records`.
std::set<long> pids_of(const std::vector<WorkRecord>& records);

// The time from the first start of `records` to the last, in nanoseconds (0 for none).
std::int64_t start_span_ns(const std::vector<WorkRecord>& records);

}  // namespace delta::testing
