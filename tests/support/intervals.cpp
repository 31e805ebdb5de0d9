#include "support/intervals.hpp"

#include <algorithm>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>

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
  const std::string line = fmt::format("{} {} {} {} {} {} {}\n", row.object_id, row.generation,
                                       start_ns, end_ns, ::getpid(), row.kind, row.attempt);
  std::lock_guard lock(mutex_);
  std::fputs(line.c_str(), file_);
  std::fflush(file_);
}

std::string describe(const WorkRecord& r) {
  return fmt::format("{}/{} gen {} attempt {} by pid {} [{} .. {}] ns", r.kind, r.object_id,
                     r.generation, r.attempt, r.pid, r.start_ns, r.end_ns);
}

std::string describe(const std::vector<WorkRecord>& records) {
  std::string out;
  for (const auto& record : records)
    out += " [" + describe(record) + "]";
  return out;
}

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

}  // namespace delta::testing
