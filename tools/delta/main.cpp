// The `delta` command: schema migrations (and, later, operator commands) on a live
// database. A thin client of delta's public API; see docs/cli.md.
//
//   delta migrate up [--steps N]      apply pending migrations (all by default)
//   delta migrate down [--steps N]    revert the newest migrations (one by default)
//   delta migrate status              list migrations and the database's version
//
// Exit codes: 0 success, 1 runtime or database error, 2 usage error, 3 schema error
// (unmigrated or newer than this build), 4 cannot connect to the database.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <delta/delta.hpp>

namespace {

enum ExitCode : int {
  kExitOk = 0,
  kExitRuntime = 1,
  kExitUsage = 2,
  kExitSchema = 3,
  kExitConnect = 4,
};

// Settings shared by every subcommand.
struct GlobalOptions {
  std::string database_url;  // empty: libpq's PG* environment
  std::string schema = "delta";
};

// 2026-11-28T00:27:28.123456Z
std::string iso8601(delta::Timestamp time) {
  const auto day = std::chrono::floor<std::chrono::days>(time);
  const std::chrono::year_month_day date{day};
  const std::chrono::hh_mm_ss clock{time - day};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                     clock.hours().count(), clock.minutes().count(), clock.seconds().count(),
                     clock.subseconds().count());
}

std::shared_ptr<delta::pg::Pool> connect(const GlobalOptions& options) {
  return delta::pg::Pool::create(options.database_url,
                                 {.max_connections = 2, .application_name = "delta-cli"});
}

std::string migration_name(const std::vector<delta::MigrationInfo>& status, int version) {
  auto found = std::find_if(status.begin(), status.end(), [&](const delta::MigrationInfo& info) {
    return info.version == version;
  });
  return found == status.end() || found->name.empty() ? std::string("?") : found->name;
}

int run_migrate(const GlobalOptions& options, delta::MigrateDirection direction,
                std::optional<int> steps) {
  auto pool = connect(options);
  const auto result =
      delta::migrate(*pool, {.schema = options.schema, .direction = direction, .steps = steps});
  const bool up = direction == delta::MigrateDirection::up;
  if (result.versions.empty()) {
    fmt::print("schema {}: at version {}, nothing to {}\n", options.schema, result.version_after,
               up ? "apply" : "revert");
    return kExitOk;
  }
  const auto status = delta::migration_status(*pool, options.schema);
  for (int version : result.versions) {
    fmt::print("{} {:04} {}\n", up ? "applied " : "reverted", version,
               migration_name(status, version));
  }
  fmt::print("schema {}: version {} -> {}\n", options.schema, result.version_before,
             result.version_after);
  return kExitOk;
}

int run_status(const GlobalOptions& options) {
  auto pool = connect(options);
  const auto status = delta::migration_status(*pool, options.schema);
  const int latest = delta::latest_schema_version();

  struct Line {
    std::string version, name, state, applied_at;
  };
  std::vector<Line> lines{{"VERSION", "NAME", "STATE", "APPLIED AT"}};
  std::size_t pending = 0;
  int version = 0;
  for (const auto& info : status) {
    if (info.applied) version = std::max(version, info.version);
    if (!info.applied) ++pending;
    lines.push_back({fmt::format("{:04}", info.version),
                     info.name.empty() ? std::string("(unknown to this build)") : info.name,
                     info.applied ? "applied" : "pending",
                     info.applied_at ? iso8601(*info.applied_at) : std::string("-")});
  }
  std::size_t version_width = 0, name_width = 0, state_width = 0;
  for (const auto& line : lines) {
    version_width = std::max(version_width, line.version.size());
    name_width = std::max(name_width, line.name.size());
    state_width = std::max(state_width, line.state.size());
  }
  for (const auto& line : lines) {
    fmt::print("{:<{}}  {:<{}}  {:<{}}  {}\n", line.version, version_width, line.name, name_width,
               line.state, state_width, line.applied_at);
  }
  fmt::print("\nschema {}: version {} of {} ({} pending)\n", options.schema, version, latest,
             pending);
  // A database newer than this build is an error the operator must act on.
  if (version > latest) delta::check_schema(*pool, options.schema);
  return kExitOk;
}

// Accepts whole numbers >= 1.
CLI::Validator at_least_one() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        int number = 0;
        if (!CLI::detail::lexical_cast(value, number) || number < 1) {
          return "must be a whole number, at least 1";
        }
        return {};
      },
      "");
}

void error(const std::string& message) {
  fmt::print(stderr, "delta: error: {}\n", message);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"delta: keep a PostgreSQL database in step with outside systems.", "delta"};
  app.set_version_flag("--version", fmt::format("delta {} (schema version {})", delta::kVersion,
                                                delta::latest_schema_version()));
  app.require_subcommand(1);
  app.fallthrough();
  app.footer(
      "Global options (--database-url, --schema) may also follow a subcommand.\n"
      "Exit codes: 0 success, 1 runtime or database error, 2 usage error, 3 schema error\n"
      "(unmigrated, or newer than this build), 4 cannot connect to the database.");

  GlobalOptions options;
  app.add_option("--database-url", options.database_url,
                 "libpq connection URI or key=value string; empty: libpq's PG* variables")
      ->envname("DATABASE_URL");
  app.add_option("--schema", options.schema, "PostgreSQL schema holding delta's tables")
      ->capture_default_str()
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            // The rule delta::MigrateOptions::schema documents; checked here so a bad value
            // is a usage error even when the database is unreachable.
            const bool valid =
                !value.empty() && value.size() <= 63 && !value.starts_with("pg_") &&
                (value.front() == '_' || (value.front() >= 'a' && value.front() <= 'z')) &&
                std::all_of(value.begin(), value.end(), [](char c) {
                  return c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
                });
            return valid ? std::string()
                         : "must match ^[a-z_][a-z0-9_]*$, be at most 63 characters and not "
                           "start with pg_";
          },
          "SCHEMA"));

  auto* migrate = app.add_subcommand("migrate", "Apply, revert or list schema migrations");
  migrate->require_subcommand(1);
  migrate->fallthrough();

  int up_steps = 0;
  auto* up = migrate->add_subcommand("up", "Apply pending migrations (all of them by default)");
  auto* up_steps_option =
      up->add_option("--steps", up_steps, "Apply at most N migrations")->check(at_least_one());
  up->fallthrough();

  int down_steps = 1;
  auto* down = migrate->add_subcommand("down", "Revert the newest migrations (one by default)");
  down->add_option("--steps", down_steps, "Revert N migrations")
      ->capture_default_str()
      ->check(at_least_one());
  down->fallthrough();

  auto* status = migrate->add_subcommand("status", "List migrations and the database's version");
  status->fallthrough();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    error(e.what());
    fmt::print(stderr, "Run with --help for more information.\n");
    return kExitUsage;
  }

  try {
    if (*up) {
      return run_migrate(
          options, delta::MigrateDirection::up,
          up_steps_option->count() > 0 ? std::optional<int>(up_steps) : std::nullopt);
    }
    if (*down) return run_migrate(options, delta::MigrateDirection::down, down_steps);
    if (*status) return run_status(options);
    error("no command given");
    return kExitUsage;
  } catch (const delta::SchemaError& e) {
    error(e.what());
    return kExitSchema;
  } catch (const delta::ConfigError& e) {
    error(e.what());
    return kExitUsage;
  } catch (const delta::DatabaseError& e) {
    error(e.what());
    return e.kind() == delta::DatabaseErrorKind::connection ? kExitConnect : kExitRuntime;
  } catch (const std::exception& e) {
    error(e.what());
    return kExitRuntime;
  }
}
