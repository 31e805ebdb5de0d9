// The resource API against a live PostgreSQL: inform (single, in a transaction, batched),
// what work() outcomes record, limits on concurrent work, which client works what,
// events, stopping, and the validation of inputs and configuration.
//
// Every test works in its own schema, so the tests can run in parallel against one
// database. Clients use short intervals and tests wait on conditions, never on fixed
// sleeps; a test that must show something does *not* happen watches it for a short window
// after a positive signal proved the machinery ran.
//
// Suites are named after the executable so `ctest -R resources_pgtest` selects them.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <delta/client.hpp>
#include <delta/controller.hpp>
#include <delta/errors.hpp>
#include <delta/pg.hpp>
#include <delta/resource.hpp>
#include <delta/time.hpp>

#include "support/pg_test.hpp"
#include "support/resource_test.hpp"
#include "support/test_controller.hpp"

namespace {

using delta::Client;
using delta::Config;
using delta::EventCategory;
using delta::InformStatus;
using delta::ResourceRow;
using delta::ResourceState;
using delta::Timestamp;
using namespace delta::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// ---- objects ----------------------------------------------------------------------------

// Besides Thing (parallelism 4) and Versioned: object types whose work() is chosen by
// their `action` (TestController), worked by `parallelism` at a time per process.
DELTA_TEST_OBJECT(Narrow, "narrow", 3)
DELTA_TEST_OBJECT(Wide, "wide", 10)
DELTA_TEST_OBJECT(Other, "other", 4)
DELTA_TEST_OBJECT(Ghost, "ghost", 1)
DELTA_TEST_OBJECT(ZeroParallel, "zeropar", 0)
DELTA_TEST_OBJECT(HugeParallel, "hugepar", 10001)
DELTA_TEST_OBJECT(BadKind, "Bad Kind", 1)

// With a created_at hook.
struct Stamped {
  std::string key;
  std::string action = "sync";
  int version = 0;
  std::int64_t at_us = 0;
  static constexpr std::string_view kind = "stamped";
  std::string id() const { return key; }
  std::optional<Timestamp> created_at() const {
    return Timestamp(std::chrono::microseconds(at_us));
  }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Stamped, key, action, version, at_us)

// With free-form JSON content.
struct Doc {
  std::string key;
  std::string action = "sync";
  int version = 0;
  nlohmann::json doc = nlohmann::json::object();
  static constexpr std::string_view kind = "doc";
  std::string id() const { return key; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Doc, key, action, version, doc)

// ---- fixture ----------------------------------------------------------------------------

// config() has controllers for thing, versioned, stamped and doc.
class ResourcesPgTest
    : public delta::testing::ResourceTest<::testing::Test, Thing, Versioned, Stamped, Doc> {
 public:
  ResourcesPgTest() : ResourceTest("res") {}

  // Starts a worker for Wide (parallelism 10) whose default namespace has `max_workers`,
  // informs `objects_n` objects whose work holds (version `version`) and waits until all
  // are synced.
  void sync_held_batch(int max_workers, int objects_n, int version) {
    Config cfg = config();
    add_controller<Wide>(cfg);
    cfg.namespaces["default"] = {.max_workers = max_workers};
    Client& worker = start(std::move(cfg));
    recorder().set_goal(objects_n);
    std::vector<Wide> objects;
    for (int i = 0; i < objects_n; ++i)
      objects.push_back({"w" + std::to_string(i), "hold", version});
    worker.inform_many(objects);
    ASSERT_TRUE(eventually([&] { return count("state = 'synced'") == objects_n; }, 20s));
  }
};

using resources_pgtest = ResourcesPgTest;

// ---- inform -----------------------------------------------------------------------------

TEST_F(resources_pgtest, InformNewObjectReportsAndStoresIt) {
  Client& client = reader();
  const Timestamp before = delta::now();
  auto plain = client.inform(Thing{"plain", "sync", 1});
  EXPECT_EQ(plain.status, InformStatus::inserted);
  EXPECT_FALSE(plain.already_exists);
  EXPECT_TRUE(plain.changed);
  const ResourceRow& r = plain.resource;
  EXPECT_GT(r.id, 0);
  EXPECT_EQ(r.kind, "thing");
  EXPECT_EQ(r.object_id, "plain");
  EXPECT_EQ(r.namespace_name, "default");
  EXPECT_EQ(r.state, ResourceState::scheduled);
  EXPECT_EQ(r.object, nlohmann::json(Thing{"plain", "sync", 1}));
  EXPECT_EQ(r.generation, 1);
  EXPECT_EQ(r.attempt, 0);
  EXPECT_EQ(r.max_attempts, 10) << "the default";
  EXPECT_EQ(r.metadata, nlohmann::json::object());
  EXPECT_TRUE(r.tags.empty());
  EXPECT_TRUE(r.errors.empty());
  EXPECT_FALSE(r.external_created_at.has_value());
  EXPECT_FALSE(r.lease_owner.has_value());
  EXPECT_GE(r.created_at, before - 5s);
  EXPECT_EQ(r.run_at, r.created_at);

  const Stamped stamped{"stamped", "sync", 1, 1'700'000'000'000'000};
  auto with_opts = client.inform(stamped, {.namespace_name = "ns-a",
                                           .metadata = nlohmann::json{{"team", "blue"}},
                                           .max_attempts = 7,
                                           .tags = {"alpha", "beta-1"}});
  EXPECT_EQ(with_opts.status, InformStatus::inserted);
  const ResourceRow stored = row("stamped", Stamped::kind);
  EXPECT_EQ(stored.id, with_opts.resource.id);
  EXPECT_EQ(stored.namespace_name, "ns-a");
  EXPECT_EQ(stored.metadata, (nlohmann::json{{"team", "blue"}}));
  EXPECT_EQ(stored.max_attempts, 7);
  EXPECT_EQ(stored.tags, (std::vector<std::string>{"alpha", "beta-1"}));
  EXPECT_EQ(stored.external_created_at, stamped.created_at());
  EXPECT_EQ(stored.object.at("at_us"), stamped.at_us);
}

TEST_F(resources_pgtest, InformChangedUnchangedAndStale) {
  Client& client = reader();
  const auto first = client.inform(Thing{"a", "sync", 1});
  std::this_thread::sleep_for(5ms);  // so that a write would move updated_at

  auto unchanged = client.inform(Thing{"a", "sync", 1});
  EXPECT_EQ(unchanged.status, InformStatus::unchanged);
  EXPECT_TRUE(unchanged.already_exists);
  EXPECT_FALSE(unchanged.changed);
  EXPECT_EQ(unchanged.resource.id, first.resource.id);
  EXPECT_EQ(unchanged.resource.generation, 1);
  EXPECT_EQ(row("a").updated_at, first.resource.updated_at) << "nothing written";

  auto changed = client.inform(Thing{"a", "sync", 2});
  EXPECT_EQ(changed.status, InformStatus::changed);
  EXPECT_TRUE(changed.already_exists);
  EXPECT_TRUE(changed.changed);
  EXPECT_EQ(changed.resource.id, first.resource.id);
  EXPECT_EQ(changed.resource.generation, 2);
  EXPECT_EQ(changed.resource.object.at("version"), 2);
  EXPECT_EQ(row("a").generation, 2);

  // compare(): an older version is ignored, the same version with other content is a
  // change (the hash decides), a newer one is a change.
  client.inform(Versioned{"v", "sync", 5});
  auto stale = client.inform(Versioned{"v", "retry", 4});
  EXPECT_EQ(stale.status, InformStatus::stale);
  EXPECT_TRUE(stale.already_exists);
  EXPECT_FALSE(stale.changed);
  EXPECT_EQ(stale.resource.object.at("version"), 5) << "the stored row";
  EXPECT_EQ(stale.resource.generation, 1);
  auto same_version = client.inform(Versioned{"v", "remove", 5});
  EXPECT_EQ(same_version.status, InformStatus::changed);
  EXPECT_EQ(same_version.resource.generation, 2);
  auto newer = client.inform(Versioned{"v", "sync", 6});
  EXPECT_EQ(newer.status, InformStatus::changed);
  EXPECT_EQ(newer.resource.generation, 3);
  const ResourceRow v = row("v", Versioned::kind);
  EXPECT_EQ(v.object.at("version"), 6);
  EXPECT_EQ(v.object.at("action"), "sync");
}

TEST_F(resources_pgtest, DeletedThenInformedIsResurrected) {
  Client& worker = start(worker_config());
  worker.inform(Thing{"a", "remove", 1});
  ASSERT_TRUE(eventually(in_state("a", ResourceState::deleted)));
  ASSERT_TRUE(row("a").deleted_at.has_value());

  auto again = worker.inform(Thing{"a", "remove", 1});  // the same content
  EXPECT_EQ(again.status, InformStatus::changed);
  EXPECT_TRUE(again.already_exists);
  EXPECT_TRUE(again.changed);
  EXPECT_EQ(again.resource.state, ResourceState::scheduled);
  EXPECT_EQ(again.resource.generation, 2);
  EXPECT_FALSE(again.resource.deleted_at.has_value());
  // Worked again (and removed again).
  ASSERT_TRUE(eventually([&] { return recorder().runs("a") == 2; }));
  ASSERT_TRUE(eventually(in_state("a", ResourceState::deleted)));
  EXPECT_EQ(row("a").generation, 2);
}

TEST_F(resources_pgtest, InformTxRolledBackStoresNothing) {
  Client& worker = start(worker_config());
  {
    auto tx = pool().begin();
    auto result = worker.inform_tx(tx, Thing{"a", "sync", 1});
    EXPECT_EQ(result.status, InformStatus::inserted);
    EXPECT_EQ(result.resource.object_id, "a");
    tx.rollback();
  }
  EXPECT_FALSE(exists("a"));
  EXPECT_EQ(count(), 0);
  worker.inform(Thing{"probe", "sync", 1});
  ASSERT_TRUE(eventually(in_state("probe", ResourceState::synced)));
  EXPECT_TRUE(consistently([&] { return recorder().runs("a") == 0 && !exists("a"); }, 200ms));
}

TEST_F(resources_pgtest, InformTxCommittedIsStoredAndWorkedAtOnce) {
  Config cfg = worker_config();
  cfg.poll_interval = 30s;  // only the commit's notification can wake the worker in time
  Client& worker = start(std::move(cfg));
  auto tx = pool().begin();
  auto result = worker.inform_tx(tx, Thing{"a", "sync", 1});
  EXPECT_EQ(result.status, InformStatus::inserted);
  EXPECT_FALSE(exists("a")) << "not visible before the commit";
  tx.commit();
  ASSERT_TRUE(exists("a"));
  EXPECT_TRUE(eventually(in_state("a", ResourceState::synced), 5s));
  EXPECT_EQ(recorder().runs("a"), 1);
}

// Claims continue after the last row a claim took (ClaimCursors). A resource that becomes
// runnable behind that point -- informed in a transaction that began before the rows the
// claims passed -- is still claimed as soon as the rows after it run out, not only at the
// next poll.
TEST_F(resources_pgtest, ARowCommittedBehindTheClaimCursorIsStillClaimed) {
  Config cfg = worker_config(1);
  cfg.poll_interval = 30s;    // the periodic claim from the beginning cannot be what finds it
  cfg.resource_prefetch = 4;  // claims of at most 5: the first one does not take all 30
  Client& worker = start(std::move(cfg));
  auto tx = pool().begin();
  worker.inform_tx(tx, Thing{"early", "sync", 1});  // run_at: the transaction's start
  std::vector<Thing> backlog;
  for (int i = 0; i < 30; ++i)
    backlog.push_back({fmt::format("n{:02}", i), i == 0 ? "block" : "sync", 1});
  worker.inform_many(backlog);
  // The first claim took a full buffer (the worker holds n00): the cursor is past "early".
  ASSERT_TRUE(eventually([&] { return recorder().runs("n00") == 1; }, 5s));
  ASSERT_TRUE(eventually([&] { return count("state = 'pending'") == 5; }, 5s));
  tx.commit();
  EXPECT_LT(row("early").run_at, row("n00").run_at);
  gate().open();
  EXPECT_TRUE(eventually(in_state("early", ResourceState::synced), 10s));
  EXPECT_TRUE(eventually([&] { return count("state = 'synced'") == 31; }, 10s));
  EXPECT_EQ(recorder().runs("early"), 1);
}

// Concurrent inform() calls of a kind are written together (one statement per batch of
// waiting calls): every caller still gets its own result, and two callers informing the
// same id both succeed, one inserting and one seeing it.
TEST_F(resources_pgtest, ConcurrentInformsEachGetTheirOwnResult) {
  Client& client = reader();
  constexpr int kThreads = 16;
  constexpr int kPerThread = 150;
  std::vector<std::vector<delta::InformResult>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Each thread informs its own ids; every tenth call informs an id shared by all.
        const std::string id = i % 10 == 0 ? "shared" + std::to_string(i)
                                           : "t" + std::to_string(t) + "-" + std::to_string(i);
        results[t].push_back(client.inform(Thing{id, "sync", i}));
      }
    });
  }
  for (auto& thread : threads)
    thread.join();

  std::map<std::string, int> inserted_by_id;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(results[t].size(), static_cast<std::size_t>(kPerThread));
    for (int i = 0; i < kPerThread; ++i) {
      const delta::InformResult& result = results[t][i];
      const std::string id = i % 10 == 0 ? "shared" + std::to_string(i)
                                         : "t" + std::to_string(t) + "-" + std::to_string(i);
      ASSERT_EQ(result.resource.object_id, id) << "a caller got another call's row";
      EXPECT_EQ(result.resource.object.at("version"), i);
      EXPECT_GT(result.resource.id, 0);
      if (i % 10 != 0) {
        EXPECT_EQ(result.status, InformStatus::inserted) << id;
      } else {
        EXPECT_TRUE(result.status == InformStatus::inserted ||
                    result.status == InformStatus::unchanged)
            << id << ": " << delta::to_string(result.status);
      }
      if (result.status == InformStatus::inserted) ++inserted_by_id[id];
    }
  }
  for (int i = 0; i < kPerThread; i += 10)
    EXPECT_EQ(inserted_by_id["shared" + std::to_string(i)], 1) << "exactly one caller inserts";
  EXPECT_EQ(count(), kThreads * (kPerThread - kPerThread / 10) + kPerThread / 10);
  EXPECT_EQ(count("generation = 1 AND state = 'scheduled'"), count());
}

// Callers that come back at uneven times: some within the window in which the next
// statement waits for the callers just answered, some after it, some not at all (each
// round's threads make one to three calls and end). Every call is answered -- none is
// left waiting for a statement that no one writes (the round's join would hang) -- and
// each with its own row.
TEST_F(resources_pgtest, InformCallersComingAndGoingAreAllAnswered) {
  Client& client = reader();
  constexpr int kRounds = 30;
  constexpr int kThreads = 8;
  std::atomic<int> answered{0};
  int expected = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      const int calls = 1 + (round + t) % 3;
      expected += calls;
      threads.emplace_back([&, round, t, calls] {
        for (int i = 0; i < calls; ++i) {
          const std::string id =
              "r" + std::to_string(round) + "-" + std::to_string(t) + "-" + std::to_string(i);
          auto result = client.inform(Thing{id, "sync", i});
          if (result.resource.object_id == id && result.status == InformStatus::inserted) {
            ++answered;
          }
          // 0, 0.2 or 0.6 ms before the next call: before and after the others' window.
          constexpr int kPauseMicros[] = {0, 200, 600};
          std::this_thread::sleep_for(std::chrono::microseconds(kPauseMicros[(i + t) % 3]));
        }
      });
    }
    for (auto& thread : threads)
      thread.join();
  }
  EXPECT_EQ(answered.load(), expected);
  EXPECT_EQ(count(), expected);
}

// inform_many calls racing to create the same new ids (and touching ids that already
// exist): a statement whose plain insert of a "new" id meets another caller's row runs
// again as an upsert. Every call succeeds, every id is inserted exactly once, and no one
// sees a change that was not made.
TEST_F(resources_pgtest, ConcurrentInformManyOfTheSameNewIds) {
  Client& client = reader();
  constexpr int kThreads = 4;
  constexpr int kRounds = 6;
  constexpr int kPerRound = 400;
  // Ids "e<n>" exist before every round.
  std::vector<Thing> existing;
  for (int i = 0; i < 100; ++i)
    existing.push_back({"e" + std::to_string(i), "sync", 1});
  client.inform_many(existing);
  std::map<std::string, int> inserted_by_id;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::vector<delta::InformManyResult>> results(kThreads);
    std::vector<std::vector<Thing>> batches(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      for (int i = 0; i < kPerRound; ++i) {
        // The threads list the same ids in different orders, with existing ones mixed in.
        const int n = t % 2 == 0 ? i : kPerRound - 1 - i;
        batches[t].push_back({"r" + std::to_string(round) + "-" + std::to_string(n), "sync", 1});
        if (i % 8 == 0) batches[t].push_back({"e" + std::to_string(i % 100), "sync", 1});
      }
    }
    std::vector<std::thread> threads;
    std::vector<std::string> errors(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        try {
          results[t].push_back(client.inform_many(batches[t]));
        } catch (const std::exception& e) {
          errors[t] = e.what();
        }
      });
    }
    for (auto& thread : threads)
      thread.join();
    for (int t = 0; t < kThreads; ++t) {
      ASSERT_EQ(errors[t], "") << "thread " << t;
      ASSERT_EQ(results[t].size(), 1u);
      const auto& result = results[t].front();
      ASSERT_EQ(result.statuses.size(), batches[t].size());
      EXPECT_EQ(result.changed, 0u) << "thread " << t;
      for (std::size_t k = 0; k < batches[t].size(); ++k) {
        const std::string& id = batches[t][k].key;
        const InformStatus status = result.statuses[k];
        if (id.front() == 'e') {
          EXPECT_EQ(status, InformStatus::unchanged) << id;
        } else {
          EXPECT_TRUE(status == InformStatus::inserted || status == InformStatus::unchanged)
              << id << ": " << delta::to_string(status);
          if (status == InformStatus::inserted) ++inserted_by_id[id];
        }
      }
    }
  }
  ASSERT_EQ(inserted_by_id.size(), static_cast<std::size_t>(kRounds * kPerRound));
  for (const auto& [id, times] : inserted_by_id)
    EXPECT_EQ(times, 1) << id << " inserted more than once";
  EXPECT_EQ(count(), kRounds * kPerRound + 100);
  EXPECT_EQ(count("generation = 1 AND state = 'scheduled'"), count());
}

TEST_F(resources_pgtest, InformManyTenThousandWithDuplicates) {
  Client& client = reader();
  // 9,000 ids; the first 1,000 appear twice, the later copy (version 2) wins.
  auto batch = [](auto version_of_first, auto version_of_rest) {
    std::vector<Thing> objects;
    objects.reserve(10000);
    for (int i = 0; i < 1000; ++i)
      objects.push_back({"o" + std::to_string(i), "sync", version_of_first(i)});
    for (int i = 0; i < 9000; ++i)
      objects.push_back({"o" + std::to_string(i), "sync", version_of_rest(i)});
    return objects;
  };
  const auto first = batch([](int) { return 1; }, [](int i) { return i < 1000 ? 2 : 1; });
  auto inserted = client.inform_many(first);
  ASSERT_EQ(inserted.statuses.size(), 10000u);
  EXPECT_EQ(inserted.inserted, 9000u);
  EXPECT_EQ(inserted.changed, 0u);
  EXPECT_EQ(inserted.unchanged, 0u);
  EXPECT_EQ(std::count(inserted.statuses.begin(), inserted.statuses.end(), InformStatus::inserted),
            10000)
      << "both copies of a duplicate report the winner's status";
  EXPECT_EQ(count(), 9000);
  EXPECT_EQ(count("generation = 1 AND state = 'scheduled'"), 9000);
  EXPECT_EQ(row("o0").object.at("version"), 2) << "the later copy wins";
  EXPECT_EQ(row("o999").object.at("version"), 2);
  EXPECT_EQ(row("o1000").object.at("version"), 1);

  auto again = client.inform_many(first);
  EXPECT_EQ(again.unchanged, 9000u);
  EXPECT_EQ(again.inserted + again.changed + again.stale + again.skipped_deleted, 0u);
  EXPECT_EQ(std::count(again.statuses.begin(), again.statuses.end(), InformStatus::unchanged),
            10000);

  // o0..o999: an earlier copy differs but the winner equals what is stored -> unchanged;
  // o1000..o1999 change; the rest are the same.
  const auto third =
      batch([](int) { return 3; }, [](int i) { return i < 1000 ? 2 : (i < 2000 ? 9 : 1); });
  auto mixed = client.inform_many(third);
  EXPECT_EQ(mixed.changed, 1000u);
  EXPECT_EQ(mixed.unchanged, 8000u);
  EXPECT_EQ(mixed.inserted, 0u);
  EXPECT_EQ(mixed.statuses[0], InformStatus::unchanged);     // earlier copy of o0
  EXPECT_EQ(mixed.statuses[1000], InformStatus::unchanged);  // winning copy of o0
  EXPECT_EQ(mixed.statuses[2000], InformStatus::changed);    // o1000
  EXPECT_EQ(mixed.statuses[9999], InformStatus::unchanged);  // o8999
  EXPECT_EQ(row("o0").object.at("version"), 2);
  EXPECT_EQ(row("o0").generation, 1);
  EXPECT_EQ(row("o1000").object.at("version"), 9);
  EXPECT_EQ(row("o1000").generation, 2);
  EXPECT_EQ(count("generation = 2"), 1000);
}

TEST_F(resources_pgtest, InformManyOfSeveralStatementsIsOneTransaction) {
  Client& client = reader();
  // 12,000 objects: three statements (5,000 per statement), sent back to back.
  std::vector<Thing> objects;
  for (int i = 0; i < 12000; ++i)
    objects.push_back({"m" + std::to_string(i), "sync", 1});
  // An object of the last statement fails in the database: none of the call remains.
  pool().exec(fmt::format(R"(
CREATE FUNCTION "{}".refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'refused'; END $$)",
                          schema_name()));
  pool().exec(fmt::format(R"(
CREATE TRIGGER refuse BEFORE INSERT ON {} FOR EACH ROW
  WHEN (NEW.object_id = 'm11990') EXECUTE FUNCTION "{}".refuse())",
                          table(), schema_name()));
  EXPECT_THROW(client.inform_many(objects), delta::DatabaseError);
  EXPECT_EQ(count(), 0) << "statements before the failing one were committed";

  pool().exec(fmt::format("DROP TRIGGER refuse ON {}", table()));
  objects[11999].version = 2;
  auto written = client.inform_many(objects);
  EXPECT_EQ(written.inserted, 12000u);
  EXPECT_EQ(count("state = 'scheduled'"), 12000);
  // Change one object in each statement: the statuses land at their positions.
  for (int i : {7, 5007, 11007})
    objects[i].version = 5;
  auto changed = client.inform_many(objects);
  EXPECT_EQ(changed.changed, 3u);
  EXPECT_EQ(changed.unchanged, 11997u);
  for (int i : {7, 5007, 11007}) {
    EXPECT_EQ(changed.statuses[i], InformStatus::changed) << i;
    EXPECT_EQ(row("m" + std::to_string(i)).object.at("version"), 5) << i;
  }
  EXPECT_EQ(changed.statuses[8], InformStatus::unchanged);
  EXPECT_EQ(row("m11999").object.at("version"), 2);
}

TEST_F(resources_pgtest, HashIsOverCanonicalJson) {
  Client& one = reader();
  Client& two = add_client(config());  // another client, with a pool of its own
  nlohmann::json built;
  built["zeta"] = 1;
  built["alpha"]["y"] = 2.5;
  built["alpha"]["x"] = "caf\xc3\xa9";
  auto first = one.inform(Doc{"d", "sync", 1, built});
  ASSERT_EQ(first.status, InformStatus::inserted);

  // The same object, its JSON written in another key order.
  const auto parsed =
      nlohmann::json::parse(R"({"alpha": {"x": "caf\u00e9", "y": 2.5}, "zeta": 1})");
  auto second = two.inform(Doc{"d", "sync", 1, parsed});
  EXPECT_EQ(second.status, InformStatus::unchanged);
  EXPECT_EQ(second.resource.generation, 1);
  EXPECT_EQ(second.resource.updated_at, first.resource.updated_at);

  // The hash is SHA-256 over the canonical text: sorted keys, no spaces.
  const std::string canonical = R"({"action":"sync","doc":{"alpha":{"x":"caf)"
                                "\xc3\xa9"
                                R"(","y":2.5},"zeta":1},"key":"d","version":1})";
  auto check = pool().exec(fmt::format("SELECT hash = sha256(convert_to($1::text, 'UTF8')), "
                                       "object = $1::text::jsonb FROM {} WHERE object_id = 'd'",
                                       table()),
                           canonical);
  EXPECT_TRUE(check.one().get<bool>(0)) << "hash over " << canonical;
  EXPECT_TRUE(check.one().get<bool>(1));
}

TEST_F(resources_pgtest, NewVersionWhileWorkedIsWorkedAgain) {
  Client& worker = start(worker_config());
  worker.inform(Thing{"a", "block", 1});
  ASSERT_TRUE(eventually([&] { return recorder().runs("a") == 1; }));
  ASSERT_EQ(state("a"), ResourceState::pending);

  auto update = worker.inform(Thing{"a", "sync", 2});
  EXPECT_EQ(update.status, InformStatus::changed);
  EXPECT_EQ(update.resource.generation, 2);
  EXPECT_EQ(recorder().runs("a"), 1) << "not worked twice at once";
  gate().open();

  ASSERT_TRUE(eventually([&] { return recorder().runs("a") == 2; }));
  const auto seen = recorder().seen("a");
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].version, 1);
  EXPECT_EQ(seen[0].generation, 1);
  EXPECT_EQ(seen[1].version, 2) << "the second work saw the new content";
  EXPECT_EQ(seen[1].action, "sync");
  EXPECT_EQ(seen[1].generation, 2);
  ASSERT_TRUE(eventually(in_state("a", ResourceState::synced)));
  const ResourceRow r = row("a");
  EXPECT_EQ(r.generation, 2);
  EXPECT_EQ(r.object.at("version"), 2);
  EXPECT_TRUE(r.synced_at.has_value());
  EXPECT_TRUE(consistently([&] { return recorder().runs("a") == 2; }, 200ms));
}

// ---- what work() records ----------------------------------------------------------------

TEST_F(resources_pgtest, ExceptionFromWorkRecordsTypeAndMessage) {
  Client& worker = start(worker_config());
  worker.inform(Thing{"named", "throw", 1});
  worker.inform(Thing{"std", "throw_std", 1});
  worker.inform(Thing{"int", "throw_int", 1});
  for (const char* id : {"named", "std", "int"})
    ASSERT_TRUE(eventually(in_state(id, ResourceState::failed))) << id;
  auto last_error = [&](const std::string& id) {
    auto errors = row(id).errors;
    EXPECT_EQ(errors.size(), 1u) << id;
    return errors.empty() ? delta::AttemptError{} : errors.back();
  };
  const auto named = last_error("named");
  EXPECT_EQ(named.type, "delta::testing::Broken");
  EXPECT_EQ(named.error, "disk full");
  EXPECT_EQ(named.attempt, 1);
  const auto standard = last_error("std");
  EXPECT_EQ(standard.type, "std::out_of_range");
  EXPECT_EQ(standard.error, "index 7");
  const auto other = last_error("int");
  EXPECT_EQ(other.type, "unknown");
  EXPECT_FALSE(other.error.empty());
}

TEST_F(resources_pgtest, RetryRecordsTypeRetry) {
  Client& worker = start(worker_config());
  worker.inform(Thing{"a", "retry", 1});
  ASSERT_TRUE(eventually(in_state("a", ResourceState::failed)));
  const ResourceRow r = row("a");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].type, "retry");
  EXPECT_EQ(r.errors[0].error, "boom 1");
  EXPECT_EQ(r.errors[0].attempt, 1);
}

TEST_F(resources_pgtest, ErrorsKeepTheLastTwenty) {
  Config cfg = worker_config();
  cfg.resource_backoff = [](int) { return std::chrono::milliseconds(0); };
  Client& worker = start(std::move(cfg));
  worker.inform(Thing{"a", "retry", 1}, {.max_attempts = 25});
  ASSERT_TRUE(eventually(in_state("a", ResourceState::degraded), 20s));
  const ResourceRow r = row("a");
  EXPECT_EQ(r.attempt, 25);
  EXPECT_EQ(recorder().runs("a"), 25);
  ASSERT_EQ(r.errors.size(), 20u);
  for (std::size_t i = 0; i < r.errors.size(); ++i) {
    const int attempt = static_cast<int>(i) + 6;
    EXPECT_EQ(r.errors[i].attempt, attempt);
    EXPECT_EQ(r.errors[i].error, fmt::format("boom {}", attempt));
  }
}

TEST_F(resources_pgtest, StoredObjectThatNoLongerParsesIsAFailedAttempt) {
  reader().inform(Thing{"bad", "sync", 1});
  reader().inform(Thing{"good", "sync", 1});
  set("bad", R"(object = '{"key": 42}'::jsonb)");
  Client& worker = start(worker_config());
  ASSERT_TRUE(eventually(in_state("bad", ResourceState::failed)));
  ASSERT_TRUE(eventually(in_state("good", ResourceState::synced)));
  const ResourceRow r = row("bad");
  EXPECT_EQ(r.attempt, 1);
  EXPECT_FALSE(r.lease_owner.has_value());
  EXPECT_GT(ms_from_now(r.run_at), 59 * 60 * 1000) << "retried after the backoff";
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].type, "parse");
  EXPECT_TRUE(contains(r.errors[0].error, "does not parse as thing")) << r.errors[0].error;
  EXPECT_EQ(recorder().runs("bad"), 0) << "work() never saw it";
  // The client goes on working.
  worker.inform(Thing{"later", "sync", 1});
  EXPECT_TRUE(eventually(in_state("later", ResourceState::synced)));
}

// ---- limits and who works what ----------------------------------------------------------

TEST_F(resources_pgtest, ParallelismPerKindIsHonoured) {
  Config cfg = config();
  add_controller<Narrow>(cfg);  // parallelism 3
  cfg.namespaces["ns-a"] = {.max_workers = 10};
  cfg.namespaces["ns-b"] = {.max_workers = 10};
  Client& worker = start(std::move(cfg));
  recorder().set_goal(12);
  std::vector<Narrow> a, b;
  for (int i = 0; i < 6; ++i) {
    a.push_back({"a" + std::to_string(i), "hold", 3});
    b.push_back({"b" + std::to_string(i), "hold", 3});
  }
  worker.inform_many(a, {.namespace_name = "ns-a"});
  worker.inform_many(b, {.namespace_name = "ns-b"});
  ASSERT_TRUE(eventually([&] { return count("state = 'synced'") == 12; }, 20s));
  EXPECT_EQ(recorder().peak(), 3) << "at most parallelism at once, across namespaces";
}

TEST_F(resources_pgtest, NamespaceMaxWorkersIsHonoured) {
  ASSERT_NO_FATAL_FAILURE(sync_held_batch(2, 8, 2));
  EXPECT_EQ(recorder().peak(), 2);
}

TEST_F(resources_pgtest, AClaimedBatchReachesEveryIdleWorker) {
  // Workers are woken one after another; a claimed batch of long works must still run on
  // every worker at once.
  ASSERT_NO_FATAL_FAILURE(sync_held_batch(10, 10, 10));
  EXPECT_EQ(recorder().peak(), 10);
}

TEST_F(resources_pgtest, ClientWorksOnlyItsKindsAndNamespaces) {
  // "other" is registered in the database by an inform-only client.
  Config other_cfg = config();
  add_controller<Other>(other_cfg);
  start(std::move(other_cfg));
  Client& worker = start(worker_config());  // thing, versioned, stamped, doc; "default"

  // The worker has no controller for "other": the kind is known from the database.
  auto other = worker.inform(Other{"o", "sync", 1});
  EXPECT_EQ(other.status, InformStatus::inserted);
  worker.inform(Thing{"elsewhere", "sync", 1}, {.namespace_name = "elsewhere"});
  worker.inform(Thing{"probe", "sync", 1});
  ASSERT_TRUE(eventually(in_state("probe", ResourceState::synced)));
  EXPECT_TRUE(consistently(
      [&] {
        auto o = row("o", Other::kind);
        auto e = row("elsewhere");
        return o.state == ResourceState::scheduled && o.attempt == 0 &&
               e.state == ResourceState::scheduled && e.attempt == 0 && recorder().runs("o") == 0 &&
               recorder().runs("elsewhere") == 0;
      },
      400ms));
}

TEST_F(resources_pgtest, InformOnlyClientInformsAndDoesNotWork) {
  Client& client = start(config());
  auto result = client.inform(Thing{"a", "sync", 1});
  EXPECT_EQ(result.status, InformStatus::inserted);
  auto many = client.inform_many(std::vector<Thing>{{"b", "sync", 1}, {"c", "sync", 1}});
  EXPECT_EQ(many.inserted, 2u);
  // Its background threads run (it is the only client, so it leads)...
  ASSERT_TRUE(eventually([&] { return client.is_leader(); }));
  // ...but it claims nothing.
  EXPECT_TRUE(consistently(
      [&] { return count("state = 'scheduled' AND attempt = 0") == 3 && recorder().total() == 0; },
      400ms));
  // A worker does.
  start(worker_config());
  EXPECT_TRUE(eventually([&] { return count("state = 'synced'") == 3; }));
}

// ---- events -----------------------------------------------------------------------------

TEST_F(resources_pgtest, EventsAreDeliveredAfterCommitByCategory) {
  Client& worker = start(worker_config());
  auto all = worker.subscribe();
  auto failures = worker.subscribe({EventCategory::failed});
  worker.inform(Thing{"s", "sync", 1});
  worker.inform(Thing{"f", "retry", 1});
  worker.inform(Thing{"g", "retry", 1}, {.max_attempts = 1});
  worker.inform(Thing{"d", "remove", 1});

  const std::map<EventCategory, ResourceState> state_of = {
      {EventCategory::synced, ResourceState::synced},
      {EventCategory::failed, ResourceState::failed},
      {EventCategory::degraded, ResourceState::degraded},
      {EventCategory::deleted, ResourceState::deleted}};
  std::map<std::string, delta::Event> received;
  while (received.size() < 4) {
    auto event = all.next(5s);
    ASSERT_TRUE(event.has_value()) << "only " << received.size() << " events";
    // Published after the commit: the row already is in the event's state.
    EXPECT_EQ(state(event->resource.object_id), state_of.at(event->category))
        << event->resource.object_id;
    received[event->resource.object_id] = *event;
  }
  ASSERT_EQ(received.size(), 4u);
  EXPECT_EQ(received["s"].category, EventCategory::synced);
  EXPECT_EQ(received["f"].category, EventCategory::failed);
  EXPECT_EQ(received["f"].error, "boom 1");
  EXPECT_EQ(received["g"].category, EventCategory::degraded);
  EXPECT_EQ(received["g"].error, "boom 1");
  EXPECT_EQ(received["d"].category, EventCategory::deleted);
  EXPECT_EQ(received["d"].error, "gone");
  for (const auto& [id, event] : received) {
    EXPECT_EQ(event.resource.kind, "thing");
    EXPECT_EQ(event.resource.state, ResourceState::pending) << "the row as claimed";
    EXPECT_EQ(event.resource.attempt, 1);
  }
  // The filtered subscription got the failure only.
  auto failure = failures.next(2s);
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->category, EventCategory::failed);
  EXPECT_EQ(failure->resource.object_id, "f");
  EXPECT_FALSE(failures.next(200ms).has_value());
  EXPECT_EQ(failures.dropped(), 0u);
}

TEST_F(resources_pgtest, SlowSubscriberDropsAndCountsWithoutBlockingWork) {
  Client& worker = start(worker_config());
  auto slow = worker.subscribe({}, 1);  // never read
  auto fast = worker.subscribe();
  std::vector<Thing> objects;
  for (int i = 0; i < 6; ++i)
    objects.push_back({"t" + std::to_string(i), "sync", 1});
  worker.inform_many(objects);
  ASSERT_TRUE(eventually([&] { return count("state = 'synced'") == 6; }));
  int delivered = 0;
  while (fast.next(2s))
    if (++delivered == 6) break;
  EXPECT_EQ(delivered, 6) << "another subscriber is not affected";
  EXPECT_TRUE(eventually([&] { return slow.dropped() == 5; }, 2s)) << slow.dropped();
  EXPECT_EQ(fast.dropped(), 0u);
  auto kept = slow.next(100ms);
  ASSERT_TRUE(kept.has_value()) << "the first event stays in the buffer";
  EXPECT_EQ(kept->category, EventCategory::synced);
}

TEST_F(resources_pgtest, SubscriptionIsClosedWhenTheClientStops) {
  Client& worker = start(worker_config());
  auto events = worker.subscribe();
  worker.inform(Thing{"a", "sync", 1});
  ASSERT_TRUE(events.next(5s).has_value());
  EXPECT_FALSE(events.closed());
  worker.stop(1s);
  EXPECT_TRUE(events.closed());
  const auto begin = Clock::now();
  EXPECT_FALSE(events.next(30s).has_value());
  EXPECT_LT(Clock::now() - begin, 10s) << "next() waited on a closed subscription";
}

// ---- stopping ---------------------------------------------------------------------------

TEST_F(resources_pgtest, GracefulStopReleasesInFlightLeases) {
  Client& worker = start(worker_config());
  worker.inform(Thing{"a", "block_stop", 1});
  worker.inform(Thing{"b", "block_stop", 1});
  ASSERT_TRUE(eventually([&] { return recorder().runs("a") == 1 && recorder().runs("b") == 1; }));
  ASSERT_EQ(state("a"), ResourceState::pending);
  ASSERT_EQ(row("a").attempt, 1);

  const auto begin = Clock::now();
  worker.stop(100ms);
  EXPECT_LT(Clock::now() - begin, 5s);
  for (const char* id : {"a", "b"}) {
    const ResourceRow r = row(id);
    EXPECT_EQ(r.state, ResourceState::scheduled) << id;
    EXPECT_FALSE(r.lease_owner.has_value()) << id;
    EXPECT_FALSE(r.lease_expires_at.has_value()) << id;
    EXPECT_EQ(r.attempt, 0) << id << ": the attempt is given back";
    EXPECT_TRUE(r.errors.empty()) << id << ": not a failure";
    EXPECT_LE(ms_from_now(r.run_at), 0) << id << ": another process takes it at once";
  }
  // Another process does.
  gate().open();
  start(worker_config());
  EXPECT_TRUE(eventually([&] { return count("state = 'synced'") == 2; }));
}

// ---- bad input and configuration --------------------------------------------------------

TEST_F(resources_pgtest, BadInputIsRefusedAndNothingIsWritten) {
  Client& worker = start(worker_config());
  // Runs `inform` and expects a ValidationError naming `field`, with nothing written.
  auto refused = [&](const std::string& field, const std::function<void()>& inform) {
    try {
      inform();
      ADD_FAILURE() << "expected a ValidationError for " << field;
    } catch (const delta::ValidationError& e) {
      EXPECT_EQ(e.field(), field) << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "expected a ValidationError for " << field << ", got " << e.what();
    }
    EXPECT_EQ(count(), 0) << "nothing written for " << field;
  };
  refused("id", [&] { worker.inform(Thing{"", "sync", 1}); });
  refused("id", [&] { worker.inform(Thing{std::string(255, 'x'), "sync", 1}); });
  refused("namespace_name", [&] { worker.inform(Thing{"a"}, {.namespace_name = "Bad NS"}); });
  refused("namespace_name", [&] { worker.inform(Thing{"a"}, {.namespace_name = "trailing-"}); });
  refused("tags[1]", [&] { worker.inform(Thing{"a"}, {.tags = {"fine-tag", "x"}}); });
  refused("tags[0]", [&] { worker.inform(Thing{"a"}, {.tags = {"no spaces"}}); });
  refused("metadata", [&] { worker.inform(Thing{"a"}, {.metadata = nlohmann::json::array()}); });
  refused("metadata", [&] { worker.inform(Thing{"a"}, {.metadata = nlohmann::json("text")}); });
  refused("max_attempts", [&] { worker.inform(Thing{"a"}, {.max_attempts = 40000}); });
  refused("max_attempts", [&] { worker.inform(Thing{"a"}, {.max_attempts = -1}); });
  refused("kind", [&] { worker.inform(Ghost{"a"}); });
  refused("object", [&] { worker.inform(Thing{"a", "not utf-8 \xff", 1}); });
  refused("object", [&] { worker.inform(Thing{"a", std::string("nul\0byte", 8), 1}); });
  // In a batch, every object is checked before anything is written.
  refused("objects[3].id", [&] {
    worker.inform_many(std::vector<Thing>{{"a"}, {"b"}, {"c"}, {""}, {"e"}});
  });
  refused("kind", [&] { worker.inform_many(std::vector<Ghost>{{"a"}, {"b"}}); });
  {
    auto tx = pool().begin();
    refused("id", [&] { worker.inform_tx(tx, Thing{""}); });
    tx.commit();
  }
  EXPECT_EQ(count(), 0);

  // The limits themselves are fine.
  auto longest = worker.inform(Thing{std::string(254, 'x'), "sync", 1},
                               {.max_attempts = 32767, .tags = {"abc"}});
  EXPECT_EQ(longest.status, InformStatus::inserted);
  EXPECT_EQ(count(), 1);
}

TEST_F(resources_pgtest, ConfigErrorListsEveryBadField) {
  Config cfg = config();
  add_controller<ZeroParallel>(cfg);
  add_controller<HugeParallel>(cfg);
  cfg.namespaces["Bad NS"] = {};
  cfg.namespaces["zero"] = {.max_workers = 0};
  cfg.namespaces["both"] = {.max_workers = 1, .resource_expiry = 1h, .synced_retention = 1h};
  cfg.work_timeout = 0ms;
  cfg.resource_claimers = 0;
  try {
    Client client(delta::testing::make_pool(), cfg);
    ADD_FAILURE() << "expected a ConfigError";
  } catch (const delta::ConfigError& e) {
    const std::string message = e.what();
    const auto& problems = e.problems();
    EXPECT_EQ(problems.size(), 7u) << message;
    auto reported = [&](std::initializer_list<std::string_view> parts) {
      return std::any_of(problems.begin(), problems.end(), [&](const std::string& problem) {
        return std::all_of(parts.begin(), parts.end(), [&](std::string_view part) {
          return contains(problem, part) && contains(message, part);
        });
      });
    };
    EXPECT_TRUE(reported({"namespace name", "Bad NS"})) << message;
    EXPECT_TRUE(reported({"zeropar", "parallelism", "0"})) << message;
    EXPECT_TRUE(reported({"hugepar", "parallelism", "10001"})) << message;
    EXPECT_TRUE(reported({"namespaces[\"zero\"].max_workers"})) << message;
    EXPECT_TRUE(reported({"work_timeout"})) << message;
    EXPECT_TRUE(reported({"both", "resource_expiry", "synced_retention"})) << message;
    EXPECT_TRUE(reported({"resource_claimers", "1 .. 16", "got 0"})) << message;
  }
  // Each alone is fine the other way round.
  Config good = config();
  good.namespaces["both"] = {.max_workers = 10000, .resource_expiry = 1h};
  good.work_timeout = -1ms;
  EXPECT_NO_THROW({ Client client(delta::testing::make_pool(), good); });
}

TEST_F(resources_pgtest, ControllersAddRefusesDuplicateAndInvalidKinds) {
  delta::Controllers controllers;
  controllers.add(make_controller<Thing>());
  try {
    controllers.add(make_controller<Thing>());
    ADD_FAILURE() << "a kind registered twice";
  } catch (const delta::ConfigError& e) {
    EXPECT_TRUE(contains(e.what(), "thing")) << e.what();
  }
  try {
    controllers.add(make_controller<BadKind>());
    ADD_FAILURE() << "an invalid kind";
  } catch (const delta::ConfigError& e) {
    EXPECT_TRUE(contains(e.what(), "Bad Kind")) << e.what();
  }
  EXPECT_THROW(controllers.add(nullptr), delta::ConfigError);
  EXPECT_EQ(controllers.size(), 1u);
  EXPECT_EQ(controllers.kinds(), std::vector<std::string>{"thing"});
}

TEST_F(resources_pgtest, StartOnAnUnmigratedSchemaThrowsSchemaError) {
  delta::testing::ScratchSchema empty("unmig");
  Config cfg = worker_config();
  cfg.schema = empty.name();
  Client client(delta::testing::make_pool(), cfg);
  EXPECT_THROW(client.start(), delta::SchemaError);

  cfg.schema = "no_such_schema_" + schema_name();
  Client missing(delta::testing::make_pool(), cfg);
  EXPECT_THROW(missing.start(), delta::SchemaError);
}

TEST_F(resources_pgtest, InvalidateAndRetryRefuseOtherStatesAndMissingResources) {
  Client& worker = start(worker_config());
  worker.inform(Thing{"synced", "sync", 1});
  worker.inform(Thing{"failed", "retry", 1});
  worker.inform(Thing{"scheduled", "sync", 1}, {.namespace_name = "idle"});  // not worked
  ASSERT_TRUE(eventually(in_state("synced", ResourceState::synced)));
  ASSERT_TRUE(eventually(in_state("failed", ResourceState::failed)));
  const ResourceRow synced = row("synced");
  const ResourceRow failed = row("failed");

  auto expect_field = [](auto&& call, const std::string& field) {
    try {
      call();
      ADD_FAILURE() << "expected a ValidationError naming " << field;
    } catch (const delta::ValidationError& e) {
      EXPECT_EQ(e.field(), field) << e.what();
    }
  };
  // invalidate: only synced resources.
  expect_field([&] { worker.invalidate(Thing{"failed"}); }, "state");
  expect_field([&] { worker.invalidate(Thing{"scheduled"}); }, "state");
  EXPECT_THROW(worker.invalidate(Thing{"missing"}), delta::NotFound);
  expect_field([&] { worker.invalidate_resource("thing", ""); }, "id");
  expect_field([&] { worker.invalidate_resource("Bad Kind", "a"); }, "kind");
  // retry: only failed or degraded resources.
  expect_field([&] { worker.retry<Thing>("synced"); }, "state");
  expect_field([&] { worker.retry<Thing>("scheduled"); }, "state");
  EXPECT_THROW(worker.retry<Thing>("missing"), delta::NotFound);
  expect_field([&] { worker.retry_resource("thing", std::string(255, 'x')); }, "id");
  // Ids PostgreSQL's text cannot hold are refused before anything is sent.
  expect_field([&] { worker.inform(Thing{std::string("nul\0byte", 8)}); }, "id");
  expect_field([&] { worker.inform(Thing{"bad \xff utf-8"}); }, "id");
  expect_field([&] { worker.inform(Thing{"overlong \xc0\xaf"}); }, "id");
  expect_field([&] { worker.inform(Thing{"surrogate \xed\xa0\x80"}); }, "id");
  expect_field([&] { worker.inform(Thing{"cut \xe2\x82"}); }, "id");
  EXPECT_NO_THROW(worker.inform(Thing{"utf-8 \xe2\x82\xac \xf0\x9f\x98\x80"}));  // € 😀
  EXPECT_EQ(count("object_id LIKE 'nul%' OR object_id LIKE 'bad%' OR object_id LIKE 'overlong%'"),
            0);
  EXPECT_TRUE(exists("utf-8 \xe2\x82\xac \xf0\x9f\x98\x80"));

  // Nothing moved.
  EXPECT_EQ(row("synced").updated_at, synced.updated_at);
  EXPECT_EQ(row("synced").state, ResourceState::synced);
  EXPECT_EQ(row("failed").updated_at, failed.updated_at);
  EXPECT_EQ(row("failed").state, ResourceState::failed);
  EXPECT_EQ(state("scheduled"), ResourceState::scheduled);
  EXPECT_FALSE(exists("missing"));
}

}  // namespace
