#include "support/pg_test.hpp"

#include <atomic>
#include <cstdlib>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <delta/migrate.hpp>

namespace delta::testing {

std::string database_url() {
  const char* url = std::getenv("DATABASE_URL");
  return url != nullptr ? std::string(url) : std::string();
}

std::shared_ptr<pg::Pool> make_pool(pg::PoolOptions options) {
  if (options.application_name == "delta") options.application_name = "delta-test";
  return pg::Pool::create(database_url(), std::move(options));
}

std::string unique_schema(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
}

void drop_schema(pg::Pool& pool, const std::string& schema) {
  // The backend of a process a test SIGKILLed may still hold locks on the schema's tables
  // until it notices its client is gone; a DROP that deadlocks with it is run again.
  for (int attempt = 1;; ++attempt) {
    try {
      pool.exec("DROP SCHEMA IF EXISTS \"" + schema + "\" CASCADE");
      return;
    } catch (const DatabaseError& e) {
      if (e.kind() != DatabaseErrorKind::retryable || attempt == 5) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt));
    }
  }
}

ScratchSchema::ScratchSchema(const std::string& prefix, SchemaStart start, pg::PoolOptions options)
    : pool_(make_pool(std::move(options))), schema_(unique_schema(prefix)) {
  switch (start) {
    case SchemaStart::empty:
      pool_->exec("CREATE SCHEMA \"" + schema_ + "\"");
      break;
    case SchemaStart::migrated:
      delta::migrate(*pool_, {.schema = schema_});
      break;
    case SchemaStart::absent:
      break;
  }
}

ScratchSchema::~ScratchSchema() {
  try {
    drop_schema(*pool_, schema_);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "dropping schema " << schema_ << ": " << e.what();
  }
}

std::string ScratchSchema::table(std::string_view name) const {
  return "\"" + schema_ + "\"." + std::string(name);
}

std::int64_t ScratchSchema::count(std::string_view name) const {
  return pool_->exec("SELECT count(*) FROM " + table(name)).one().get<std::int64_t>(0);
}

std::string ScratchSchema::sql(std::string_view text) const {
  return fmt::format(fmt::runtime(text), fmt::arg("s", "\"" + schema_ + "\""));
}

void terminate_backend(pg::Pool& pool, std::int32_t pid) {
  ASSERT_TRUE(pool.exec("SELECT pg_terminate_backend($1)", pid).one().get<bool>(0));
  ASSERT_TRUE(eventually([&] {
    return pool.exec("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid)
               .one()
               .get<std::int64_t>(0) == 0;
  }));
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(interval);
  }
  return condition();
}

bool consistently(const std::function<bool()>& condition, std::chrono::milliseconds window) {
  const auto deadline = std::chrono::steady_clock::now() + window;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!condition()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

std::int64_t elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               since)
      .count();
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

}  // namespace delta::testing
