// delta jobs list | get | retry | cancel | delete, delta queues list | pause | resume |
// limit
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <delta/admin.hpp>
#include <delta/jobs.hpp>

#include "bulk.hpp"
#include "cli.hpp"
#include "lists.hpp"
#include "views.hpp"

namespace delta_cli {

namespace {

using JobBulkRun = delta::BulkResult (delta::Admin::*)(const delta::JobFilter&,
                                                       const delta::BulkOptions&);

struct FilterArgs {
  std::vector<std::string> queues;
  std::vector<std::string> kinds;
  std::vector<std::string> states;

  bool any() const { return !queues.empty() || !kinds.empty() || !states.empty(); }
  delta::JobFilter filter() const {
    delta::JobFilter filter;
    filter.queues = queues;
    filter.kinds = kinds;
    filter.states = parse_states(states, kJobStates, "job");
    return filter;
  }
};

void add_filter_options(CLI::App* command, FilterArgs& args) {
  add_list_option(command, "--queue", args.queues, "Only jobs in these queues");
  add_list_option(command, "--kind", args.kinds, "Only jobs of these kinds");
  add_list_option(command, "--state", args.states,
                  "Only jobs in these states (available, scheduled, running, retryable, "
                  "completed, cancelled, discarded)");
}

int list(const GlobalOptions& globals, const ListArgs<FilterArgs>& args) {
  const auto filter = args.filter.filter();
  auto admin = open_admin(globals);
  print_page(
      admin->list_jobs(filter, args.page.page()), args.format,
      [](const auto& row) { return job_json(row, Detail::summary); },
      [](const auto& rows) { return job_table(rows, delta::now()); });
  return kExitOk;
}

struct GetArgs {
  std::int64_t id = 0;
  Format format = Format::table;
};

int get(const GlobalOptions& globals, const GetArgs& args) {
  auto admin = open_admin(globals);
  print_one(
      admin->get_job(args.id), args.format,
      [](const auto& row) { return job_json(row, Detail::full); },
      [](const auto& row) { return job_details(row, delta::now()); });
  return kExitOk;
}

struct BulkArgs {
  std::int64_t id = 0;  // one job, when id_option was given
  CLI::Option* id_option = nullptr;
  FilterArgs filter;
  bool all = false;
  BulkFlags flags;
};

// The jobs a bulk command names: one (ID) or those its filter options select.
delta::JobFilter bulk_filter(const BulkArgs& args) {
  if (args.id_option->count() == 0) {
    if (!args.filter.any() && !args.all) {
      throw UsageError(
          "say which jobs: an ID, or at least one of --queue, --kind, --state, or --all for "
          "every job");
    }
    return args.filter.filter();
  }
  if (args.filter.any() || args.all) {
    throw UsageError("give either a job ID or filter options (--queue, --state, ...), not both");
  }
  delta::JobFilter filter;
  filter.ids = {args.id};
  return filter;
}

void add_bulk_command(CLI::App& jobs, Cli& cli, const std::string& name,
                      const std::string& description, const Verb& verb, JobBulkRun run) {
  auto args = std::make_shared<BulkArgs>();
  auto* command = add_command(jobs, name, description);
  args->id_option = command->add_option("id", args->id, "The one job to act on");
  add_filter_options(command, args->filter);
  command->add_flag("--all", args->all, "Every job (when no other filter is given)");
  add_bulk_flags(command, args->flags);
  on_run(command, cli, [&cli, args, action = BulkAction{name, verb, "job"}, run] {
    const auto filter = bulk_filter(*args);
    auto admin = open_admin(cli.globals);
    if (args->id_option->count() > 0) admin->get_job(args->id);  // NotFound: exit 3
    return run_bulk(
        action, [&](const delta::BulkOptions& options) { return ((*admin).*run)(filter, options); },
        args->flags);
  });
}

}  // namespace

void add_job_commands(CLI::App& app, Cli& cli) {
  auto* jobs = add_group(app, "jobs", "List and act on jobs");
  add_paged_list_command<FilterArgs>(*jobs, cli, "List jobs, newest first", add_filter_options,
                                     list);
  {
    auto args = std::make_shared<GetArgs>();
    auto* command = add_command(*jobs, "get", "Show one job with everything stored");
    command->add_option("id", args->id, "The job's id")->required();
    add_output_option(command, args->format);
    on_run(command, cli, [&cli, args] { return get(cli.globals, *args); });
  }
  add_bulk_command(*jobs, cli, "retry", "Make finished or waiting jobs available now",
                   {"retry {}", "retried {}"}, &delta::Admin::retry_jobs);
  add_bulk_command(*jobs, cli, "cancel",
                   "Cancel jobs not yet finished (running ones are asked to stop)",
                   {"cancel {}", "cancelled {}"}, &delta::Admin::cancel_jobs);
  add_bulk_command(*jobs, cli, "delete", "Remove jobs that are not running",
                   {"delete {}", "deleted {}"}, &delta::Admin::delete_jobs);

  auto* queues = add_group(app, "queues", "List, pause, resume and limit job queues");
  add_list_command(
      *queues, cli, "List queues with their jobs per state",
      [](delta::Admin& admin) { return admin.list_queues(); }, queue_json,
      [](const auto& rows) { return queue_table(rows, delta::now()); });
  add_pause_commands(
      *queues, cli,
      {.what = "queue",
       .pause_description = "Stop every process fetching jobs from a queue",
       .resume_description = "Let processes fetch jobs from a paused queue again",
       // A queue is known once it had jobs or was paused.
       .known =
           [](delta::Admin& admin, const std::string& name) {
             const auto known = admin.list_queues();
             return std::any_of(known.begin(), known.end(),
                                [&](const delta::QueueInfo& info) { return info.name == name; });
           },
       .set = [](delta::Admin& admin, const std::string& name,
                 bool pause) { pause ? admin.pause_queue(name) : admin.resume_queue(name); }});
  add_limit_command(
      *queues, cli,
      {.what = "queue",
       .command = "queues",
       // A queue never seen has no limits yet: an override registers it.
       .get =
           [](delta::Admin& admin, const std::string& name) {
             for (const auto& queue : admin.list_queues()) {
               if (queue.name == name) return queue.limits;
             }
             return delta::LimitsInfo{};
           },
       .set = [](delta::Admin& admin, const std::string& name,
                 const delta::FlowLimits& limits) { admin.set_queue_limits(name, limits); },
       .clear = [](delta::Admin& admin,
                   const std::string& name) { admin.clear_queue_limits(name); }});
}

}  // namespace delta_cli
