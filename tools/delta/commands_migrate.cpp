// delta migrate up | down | status
#include <algorithm>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <delta/migrate.hpp>

#include "cli.hpp"
#include "output.hpp"

namespace delta_cli {

namespace {

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

int run_status(const GlobalOptions& options, Format format) {
  auto pool = connect(options);
  const auto status = delta::migration_status(*pool, options.schema);
  const int latest = delta::latest_schema_version();

  std::size_t pending = 0;
  int version = 0;
  Table table({{"VERSION"}, {"NAME"}, {"STATE"}, {"APPLIED AT"}});
  auto migrations = Json::array();
  for (const auto& info : status) {
    if (info.applied) version = std::max(version, info.version);
    if (!info.applied) ++pending;
    table.add({fmt::format("{:04}", info.version),
               info.name.empty() ? std::string("(unknown to this build)") : info.name,
               info.applied ? "applied" : "pending",
               info.applied_at ? rfc3339(*info.applied_at) : std::string("-")});
    migrations.push_back({{"version", info.version},
                          {"name", info.name.empty() ? Json(nullptr) : Json(info.name)},
                          {"applied", info.applied},
                          {"applied_at", json_time(info.applied_at)}});
  }
  if (format == Format::json) {
    print_json({{"schema", options.schema},
                {"version", version},
                {"latest_version", latest},
                {"pending", pending},
                {"migrations", std::move(migrations)}});
  } else {
    fmt::print("{}\nschema {}: version {} of {} ({} pending)\n", table.render(), options.schema,
               version, latest, pending);
  }
  // A database newer than this build is an error the operator must act on.
  if (version > latest) delta::check_schema(*pool, options.schema);
  return kExitOk;
}

}  // namespace

void add_migrate_commands(CLI::App& app, Cli& cli) {
  auto* migrate = add_group(app, "migrate", "Apply, revert or list schema migrations");

  auto up_steps = std::make_shared<int>(0);
  auto* up = add_command(*migrate, "up", "Apply pending migrations (all of them by default)");
  auto* up_steps_option =
      up->add_option("--steps", *up_steps, "Apply at most N migrations")->check(at_least_one());
  on_run(up, cli, [&cli, up_steps, up_steps_option] {
    return run_migrate(cli.globals, delta::MigrateDirection::up,
                       up_steps_option->count() > 0 ? std::optional<int>(*up_steps) : std::nullopt);
  });

  auto down_steps = std::make_shared<int>(1);
  auto* down = add_command(*migrate, "down", "Revert the newest migrations (one by default)");
  down->add_option("--steps", *down_steps, "Revert N migrations")
      ->capture_default_str()
      ->check(at_least_one());
  on_run(down, cli, [&cli, down_steps] {
    return run_migrate(cli.globals, delta::MigrateDirection::down, *down_steps);
  });

  auto format = std::make_shared<Format>(Format::table);
  auto* status = add_command(*migrate, "status", "List migrations and the database's version");
  add_output_option(status, *format);
  on_run(status, cli, [&cli, format] { return run_status(cli.globals, *format); });
}

}  // namespace delta_cli
