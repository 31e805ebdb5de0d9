// delta resources list | get | count | retry | invalidate | delete | schedule-now
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <delta/admin.hpp>
#include <delta/errors.hpp>
#include <delta/resource.hpp>

#include "bulk.hpp"
#include "cli.hpp"
#include "lists.hpp"
#include "views.hpp"

namespace delta_cli {

namespace {

using ResourceBulkRun = delta::BulkResult (delta::Admin::*)(const delta::ResourceFilter&,
                                                            const delta::BulkOptions&);

// Which resources a filter option selects (--kind, --namespace, --state, --tag, ...).
struct FilterArgs {
  std::vector<std::string> kinds;
  std::vector<std::string> namespaces;
  std::vector<std::string> states;
  std::vector<std::string> tags_any;
  std::vector<std::string> tags_all;
  std::string id_prefix;

  bool any() const {
    return !kinds.empty() || !namespaces.empty() || !states.empty() || !tags_any.empty() ||
           !tags_all.empty() || !id_prefix.empty();
  }
  delta::ResourceFilter filter() const {
    delta::ResourceFilter filter;
    filter.kinds = kinds;
    filter.namespaces = namespaces;
    filter.states = parse_states(states, kResourceStates, "resource");
    filter.id_prefix = id_prefix;
    filter.tags_any = tags_any;
    filter.tags_all = tags_all;
    return filter;
  }
};

void add_filter_options(CLI::App* command, FilterArgs& args) {
  add_list_option(command, "--kind", args.kinds, "Only resources of these kinds");
  add_list_option(command, "--namespace", args.namespaces, "Only resources in these namespaces");
  add_list_option(command, "--state", args.states,
                  "Only resources in these states (scheduled, pending, synced, failed, "
                  "degraded, expired, deleted)");
  add_list_option(command, "--tag", args.tags_any, "Only resources with any of these tags");
  add_list_option(command, "--all-tags", args.tags_all, "Only resources with all of these tags");
  command->add_option("--id-prefix", args.id_prefix, "Only object ids that start with this");
}

int list(const GlobalOptions& globals, const ListArgs<FilterArgs>& args) {
  const auto filter = args.filter.filter();
  auto admin = open_admin(globals);
  print_page(
      admin->list_resources(filter, args.page.page()), args.format,
      [](const auto& row) { return resource_json(row, Detail::summary); },
      [](const auto& rows) { return resource_table(rows, delta::now()); });
  return kExitOk;
}

struct GetArgs {
  std::string kind;
  std::string id;
  Format format = Format::table;
};

int get(const GlobalOptions& globals, const GetArgs& args) {
  auto admin = open_admin(globals);
  print_one(
      admin->get_resource(args.kind, args.id), args.format,
      [](const auto& row) { return resource_json(row, Detail::full); },
      [](const auto& row) { return resource_details(row, delta::now()); });
  return kExitOk;
}

struct CountArgs {
  FilterArgs filter;
  std::vector<std::string> by;
  Format format = Format::table;
};

int count(const GlobalOptions& globals, const CountArgs& args) {
  const auto filter = args.filter.filter();
  std::vector<delta::ResourceGroup> group_by;
  for (const auto& name : args.by)
    group_by.push_back(delta::resource_group_from_string(name));
  auto admin = open_admin(globals);
  const auto counts = admin->count_resources(filter, group_by);
  if (args.format == Format::json) {
    std::int64_t total = 0;
    for (const auto& one : counts)
      total += one.count;
    print_json({{"rows", json_rows(counts, count_json)}, {"total", total}});
  } else {
    fmt::print("{}", count_table(counts, group_by).render());
  }
  return kExitOk;
}

struct BulkArgs {
  std::string kind;  // with id: one resource
  std::string id;
  FilterArgs filter;
  bool all = false;
  BulkFlags flags;
};

// The resources a bulk command names: one (KIND ID) or those its filter options select.
delta::ResourceFilter bulk_filter(const BulkArgs& args) {
  if (args.kind.empty()) {
    if (!args.filter.any() && !args.all) {
      throw UsageError(
          "say which resources: KIND ID, or at least one of --kind, --namespace, --state, "
          "--tag, --all-tags, --id-prefix, or --all for every resource");
    }
    return args.filter.filter();
  }
  if (args.id.empty()) throw UsageError("give the object id after the kind: KIND ID");
  if (args.filter.any() || args.all) {
    throw UsageError("give either KIND ID or filter options (--kind, --state, ...), not both");
  }
  delta::ResourceFilter filter;
  filter.kinds = {args.kind};
  filter.object_ids = {args.id};
  return filter;
}

void add_bulk_command(CLI::App& resources, Cli& cli, const std::string& name,
                      const std::string& description, const Verb& verb, ResourceBulkRun run) {
  auto args = std::make_shared<BulkArgs>();
  auto* command = add_command(resources, name, description);
  command->add_option("kind", args->kind, "Kind of the one resource to act on");
  command->add_option("id", args->id, "Object id of the one resource to act on");
  add_filter_options(command, args->filter);
  command->add_flag("--all", args->all, "Every resource (when no other filter is given)");
  add_bulk_flags(command, args->flags);
  on_run(command, cli, [&cli, args, action = BulkAction{name, verb, "resource"}, run] {
    const auto filter = bulk_filter(*args);
    auto admin = open_admin(cli.globals);
    if (!args->kind.empty()) admin->get_resource(args->kind, args->id);  // NotFound: exit 3
    return run_bulk(
        action, [&](const delta::BulkOptions& options) { return ((*admin).*run)(filter, options); },
        args->flags);
  });
}

}  // namespace

void add_resource_commands(CLI::App& app, Cli& cli) {
  auto* resources = add_group(app, "resources", "List, count and act on resources");

  add_paged_list_command<FilterArgs>(*resources, cli, "List resources, newest first",
                                     add_filter_options, list);
  {
    auto args = std::make_shared<GetArgs>();
    auto* command = add_command(*resources, "get", "Show one resource with everything stored");
    command->add_option("kind", args->kind, "The resource's kind")->required();
    command->add_option("id", args->id, "The object's id")->required();
    add_output_option(command, args->format);
    on_run(command, cli, [&cli, args] { return get(cli.globals, *args); });
  }
  {
    auto args = std::make_shared<CountArgs>();
    auto* command = add_command(*resources, "count", "Count resources, in total or by group");
    add_filter_options(command, args->filter);
    add_list_option(command, "--by", args->by, "Count by kind, namespace and/or state");
    add_output_option(command, args->format);
    on_run(command, cli, [&cli, args] { return count(cli.globals, *args); });
  }

  add_bulk_command(*resources, cli, "retry",
                   "Schedule failed and degraded resources now, their attempts reset",
                   {"retry {}", "retried {}"}, &delta::Admin::retry_resources);
  add_bulk_command(*resources, cli, "invalidate",
                   "Make synced resources expired, so that they are worked again now",
                   {"invalidate {}", "invalidated {}"}, &delta::Admin::invalidate_resources);
  add_bulk_command(*resources, cli, "delete",
                   "Mark resources deleted without calling their controller",
                   {"delete {}", "deleted {}"}, &delta::Admin::delete_resources);
  add_bulk_command(*resources, cli, "schedule-now",
                   "Make scheduled, failed and expired resources due now",
                   {"schedule {} now", "scheduled {} now"}, &delta::Admin::schedule_resources_now);
}

}  // namespace delta_cli
