#include "cli.hpp"

#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include <fmt/format.h>

#include <delta/errors.hpp>
#include <delta/migrate.hpp>

namespace delta_cli {

CLI::App* add_command(CLI::App& parent, const std::string& name, const std::string& description) {
  auto* command = parent.add_subcommand(name, description);
  command->fallthrough();
  return command;
}

CLI::App* add_group(CLI::App& parent, const std::string& name, const std::string& description) {
  auto* group = add_command(parent, name, description);
  group->require_subcommand(1);
  return group;
}

void on_run(CLI::App* command, Cli& cli, Action action) {
  command->callback([&cli, action = std::move(action)] { cli.action = action; });
}

void add_output_option(CLI::App* command, Format& format) {
  command
      ->add_option_function<std::string>(
          "-o,--output",
          [&format](const std::string& value) {
            format = value == "json" ? Format::json : Format::table;
          },
          "Output format: table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->type_name("FORMAT")
      ->default_str("table");
}

CLI::Option* add_list_option(CLI::App* command, const std::string& name,
                             std::vector<std::string>& values, const std::string& description) {
  return command->add_option(name, values, description)->delimiter(',')->allow_extra_args(false);
}

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

std::shared_ptr<delta::pg::Pool> connect(const GlobalOptions& options) {
  return delta::pg::Pool::create(options.database_url,
                                 {.max_connections = 2, .application_name = "delta-cli"});
}

std::unique_ptr<delta::Admin> open_admin(const GlobalOptions& options) {
  auto pool = connect(options);
  delta::check_schema(*pool, options.schema);
  return std::make_unique<delta::Admin>(std::move(pool),
                                        delta::AdminOptions{.schema = options.schema});
}

void add_pause_commands(CLI::App& group, Cli& cli, const PauseTarget& target) {
  for (const bool pause : {true, false}) {
    auto name = std::make_shared<std::string>();
    auto* command = add_command(group, pause ? "pause" : "resume",
                                pause ? target.pause_description : target.resume_description);
    command->add_option(target.what, *name, "The " + target.what)->required();
    on_run(command, cli, [&cli, name, pause, target] {
      auto admin = open_admin(cli.globals);
      if (!target.known(*admin, *name)) {
        fmt::print(stderr, "delta: note: no {} {} is known\n", target.what, *name);
      }
      target.set(*admin, *name, pause);
      fmt::print("{} {} {}\n", pause ? "paused" : "resumed", target.what, *name);
      return kExitOk;
    });
  }
}

void add_limit_command(CLI::App& group, Cli& cli, const LimitTarget& target) {
  struct Args {
    std::string name;
    std::optional<std::string> rate;
    std::optional<std::string> concurrency;
    bool clear = false;
    Format format = Format::table;
  };
  auto args = std::make_shared<Args>();
  auto* command = add_command(
      group, "limit",
      fmt::format("Show or override the flow limits of a {} in every process", target.what));
  command->add_option(target.what, args->name, "The " + target.what)->required();
  auto* rate = command->add_option("--rate", args->rate,
                                   "Work starts per interval: 50/s, 100/500ms, 600/1m, or none");
  auto* concurrency =
      command->add_option("--concurrency", args->concurrency,
                          target.what == "queue" ? "Jobs running at once in all processes (or none)"
                                                 : "Claimed at once in all processes (or none)");
  command->add_flag("--clear", args->clear, "Drop the override: the defaults are in force again")
      ->excludes(rate)
      ->excludes(concurrency);
  add_output_option(command, args->format);
  on_run(command, cli, [&cli, args, target] {
    auto admin = open_admin(cli.globals);
    const bool change = args->rate || args->concurrency;
    if (args->clear) {
      target.clear(*admin, args->name);
    } else if (change) {
      delta::FlowLimits limits = target.get(*admin, args->name).in_force;
      if (args->rate) limits.rate_limit = parse_rate(*args->rate);
      if (args->concurrency) {
        if (*args->concurrency == "none") {
          limits.max_concurrency.reset();
        } else {
          int value = 0;
          if (!CLI::detail::lexical_cast(*args->concurrency, value) || value < 1) {
            throw delta::ValidationError(
                "concurrency", fmt::format("'{}' is not a whole number of at least 1 (or none)",
                                           *args->concurrency));
          }
          limits.max_concurrency = value;
        }
      }
      target.set(*admin, args->name, limits);
    }
    const auto info = target.get(*admin, args->name);
    if (args->format == Format::json) {
      auto out = limits_info_json(info);
      out[target.what] = args->name;
      print_json(out);
    } else {
      fmt::print("{} {}: {}{}\n", target.what, args->name, limits_summary(info),
                 args->clear ? ""
                 : change    ? "; every process has it within its poll interval"
                             : "");
    }
    return kExitOk;
  });
}

void print_error(const std::string& message) {
  fmt::print(stderr, "delta: error: {}\n", message);
}

}  // namespace delta_cli
