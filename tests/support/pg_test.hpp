// Helpers for tests that need a live PostgreSQL (the libpq PG* environment, as set by
// pg_virtualenv, or DATABASE_URL), and for waiting on what such tests observe.
#pragma once

#include <chrono>
#include <cstdint>
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

// What a ScratchSchema holds once it is constructed.
enum class SchemaStart {
  empty,     // created, with nothing in it
  migrated,  // built by delta::migrate: delta's tables at the latest version
  absent,    // not created: the name is kept for a test that creates it itself
};

// A schema of its own for one test (unique_schema(prefix)), with a pool of its own (made
// with `options`); on destruction the schema is dropped with everything in it (a failure
// to drop it fails the test).
class ScratchSchema {
 public:
  explicit ScratchSchema(const std::string& prefix = "t", SchemaStart start = SchemaStart::empty,
                         pg::PoolOptions options = {});
  ~ScratchSchema();
  ScratchSchema(const ScratchSchema&) = delete;
  ScratchSchema& operator=(const ScratchSchema&) = delete;

  pg::Pool& pool() const { return *pool_; }
  // The same pool, to hand to a Client.
  const std::shared_ptr<pg::Pool>& shared_pool() const { return pool_; }
  const std::string& name() const { return schema_; }
  // `name` qualified with this test's schema.
  std::string table(std::string_view name) const;
  // count(*) of `name` (a table, or a table followed by a WHERE clause).
  std::int64_t count(std::string_view name) const;
  // `text` with every {s} replaced by the quoted schema name (fmt syntax: other braces
  // are doubled).
  std::string sql(std::string_view text) const;
  // The first column, as a bigint, of the one row sql(text) returns with `args`; throws
  // the pool's errors.
  template <class... Args>
  std::int64_t scalar(std::string_view text, const Args&... args) const {
    return pool_->exec(sql(text), args...).one().template get<std::int64_t>(0);
  }

 private:
  std::shared_ptr<pg::Pool> pool_;
  std::string schema_;
};

// Terminates server process `pid` from `pool` (pg_terminate_backend) and waits until the
// server has removed it; a fatal test failure if either does not happen.
void terminate_backend(pg::Pool& pool, std::int32_t pid);

// Polls `condition` every `interval` (a few milliseconds unless a test wants fewer,
// costlier checks) until it holds or `timeout` passes; whether it held at the last check.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(10),
                std::chrono::milliseconds interval = std::chrono::milliseconds(5));

// True if `condition` holds at every check (every 10 ms) for `window`: for what must not
// happen, watched after a positive signal proved the machinery ran.
bool consistently(const std::function<bool()>& condition, std::chrono::milliseconds window);

// Milliseconds on the steady clock from `since` until now.
std::int64_t elapsed_ms(std::chrono::steady_clock::time_point since);

// Whether `part` occurs in `text`.
bool contains(std::string_view text, std::string_view part);

}  // namespace delta::testing
