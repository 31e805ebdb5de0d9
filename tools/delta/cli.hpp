// What the commands of `delta` share: the global options, exit codes, how a command is
// declared and run, and the connection to the database.
#pragma once

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <delta/admin.hpp>
#include <delta/pg.hpp>

#include "output.hpp"

namespace delta_cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitRuntime = 1,
  kExitUsage = 2,
  kExitNotFound = 3,
  kExitConnect = 4,
  kExitSchema = 5,
};

// A bad command line found after parsing (an unknown state, a filter missing): exit 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Settings shared by every command.
struct GlobalOptions {
  std::string database_url;  // empty: libpq's PG* environment
  std::string schema = "delta";
};

// What the command line chose, run by main once parsing succeeded.
using Action = std::function<int()>;

struct Cli {
  GlobalOptions globals;
  Action action;
};

// A subcommand of `parent` that lets the global options follow it.
CLI::App* add_command(CLI::App& parent, const std::string& name, const std::string& description);
// A command whose subcommands do the work (`delta resources ...`): one of them is required.
CLI::App* add_group(CLI::App& parent, const std::string& name, const std::string& description);
// Makes `action` what runs when `command` is the one given.
void on_run(CLI::App* command, Cli& cli, Action action);
// --output table|json.
void add_output_option(CLI::App* command, Format& format);
// A repeatable option that also takes comma-separated values (--kind a,b --kind c).
CLI::Option* add_list_option(CLI::App* command, const std::string& name,
                             std::vector<std::string>& values, const std::string& description);
// Accepts whole numbers >= 1.
CLI::Validator at_least_one();

// A pool of at most two connections (application_name delta-cli).
std::shared_ptr<delta::pg::Pool> connect(const GlobalOptions& options);
// An Admin on a database whose schema is at this build's version (SchemaError otherwise).
std::unique_ptr<delta::Admin> open_admin(const GlobalOptions& options);

// What `pause NAME` and `resume NAME` act on (a queue, a kind).
struct PauseTarget {
  std::string what;  // "queue", "kind"
  std::string pause_description;
  std::string resume_description;
  // Whether `name` is known; pausing an unknown one is allowed, with a note (maybe a typo).
  std::function<bool(delta::Admin&, const std::string& name)> known;
  std::function<void(delta::Admin&, const std::string& name, bool pause)> set;
};
// `pause NAME` and `resume NAME` under `group`; each prints "paused <what> NAME".
void add_pause_commands(CLI::App& group, Cli& cli, const PauseTarget& target);

struct LimitTarget {
  std::string what;     // "kind", "namespace", "queue"
  std::string command;  // "controllers", "namespaces", "queues"
  // The scope's limits; throws delta::NotFound when it is unknown.
  std::function<delta::LimitsInfo(delta::Admin&, const std::string& name)> get;
  std::function<void(delta::Admin&, const std::string& name, const delta::FlowLimits&)> set;
  std::function<void(delta::Admin&, const std::string& name)> clear;
};
// `limit NAME [--rate R] [--concurrency N] [--clear]` under `group`: without options
// prints the limits; with --rate/--concurrency overrides them (what is not given stays as
// it is in force; `none`: no limit); --clear drops the override.
void add_limit_command(CLI::App& group, Cli& cli, const LimitTarget& target);

// Prints "delta: error: <message>" to standard error.
void print_error(const std::string& message);

// The commands, by group.
void add_migrate_commands(CLI::App& app, Cli& cli);
void add_resource_commands(CLI::App& app, Cli& cli);
void add_job_commands(CLI::App& app, Cli& cli);
// status, controllers, namespaces, clients.
void add_overview_commands(CLI::App& app, Cli& cli);
// ui: the web dashboard (or a note that this build has none).
void add_ui_command(CLI::App& app, Cli& cli);

}  // namespace delta_cli
