// Helpers for tests that need a live PostgreSQL (the libpq PG* environment, as set by
// pg_virtualenv, or DATABASE_URL).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <delta/pg.hpp>

namespace delta::testing {

// The database URL for tests: DATABASE_URL if set, else "" (libpq's PG* environment).
std::string database_url();

// A fresh pool on the test database.
std::shared_ptr<pg::Pool> make_pool(pg::PoolOptions options = {});

// A schema name unique to this process and call ("t_<pid>_<n>"), so tests can run in
// parallel against one database. drop_schema removes it with everything in it.
std::string unique_schema(const std::string& prefix = "t");
void drop_schema(pg::Pool& pool, const std::string& schema);

// A schema of its own for one test, created on construction and dropped (with
// everything in it) on destruction.
class ScratchSchema {
 public:
  explicit ScratchSchema(const std::string& prefix = "t");
  ~ScratchSchema();
  ScratchSchema(const ScratchSchema&) = delete;
  ScratchSchema& operator=(const ScratchSchema&) = delete;

  pg::Pool& pool() const { return *pool_; }
  const std::string& name() const { return schema_; }
  // `name` qualified with this test's schema.
  std::string table(std::string_view name) const;
  std::int64_t count(std::string_view name) const;

 private:
  std::shared_ptr<pg::Pool> pool_;
  std::string schema_;
};

// Polls `condition` every few milliseconds until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace delta::testing
