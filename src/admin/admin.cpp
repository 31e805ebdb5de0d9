#include <algorithm>
#include <charconv>
#include <set>
#include <utility>

#include <fmt/format.h>

#include <delta/admin.hpp>
#include <delta/controller.hpp>
#include <delta/errors.hpp>
#include <delta/migrate.hpp>

#include "admin/filters.hpp"
#include "common/flow.hpp"
#include "common/validate.hpp"
#include "jobs/store.hpp"
#include "resources/informer.hpp"
#include "resources/store.hpp"
#include "runtime/flow.hpp"
#include "schema/migrations.hpp"
#include "schema/sql.hpp"

namespace delta {

namespace {

constexpr int kMaxPageLimit = 1000;
constexpr int kMaxBatchSize = 50000;

void check_page(const Page& page) {
  if (page.limit < 1 || page.limit > kMaxPageLimit) {
    throw ValidationError("limit",
                          fmt::format("limit must be 1 to {} (got {})", kMaxPageLimit, page.limit));
  }
}

// The id after which a page starts: the cursor is the id of the previous page's last row.
std::optional<std::int64_t> parse_cursor(const std::string& cursor) {
  if (cursor.empty()) return std::nullopt;
  std::int64_t id = 0;
  const auto* end = cursor.data() + cursor.size();
  const auto [at, error] = std::from_chars(cursor.data(), end, id);
  if (error != std::errc() || at != end || id < 1) {
    throw ValidationError("cursor",
                          fmt::format("cursor '{}' is not one this API returned", cursor));
  }
  return id;
}

void check_bulk(const BulkOptions& options) {
  if (options.batch_size < 1 || options.batch_size > kMaxBatchSize) {
    throw ValidationError("batch_size", fmt::format("batch_size must be 1 to {} (got {})",
                                                    kMaxBatchSize, options.batch_size));
  }
}

std::string interval(std::chrono::milliseconds value) {
  return fmt::format("{} milliseconds", value.count());
}

std::optional<std::chrono::milliseconds> millis(const pg::Row& row, int column) {
  auto value = row.get<std::optional<std::int64_t>>(column);
  if (!value) return std::nullopt;
  return std::chrono::milliseconds(*value);
}

// Columns first..first+5 of a controllers row; unset while the first is NULL (no run yet).
std::optional<InformCounts> inform_counts(const pg::Row& row, int first) {
  if (row.is_null(first)) return std::nullopt;
  auto at = [&](int offset) { return row.get<std::int64_t>(first + offset); };
  return InformCounts{.emitted = at(0),
                      .inserted = at(1),
                      .changed = at(2),
                      .unchanged = at(3),
                      .stale = at(4),
                      .skipped_deleted = at(5)};
}

// Columns first..first+2: concurrency, rate count, rate interval (ms).
FlowLimits flow_limits_at(const pg::Row& row, int first) {
  const internal::FlowLimit limit = runtime::limit_at(row, first);
  return {.max_concurrency = limit.concurrency, .rate_limit = limit.rate};
}

// Columns first..first+9 of a list row: limits in force, defaults, override and when it
// was set.
LimitsInfo limits_info(const pg::Row& row, int first) {
  LimitsInfo info;
  info.in_force = flow_limits_at(row, first);
  info.defaults = flow_limits_at(row, first + 3);
  info.overridden_at = row.get<std::optional<Timestamp>>(first + 9);
  if (info.overridden_at) info.overridden = flow_limits_at(row, first + 6);
  return info;
}

// Two parallel arrays (states, counts) as ResourceCounts by state.
std::vector<ResourceCount> state_counts(const pg::Row& row, int states_column) {
  const auto states = row.get<std::vector<std::string>>(states_column);
  const auto counts = row.get<std::vector<std::int64_t>>(states_column + 1);
  std::vector<ResourceCount> out;
  for (std::size_t i = 0; i < states.size() && i < counts.size(); ++i) {
    ResourceCount count;
    count.state = resource_state_from_string(states[i]);
    count.count = counts[i];
    out.push_back(std::move(count));
  }
  return out;
}

// The states of `filter` an action applies to: those of `applicable` it selects (all of
// them when it selects no state).
std::vector<ResourceState> narrowed(const std::vector<ResourceState>& selected,
                                    std::initializer_list<ResourceState> applicable) {
  std::vector<ResourceState> out;
  for (auto state : applicable) {
    if (selected.empty() || std::find(selected.begin(), selected.end(), state) != selected.end())
      out.push_back(state);
  }
  return out;
}

std::vector<jobs::JobState> narrowed(const std::vector<jobs::JobState>& selected,
                                     std::initializer_list<jobs::JobState> applicable) {
  std::vector<jobs::JobState> out;
  for (auto state : applicable) {
    if (selected.empty() || std::find(selected.begin(), selected.end(), state) != selected.end())
      out.push_back(state);
  }
  return out;
}

enum class ResourceAction { retry, invalidate, remove, schedule_now };

BulkResult counted(std::int64_t changed, bool dry_run) {
  BulkResult result;
  result.changed = changed;
  result.dry_run = dry_run;
  return result;
}

}  // namespace

namespace {
// Which scope a limit statement is about.
enum class LimitScope { kind, name_space, queue };

runtime::FlowTable limit_table(LimitScope scope) {
  return scope == LimitScope::kind    ? runtime::FlowTable::kinds
         : scope == LimitScope::queue ? runtime::FlowTable::queues
                                      : runtime::FlowTable::namespaces;
}

std::string_view scope_field(LimitScope scope) {
  return scope == LimitScope::kind ? "kind" : scope == LimitScope::queue ? "queue" : "namespace";
}

}  // namespace

struct Admin::Impl {
  std::shared_ptr<pg::Pool> pool;
  AdminOptions config;
  std::string resources_channel;
  std::string jobs_channel;
  std::string control_channel;

  // A read, planned with its parameters, under the statement timeout.
  pg::Statement read(std::string_view query,
                     std::initializer_list<schema::Condition> conditions = {}) const {
    pg::Statement statement;
    statement.name = std::string(query);
    statement.sql = schema::render_query(query, config.schema, conditions);
    statement.replan = true;
    statement.local_settings = {
        {"statement_timeout", std::to_string(config.statement_timeout.count())}};
    return statement;
  }

  pg::Result run(const pg::Statement& statement, const pg::Params& params) const {
    auto conn = pool->acquire();
    return conn->exec_prepared(statement, params);
  }

  // Runs batches of `sql` (one transaction each, under the statement timeout) until one
  // selects nothing. `params` makes a batch's parameters from the id to start after; a
  // batch returns (changed, last id seen, names changed[, ...]). Returns the total and
  // every name changed.
  std::pair<BulkResult, std::set<std::string>> batches(
      const std::string& sql, const BulkOptions& options,
      const std::function<pg::Params(std::int64_t after)>& params) const {
    BulkResult result;
    std::set<std::string> names;
    std::int64_t after = 0;
    for (;;) {
      pg::Transaction tx(pool->acquire());
      tx.exec("SELECT set_config('statement_timeout', $1, true)",
              std::to_string(config.statement_timeout.count()));
      auto row = tx.exec_params(sql, params(after)).one();
      const auto changed = row.get<std::int64_t>(0);
      const auto last = row.get<std::optional<std::int64_t>>(1);
      for (auto& name : row.get<std::vector<std::string>>(2))
        names.insert(std::move(name));
      tx.commit();
      if (!last) break;
      after = *last;
      result.changed += changed;
      ++result.batches;
      if (options.progress) options.progress(result.changed);
    }
    return {result, names};
  }

  void write_limits(LimitScope scope, std::string_view name,
                    const std::optional<FlowLimits>& limits) const;

  void notify(const std::string& channel, const std::set<std::string>& payloads) const {
    if (payloads.empty()) return;
    auto conn = pool->acquire();
    const std::vector<std::string> values(payloads.begin(), payloads.end());
    conn->exec("SELECT pg_notify($1, p) FROM unnest($2::text[]) p", pg::Params(channel, values));
  }

  BulkResult act(ResourceAction action, const ResourceFilter& filter,
                 const BulkOptions& options) const {
    admin::check(filter);
    check_bulk(options);
    ResourceFilter target = filter;
    switch (action) {
      case ResourceAction::retry:
        target.states = narrowed(filter.states, {ResourceState::failed, ResourceState::degraded});
        break;
      case ResourceAction::invalidate:
        target.states = narrowed(filter.states, {ResourceState::synced});
        break;
      case ResourceAction::remove:
        target.states = narrowed(
            filter.states, {ResourceState::unknown, ResourceState::scheduled,
                            ResourceState::pending, ResourceState::synced, ResourceState::failed,
                            ResourceState::degraded, ResourceState::expired});
        break;
      case ResourceAction::schedule_now:
        target.states = narrowed(filter.states, {ResourceState::scheduled, ResourceState::failed,
                                                 ResourceState::expired});
        break;
    }
    const bool due_later = action == ResourceAction::schedule_now;
    if (target.states.empty()) return counted(0, options.dry_run);
    if (options.dry_run) {
      const auto statement = read("admin/resources_count", {{"due_later", due_later}});
      pg::Params params = admin::resource_params(target);
      params.add(false).add(false).add(false);
      return counted(run(statement, params).one().get<std::int64_t>(3), true);
    }
    const auto sql =
        schema::render_query("admin/resources_act", config.schema,
                             {{"due_later", due_later},
                              {"retry", action == ResourceAction::retry},
                              {"invalidate", action == ResourceAction::invalidate},
                              {"delete", action == ResourceAction::remove},
                              {"schedule_now", action == ResourceAction::schedule_now}});
    auto [result, kinds] = batches(sql, options, [&](std::int64_t after) {
      pg::Params params = admin::resource_params(target);
      params.add(after).add(std::int32_t{options.batch_size});
      return params;
    });
    // Deleted resources need no worker.
    if (action != ResourceAction::remove) notify(resources_channel, kinds);
    return result;
  }

  BulkResult act_jobs(std::string_view action, std::vector<jobs::JobState> states,
                      const JobFilter& filter, const BulkOptions& options) const {
    admin::check(filter);
    check_bulk(options);
    JobFilter target = filter;
    target.states = std::move(states);
    if (target.states.empty()) return counted(0, options.dry_run);
    if (options.dry_run) {
      const auto statement = read("admin/jobs_count");
      return counted(run(statement, admin::job_params(target)).one().get<std::int64_t>(0), true);
    }
    const auto sql = schema::render_query("admin/jobs_act", config.schema,
                                          {{"retry", action == "retry"},
                                           {"cancel", action == "cancel"},
                                           {"delete", action == "delete"}});
    auto [result, queues] = batches(sql, options, [&](std::int64_t after) {
      pg::Params params = admin::job_params(target);
      params.add(after).add(std::int32_t{options.batch_size}).add(control_channel);
      return params;
    });
    if (action == "retry") notify(jobs_channel, queues);
    return result;
  }
};

Admin::Admin(std::shared_ptr<pg::Pool> pool, AdminOptions options)
    : impl_(std::make_unique<Impl>()) {
  if (!pool) throw ValidationError("pool", "pool must not be null");
  try {
    schema::validate_schema_name(options.schema);
  } catch (const ConfigError& e) {
    throw ValidationError("schema", e.problems().front());
  }
  if (options.statement_timeout.count() <= 0) {
    throw ValidationError("statement_timeout", "statement_timeout must be > 0");
  }
  if (options.client_ttl.count() <= 0) {
    throw ValidationError("client_ttl", "client_ttl must be > 0");
  }
  impl_->pool = std::move(pool);
  impl_->resources_channel = internal::channel_name(options.schema, "resources");
  impl_->jobs_channel = internal::channel_name(options.schema, "jobs");
  impl_->control_channel = internal::channel_name(options.schema, "control");
  impl_->config = std::move(options);
}

Admin::~Admin() = default;

// ---- resources ----------------------------------------------------------------------------

Listing<ResourceRow> Admin::list_resources(const ResourceFilter& filter, const Page& page) {
  admin::check(filter);
  check_page(page);
  const auto after = parse_cursor(page.cursor);
  const bool newest = page.order == SortOrder::newest_first;
  const auto statement =
      impl_->read("admin/resources_list", {{"newest", newest}, {"oldest", !newest}});
  pg::Params params = admin::resource_params(filter);
  params.add(after).add(std::int32_t{page.limit + 1});
  const auto rows = impl_->run(statement, params);
  Listing<ResourceRow> listing;
  for (const auto& row : rows) {
    if (listing.rows.size() == static_cast<std::size_t>(page.limit)) {
      listing.next_cursor = std::to_string(listing.rows.back().id);
      break;
    }
    listing.rows.push_back(resources::ResourceStore::parse_row(row));
  }
  return listing;
}

ResourceRow Admin::get_resource(std::string_view kind, std::string_view object_id) {
  if (auto problem = internal::check_name(kind); !problem.empty())
    throw ValidationError("kind", problem);
  if (auto problem = internal::check_object_id(object_id); !problem.empty())
    throw ValidationError("id", problem);
  const auto statement = impl_->read("resources/get");
  const auto rows = impl_->run(statement, pg::Params(kind, object_id));
  if (rows.empty()) throw NotFound(fmt::format("resource {}/{} does not exist", kind, object_id));
  return resources::ResourceStore::parse_row(rows[0]);
}

std::vector<ResourceCount> Admin::count_resources(const ResourceFilter& filter,
                                                  const std::vector<ResourceGroup>& group_by) {
  admin::check(filter);
  const auto by = [&](ResourceGroup group) {
    return std::find(group_by.begin(), group_by.end(), group) != group_by.end();
  };
  const auto statement = impl_->read("admin/resources_count", {{"due_later", false}});
  pg::Params params = admin::resource_params(filter);
  params.add(by(ResourceGroup::kind))
      .add(by(ResourceGroup::namespace_name))
      .add(by(ResourceGroup::state));
  std::vector<ResourceCount> counts;
  for (const auto& row : impl_->run(statement, params)) {
    ResourceCount count;
    count.kind = row.get<std::optional<std::string>>(0);
    count.namespace_name = row.get<std::optional<std::string>>(1);
    count.count = row.get<std::int64_t>(3);
    if (auto state = row.get<std::optional<std::string>>(2))
      count.state = resource_state_from_string(*state);
    counts.push_back(std::move(count));
  }
  // One total even when nothing matches, so that a count is never an empty answer.
  if (counts.empty() && group_by.empty()) counts.push_back({});
  return counts;
}

BulkResult Admin::retry_resources(const ResourceFilter& filter, const BulkOptions& options) {
  return impl_->act(ResourceAction::retry, filter, options);
}

BulkResult Admin::invalidate_resources(const ResourceFilter& filter, const BulkOptions& options) {
  return impl_->act(ResourceAction::invalidate, filter, options);
}

BulkResult Admin::delete_resources(const ResourceFilter& filter, const BulkOptions& options) {
  return impl_->act(ResourceAction::remove, filter, options);
}

BulkResult Admin::schedule_resources_now(const ResourceFilter& filter, const BulkOptions& options) {
  return impl_->act(ResourceAction::schedule_now, filter, options);
}

// ---- controllers and namespaces -----------------------------------------------------------

std::vector<ControllerInfo> Admin::list_controllers() {
  const auto statement = impl_->read("admin/controllers");
  std::vector<ControllerInfo> out;
  for (const auto& row : impl_->run(
           statement, pg::Params(interval(impl_->config.client_ttl), std::string(kInformQueue)))) {
    out.push_back({.kind = row.get<std::string>(0),
                   .inform_interval = millis(row, 1),
                   .cursor = row.get<std::optional<Timestamp>>(2),
                   .last_inform_started_at = row.get<std::optional<Timestamp>>(3),
                   .last_inform_finished_at = row.get<std::optional<Timestamp>>(4),
                   .last_inform_error = row.get<std::optional<std::string>>(5),
                   .last_inform_counts = inform_counts(row, 11),
                   .next_inform_at = row.get<std::optional<Timestamp>>(6),
                   .clients = static_cast<int>(row.get<std::int64_t>(7)),
                   .states = state_counts(row, 8),
                   .paused_at = row.get<std::optional<Timestamp>>(10),
                   .limits = limits_info(row, 17)});
  }
  return out;
}

void Admin::pause_kind(std::string_view kind) {
  if (auto problem = internal::check_name(kind); !problem.empty())
    throw ValidationError("kind", problem);
  impl_->run(impl_->read("admin/set_kind_paused"), pg::Params(kind, true));
}

void Admin::resume_kind(std::string_view kind) {
  if (auto problem = internal::check_name(kind); !problem.empty())
    throw ValidationError("kind", problem);
  impl_->run(impl_->read("admin/set_kind_paused"), pg::Params(kind, false));
  impl_->notify(impl_->resources_channel, {std::string(kind)});
}

jobs::InsertResult Admin::schedule_inform(std::string_view kind, bool process_existing) {
  if (auto problem = internal::check_name(kind); !problem.empty())
    throw ValidationError("kind", problem);
  auto conn = impl_->pool->acquire();
  const auto known = conn->exec(schema::render("SELECT count(*) FROM /* schema */delta_controller "
                                               "WHERE kind = $1",
                                               impl_->config.schema),
                                pg::Params(kind));
  if (known.one().get<std::int64_t>(0) == 0) {
    throw ValidationError("kind",
                          fmt::format("no client has registered a controller of kind '{}'", kind));
  }
  const std::string name(kind);
  auto insert = resources::inform_job(
      name, {{"kind", name}, {"process_existing", process_existing}}, std::nullopt);
  jobs::JobStore store(impl_->config.schema);
  return store.insert(*conn, std::span<const jobs::JobInsert>(&insert, 1), std::nullopt, true)
      .front();
}

std::vector<NamespaceInfo> Admin::list_namespaces() {
  const auto statement = impl_->read("admin/namespaces");
  std::vector<NamespaceInfo> out;
  for (const auto& row : impl_->run(statement, pg::Params())) {
    out.push_back({.name = row.get<std::string>(0),
                   .expiry_ttl = millis(row, 1),
                   .synced_retention = millis(row, 2),
                   .deleted_retention = millis(row, 3),
                   .degraded_retention = millis(row, 4),
                   .states = state_counts(row, 5),
                   .limits = limits_info(row, 7)});
  }
  return out;
}

// ---- flow limits -----------------------------------------------------------------------------

// Writes (or with `limits` unset, clears) the override of one scope; wakes its workers.
void Admin::Impl::write_limits(LimitScope scope, std::string_view name,
                               const std::optional<FlowLimits>& limits) const {
  const Impl& impl = *this;
  const auto field = std::string(scope_field(scope));
  if (auto problem = internal::check_name(name); !problem.empty())
    throw ValidationError(field, problem);
  if (limits) {
    std::vector<std::string> problems;
    internal::check_flow_limit(problems, "limits", "max_concurrency",
                               {limits->max_concurrency, limits->rate_limit});
    if (!problems.empty()) throw ValidationError("limits", problems.front());
  }
  const auto conditions = runtime::flow_conditions(limit_table(scope));
  auto conn = impl.pool->acquire();
  if (scope == LimitScope::queue) {
    jobs::JobStore(impl.config.schema).ensure_queues(*conn, {std::string(name)});
  }
  std::optional<std::int32_t> concurrency, rate_count;
  std::optional<std::int64_t> rate_per;
  if (limits) {
    concurrency = limits->max_concurrency;
    if (limits->rate_limit) {
      rate_count = limits->rate_limit->count;
      rate_per = limits->rate_limit->per.count();
    }
  }
  const auto result =
      conn->exec(schema::render_query("admin/set_limits", impl.config.schema, conditions),
                 pg::Params(name, concurrency, rate_count, rate_per, limits.has_value()));
  if (result.size() == 0) {
    throw ValidationError(field, fmt::format("no client has registered {} '{}'", field, name));
  }
  conn.release();
  // Claimers held back by the old limits look again at once.
  if (scope == LimitScope::queue) {
    impl.notify(impl.jobs_channel, {std::string(name)});
  } else if (scope == LimitScope::kind) {
    impl.notify(impl.resources_channel, {std::string(name)});
  }
}

void Admin::set_kind_limits(std::string_view kind, const FlowLimits& limits) {
  impl_->write_limits(LimitScope::kind, kind, limits);
}
void Admin::set_namespace_limits(std::string_view name, const FlowLimits& limits) {
  impl_->write_limits(LimitScope::name_space, name, limits);
}
void Admin::set_queue_limits(std::string_view queue, const FlowLimits& limits) {
  impl_->write_limits(LimitScope::queue, queue, limits);
}
void Admin::clear_kind_limits(std::string_view kind) {
  impl_->write_limits(LimitScope::kind, kind, std::nullopt);
}
void Admin::clear_namespace_limits(std::string_view name) {
  impl_->write_limits(LimitScope::name_space, name, std::nullopt);
}
void Admin::clear_queue_limits(std::string_view queue) {
  impl_->write_limits(LimitScope::queue, queue, std::nullopt);
}

// ---- jobs and queues ----------------------------------------------------------------------

Listing<jobs::JobRow> Admin::list_jobs(const JobFilter& filter, const Page& page) {
  admin::check(filter);
  check_page(page);
  const auto after = parse_cursor(page.cursor);
  const bool newest = page.order == SortOrder::newest_first;
  const auto statement = impl_->read("admin/jobs_list", {{"newest", newest}, {"oldest", !newest}});
  pg::Params params = admin::job_params(filter);
  params.add(after).add(std::int32_t{page.limit + 1});
  Listing<jobs::JobRow> listing;
  for (const auto& row : impl_->run(statement, params)) {
    if (listing.rows.size() == static_cast<std::size_t>(page.limit)) {
      listing.next_cursor = std::to_string(listing.rows.back().id);
      break;
    }
    listing.rows.push_back(jobs::JobStore::parse_row(row));
  }
  return listing;
}

jobs::JobRow Admin::get_job(std::int64_t id) {
  if (id < 1) throw ValidationError("id", fmt::format("job ids are positive (got {})", id));
  const auto statement = impl_->read("jobs/get");
  const auto rows = impl_->run(statement, pg::Params(id));
  if (rows.empty()) throw NotFound(fmt::format("job {} does not exist", id));
  return jobs::JobStore::parse_row(rows[0]);
}

BulkResult Admin::retry_jobs(const JobFilter& filter, const BulkOptions& options) {
  using jobs::JobState;
  return impl_->act_jobs(
      "retry",
      narrowed(filter.states, {JobState::scheduled, JobState::retryable, JobState::completed,
                               JobState::cancelled, JobState::discarded}),
      filter, options);
}

BulkResult Admin::cancel_jobs(const JobFilter& filter, const BulkOptions& options) {
  using jobs::JobState;
  return impl_->act_jobs("cancel",
                         narrowed(filter.states, {JobState::available, JobState::scheduled,
                                                  JobState::retryable, JobState::running}),
                         filter, options);
}

BulkResult Admin::delete_jobs(const JobFilter& filter, const BulkOptions& options) {
  using jobs::JobState;
  return impl_->act_jobs(
      "delete",
      narrowed(filter.states, {JobState::available, JobState::scheduled, JobState::retryable,
                               JobState::completed, JobState::cancelled, JobState::discarded}),
      filter, options);
}

std::vector<QueueInfo> Admin::list_queues() {
  const auto statement = impl_->read("admin/queues");
  std::vector<QueueInfo> out;
  for (const auto& row : impl_->run(statement, pg::Params())) {
    QueueInfo queue;
    queue.name = row.get<std::string>(0);
    queue.paused_at = row.get<std::optional<Timestamp>>(1);
    queue.oldest_available_age = millis(row, 4);
    queue.limits = limits_info(row, 5);
    const auto states = row.get<std::vector<std::string>>(2);
    const auto counts = row.get<std::vector<std::int64_t>>(3);
    for (std::size_t i = 0; i < states.size() && i < counts.size(); ++i)
      queue.states.push_back({jobs::job_state_from_string(states[i]), counts[i]});
    out.push_back(std::move(queue));
  }
  return out;
}

void Admin::pause_queue(std::string_view queue) {
  if (auto problem = internal::check_name(queue); !problem.empty())
    throw ValidationError("queue", problem);
  const auto statement = impl_->read("jobs/set_queue_paused");
  impl_->run(statement, pg::Params(queue, true, std::nullopt));
}

void Admin::resume_queue(std::string_view queue) {
  if (auto problem = internal::check_name(queue); !problem.empty())
    throw ValidationError("queue", problem);
  const auto statement = impl_->read("jobs/set_queue_paused");
  impl_->run(statement, pg::Params(queue, false, std::nullopt));
  impl_->notify(impl_->jobs_channel, {std::string(queue)});
}

// ---- clients and status -------------------------------------------------------------------

std::vector<ClientInfo> Admin::list_clients() {
  const auto statement = impl_->read("admin/clients");
  std::vector<ClientInfo> out;
  for (const auto& row : impl_->run(statement, pg::Params(interval(impl_->config.client_ttl)))) {
    out.push_back({.id = row.get<std::string>(0),
                   .hostname = row.get<std::string>(1),
                   .pid = row.get<std::int32_t>(2),
                   .started_at = row.get<Timestamp>(3),
                   .heartbeat_at = row.get<Timestamp>(4),
                   .leader = row.get<bool>(5),
                   .resources_held = row.get<std::int64_t>(6),
                   .jobs_held = row.get<std::int64_t>(7),
                   .metadata = row.get<nlohmann::json>(8)});
  }
  return out;
}

Status Admin::status() {
  Status status;
  status.schema_version = current_schema_version(*impl_->pool, impl_->config.schema);
  status.latest_schema_version = latest_schema_version();
  status.clients = list_clients();
  status.resources = count_resources({}, {ResourceGroup::kind, ResourceGroup::state});
  status.queues = list_queues();
  const auto statement = impl_->read("admin/lag");
  const auto row = impl_->run(statement, pg::Params()).one();
  status.resource_lag = millis(row, 0);
  status.job_lag = millis(row, 1);
  status.leader = row.get<std::optional<std::string>>(2);
  return status;
}

std::vector<KindLag> Admin::kind_lag() {
  const auto statement = impl_->read("admin/kind_lag");
  std::vector<KindLag> out;
  for (const auto& row : impl_->run(statement, pg::Params()))
    out.push_back({.kind = row.get<std::string>(0), .lag = millis(row, 1)});
  return out;
}

std::vector<ThroughputMinute> Admin::throughput(std::chrono::minutes window) {
  constexpr std::chrono::minutes kMaxWindow{24 * 60};
  if (window.count() < 1 || window > kMaxWindow) {
    throw ValidationError("window", fmt::format("window must be 1 to {} minutes (got {})",
                                                kMaxWindow.count(), window.count()));
  }
  const auto statement = impl_->read("admin/throughput");
  std::vector<ThroughputMinute> out;
  for (const auto& row :
       impl_->run(statement, pg::Params(static_cast<std::int32_t>(window.count())))) {
    out.push_back({.minute = row.get<Timestamp>(0),
                   .synced = row.get<std::int64_t>(1),
                   .failed = row.get<std::int64_t>(2),
                   .jobs_completed = row.get<std::int64_t>(3),
                   .jobs_failed = row.get<std::int64_t>(4)});
  }
  return out;
}

std::string_view to_string(ResourceGroup group) noexcept {
  switch (group) {
    case ResourceGroup::kind:
      return "kind";
    case ResourceGroup::namespace_name:
      return "namespace";
    case ResourceGroup::state:
      return "state";
  }
  return "kind";
}

ResourceGroup resource_group_from_string(std::string_view name) {
  for (auto group : {ResourceGroup::kind, ResourceGroup::namespace_name, ResourceGroup::state}) {
    if (to_string(group) == name) return group;
  }
  throw ValidationError("group_by", fmt::format("cannot group resources by '{}' (kind, "
                                                "namespace or state)",
                                                name));
}

}  // namespace delta
