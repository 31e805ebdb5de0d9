// The admin API against a real database: filters and counts checked against SQL, keyset
// pages while rows are inserted, bulk actions in batches with a running client, jobs,
// queues, clients, status, and bad arguments.
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <delta/delta.hpp>

#include "support/maintenance_config.hpp"
#include "support/pg_test.hpp"

namespace {

using delta::ResourceState;
using delta::testing::eventually;
using delta::testing::SchemaStart;
using delta::testing::ScratchSchema;

// 600 resources over kinds a/b/c, namespaces default/other, every state, ids "obj-<n>",
// tags by residue, half attempted an hour ago and a third synced now.
void seed(const ScratchSchema& schema) {
  schema.pool().exec(schema.sql(R"(
    INSERT INTO {s}.delta_resource
      (kind, object_id, namespace, state, object, hash, tags, attempted_at, synced_at)
    SELECT (ARRAY['a', 'b', 'c'])[n % 3 + 1], 'obj-' || n,
           CASE WHEN n % 2 = 0 THEN 'default' ELSE 'other' END,
           (ARRAY['scheduled', 'pending', 'synced', 'failed', 'degraded', 'expired',
                  'deleted'])[n % 7 + 1]::{s}.resource_state,
           jsonb_build_object('n', n), '\x00',
           CASE n % 4 WHEN 0 THEN '{{red}}'::text[] WHEN 1 THEN '{{red,blue}}'
                      WHEN 2 THEN '{{blue}}' ELSE '{{}}' END,
           CASE WHEN n % 2 = 0 THEN now() - interval '1 hour' END,
           CASE WHEN n % 3 = 0 THEN now() END
    FROM generate_series(1, 600) n)"));
}

delta::Admin make_admin(const ScratchSchema& schema) {
  return delta::Admin(schema.shared_pool(), {.schema = schema.name()});
}

std::int64_t total(const std::vector<delta::ResourceCount>& counts) {
  std::int64_t sum = 0;
  for (const auto& c : counts)
    sum += c.count;
  return sum;
}

TEST(admin_pgtest, EveryFilterCountsWhatSqlCounts) {
  ScratchSchema schema("admin", SchemaStart::migrated);
  seed(schema);
  auto admin = make_admin(schema);
  const auto hour_ago = delta::now() - std::chrono::minutes(90);
  struct Case {
    delta::ResourceFilter filter;
    std::string where;
  };
  const std::vector<Case> cases = {
      {{}, "true"},
      {{.kinds = {"a"}}, "kind = 'a'"},
      {{.kinds = {"a", "c"}}, "kind IN ('a', 'c')"},
      {{.namespaces = {"other"}}, "namespace = 'other'"},
      {{.states = {ResourceState::degraded, ResourceState::failed}},
       "state IN ('degraded', 'failed')"},
      {{.object_ids = {"obj-1", "obj-2", "nope"}}, "object_id IN ('obj-1', 'obj-2')"},
      {{.id_prefix = "obj-1"}, "object_id LIKE 'obj-1%'"},
      {{.tags_any = {"red"}}, "'red' = ANY (tags)"},
      {{.tags_all = {"red", "blue"}}, "tags @> '{{red,blue}}'"},
      {{.tags_any = {"blue", "green"}}, "tags && '{{blue,green}}'"},
      {{.attempted = {.from = hour_ago}}, "attempted_at IS NOT NULL"},
      {{.attempted = {.to = hour_ago}}, "false"},
      {{.synced = {.from = hour_ago, .to = delta::now() + std::chrono::minutes(1)}},
       "synced_at IS NOT NULL"},
      {{.kinds = {"b"}, .namespaces = {"default"}, .states = {ResourceState::synced}},
       "kind = 'b' AND namespace = 'default' AND state = 'synced'"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.where);
    const auto expected = schema.count("delta_resource WHERE " + c.where);
    EXPECT_EQ(total(admin.count_resources(c.filter)), expected);
    // The listing agrees with the count (every case has at most 600 rows: one page).
    EXPECT_EQ(
        static_cast<std::int64_t>(admin.list_resources(c.filter, {.limit = 1000}).rows.size()),
        expected);
  }
  EXPECT_GT(total(admin.count_resources({.kinds = {"a"}})), 0);
}

TEST(admin_pgtest, CountsGroupByKindNamespaceAndState) {
  ScratchSchema schema("admin", SchemaStart::migrated);
  seed(schema);
  auto admin = make_admin(schema);
  const auto counts =
      admin.count_resources({}, {delta::ResourceGroup::kind, delta::ResourceGroup::namespace_name,
                                 delta::ResourceGroup::state});
  EXPECT_EQ(static_cast<std::int64_t>(counts.size()),
            schema.scalar("SELECT count(*) FROM (SELECT DISTINCT kind, namespace, state "
                          "FROM {s}.delta_resource) d"));
  for (const auto& c : counts) {
    ASSERT_TRUE(c.kind && c.namespace_name && c.state);
    EXPECT_EQ(c.count, schema.scalar("SELECT count(*) FROM {s}.delta_resource WHERE kind = $1 "
                                     "AND namespace = $2 AND state::text = $3",
                                     *c.kind, *c.namespace_name, std::string(to_string(*c.state))));
  }
  const auto by_state = admin.count_resources({.kinds = {"a"}}, {delta::ResourceGroup::state});
  EXPECT_EQ(by_state.size(), 7u);
  for (const auto& c : by_state) {
    EXPECT_FALSE(c.kind);
    ASSERT_TRUE(c.state);
  }
  EXPECT_EQ(total(by_state), schema.count("delta_resource WHERE kind = 'a'"));
  // No match: one total of zero, or no groups.
  const auto none = admin.count_resources({.kinds = {"zzz"}});
  ASSERT_EQ(none.size(), 1u);
  EXPECT_EQ(none[0].count, 0);
  EXPECT_TRUE(admin.count_resources({.kinds = {"zzz"}}, {delta::ResourceGroup::kind}).empty());
}

TEST(admin_pgtest, PagesReturnEveryRowOnceWhileRowsAreInserted) {
  ScratchSchema schema("admin", SchemaStart::migrated);
  seed(schema);
  auto admin = make_admin(schema);
  for (auto order : {delta::SortOrder::newest_first, delta::SortOrder::oldest_first}) {
    SCOPED_TRACE(order == delta::SortOrder::newest_first ? "newest first" : "oldest first");
    const auto before = schema.scalar("SELECT max(id) FROM {s}.delta_resource");
    std::set<std::int64_t> seen;
    std::vector<std::int64_t> ids;
    delta::Page page{.limit = 37, .order = order};
    int pages = 0;
    for (;;) {
      auto listing = admin.list_resources({.kinds = {"a", "b", "c", "d"}}, page);
      ++pages;
      for (const auto& row : listing.rows) {
        EXPECT_TRUE(seen.insert(row.id).second) << "row " << row.id << " listed twice";
        ids.push_back(row.id);
      }
      // Rows are inserted between pages.
      schema.pool().exec(
          schema.sql("INSERT INTO {s}.delta_resource (kind, object_id, object, "
                     "hash) VALUES ('d', $1, '{{}}', '\\x00')"),
          "new-" + std::to_string(static_cast<int>(order)) + "-" + std::to_string(pages));
      if (listing.next_cursor.empty()) break;
      page.cursor = listing.next_cursor;
    }
    EXPECT_GT(pages, 10);
    // Every row that existed at the start was listed, in order.
    const auto existing =
        schema.scalar("SELECT count(*) FROM {s}.delta_resource WHERE id <= $1", before);
    std::int64_t listed_existing = 0;
    for (auto id : seen)
      if (id <= before) ++listed_existing;
    EXPECT_EQ(listed_existing, existing);
    EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end(), [&](auto a, auto b) {
      return order == delta::SortOrder::newest_first ? a > b : a < b;
    }));
  }
}

TEST(admin_pgtest, GetResourceHasItsLeaseAndErrorsAndNotFound) {
  ScratchSchema schema("admin", SchemaStart::migrated);
  seed(schema);
  schema.pool().exec(schema.sql(
      "UPDATE {s}.delta_resource SET lease_owner = 'client-1', lease_expires_at = now(), "
      "generation = 7, attempt = 3, errors = ARRAY[jsonb_build_object('attempt', 3, 'error', "
      "'boom', 'type', 'retry', 'at', now())] WHERE object_id = 'obj-1'"));
  auto admin = make_admin(schema);
  const auto row = admin.get_resource("b", "obj-1");
  EXPECT_EQ(row.kind, "b");
  EXPECT_EQ(row.generation, 7);
  EXPECT_EQ(row.attempt, 3);
  EXPECT_EQ(row.lease_owner, "client-1");
  EXPECT_TRUE(row.lease_expires_at.has_value());
  ASSERT_EQ(row.errors.size(), 1u);
  EXPECT_EQ(row.errors[0].error, "boom");
  EXPECT_THROW(admin.get_resource("b", "obj-2"), delta::NotFound);  // obj-2 is kind c
  EXPECT_THROW(admin.get_resource("B!", "x"), delta::ValidationError);
}

TEST(admin_pgtest, BadArgumentsAreValidationErrors) {
  ScratchSchema schema("admin", SchemaStart::migrated);
  auto admin = make_admin(schema);
  auto field_of = [](auto&& call) {
    try {
      call();
    } catch (const delta::ValidationError& e) {
      return e.field();
    }
    return std::string("(nothing thrown)");
  };
  EXPECT_EQ(field_of([&] { admin.list_resources({}, {.limit = 0}); }), "limit");
  EXPECT_EQ(field_of([&] { admin.list_resources({}, {.limit = 1001}); }), "limit");
  EXPECT_EQ(field_of([&] { admin.list_resources({}, {.cursor = "abc"}); }), "cursor");
  EXPECT_EQ(field_of([&] { admin.list_resources({}, {.cursor = "-5"}); }), "cursor");
  EXPECT_EQ(field_of([&] { admin.list_resources({.kinds = {"Bad Kind"}}); }), "kind");
  EXPECT_EQ(field_of([&] { admin.list_resources({.namespaces = {""}}); }), "namespace");
  EXPECT_EQ(field_of([&] { admin.count_resources({.tags_any = {"!"}}); }), "tag");
  EXPECT_EQ(field_of([&] { admin.retry_resources({.object_ids = {std::string(300, 'x')}}); }),
            "id");
  EXPECT_EQ(field_of([&] { admin.retry_resources({}, {.batch_size = 0}); }), "batch_size");
  const auto now = delta::now();
  EXPECT_EQ(field_of([&] {
              admin.list_resources({.synced = {.from = now, .to = now - std::chrono::hours(1)}});
            }),
            "synced");
  EXPECT_EQ(field_of([&] { admin.list_jobs({.queues = {"No Such"}}); }), "queue");
  EXPECT_EQ(field_of([&] { admin.get_job(0); }), "id");
  EXPECT_EQ(field_of([&] { admin.pause_queue(""); }), "queue");
  EXPECT_EQ(field_of([&] { delta::resource_group_from_string("colour"); }), "group_by");
  EXPECT_EQ(field_of([&] { delta::Admin(schema.shared_pool(), {.schema = "Bad"}); }), "schema");
  EXPECT_EQ(field_of([&] {
              delta::Admin(schema.shared_pool(),
                           {.schema = schema.name(), .statement_timeout = std::chrono::seconds(0)});
            }),
            "statement_timeout");
  EXPECT_EQ(delta::resource_group_from_string("namespace"), delta::ResourceGroup::namespace_name);
}

TEST(admin_pgtest, BulkActionsChangeOnlyWhatTheyApplyTo) {
  ScratchSchema schema("admin", SchemaStart::migrated);
  seed(schema);
  auto admin = make_admin(schema);
  const auto degraded_a = schema.count("delta_resource WHERE kind = 'a' AND state = 'degraded'");
  const auto failed_a = schema.count("delta_resource WHERE kind = 'a' AND state = 'failed'");
  ASSERT_GT(degraded_a, 0);
  // A dry run counts and changes nothing.
  const auto dry = admin.retry_resources({.kinds = {"a"}}, {.dry_run = true});
  EXPECT_TRUE(dry.dry_run);
  EXPECT_EQ(dry.changed, degraded_a + failed_a);
  EXPECT_EQ(schema.count("delta_resource WHERE kind = 'a' AND state = 'degraded'"), degraded_a);
  // Retry of degraded only, in batches of 7, with progress.
  std::vector<std::int64_t> progress;
  const auto retried = admin.retry_resources(
      {.kinds = {"a"}, .states = {ResourceState::degraded, ResourceState::synced}},
      {.batch_size = 7, .progress = [&](std::int64_t n) { progress.push_back(n); }});
  EXPECT_EQ(retried.changed, degraded_a);
  EXPECT_EQ(retried.batches, static_cast<int>((degraded_a + 6) / 7));
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back(), degraded_a);
  EXPECT_EQ(schema.count("delta_resource WHERE kind = 'a' AND state = 'degraded'"), 0);
  EXPECT_EQ(schema.count("delta_resource WHERE kind = 'a' AND state = 'failed'"), failed_a);
  // Synced stayed synced: retry does not apply to it.
  EXPECT_GT(schema.count("delta_resource WHERE kind = 'a' AND state = 'synced'"), 0);
  EXPECT_EQ(schema.count("delta_resource WHERE kind = 'a' AND state = 'scheduled' AND attempt = 0 "
                         "AND run_at <= now()"),
            schema.count("delta_resource WHERE kind = 'a' AND state = 'scheduled'"));

  const auto synced_b = schema.count("delta_resource WHERE kind = 'b' AND state = 'synced'");
  EXPECT_EQ(admin.invalidate_resources({.kinds = {"b"}}).changed, synced_b);
  EXPECT_EQ(schema.count("delta_resource WHERE kind = 'b' AND state = 'synced'"), 0);

  const auto live_c = schema.count("delta_resource WHERE kind = 'c' AND state <> 'deleted'");
  const auto deleted_c = schema.count("delta_resource WHERE kind = 'c' AND state = 'deleted'");
  EXPECT_EQ(admin.delete_resources({.kinds = {"c"}}, {.batch_size = 50}).changed, live_c);
  EXPECT_EQ(schema.count("delta_resource WHERE kind = 'c' AND state <> 'deleted'"), 0);
  // Every one it deleted has its deleted_at (the seeded deleted rows have none).
  EXPECT_EQ(schema.count("delta_resource WHERE kind = 'c' AND deleted_at IS NOT NULL"), live_c);
  EXPECT_EQ(schema.count("delta_resource WHERE kind = 'c' AND state = 'deleted'"),
            live_c + deleted_c);

  schema.pool().exec(
      schema.sql("UPDATE {s}.delta_resource SET run_at = now() + interval '1 day' "
                 "WHERE kind = 'b' AND state = 'scheduled' AND namespace = 'other'"));
  const auto later = schema.count("delta_resource WHERE run_at > now()");
  ASSERT_GT(later, 0);
  EXPECT_EQ(admin.schedule_resources_now({.kinds = {"b"}}, {.dry_run = true}).changed, later);
  EXPECT_EQ(admin.schedule_resources_now({.kinds = {"b"}}).changed, later);
  EXPECT_EQ(schema.count("delta_resource WHERE run_at > now()"), 0);
  // Nothing selected: nothing changed, no batch.
  const auto none = admin.retry_resources({.kinds = {"zzz"}});
  EXPECT_EQ(none.changed, 0);
  EXPECT_EQ(none.batches, 0);
}

struct Item {
  std::string key;
  int value = 0;
  static constexpr std::string_view kind = "item";
  std::string id() const { return key; }
  static delta::ObjectSettings settings() { return {.parallelism = 8}; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Item, key, value)

// Fails every resource until `healthy` is set.
class FlakyController : public delta::Controller<Item> {
 public:
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<Item>&) override {
    return healthy ? delta::synced() : delta::retry("upstream down");
  }
  std::atomic<bool> healthy{false};
};

TEST(admin_pgtest, BulkRetryOfTwentyThousandDegradedResourcesIsSyncedByARunningClient) {
  ScratchSchema schema("admin", SchemaStart::migrated);
  auto controller = std::make_shared<FlakyController>();
  delta::Config config;
  config.schema = schema.name();
  config.controllers.add(controller);
  config.namespaces["default"] = {.max_workers = 8};
  config.poll_interval = std::chrono::milliseconds(50);
  config.heartbeat_interval = std::chrono::milliseconds(100);
  config.logger = delta::null_logger();
  delta::Client client(schema.shared_pool(), config);
  client.start();
  std::vector<Item> items;
  for (int i = 0; i < 20000; ++i)
    items.push_back({"item-" + std::to_string(i), i});
  client.inform_many(std::span<const Item>(items));
  // The outage: every resource degraded (as if its attempts ran out).
  schema.pool().exec(
      schema.sql("UPDATE {s}.delta_resource SET state = 'degraded', attempt = "
                 "max_attempts, lease_owner = NULL, lease_expires_at = NULL"));
  controller->healthy = true;
  auto admin = make_admin(schema);
  ASSERT_EQ(admin.retry_resources({.states = {ResourceState::degraded}}, {.dry_run = true}).changed,
            20000);
  std::vector<std::int64_t> progress;
  const auto result =
      admin.retry_resources({.kinds = {"item"}, .states = {ResourceState::degraded}},
                            {.progress = [&](std::int64_t n) { progress.push_back(n); }});
  EXPECT_EQ(result.changed, 20000);
  EXPECT_EQ(result.batches, 4);  // 5,000 a transaction
  EXPECT_EQ(progress, (std::vector<std::int64_t>{5000, 10000, 15000, 20000}));
  ASSERT_TRUE(
      eventually([&] { return schema.count("delta_resource WHERE state = 'synced'") == 20000; },
                 std::chrono::seconds(60), std::chrono::milliseconds(100)));
  // Clients, status and controllers see the running client.
  const auto clients = admin.list_clients();
  ASSERT_EQ(clients.size(), 1u);
  EXPECT_EQ(clients[0].id, client.id());
  EXPECT_EQ(clients[0].pid, static_cast<int>(::getpid()));
  ASSERT_TRUE(eventually([&] { return admin.status().leader == client.id(); }));
  const auto status = admin.status();
  EXPECT_EQ(status.schema_version, delta::latest_schema_version());
  EXPECT_EQ(status.latest_schema_version, delta::latest_schema_version());
  EXPECT_EQ(total(status.resources), 20000);
  EXPECT_FALSE(status.resource_lag.has_value());
  const auto controllers = admin.list_controllers();
  ASSERT_EQ(controllers.size(), 1u);
  EXPECT_EQ(controllers[0].kind, "item");
  EXPECT_EQ(controllers[0].clients, 1);
  ASSERT_EQ(controllers[0].states.size(), 1u);
  EXPECT_EQ(controllers[0].states[0].state, ResourceState::synced);
  EXPECT_EQ(controllers[0].states[0].count, 20000);
  const auto namespaces = admin.list_namespaces();
  ASSERT_EQ(namespaces.size(), 1u);
  EXPECT_EQ(namespaces[0].name, "default");
  EXPECT_EQ(total(namespaces[0].states), 20000);
  client.stop();
  EXPECT_TRUE(admin.list_clients().empty());
}

TEST(admin_pgtest, StatusReportsTheLagOfWaitingWork) {
  ScratchSchema schema("admin", SchemaStart::migrated);
  schema.pool().exec(schema.sql("INSERT INTO {s}.delta_controller (kind) VALUES ('a')"));
  schema.pool().exec(
      schema.sql("INSERT INTO {s}.delta_resource (kind, object_id, object, hash, run_at) "
                 "VALUES ('a', 'x', '{{}}', '\\x00', now() - interval '2 minutes')"));
  schema.pool().exec(
      schema.sql("INSERT INTO {s}.delta_job (kind, queue, args, scheduled_at) "
                 "VALUES ('k', 'q', '{{}}', now() - interval '3 minutes')"));
  auto admin = make_admin(schema);
  const auto status = admin.status();
  ASSERT_TRUE(status.resource_lag && status.job_lag);
  EXPECT_GE(*status.resource_lag, std::chrono::minutes(2));
  EXPECT_LT(*status.resource_lag, std::chrono::minutes(3));
  EXPECT_GE(*status.job_lag, std::chrono::minutes(3));
  EXPECT_FALSE(status.leader.has_value());
  EXPECT_TRUE(status.clients.empty());
  ASSERT_EQ(status.queues.size(), 1u);
  EXPECT_EQ(status.queues[0].name, "q");
  ASSERT_EQ(status.queues[0].states.size(), 1u);
  EXPECT_EQ(status.queues[0].states[0].state, delta::jobs::JobState::available);
  EXPECT_EQ(status.queues[0].states[0].count, 1);
  ASSERT_TRUE(status.queues[0].oldest_available_age);
  EXPECT_GE(*status.queues[0].oldest_available_age, std::chrono::minutes(3));
}

TEST(admin_pgtest, KindLagHasEveryRunnableOrRegisteredKind) {
  ScratchSchema schema("admin", SchemaStart::migrated);
  schema.pool().exec(schema.sql("INSERT INTO {s}.delta_controller (kind) VALUES ('a')"));
  schema.pool().exec(schema.sql(R"(
    INSERT INTO {s}.delta_resource (kind, object_id, object, hash, state, run_at) VALUES
      ('b', 'due', '{{}}', '\x00', 'failed', now() - interval '2 minutes'),
      ('b', 'later', '{{}}', '\x00', 'scheduled', now() + interval '1 hour'),
      ('c', 'later', '{{}}', '\x00', 'expired', now() + interval '1 hour'),
      ('d', 'done', '{{}}', '\x00', 'synced', now() - interval '1 hour'))"));
  auto admin = make_admin(schema);
  const auto lags = admin.kind_lag();
  ASSERT_EQ(lags.size(), 3u);
  EXPECT_EQ(lags[0].kind, "a");
  EXPECT_FALSE(lags[0].lag.has_value());
  EXPECT_EQ(lags[1].kind, "b");
  ASSERT_TRUE(lags[1].lag.has_value());
  EXPECT_GE(*lags[1].lag, std::chrono::minutes(2));
  EXPECT_LT(*lags[1].lag, std::chrono::minutes(3));
  EXPECT_EQ(lags[2].kind, "c");
  EXPECT_FALSE(lags[2].lag.has_value());
}

TEST(admin_pgtest, ThroughputCountsLastSyncsAttemptsAndFinishedJobsPerMinute) {
  ScratchSchema schema("admin", SchemaStart::migrated);
  // Everything is placed relative to a minute ten minutes back, read once, so that a
  // minute turning during the test moves no count into another minute.
  const auto base = schema.pool()
                        .exec("SELECT date_trunc('minute', now()) - interval '10 minutes'")
                        .one()
                        .get<delta::Timestamp>(0);
  const auto at = [&](const char* offset) {
    return fmt::format("$1::timestamptz + interval '{}'", offset);
  };
  schema.pool().exec(schema.sql(fmt::format(R"(
    INSERT INTO {{s}}.delta_resource
      (kind, object_id, namespace, object, hash, state, synced_at, attempted_at, run_at)
    SELECT 'a', 'synced-' || n, CASE WHEN n <= 3 THEN 'default' ELSE 'other' END, '{{{{}}}}'::jsonb,
           '\x00'::bytea, 'synced'::{{s}}.resource_state, CASE WHEN n <= 3 THEN {0} ELSE {1} END, {0}, now()
    FROM generate_series(1, 5) n
    UNION ALL
    SELECT 'a', 'old', 'default', '{{{{}}}}'::jsonb, '\x00'::bytea, 'synced'::{{s}}.resource_state, now() - interval '2 hours',
           now() - interval '2 hours', now()
    UNION ALL
    SELECT 'b', 'failed-' || n, 'default', '{{{{}}}}'::jsonb, '\x00'::bytea, 'failed'::{{s}}.resource_state, NULL, {2},
           now() + interval '1 hour'
    FROM generate_series(1, 2) n
    UNION ALL
    SELECT 'b', 'failed-long-ago', 'default', '{{{{}}}}'::jsonb, '\x00'::bytea, 'failed'::{{s}}.resource_state, NULL,
           now() - interval '2 hours', now() + interval '1 hour'
    UNION ALL
    SELECT 'c', 'degraded', 'default', '{{{{}}}}'::jsonb, '\x00'::bytea, 'degraded'::{{s}}.resource_state, NULL, {2}, now()
    UNION ALL
    SELECT 'c', 'retried', 'default', '{{{{}}}}'::jsonb, '\x00'::bytea, 'scheduled'::{{s}}.resource_state, NULL, {2}, now())",
                                            at("10 seconds"), at("20 seconds"), at("70 seconds"))),
                     base);
  schema.pool().exec(schema.sql(fmt::format(R"(
    INSERT INTO {{s}}.delta_job (kind, queue, state, attempted_at, scheduled_at, finalized_at)
    VALUES ('k', 'q', 'completed', {0}, {0}, {0}), ('k', 'q', 'completed', {0}, {0}, {0}),
           ('k', 'q', 'discarded', {0}, {0}, {0}), ('k', 'q', 'cancelled', {0}, {0}, {0}),
           ('k', 'q', 'retryable', {0}, now() + interval '1 hour', NULL),
           ('k', 'q', 'available', {0}, now(), NULL))",
                                            at("130 seconds"))),
                     base);

  auto admin = make_admin(schema);
  const auto minutes = admin.throughput();
  ASSERT_EQ(minutes.size(), 60u);
  const auto now_minute =
      schema.pool().exec("SELECT date_trunc('minute', now())").one().get<delta::Timestamp>(0);
  EXPECT_EQ(minutes.back().minute, now_minute);
  for (std::size_t i = 1; i < minutes.size(); ++i)
    EXPECT_EQ(minutes[i].minute - minutes[i - 1].minute, std::chrono::minutes(1));
  std::map<std::int64_t, delta::ThroughputMinute> nonzero;  // minutes after base
  for (const auto& minute : minutes) {
    if (minute.synced + minute.failed + minute.jobs_completed + minute.jobs_failed == 0) continue;
    nonzero[std::chrono::duration_cast<std::chrono::minutes>(minute.minute - base).count()] =
        minute;
  }
  ASSERT_EQ(nonzero.size(), 3u);
  ASSERT_TRUE(nonzero.count(0) && nonzero.count(1) && nonzero.count(2));
  EXPECT_EQ(nonzero[0].synced, 5);
  EXPECT_EQ(nonzero[0].failed, 0);
  EXPECT_EQ(nonzero[1].failed, 3);  // two failed, one degraded; not the one retried since
  EXPECT_EQ(nonzero[1].synced, 0);
  EXPECT_EQ(nonzero[2].jobs_completed, 2);
  EXPECT_EQ(nonzero[2].jobs_failed, 2);  // discarded, retryable; not cancelled

  EXPECT_EQ(admin.throughput(std::chrono::minutes(1)).size(), 1u);
  EXPECT_THROW(admin.throughput(std::chrono::minutes(0)), delta::ValidationError);
  EXPECT_THROW(admin.throughput(std::chrono::minutes(1441)), delta::ValidationError);
}

TEST(admin_pgtest, JobsListGetAndBulkActions) {
  ScratchSchema schema("admin", SchemaStart::migrated);
  // 300 jobs over queues q1/q2 and kinds k1/k2/k3, in every non-running state.
  schema.pool().exec(schema.sql(R"(
    INSERT INTO {s}.delta_job (kind, queue, state, args, finalized_at)
    SELECT 'k' || (n % 3 + 1), 'q' || (n % 2 + 1), st::{s}.job_state, jsonb_build_object('n', n),
           CASE WHEN st IN ('completed', 'cancelled', 'discarded') THEN now() END
    FROM generate_series(1, 300) n,
         LATERAL (SELECT (ARRAY['available', 'scheduled', 'retryable', 'completed', 'cancelled',
                                'discarded'])[n % 6 + 1] AS st) s)"));
  auto admin = make_admin(schema);
  std::set<std::int64_t> seen;
  delta::Page page{.limit = 40, .order = delta::SortOrder::oldest_first};
  for (;;) {
    auto listing = admin.list_jobs({.queues = {"q1"}}, page);
    for (const auto& job : listing.rows) {
      EXPECT_EQ(job.queue, "q1");
      EXPECT_TRUE(seen.insert(job.id).second);
    }
    if (listing.next_cursor.empty()) break;
    page.cursor = listing.next_cursor;
  }
  EXPECT_EQ(static_cast<std::int64_t>(seen.size()), schema.count("delta_job WHERE queue = 'q1'"));
  const auto some = *seen.begin();
  EXPECT_EQ(admin.get_job(some).id, some);
  EXPECT_THROW(admin.get_job(999999), delta::NotFound);
  EXPECT_EQ(admin
                .list_jobs({.kinds = {"k2"}, .states = {delta::jobs::JobState::discarded}},
                           {.limit = 1000})
                .rows.size(),
            static_cast<std::size_t>(
                schema.count("delta_job WHERE kind = 'k2' AND state = 'discarded'")));

  // Cancel what waits in q1 (finished jobs are left alone).
  const auto waiting_q1 = schema.count(
      "delta_job WHERE queue = 'q1' AND state IN ('available', 'scheduled', "
      "'retryable')");
  EXPECT_EQ(admin.cancel_jobs({.queues = {"q1"}}, {.dry_run = true}).changed, waiting_q1);
  EXPECT_EQ(admin.cancel_jobs({.queues = {"q1"}}, {.batch_size = 9}).changed, waiting_q1);
  EXPECT_EQ(schema.count("delta_job WHERE queue = 'q1' AND state IN ('available', 'scheduled', "
                         "'retryable')"),
            0);
  // Retry the discarded of k1: available now.
  const auto discarded_k1 = schema.count("delta_job WHERE kind = 'k1' AND state = 'discarded'");
  EXPECT_EQ(
      admin.retry_jobs({.kinds = {"k1"}, .states = {delta::jobs::JobState::discarded}}).changed,
      discarded_k1);
  EXPECT_EQ(schema.count("delta_job WHERE kind = 'k1' AND state = 'discarded'"), 0);
  // Delete the completed of q2.
  const auto completed_q2 = schema.count("delta_job WHERE queue = 'q2' AND state = 'completed'");
  ASSERT_GT(completed_q2, 0);
  EXPECT_EQ(
      admin.delete_jobs({.queues = {"q2"}, .states = {delta::jobs::JobState::completed}}).changed,
      completed_q2);
  EXPECT_EQ(schema.count("delta_job WHERE queue = 'q2' AND state = 'completed'"), 0);
  // A running job is never deleted.
  schema.pool().exec(
      schema.sql("INSERT INTO {s}.delta_job (kind, queue, state, args, "
                 "attempted_at, attempted_by, attempt) VALUES ('k1', 'q3', "
                 "'running', '{{}}', now(), 'someone', 1)"));
  EXPECT_EQ(admin.delete_jobs({.queues = {"q3"}}).changed, 0);
  EXPECT_EQ(schema.count("delta_job WHERE queue = 'q3'"), 1);
  // Cancelling it asks it to stop instead.
  EXPECT_EQ(admin.cancel_jobs({.queues = {"q3"}}).changed, 1);
  EXPECT_EQ(schema.count("delta_job WHERE queue = 'q3' AND state = 'running' AND metadata ? "
                         "'cancel_requested_at'"),
            1);

  // Queues: pause and resume.
  admin.pause_queue("q1");
  auto queues = admin.list_queues();
  std::map<std::string, delta::QueueInfo> by_name;
  for (auto& q : queues)
    by_name[q.name] = q;
  ASSERT_TRUE(by_name.count("q1") && by_name.count("q2") && by_name.count("q3"));
  EXPECT_TRUE(by_name["q1"].paused_at.has_value());
  EXPECT_FALSE(by_name["q2"].paused_at.has_value());
  std::int64_t q2_jobs = 0;
  for (const auto& s : by_name["q2"].states)
    q2_jobs += s.count;
  EXPECT_EQ(q2_jobs, schema.count("delta_job WHERE queue = 'q2'"));
  admin.resume_queue("q1");
  EXPECT_EQ(schema.count("delta_queue WHERE name = 'q1' AND paused_at IS NULL"), 1);
}

struct Polled {
  std::string key;
  static constexpr std::string_view kind = "polled";
  std::string id() const { return key; }
  static delta::ObjectSettings settings() {
    return {.parallelism = 4, .inform_interval = std::chrono::milliseconds(150)};
  }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Polled, key)

// Counts its work and its informer runs (which emit nothing).
class PolledController : public delta::Controller<Polled> {
 public:
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<Polled>&) override {
    ++worked;
    return delta::synced();
  }
  void inform(delta::InformContext&, const delta::InformOptions&,
              delta::InformSink<Polled>&) override {
    ++runs;
  }
  std::atomic<int> worked{0};
  std::atomic<int> runs{0};
};

TEST(admin_pgtest, APausedKindIsNeitherClaimedNorInformedByAnyClientUntilResumed) {
  ScratchSchema schema("admin", SchemaStart::migrated);
  auto controller = std::make_shared<PolledController>();
  auto config = delta::testing::maintenance_config(schema.name());
  config.controllers.add(controller);
  config.namespaces["default"] = {.max_workers = 4};
  // Two clients: a pause must hold in every process.
  delta::Client first(schema.shared_pool(), config);
  delta::Client second(delta::testing::make_pool(), config);
  first.start();
  second.start();
  auto admin = make_admin(schema);
  const auto inform = [&](const std::string& prefix, int n) {
    std::vector<Polled> objects;
    for (int i = 0; i < n; ++i)
      objects.push_back({prefix + std::to_string(i)});
    first.inform_many(std::span<const Polled>(objects));
  };
  inform("before-", 50);
  ASSERT_TRUE(
      eventually([&] { return schema.count("delta_resource WHERE state = 'synced'") == 50; }));
  ASSERT_TRUE(eventually([&] { return controller->runs >= 2; })) << "the informer runs";
  // The next periodic run is waiting (or running): the listing sees its job.
  ASSERT_TRUE(eventually([&] { return admin.list_controllers()[0].next_inform_at.has_value(); }));
  // An informer run on demand.
  const int before_demand = controller->runs;
  EXPECT_EQ(admin.schedule_inform("polled", true).job.queue, delta::kInformQueue);
  ASSERT_TRUE(eventually([&] { return controller->runs > before_demand; }));
  EXPECT_THROW(admin.schedule_inform("unregistered"), delta::ValidationError);
  // Informer jobs can be listed by their kind.
  EXPECT_FALSE(admin.list_jobs({.kinds = {"delta.inform:polled"}}).rows.empty());

  admin.pause_kind("polled");
  admin.pause_kind("polled");  // idempotent
  {
    const auto controllers = admin.list_controllers();
    ASSERT_EQ(controllers.size(), 1u);
    EXPECT_TRUE(controllers[0].paused_at.has_value());
    EXPECT_EQ(controllers[0].clients, 2);
  }
  // Informs are still stored, but nobody claims them.
  inform("during-", 30);
  EXPECT_EQ(schema.count("delta_resource WHERE object_id LIKE 'during-%' AND state = "
                         "'scheduled'"),
            30);
  // Informer runs already scheduled finish; then none is scheduled.
  ASSERT_TRUE(eventually([&] {
    return schema.scalar(
               "SELECT count(*) FROM {s}.delta_job WHERE queue = $1 AND state IN "
               "('available', 'scheduled', 'retryable', 'running')",
               std::string(delta::kInformQueue)) == 0;
  }));
  const int runs = controller->runs;
  EXPECT_TRUE(delta::testing::consistently(
      [&] {
        return controller->runs == runs &&
               schema.count(
                   "delta_resource WHERE object_id LIKE 'during-%' AND state = "
                   "'scheduled'") == 30;
      },
      std::chrono::milliseconds(1000)));

  admin.resume_kind("polled");
  EXPECT_FALSE(admin.list_controllers()[0].paused_at.has_value());
  ASSERT_TRUE(
      eventually([&] { return schema.count("delta_resource WHERE state = 'synced'") == 80; }));
  ASSERT_TRUE(eventually([&] { return controller->runs > runs; })) << "periodic informs resume";
  second.stop();
  first.stop();
}

struct Listed {
  std::string key;
  int value = 0;
  static constexpr std::string_view kind = "listed";
  std::string id() const { return key; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Listed, key, value)

// Its informer emits `objects`, then throws if `fail` is set.
class ListedController : public delta::Controller<Listed> {
 public:
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<Listed>&) override {
    return delta::synced();
  }
  void inform(delta::InformContext&, const delta::InformOptions&,
              delta::InformSink<Listed>& sink) override {
    std::vector<Listed> now;
    {
      std::lock_guard lock(mutex);
      now = objects;
    }
    for (const auto& object : now)
      sink.emit(object);
    if (fail) throw std::runtime_error("source went away");
  }
  void set(std::vector<Listed> next) {
    std::lock_guard lock(mutex);
    objects = std::move(next);
  }
  std::atomic<bool> fail{false};

 private:
  std::mutex mutex;
  std::vector<Listed> objects;
};

TEST(admin_pgtest, ControllersHaveWhatTheLastInformerRunWrote) {
  ScratchSchema schema("admin", SchemaStart::migrated);
  auto controller = std::make_shared<ListedController>();
  auto config = delta::testing::maintenance_config(schema.name());
  config.controllers.add(controller);  // no namespaces: nothing is worked
  delta::Client client(schema.shared_pool(), config);
  client.start();
  auto admin = make_admin(schema);
  const auto listed = [&] {
    for (const auto& info : admin.list_controllers())
      if (info.kind == "listed") return info;
    ADD_FAILURE() << "kind listed is not registered";
    return delta::ControllerInfo{};
  };
  ASSERT_TRUE(eventually([&] { return !admin.list_controllers().empty(); }));
  EXPECT_FALSE(listed().last_inform_counts.has_value()) << "no run has finished";

  // Stored before the run: a-0..a-9 with value 0, a-9 then deleted.
  std::vector<Listed> stored;
  for (int i = 0; i < 10; ++i)
    stored.push_back({"a-" + std::to_string(i), 0});
  client.inform_many(std::span<const Listed>(stored));
  schema.pool().exec(
      schema.sql("UPDATE {s}.delta_resource SET state = 'deleted' WHERE object_id = 'a-9'"));
  // The run: a-0..a-4 unchanged, a-5..a-8 changed, a-9 deleted (left alone), b-0..b-2 new.
  std::vector<Listed> emitted;
  for (int i = 0; i < 10; ++i)
    emitted.push_back({"a-" + std::to_string(i), i < 5 ? 0 : 1});
  for (int i = 0; i < 3; ++i)
    emitted.push_back({"b-" + std::to_string(i), 0});
  controller->set(emitted);
  const auto started = delta::now();
  admin.schedule_inform("listed");
  ASSERT_TRUE(eventually([&] {
    const auto info = listed();
    return info.last_inform_finished_at && *info.last_inform_finished_at >= started;
  }));
  auto info = listed();
  ASSERT_TRUE(info.last_inform_counts.has_value());
  EXPECT_EQ(info.last_inform_counts->emitted, 13);
  EXPECT_EQ(info.last_inform_counts->inserted, 3);
  EXPECT_EQ(info.last_inform_counts->changed, 4);
  EXPECT_EQ(info.last_inform_counts->unchanged, 5);
  EXPECT_EQ(info.last_inform_counts->stale, 0);
  EXPECT_EQ(info.last_inform_counts->skipped_deleted, 1);
  EXPECT_FALSE(info.last_inform_error.has_value());
  // The same as the client's own record of the run.
  const auto run = client.last_inform_run("listed");
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(static_cast<std::int64_t>(run->inserted), info.last_inform_counts->inserted);
  EXPECT_EQ(static_cast<std::int64_t>(run->unchanged), info.last_inform_counts->unchanged);

  // A failed run records what it wrote before it failed, and why it failed.
  ASSERT_TRUE(eventually([&] {
    return schema.count("delta_job WHERE kind = 'delta.inform:listed' AND state = 'completed'") ==
           1;
  }));
  controller->set({{"c-0", 0}, {"a-0", 0}});
  controller->fail = true;
  const auto failing = delta::now();
  admin.schedule_inform("listed");
  ASSERT_TRUE(eventually([&] {
    info = listed();
    return info.last_inform_error.has_value() && info.last_inform_finished_at &&
           *info.last_inform_finished_at >= failing;
  }));
  EXPECT_NE(info.last_inform_error->find("source went away"), std::string::npos)
      << *info.last_inform_error;
  ASSERT_TRUE(info.last_inform_counts.has_value());
  EXPECT_EQ(info.last_inform_counts->emitted, 2);
  EXPECT_EQ(info.last_inform_counts->inserted + info.last_inform_counts->unchanged, 2)
      << "c-0 is new the first time; a retry of the run finds it stored";
  client.stop();
}

}  // namespace
