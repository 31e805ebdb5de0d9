// Edges of informer runs against a live PostgreSQL: a bad object refused by emit, a
// controller without an informer, a run ended by its client stopping, a cursor that must
// not move backwards, and the retry budget of a failing informer.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include <delta/delta.hpp>

#include "support/keyed_objects.hpp"
#include "support/maintenance_config.hpp"
#include "support/pg_test.hpp"

namespace {

using namespace std::chrono_literals;
using delta::testing::consistently;
using delta::testing::eventually;
using delta::testing::ScratchSchema;

// With a created_at (microseconds since the epoch; 0: none).
struct Listed {
  std::string key;
  std::int64_t at_us = 0;
  DELTA_KEYED_MEMBERS("listed", 2)
  std::optional<delta::Timestamp> created_at() const {
    if (at_us == 0) return std::nullopt;
    return delta::Timestamp(std::chrono::microseconds(at_us));
  }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Listed, key, at_us)

// Lists what `next` holds when the run starts, then, with `hang`, waits for the run's stop
// token; `fail` makes it throw after listing. A ValidationError from emit is kept (its
// field) and the listing goes on.
class ListController : public delta::Controller<Listed> {
 public:
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<Listed>&) override {
    return delta::synced();
  }
  void inform(delta::InformContext& ctx, const delta::InformOptions&,
              delta::InformSink<Listed>& out) override {
    std::vector<Listed> listing;
    {
      std::lock_guard lock(mutex_);
      listing = next_;
    }
    ++runs;
    for (const auto& object : listing) {
      try {
        if (!out.emit(object)) return;
      } catch (const delta::ValidationError& e) {
        std::lock_guard lock(mutex_);
        refused_.push_back(e.field());
      }
    }
    if (hang) {
      std::mutex mutex;
      std::condition_variable_any never;
      std::unique_lock lock(mutex);
      hanging = true;
      never.wait_for(lock, ctx.stop_token(), 20s, [] { return false; });
    }
    if (fail) throw std::runtime_error("upstream answered 503");
  }

  void list(std::vector<Listed> objects) {
    std::lock_guard lock(mutex_);
    next_ = std::move(objects);
  }
  std::vector<std::string> refused() {
    std::lock_guard lock(mutex_);
    return refused_;
  }

  std::atomic<int> runs{0};
  std::atomic<bool> hang{false};
  std::atomic<bool> hanging{false};
  std::atomic<bool> fail{false};

 private:
  std::mutex mutex_;
  std::vector<Listed> next_;          // guarded by mutex_
  std::vector<std::string> refused_;  // guarded by mutex_
};

std::int64_t at_us(std::int64_t seconds) {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::floor<std::chrono::seconds>(delta::now()).time_since_epoch() +
             std::chrono::seconds(seconds))
      .count();
}

class InformerEdges : public ::testing::Test {
 protected:
  void SetUp() override {
    schema_ = std::make_unique<ScratchSchema>("ie", delta::testing::SchemaStart::migrated);
    controller_ = std::make_shared<ListController>();
  }
  void TearDown() override {
    if (client_) client_->stop(200ms);
    client_.reset();
    schema_.reset();
  }

  delta::Config config() {
    delta::Config cfg = delta::testing::maintenance_config(schema_->name());
    cfg.controllers.add(controller_);
    return cfg;
  }
  delta::Client& start(delta::Config cfg) {
    client_ = std::make_unique<delta::Client>(delta::testing::make_pool(), std::move(cfg));
    client_->start();
    return *client_;
  }

  // The listed kind's inform jobs `where` (a condition on delta_job).
  std::int64_t jobs(const std::string& where = "true") const {
    return schema_->count("delta_job WHERE kind = 'delta.inform:listed' AND " + where);
  }
  // One column of the kind's delta_controller row.
  template <class V>
  V controller_column(const std::string& column) const {
    return schema_->pool()
        .exec("SELECT " + column + " FROM " + schema_->table("delta_controller") +
              " WHERE kind = 'listed'")
        .one()
        .template get<V>(0);
  }
  std::optional<delta::Timestamp> cursor() const {
    return controller_column<std::optional<delta::Timestamp>>("last_inform_time");
  }

  std::unique_ptr<ScratchSchema> schema_;
  std::shared_ptr<ListController> controller_;
  std::unique_ptr<delta::Client> client_;
};
using informer_edges_pgtest = InformerEdges;

// emit() validates each object as it is called: a bad one throws ValidationError naming
// the field, and the run goes on with the others.
TEST_F(informer_edges_pgtest, ABadObjectThrowsValidationErrorFromEmit) {
  delta::Client& client = start(config());
  controller_->list({{"good-1"}, {""}, {std::string(300, 'x')}, {"good-2"}});
  client.schedule_inform({.kind = "listed"});
  ASSERT_TRUE(eventually([&] { return jobs("state = 'completed'") == 1; }));
  EXPECT_EQ(controller_->refused(), (std::vector<std::string>{"id", "id"}));
  auto run = client.last_inform_run("listed");
  ASSERT_TRUE(run.has_value());
  EXPECT_TRUE(run->succeeded) << run->error;
  EXPECT_EQ(run->emitted, 2u);
  EXPECT_EQ(run->inserted, 2u);
  EXPECT_EQ(schema_->count("delta_resource"), 2);
}

// Without an informer: the first inform job finds out and turns periodic runs off
// (inform_interval NULL); the scheduler inserts no more.
struct Silent {
  std::string key;
  static constexpr std::string_view kind = "silent";
  std::string id() const { return key; }
  static delta::ObjectSettings settings() { return {.inform_interval = 100ms}; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Silent, key)

class SilentController : public delta::Controller<Silent> {
 public:
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<Silent>&) override {
    return delta::synced();
  }
};

TEST_F(informer_edges_pgtest, NoInformerTurnsPeriodicRunsOff) {
  delta::Config cfg = delta::testing::maintenance_config(schema_->name());
  cfg.controllers.add(std::make_shared<SilentController>());
  start(std::move(cfg));
  const auto silent_jobs = [&](const std::string& where) {
    return schema_->count("delta_job WHERE kind = 'delta.inform:silent' AND " + where);
  };
  ASSERT_TRUE(eventually([&] { return silent_jobs("state = 'completed'") == 1; }));
  auto row = schema_->pool()
                 .exec("SELECT inform_interval IS NULL, last_inform_error FROM " +
                       schema_->table("delta_controller") + " WHERE kind = 'silent'")
                 .one();
  EXPECT_TRUE(row.get<bool>(0)) << "periodic runs were not turned off";
  EXPECT_EQ(row.get<std::optional<std::string>>(1).value_or(""), "the controller has no informer");
  EXPECT_TRUE(consistently([&] { return silent_jobs("true") == 1; }, 500ms))
      << "the scheduler went on inserting inform jobs (it runs every 100 ms)";
}

// A client that stops during a run ends it as failed: what was emitted is written and
// kept, the error is stored, and the inform job is given back for another client.
TEST_F(informer_edges_pgtest, AClientStoppingEndsTheRunAsFailed) {
  delta::Client& client = start(config());
  controller_->list({{"a"}, {"b"}, {"c"}});
  controller_->hang = true;
  client.schedule_inform({.kind = "listed"});
  ASSERT_TRUE(eventually([&] { return controller_->hanging.load(); }));
  client.stop(100ms);
  EXPECT_EQ(schema_->count("delta_resource"), 3) << "what was emitted before the stop is lost";
  const auto error = controller_column<std::optional<std::string>>("last_inform_error");
  ASSERT_TRUE(error.has_value()) << "the stopped run was not recorded as failed";
  EXPECT_TRUE(delta::testing::contains(*error, "stopped")) << *error;
  EXPECT_EQ(controller_column<std::int64_t>("last_inform_emitted"), 3);
  auto run = client.last_inform_run("listed");
  ASSERT_TRUE(run.has_value());
  EXPECT_FALSE(run->succeeded);
  EXPECT_FALSE(cursor().has_value()) << "a failed run without created_at moved the cursor";
  auto job = schema_->pool()
                 .exec("SELECT state::text, attempt FROM " + schema_->table("delta_job") +
                       " WHERE kind = 'delta.inform:listed'")
                 .one();
  EXPECT_EQ(job.get<std::string>(0), "available") << "the job is given back";
  EXPECT_EQ(job.get<std::int16_t>(1), 0) << "a stop does not use an attempt";
}

// The cursor never moves backwards: a run listing only older objects, or objects without
// created_at (the cursor would be the run's start), leaves a cursor in the future.
TEST_F(informer_edges_pgtest, TheCursorNeverMovesBackwards) {
  delta::Client& client = start(config());
  const std::int64_t future = at_us(3600);
  controller_->list({{"future", future}});
  client.schedule_inform({.kind = "listed"});
  ASSERT_TRUE(eventually([&] { return jobs("state = 'completed'") == 1; }));
  ASSERT_TRUE(cursor().has_value());
  ASSERT_EQ(cursor()->time_since_epoch().count(), future);

  controller_->list({{"older", at_us(-60)}, {"undated", 0}});
  client.schedule_inform({.kind = "listed"});
  ASSERT_TRUE(eventually([&] { return jobs("state = 'completed'") == 2; }));
  auto run = client.last_inform_run("listed");
  ASSERT_TRUE(run.has_value());
  EXPECT_TRUE(run->succeeded) << run->error;
  EXPECT_EQ(run->inserted, 2u);
  ASSERT_TRUE(cursor().has_value());
  EXPECT_EQ(cursor()->time_since_epoch().count(), future) << "the cursor moved backwards";
  ASSERT_TRUE(run->cursor.has_value());
  EXPECT_EQ(run->cursor->time_since_epoch().count(), future);
}

// A failing informer's job is retried with the job queue's default backoff -- attempt^4 s
// (+-10%) -- and discarded after its 10th attempt.
TEST_F(informer_edges_pgtest, AFailingInformerIsRetriedAttemptToTheFourthSecondsTenTimes) {
  delta::Client& client = start(config());  // the default retry policy
  controller_->fail = true;
  client.schedule_inform({.kind = "listed"});
  const std::string table = schema_->table("delta_job");
  auto job = [&] {
    return schema_->pool()
        .exec(
            "SELECT state::text, attempt, max_attempts, "
            "(extract(epoch FROM scheduled_at - attempted_at) * 1000)::bigint FROM " +
            table + " WHERE kind = 'delta.inform:listed'")
        .one();
  };
  ASSERT_TRUE(eventually([&] { return jobs("state = 'retryable' AND attempt = 1") == 1; }));
  auto first = job();
  EXPECT_EQ(first.get<std::int16_t>(2), 10) << "max_attempts";
  EXPECT_GE(first.get<std::int64_t>(3), 900) << "1^4 s - 10%";
  EXPECT_LT(first.get<std::int64_t>(3), 5'000) << "1^4 s, not more";
  // The retry comes due by itself after about a second.
  ASSERT_TRUE(eventually([&] { return jobs("state = 'retryable' AND attempt = 2") == 1; }));
  auto second = job();
  EXPECT_GE(second.get<std::int64_t>(3), 14'400) << "2^4 s - 10%";
  EXPECT_LT(second.get<std::int64_t>(3), 20'000) << "2^4 s, not more";
  EXPECT_EQ(controller_->runs, 2);

  // As if attempts 3-9 had failed too: the 10th is the last.
  schema_->pool().exec("UPDATE " + table +
                       " SET attempt = 9, scheduled_at = now() WHERE kind = 'delta.inform:listed'");
  ASSERT_TRUE(eventually([&] { return jobs("state = 'discarded'") == 1; }));
  auto last = job();
  EXPECT_EQ(last.get<std::int16_t>(1), 10);
  EXPECT_EQ(controller_->runs, 3);
}

}  // namespace
