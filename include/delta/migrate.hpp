// Schema migrations.
//
// delta keeps every table in one PostgreSQL schema (default "delta"). The migrations are
// compiled into the library; migrate() brings a database up to this build's version.
//
//   delta::migrate(*pool);                                   // all pending, idempotent
//   delta::migrate(*pool, {.direction = delta::MigrateDirection::down, .steps = 1});
//
// Concurrent migrators (several processes starting at once) serialise on an advisory
// lock; each run applies its migrations in one transaction, so a failure leaves the
// database at the version it started from.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <delta/pg.hpp>
#include <delta/time.hpp>

namespace delta {

enum class MigrateDirection { up, down };

struct MigrateOptions {
  // PostgreSQL schema holding delta's tables; created by the first migration if missing.
  // Must match ^[a-z_][a-z0-9_]*$ and be at most 63 characters.
  std::string schema = "delta";
  MigrateDirection direction = MigrateDirection::up;
  // Most migrations to apply (up) or revert (down). Unset: every pending one going up,
  // exactly one going down. Must be >= 1 when set.
  std::optional<int> steps;
};

struct MigrateResult {
  int version_before = 0;  // 0 = nothing applied
  int version_after = 0;
  std::vector<int> versions;  // applied (up) or reverted (down), in the order run
};

struct MigrationInfo {
  int version = 0;
  std::string name;
  bool applied = false;
  std::optional<Timestamp> applied_at;
};

// Applies or reverts migrations. Throws ConfigError for bad options, SchemaError when
// the database is newer than this build, DatabaseError for database failures (the
// whole run is rolled back).
MigrateResult migrate(pg::Pool& pool, const MigrateOptions& options = {});

// Every migration this build knows, plus any applied version it does not know (with
// an empty name), in version order.
std::vector<MigrationInfo> migration_status(pg::Pool& pool, std::string_view schema = "delta");

// The newest schema version this build knows.
int latest_schema_version() noexcept;

// The version the database is at (0 when delta's schema or migration table is missing).
int current_schema_version(pg::Pool& pool, std::string_view schema = "delta");

// Throws SchemaError unless the database is at exactly latest_schema_version(): the
// message says whether to run `delta migrate up` or to upgrade delta.
void check_schema(pg::Pool& pool, std::string_view schema = "delta");

}  // namespace delta
