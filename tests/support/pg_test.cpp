#include "support/pg_test.hpp"

#include <atomic>
#include <cstdlib>
#include <thread>

#include <gtest/gtest.h>
#include <unistd.h>

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
  pool.exec("DROP SCHEMA IF EXISTS \"" + schema + "\" CASCADE");
}

ScratchSchema::ScratchSchema(const std::string& prefix)
    : pool_(make_pool()), schema_(unique_schema(prefix)) {
  pool_->exec("CREATE SCHEMA \"" + schema_ + "\"");
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

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

}  // namespace delta::testing
