#include "cli.hpp"

#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include <fmt/format.h>

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

void print_error(const std::string& message) {
  fmt::print(stderr, "delta: error: {}\n", message);
}

}  // namespace delta_cli
