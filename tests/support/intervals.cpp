#include "support/intervals.hpp"

#include <algorithm>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <tuple>

#include <fmt/format.h>
#include <unistd.h>

namespace delta::testing {

std::int64_t realtime_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

WorkLog::WorkLog(const std::string& path) : file_(std::fopen(path.c_str(), "w")) {
  if (file_ == nullptr) throw std::runtime_error("cannot open the work log " + path);
}

WorkLog::~WorkLog() {
  std::fclose(file_);
}

void WorkLog::record(const ResourceRow& row, std::int64_t start_ns, std::int64_t end_ns) {
  record(row.kind, row.object_id, row.generation, row.attempt, start_ns, end_ns);
}

void WorkLog::record(std::string_view kind, std::string_view object_id, std::int64_t generation,
                     int attempt, std::int64_t start_ns, std::int64_t end_ns) {
  write(fmt::format("{} {} {} {} {} {} {}\n", object_id, generation, start_ns, end_ns, ::getpid(),
                    kind, attempt));
}

void WorkLog::begin(std::string_view kind, std::string_view object_id, std::int64_t generation,
                    int attempt, std::int64_t start_ns) {
  write(fmt::format("{} {} {} - {} {} {}\n", object_id, generation, start_ns, ::getpid(), kind,
                    attempt));
}

void WorkLog::write(const std::string& line) {
  std::lock_guard lock(mutex_);
  std::fputs(line.c_str(), file_);
  std::fflush(file_);
}

LoggedWork::LoggedWork(WorkLog* log, std::string_view kind, std::string_view object_id,
                       std::int64_t generation, int attempt)
    : log_(log),
      kind_(kind),
      object_id_(object_id),
      generation_(generation),
      attempt_(attempt),
      start_ns_(realtime_ns()) {
  if (log_ != nullptr) log_->begin(kind_, object_id_, generation_, attempt_, start_ns_);
}

LoggedWork::LoggedWork(WorkLog* log, const ResourceRow& row)
    : LoggedWork(log, row.kind, row.object_id, row.generation, row.attempt) {}

LoggedWork::~LoggedWork() {
  if (log_ != nullptr)
    log_->record(kind_, object_id_, generation_, attempt_, start_ns_, realtime_ns());
}

std::string describe(const WorkRecord& r) {
  if (r.open && r.end_ns == WorkRecord::kOpenEnd) {
    return fmt::format("{}/{} gen {} attempt {} by pid {} [{} .. never ended] ns", r.kind,
                       r.object_id, r.generation, r.attempt, r.pid, r.start_ns);
  }
  return fmt::format("{}/{} gen {} attempt {} by pid {} [{} .. {}{}] ns", r.kind, r.object_id,
                     r.generation, r.attempt, r.pid, r.start_ns, r.end_ns,
                     r.open ? ", killed" : "");
}

std::string describe(const std::vector<WorkRecord>& records) {
  std::string out;
  for (const auto& record : records)
    out += " [" + describe(record) + "]";
  return out;
}

std::vector<std::string> read_work_log(const std::string& path, std::vector<WorkRecord>& out) {
  std::vector<std::string> malformed;
  // The works of this log still open: (kind, object id, pid, attempt, start) -> index.
  std::map<std::tuple<std::string, std::string, long, int, std::int64_t>, std::size_t> open;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    WorkRecord record;
    std::string end;
    std::string extra;
    if (!(fields >> record.object_id >> record.generation >> record.start_ns >> end >> record.pid >>
          record.kind >> record.attempt) ||
        (fields >> extra)) {
      malformed.push_back(line);
      continue;
    }
    const auto key =
        std::make_tuple(record.kind, record.object_id, record.pid, record.attempt, record.start_ns);
    if (end == "-") {
      record.open = true;
      record.end_ns = WorkRecord::kOpenEnd;
      if (!open.emplace(key, out.size()).second) {
        malformed.push_back(line);  // the same work begun twice
        continue;
      }
      out.push_back(std::move(record));
      continue;
    }
    std::size_t used = 0;
    try {
      record.end_ns = std::stoll(end, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != end.size() || record.end_ns < record.start_ns) {
      malformed.push_back(line);
      continue;
    }
    const auto begun = open.find(key);
    if (begun != open.end()) {
      out[begun->second] = std::move(record);  // the end of a work begun above
      open.erase(begun);
      continue;
    }
    out.push_back(std::move(record));
  }
  return malformed;
}

std::size_t end_open_work(std::vector<WorkRecord>& records, long pid, std::int64_t end_ns) {
  std::size_t ended = 0;
  for (auto& record : records) {
    if (!record.open || record.pid != pid || record.end_ns != WorkRecord::kOpenEnd) continue;
    record.end_ns = std::max(end_ns, record.start_ns);
    ++ended;
  }
  return ended;
}

WorkByResource by_resource(const std::vector<WorkRecord>& records) {
  WorkByResource grouped;
  for (const auto& record : records)
    grouped[record.kind + "/" + record.object_id].push_back(record);
  for (auto& [key, list] : grouped) {
    std::sort(list.begin(), list.end(),
              [](const WorkRecord& a, const WorkRecord& b) { return a.start_ns < b.start_ns; });
  }
  return grouped;
}

std::pair<std::size_t, std::string> overlapping_work(const WorkByResource& grouped,
                                                     std::size_t limit) {
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

int most_at_once(const std::vector<WorkRecord>& records, std::int64_t from_ns,
                 std::int64_t until_ns) {
  std::vector<std::pair<std::int64_t, int>> events;  // (instant, +1 a start or -1 an end)
  events.reserve(2 * records.size());
  for (const auto& record : records) {
    events.emplace_back(record.start_ns, 1);
    events.emplace_back(record.end_ns, -1);
  }
  // An end at the same instant as a start comes first.
  std::sort(events.begin(), events.end());
  int running = 0, most = 0;
  for (const auto& [at, change] : events) {
    running += change;
    if (change > 0 && at >= from_ns && at < until_ns) most = std::max(most, running);
  }
  return most;
}

int most_starts_in(const std::vector<WorkRecord>& records, std::int64_t window_ns) {
  std::vector<std::int64_t> starts;
  starts.reserve(records.size());
  for (const auto& record : records)
    starts.push_back(record.start_ns);
  std::sort(starts.begin(), starts.end());
  int most = 0;
  for (std::size_t i = 0, j = 0; i < starts.size(); ++i) {
    while (starts[i] - starts[j] >= window_ns)
      ++j;
    most = std::max(most, static_cast<int>(i - j + 1));
  }
  return most;
}

std::vector<WorkRecord> started_between(const std::vector<WorkRecord>& records,
                                        std::int64_t from_ns, std::int64_t until_ns) {
  std::vector<WorkRecord> out;
  for (const auto& record : records) {
    if (record.start_ns >= from_ns && record.start_ns < until_ns) out.push_back(record);
  }
  return out;
}

std::set<long> pids_of(const std::vector<WorkRecord>& records) {
  std::set<long> pids;
  for (const auto& record : records)
    pids.insert(record.pid);
  return pids;
}

std::int64_t start_span_ns(const std::vector<WorkRecord>& records) {
  if (records.empty()) return 0;
  const auto [first, last] = std::minmax_element(
      records.begin(), records.end(),
      [](const WorkRecord& a, const WorkRecord& b) { return a.start_ns < b.start_ns; });
  return last->start_ns - first->start_ns;
}

}  // namespace delta::testing
