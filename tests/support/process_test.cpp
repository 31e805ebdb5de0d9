#include "support/process_test.hpp"

#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include <delta/log.hpp>

namespace delta::testing {

ProcessTest::ProcessTest(std::string program, std::string schema_prefix)
    : program_(std::move(program)), schema_prefix_(std::move(schema_prefix)) {}

void ProcessTest::SetUp() {
  schema_ = std::make_unique<ScratchSchema>(
      schema_prefix_, SchemaStart::migrated,
      pg::PoolOptions{.max_connections = 4, .application_name = std::string(kApplicationName)});
}

void ProcessTest::TearDown() {
  workers_.clear();  // kills whatever still runs before its schema goes
  schema_.reset();
}

std::unique_ptr<Client> ProcessTest::idle_client() const {
  Config config;
  config.schema = schema_name();
  config.logger = stderr_logger(LogLevel::warn);
  return std::make_unique<Client>(shared_pool(), config);
}

std::string ProcessTest::state_counts(std::string_view table, std::string_view none) const {
  std::string summary;
  for (auto row : pool().exec(fmt::format(
           "SELECT state::text, count(*) FROM {} GROUP BY 1 ORDER BY 1", schema_->table(table)))) {
    summary += fmt::format("{}={} ", row.get<std::string>(0), row.get<std::int64_t>(1));
  }
  return summary.empty() ? std::string(none) : summary;
}

WorkerProcess& ProcessTest::start_worker(const std::string& client_id,
                                         std::vector<std::string> args) {
  args.insert(args.begin(), {"--schema", schema_name()});
  workers_.push_back(std::make_unique<WorkerProcess>(program_, client_id, args));
  WorkerProcess& worker = *workers_.back();
  if (!worker.wait_for_line("ready", kReadyTimeout)) {
    throw std::runtime_error(program_ + " " + client_id + " did not print \"ready\"");
  }
  return worker;
}

std::int64_t ProcessTest::kill_worker(WorkerProcess& worker) {
  worker.kill_hard();
  const std::int64_t killed_ns = realtime_ns();
  killed_ns_[worker.pid()] = killed_ns;
  return killed_ns;
}

WorkByResource ProcessTest::check_attempt_logs(const std::vector<std::string>& paths) {
  std::vector<WorkRecord> records;
  for (const auto& path : paths) {
    const auto malformed = read_work_log(path, records);
    EXPECT_TRUE(malformed.empty()) << path << ": " << malformed.size()
                                   << " malformed lines, first: \"" << malformed.front() << "\"";
  }
  for (const auto& [pid, killed_ns] : killed_ns_)
    end_open_work(records, pid, killed_ns);
  std::size_t never_ended = 0;
  std::string never_ended_summary;
  for (const auto& record : records) {
    if (!record.open || killed_ns_.contains(record.pid)) continue;
    if (++never_ended <= 5) never_ended_summary += " [" + describe(record) + "]";
  }
  EXPECT_EQ(never_ended, 0u) << "attempts of live or stopped processes that never ended:"
                             << never_ended_summary;
  auto grouped = by_resource(records);
  const auto [overlaps, overlap_summary] = overlapping_work(grouped);
  EXPECT_EQ(overlaps, 0u) << "overlapping attempts (first 5):" << overlap_summary;
  return grouped;
}

}  // namespace delta::testing
