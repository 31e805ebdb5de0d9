// delta status, delta controllers list, delta namespaces list, delta clients list
#include <memory>
#include <string>

#include <fmt/format.h>

#include <delta/admin.hpp>

#include "cli.hpp"
#include "lists.hpp"
#include "views.hpp"

namespace delta_cli {

namespace {

struct ReadArgs {
  Format format = Format::table;
};

int status(const GlobalOptions& globals, const ReadArgs& args) {
  auto admin = open_admin(globals);
  const auto status = admin->status();
  print_one(
      status, args.format, [&](const auto& item) { return status_json(item, globals.schema); },
      [&](const auto& item) { return status_text(item, globals.schema, delta::now()); });
  return kExitOk;
}

}  // namespace

void add_overview_commands(CLI::App& app, Cli& cli) {
  auto args = std::make_shared<ReadArgs>();
  auto* command = add_command(app, "status", "The whole picture: schema, leader, lag, counts");
  add_output_option(command, args->format);
  on_run(command, cli, [&cli, args] { return status(cli.globals, *args); });

  add_list_command(
      *add_group(app, "controllers", "Resource kinds and their informers"), cli,
      "List the kinds clients registered, with their informers",
      [](delta::Admin& admin) { return admin.list_controllers(); }, controller_json,
      [](const auto& controllers) { return controller_table(controllers, delta::now()); });
  add_list_command(
      *add_group(app, "namespaces", "Namespaces of resources"), cli,
      "List namespaces with their expiry, retention and resources",
      [](delta::Admin& admin) { return admin.list_namespaces(); }, namespace_json,
      [](const auto& namespaces) { return namespace_table(namespaces); });
  add_list_command(
      *add_group(app, "clients", "Client processes"), cli,
      "List the client processes that heartbeat",
      [](delta::Admin& admin) { return admin.list_clients(); }, client_json,
      [](const auto& clients) { return client_table(clients, delta::now()); });
}

}  // namespace delta_cli
