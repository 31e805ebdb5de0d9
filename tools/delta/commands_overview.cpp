// delta status, delta controllers list | inform | pause | resume | limit, delta namespaces
// list | limit,
// delta clients list
#include <memory>
#include <string>

#include <fmt/format.h>

#include <delta/admin.hpp>
#include <delta/errors.hpp>

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

// The controller of `kind`; NotFound when no client has registered one.
delta::ControllerInfo find_controller(delta::Admin& admin, const std::string& kind) {
  for (auto& controller : admin.list_controllers()) {
    if (controller.kind == kind) return controller;
  }
  throw delta::NotFound(fmt::format("no client has registered a controller of kind {}", kind));
}

int schedule_inform(const GlobalOptions& globals, const std::string& kind, bool process_existing) {
  auto admin = open_admin(globals);
  find_controller(*admin, kind);
  const auto result = admin->schedule_inform(kind, process_existing);
  if (result.unique_skipped_as_duplicate) {
    fmt::print("an informer run of {} is already waiting (job {})\n", kind, result.job.id);
  } else {
    fmt::print("scheduled an informer run of {} (job {})\n", kind, result.job.id);
  }
  return kExitOk;
}

void add_controller_commands(CLI::App& app, Cli& cli) {
  auto* controllers = add_group(app, "controllers", "Resource kinds and their informers");
  add_list_command(
      *controllers, cli, "List the kinds clients registered, with their informers",
      [](delta::Admin& admin) { return admin.list_controllers(); }, controller_json,
      [](const auto& rows) { return controller_table(rows, delta::now()); });

  struct InformArgs {
    std::string kind;
    bool process_existing = false;
  };
  auto inform = std::make_shared<InformArgs>();
  auto* command =
      add_command(*controllers, "inform", "Run the kind's informer now, on a client that has it");
  command->add_option("kind", inform->kind, "The kind")->required();
  command->add_flag("--process-existing", inform->process_existing,
                    "Work the objects it lists even when they did not change");
  on_run(command, cli, [&cli, inform] {
    return schedule_inform(cli.globals, inform->kind, inform->process_existing);
  });

  add_pause_commands(
      *controllers, cli,
      {.what = "kind",
       .pause_description = "Stop every process claiming and periodically informing a kind",
       .resume_description = "Let processes claim and inform a paused kind again",
       // Pausing a kind before its first client registers it is allowed.
       .known =
           [](delta::Admin& admin, const std::string& name) {
             try {
               find_controller(admin, name);
               return true;
             } catch (const delta::NotFound&) {
               return false;
             }
           },
       .set = [](delta::Admin& admin, const std::string& name,
                 bool pause) { pause ? admin.pause_kind(name) : admin.resume_kind(name); }});

  add_limit_command(
      *controllers, cli,
      {.what = "kind",
       .command = "controllers",
       .get = [](delta::Admin& admin,
                 const std::string& name) { return find_controller(admin, name).limits; },
       .set = [](delta::Admin& admin, const std::string& name,
                 const delta::FlowLimits& limits) { admin.set_kind_limits(name, limits); },
       .clear = [](delta::Admin& admin,
                   const std::string& name) { admin.clear_kind_limits(name); }});
}

}  // namespace

void add_overview_commands(CLI::App& app, Cli& cli) {
  auto args = std::make_shared<ReadArgs>();
  auto* command = add_command(app, "status", "The whole picture: schema, leader, lag, counts");
  add_output_option(command, args->format);
  on_run(command, cli, [&cli, args] { return status(cli.globals, *args); });

  add_controller_commands(app, cli);
  auto* namespaces = add_group(app, "namespaces", "Namespaces of resources");
  add_list_command(
      *namespaces, cli, "List namespaces with their expiry, retention and resources",
      [](delta::Admin& admin) { return admin.list_namespaces(); }, namespace_json,
      [](const auto& rows) { return namespace_table(rows); });
  add_limit_command(
      *namespaces, cli,
      {.what = "namespace",
       .command = "namespaces",
       .get =
           [](delta::Admin& admin, const std::string& name) {
             for (const auto& ns : admin.list_namespaces()) {
               if (ns.name == name) return ns.limits;
             }
             throw delta::NotFound(fmt::format("no client has registered namespace {}", name));
           },
       .set = [](delta::Admin& admin, const std::string& name,
                 const delta::FlowLimits& limits) { admin.set_namespace_limits(name, limits); },
       .clear = [](delta::Admin& admin,
                   const std::string& name) { admin.clear_namespace_limits(name); }});
  add_list_command(
      *add_group(app, "clients", "Client processes"), cli,
      "List the client processes that heartbeat",
      [](delta::Admin& admin) { return admin.list_clients(); }, client_json,
      [](const auto& clients) { return client_table(clients, delta::now()); });
}

}  // namespace delta_cli
