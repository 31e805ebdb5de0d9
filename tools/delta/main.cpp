// The `delta` command: schema migrations and operator commands on a live database. A
// thin client of delta's public API; see docs/cli.md.
//
//   delta migrate up|down|status     schema migrations           (commands_migrate.cpp)
//   delta status                     the whole picture           (commands_overview.cpp)
//   delta resources ...              list, count, act on them    (commands_resources.cpp)
//   delta jobs ... / queues ...      the job queue               (commands_jobs.cpp)
//   delta controllers ...            kinds: list, inform, pause  (commands_overview.cpp)
//   delta namespaces|clients list                                (commands_overview.cpp)
//   delta ui                         the web dashboard           (commands_ui.cpp, ui/)
//
// Exit codes: 0 success, 1 runtime or database error, 2 usage error, 3 not found,
// 4 cannot connect to the database, 5 schema error (unmigrated or newer than this build).
#include <algorithm>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <delta/delta.hpp>

#include "cli.hpp"

namespace {

using namespace delta_cli;

// The rule delta::MigrateOptions::schema documents; checked here so a bad value is a
// usage error even when the database is unreachable.
std::string check_schema_name(std::string& value) {
  const bool valid = !value.empty() && value.size() <= 63 && !value.starts_with("pg_") &&
                     (value.front() == '_' || (value.front() >= 'a' && value.front() <= 'z')) &&
                     std::all_of(value.begin(), value.end(), [](char c) {
                       return c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
                     });
  return valid ? std::string()
               : "must match ^[a-z_][a-z0-9_]*$, be at most 63 characters and not start with pg_";
}

// Runs the chosen command, mapping what it throws to an exit code.
int run(const Action& action) {
  try {
    return action();
  } catch (const UsageError& e) {
    print_error(e.what());
    return kExitUsage;
  } catch (const delta::ValidationError& e) {
    print_error(e.what());
    return kExitUsage;
  } catch (const delta::ConfigError& e) {
    print_error(e.what());
    return kExitUsage;
  } catch (const delta::NotFound& e) {
    print_error(e.what());
    return kExitNotFound;
  } catch (const delta::SchemaError& e) {
    print_error(e.what());
    return kExitSchema;
  } catch (const delta::DatabaseError& e) {
    print_error(e.what());
    return e.kind() == delta::DatabaseErrorKind::connection ? kExitConnect : kExitRuntime;
  } catch (const std::exception& e) {
    print_error(e.what());
    return kExitRuntime;
  }
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
      "Exit codes: 0 success, 1 runtime or database error, 2 usage error, 3 not found,\n"
      "4 cannot connect to the database, 5 schema error (unmigrated, or newer than this "
      "build).");

  Cli cli;
  app.add_option("--database-url", cli.globals.database_url,
                 "libpq connection URI or key=value string; empty: libpq's PG* variables")
      ->envname("DATABASE_URL");
  app.add_option("--schema", cli.globals.schema, "PostgreSQL schema holding delta's tables")
      ->capture_default_str()
      ->check(CLI::Validator(check_schema_name, "SCHEMA"));

  add_overview_commands(app, cli);
  add_resource_commands(app, cli);
  add_job_commands(app, cli);
  add_migrate_commands(app, cli);
  add_ui_command(app, cli);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    print_error(e.what());
    fmt::print(stderr, "Run with --help for more information.\n");
    return kExitUsage;
  }
  if (!cli.action) {
    print_error("no command given");
    return kExitUsage;
  }
  return run(cli.action);
}
