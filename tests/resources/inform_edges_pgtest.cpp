// Edges of inform against a live PostgreSQL: a call that fails inside a combined statement,
// compare() while another transaction holds the rows, a stored object that no longer
// parses, the inform_opts() hook, options-only changes, errors cleared by a change, and
// inform_many_tx.
//
// No client here works anything: every test informs with the fixture's reader (or its own
// transactions) and reads the rows back.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <delta/client.hpp>
#include <delta/errors.hpp>
#include <delta/pg.hpp>
#include <delta/resource.hpp>

#include "support/keyed_objects.hpp"
#include "support/pg_test.hpp"
#include "support/resource_test.hpp"
#include "support/test_controller.hpp"

namespace {

using delta::InformStatus;
using delta::ResourceRow;
using delta::ResourceState;
using namespace delta::testing;
using namespace std::chrono_literals;

// With an inform_opts() hook giving every option.
struct Hooked {
  std::string key;
  std::string action = "sync";
  int version = 0;
  DELTA_KEYED_MEMBERS("hooked", 1)
  delta::InformOpts inform_opts() const {
    return {.namespace_name = "crm",
            .metadata = nlohmann::json{{"source", "hook"}},
            .max_attempts = 3,
            .tags = {"crm"}};
  }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Hooked, key, action, version)

class InformEdges : public ResourceTest<::testing::Test, Thing, Versioned, Hooked> {
 public:
  InformEdges() : ResourceTest("ie") {}

  // `text` with every {s} replaced by this test's quoted schema name.
  std::string schema_sql(std::string_view text) const {
    return fmt::format(fmt::runtime(text), fmt::arg("s", "\"" + schema_name() + "\""));
  }
};
using inform_edges_pgtest = InformEdges;

// 16 threads inform their own new ids, one call in eight an id a trigger refuses. Only
// those calls fail; every other call is stored and answered with its own row -- also those
// that shared a statement with a refused id (the trigger counts the rows it saw: more
// than one per call means such statements failed and were written again call by call).
TEST_F(inform_edges_pgtest, AFailingCallInACombinedStatementFailsAlone) {
  pool().exec(schema_sql("CREATE SEQUENCE {s}.rows_seen"));
  pool().exec(schema_sql(R"(
    CREATE FUNCTION {s}.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM nextval('{s}.rows_seen');
      IF NEW.object_id LIKE 'refused%' THEN
        RAISE EXCEPTION 'refusing %', NEW.object_id;
      END IF;
      RETURN NEW;
    END $$)"));
  pool().exec(
      schema_sql("CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON {s}.delta_resource "
                 "FOR EACH ROW EXECUTE FUNCTION {s}.refuse()"));
  delta::Client& client = reader();
  constexpr int kThreads = 16;
  constexpr int kCalls = 48;
  std::atomic<int> stored{0}, refused{0}, wrong{0};
  std::vector<std::string> problems(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        const bool refuse = i % 8 == t % 8;
        // "ok-" sorts before "refused-": a combined statement writes the accepted rows
        // before it reaches the refused one.
        const std::string id = fmt::format("{}-{}-{}", refuse ? "refused" : "ok", t, i);
        try {
          auto result = client.inform(Thing{id, "sync", i});
          if (refuse || result.resource.object_id != id ||
              result.status != InformStatus::inserted ||
              result.resource.object.at("version") != i) {
            ++wrong;
            problems[t] = fmt::format("{}: {} {}", id, result.resource.object_id,
                                      delta::to_string(result.status));
          } else {
            ++stored;
          }
        } catch (const delta::DatabaseError& e) {
          if (refuse && contains(e.what(), "refusing " + id)) {
            ++refused;
          } else {
            ++wrong;
            problems[t] = id + ": " + e.what();
          }
        }
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  std::string all;
  for (const auto& problem : problems)
    if (!problem.empty()) all += "\n  " + problem;
  EXPECT_EQ(wrong.load(), 0) << all;
  constexpr int kRefused = kThreads * kCalls / 8;
  EXPECT_EQ(refused.load(), kRefused);
  EXPECT_EQ(stored.load(), kThreads * kCalls - kRefused);
  EXPECT_EQ(count(), kThreads * kCalls - kRefused);
  EXPECT_EQ(count("object_id LIKE 'refused%'"), 0);
  const auto seen = pool().exec(schema_sql("SELECT last_value FROM {s}.rows_seen")).one();
  EXPECT_GT(seen.get<std::int64_t>(0), kThreads * kCalls)
      << "no refused call shared a statement with another: the test proved nothing";
}

// With a compare hook, inform_tx and inform_many_tx lock the rows they compared until the
// caller's transaction ends: a concurrent inform of an older version waits, then sees the
// newer one and is stale (without the lock it would compare against the version before
// and overwrite the newer one).
TEST_F(inform_edges_pgtest, CompareWaitsForATransactionThatInformedTheSameIds) {
  delta::Client& client = reader();
  client.inform(Versioned{"a", "sync", 1});
  client.inform(Versioned{"b", "sync", 1});
  auto tx = pool().begin();
  EXPECT_EQ(client.inform_tx(tx, Versioned{"a", "sync", 3}).status, InformStatus::changed);
  const std::vector<Versioned> newer{{"b", "sync", 3}};
  EXPECT_EQ(client.inform_many_tx(tx, std::span<const Versioned>(newer)).changed, 1u);

  auto single = std::async(std::launch::async, [&] {
    return client.inform(Versioned{"a", "sync", 2});
  });
  auto many = std::async(std::launch::async, [&] {
    return client.inform_many(std::vector<Versioned>{{"b", "sync", 2}});
  });
  EXPECT_TRUE(consistently(
      [&] {
        return single.wait_for(0s) == std::future_status::timeout &&
               many.wait_for(0s) == std::future_status::timeout;
      },
      200ms))
      << "an inform did not wait for the transaction holding its row";
  tx.commit();
  const auto a = single.get();
  EXPECT_EQ(a.status, InformStatus::stale);
  EXPECT_EQ(a.resource.object.at("version"), 3) << "the result is the stored row";
  const auto b = many.get();
  EXPECT_EQ(b.stale, 1u);
  for (const char* id : {"a", "b"}) {
    const ResourceRow r = row(id, Versioned::kind);
    EXPECT_EQ(r.object.at("version"), 3) << id << ": an older version overwrote a newer one";
    EXPECT_EQ(r.generation, 2) << id;
  }
}

// A stored object that no longer parses as T cannot be compared: the content hash decides,
// in inform and in inform_many.
TEST_F(inform_edges_pgtest, AStoredObjectThatNoLongerParsesIsComparedByItsHash) {
  delta::Client& client = reader();
  client.inform(Versioned{"a", "sync", 5});
  const auto corrupt = [&] { set("a", R"(object = '{"key": 42}'::jsonb)", Versioned::kind); };
  corrupt();
  // The same content as the stored hash: unchanged, although compare() cannot run.
  auto same = client.inform(Versioned{"a", "sync", 5});
  EXPECT_EQ(same.status, InformStatus::unchanged);
  // Older by compare(), but compare() cannot run: a different hash is a change.
  auto older = client.inform(Versioned{"a", "sync", 1});
  EXPECT_EQ(older.status, InformStatus::changed);
  EXPECT_EQ(older.resource.generation, 2);
  EXPECT_EQ(older.resource.object.at("version"), 1);

  corrupt();
  auto many = client.inform_many(std::vector<Versioned>{{"a", "sync", 0}});
  EXPECT_EQ(many.changed, 1u);
  const ResourceRow r = row("a", Versioned::kind);
  EXPECT_EQ(r.generation, 3);
  EXPECT_EQ(r.object.at("version"), 0);
}

// inform_opts() supplies every option a call leaves at its default, in inform and
// inform_many; what a call passes wins, field by field.
TEST_F(inform_edges_pgtest, TheInformOptsHookFillsWhatTheCallLeavesOut) {
  delta::Client& client = reader();
  client.inform(Hooked{"plain"});
  client.inform(Hooked{"mixed"}, {.namespace_name = "eu", .tags = {"vip"}});
  client.inform_many(std::vector<Hooked>{{"many"}}, {.max_attempts = 7});
  const auto hooked = [&](const std::string& id) { return row(id, Hooked::kind); };

  const ResourceRow plain = hooked("plain");
  EXPECT_EQ(plain.namespace_name, "crm");
  EXPECT_EQ(plain.metadata, (nlohmann::json{{"source", "hook"}}));
  EXPECT_EQ(plain.max_attempts, 3);
  EXPECT_EQ(plain.tags, (std::vector<std::string>{"crm"}));

  const ResourceRow mixed = hooked("mixed");
  EXPECT_EQ(mixed.namespace_name, "eu");
  EXPECT_EQ(mixed.tags, (std::vector<std::string>{"vip"}));
  EXPECT_EQ(mixed.metadata, (nlohmann::json{{"source", "hook"}}));
  EXPECT_EQ(mixed.max_attempts, 3);

  const ResourceRow many = hooked("many");
  EXPECT_EQ(many.namespace_name, "crm");
  EXPECT_EQ(many.max_attempts, 7);
  EXPECT_EQ(many.tags, (std::vector<std::string>{"crm"}));
}

// Only the object is hashed: new options alone are unchanged and write nothing; forced,
// they are written as a change.
TEST_F(inform_edges_pgtest, NewOptionsAloneAreUnchangedUnlessForced) {
  delta::Client& client = reader();
  client.inform(Thing{"a", "sync", 1});
  const ResourceRow before = row("a");
  const delta::InformOpts other{.namespace_name = "other",
                                .metadata = nlohmann::json{{"k", 1}},
                                .max_attempts = 3,
                                .tags = {"vip"}};
  // Any write would move updated_at (the clock moves on between statements).
  ASSERT_TRUE(eventually([&] {
    return pool().exec("SELECT clock_timestamp() > $1", before.updated_at).one().get<bool>(0);
  }));
  auto unchanged = client.inform(Thing{"a", "sync", 1}, other);
  EXPECT_EQ(unchanged.status, InformStatus::unchanged);
  auto many = client.inform_many(std::vector<Thing>{{"a", "sync", 1}}, other);
  EXPECT_EQ(many.unchanged, 1u);
  const ResourceRow kept = row("a");
  EXPECT_EQ(kept.updated_at, before.updated_at) << "an unchanged inform wrote the row";
  EXPECT_EQ(kept.namespace_name, "default");
  EXPECT_EQ(kept.metadata, nlohmann::json::object());
  EXPECT_EQ(kept.max_attempts, 10);
  EXPECT_TRUE(kept.tags.empty());
  EXPECT_EQ(kept.generation, 1);

  delta::InformOpts forced = other;
  forced.force = true;
  auto changed = client.inform(Thing{"a", "sync", 1}, forced);
  EXPECT_EQ(changed.status, InformStatus::changed);
  const ResourceRow after = row("a");
  EXPECT_EQ(after.namespace_name, "other");
  EXPECT_EQ(after.metadata, (nlohmann::json{{"k", 1}}));
  EXPECT_EQ(after.max_attempts, 3);
  EXPECT_EQ(after.tags, (std::vector<std::string>{"vip"}));
  EXPECT_EQ(after.generation, 2);
}

// A change clears the errors of earlier attempts; an unchanged inform keeps them.
TEST_F(inform_edges_pgtest, AChangedInformClearsErrors) {
  delta::Client& client = reader();
  client.inform(Thing{"a", "retry", 1});
  set("a", R"(state = 'failed', attempt = 2, errors = ARRAY[
        '{"attempt": 1, "at": "2024-01-01T00:00:00Z", "error": "boom 1", "type": "retry"}',
        '{"attempt": 2, "at": "2024-01-01T00:00:01Z", "error": "boom 2", "type": "retry"}'
      ]::jsonb[])");
  ASSERT_EQ(row("a").errors.size(), 2u);
  EXPECT_EQ(client.inform(Thing{"a", "retry", 1}).status, InformStatus::unchanged);
  EXPECT_EQ(row("a").errors.size(), 2u) << "an unchanged inform cleared the errors";
  auto changed = client.inform(Thing{"a", "sync", 2});
  EXPECT_EQ(changed.status, InformStatus::changed);
  EXPECT_TRUE(changed.resource.errors.empty());
  const ResourceRow r = row("a");
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(r.attempt, 0);
  EXPECT_EQ(r.state, ResourceState::scheduled);
}

// inform_many_tx takes effect with the caller's transaction: invisible before the commit,
// nothing after a rollback, every status after a commit.
TEST_F(inform_edges_pgtest, InformManyTxTakesEffectWithTheTransaction) {
  delta::Client& client = reader();
  client.inform(Thing{"kept", "sync", 1});
  const std::vector<Thing> batch{{"kept", "sync", 1}, {"new", "sync", 1}, {"kept2", "sync", 1}};
  {
    auto tx = pool().begin();
    auto result = client.inform_many_tx(tx, std::span<const Thing>(batch));
    EXPECT_EQ(result.inserted, 2u);
    tx.rollback();
  }
  EXPECT_EQ(count(), 1) << "a rolled-back inform_many_tx stored something";

  auto tx = pool().begin();
  auto result = client.inform_many_tx(tx, std::span<const Thing>(batch));
  EXPECT_EQ(count(), 1) << "visible before the commit";
  tx.commit();
  EXPECT_EQ(result.statuses,
            (std::vector<InformStatus>{InformStatus::unchanged, InformStatus::inserted,
                                       InformStatus::inserted}));
  EXPECT_EQ(result.inserted, 2u);
  EXPECT_EQ(result.unchanged, 1u);
  EXPECT_EQ(count(), 3);
  EXPECT_EQ(row("new").state, ResourceState::scheduled);
}

}  // namespace
