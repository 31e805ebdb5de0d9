// End-to-end smoke test of the resource engine: inform, work, synced.
#include <atomic>
#include <chrono>
#include <optional>

#include <gtest/gtest.h>

#include <delta/delta.hpp>

#include "support/pg_test.hpp"

namespace {

struct Item {
  std::string key;
  int value = 0;
  static constexpr std::string_view kind = "item";
  std::string id() const { return key; }
  static delta::ObjectSettings settings() { return {.parallelism = 4}; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Item, key, value)

class ItemController : public delta::Controller<Item> {
 public:
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<Item>& r) override {
    ++worked;
    if (r.object.value < 0) return delta::retry("negative");
    return delta::synced();
  }
  std::atomic<int> worked{0};
};

TEST(resources_smoke_pgtest, InformThenSynced) {
  delta::testing::ScratchSchema schema("smoke", delta::testing::SchemaStart::migrated);
  auto controller = std::make_shared<ItemController>();
  delta::Config config;
  config.schema = schema.name();
  config.controllers.add(controller);
  config.namespaces["default"] = {.max_workers = 4};
  config.poll_interval = std::chrono::milliseconds(50);
  config.logger = delta::stderr_logger(delta::LogLevel::info);
  delta::Client client(delta::testing::make_pool(), config);
  client.start();
  auto r = client.inform(Item{"a", 1});
  EXPECT_EQ(r.status, delta::InformStatus::inserted);
  EXPECT_EQ(r.resource.state, delta::ResourceState::scheduled);
  std::vector<Item> many;
  for (int i = 0; i < 1000; ++i)
    many.push_back({"k" + std::to_string(i), i});
  auto m = client.inform_many(many);
  EXPECT_EQ(m.inserted, 1000u);
  ASSERT_TRUE(delta::testing::eventually(
      [&] { return schema.count("delta_resource WHERE state = 'synced'") == 1001; }));
  auto again = client.inform(Item{"a", 1});
  EXPECT_EQ(again.status, delta::InformStatus::unchanged);
  auto changed = client.inform(Item{"a", 2});
  EXPECT_EQ(changed.status, delta::InformStatus::changed);
  EXPECT_EQ(changed.resource.generation, 2);
  ASSERT_TRUE(delta::testing::eventually(
      [&] { return client.get<Item>("a").row.state == delta::ResourceState::synced; }));
  client.stop();
}

}  // namespace

namespace {

struct Event2 {
  std::string key;
  std::int64_t at_us = 0;
  static constexpr std::string_view kind = "event2";
  std::string id() const { return key; }
  std::optional<delta::Timestamp> created_at() const {
    return delta::Timestamp(std::chrono::microseconds(at_us));
  }
  static delta::ObjectSettings settings() {
    return {.parallelism = 8, .inform_interval = std::chrono::milliseconds(-1)};
  }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Event2, key, at_us)

class Event2Controller : public delta::Controller<Event2> {
 public:
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<Event2>&) override {
    return delta::synced();
  }
  void inform(delta::InformContext&, const delta::InformOptions& options,
              delta::InformSink<Event2>& out) override {
    ++runs;
    for (int i = 1; i <= total; ++i) {
      Event2 e{"e" + std::to_string(i), 1000000LL * i};
      if (options.after && *e.created_at() <= *options.after) continue;
      if (!out.emit(e)) return;
    }
  }
  std::atomic<int> runs{0};
  std::atomic<int> total{3000};
};

TEST(resources_smoke_pgtest, ScheduledInformerWritesAndAdvancesCursor) {
  delta::testing::ScratchSchema schema("smoke", delta::testing::SchemaStart::migrated);
  auto controller = std::make_shared<Event2Controller>();
  delta::Config config;
  config.schema = schema.name();
  config.controllers.add(controller);
  config.namespaces["default"] = {.max_workers = 8};
  config.poll_interval = std::chrono::milliseconds(50);
  delta::Client client(delta::testing::make_pool(), config);
  client.start();
  client.schedule_inform({.kind = "event2"});
  ASSERT_TRUE(delta::testing::eventually(
      [&] { return schema.count("delta_resource WHERE state = 'synced'") == 3000; }));
  ASSERT_TRUE(
      delta::testing::eventually([&] { return client.last_inform_run("event2").has_value(); }));
  auto run = client.last_inform_run("event2");
  EXPECT_TRUE(run->succeeded) << run->error;
  EXPECT_EQ(run->emitted, 3000u);
  EXPECT_EQ(run->batches, 2u) << "3,000 objects go in statements of 2,500 and 500";
  // The cursor: the newest created_at written (object i is created at i s).
  const auto stored_cursor = [&] {
    return schema.pool()
        .exec("SELECT last_inform_time FROM " + schema.table("delta_controller") +
              " WHERE kind = 'event2'")
        .one()
        .get<std::optional<delta::Timestamp>>(0);
  };
  const delta::Timestamp at_3000{std::chrono::seconds(3000)};
  EXPECT_EQ(run->cursor, at_3000);
  EXPECT_EQ(stored_cursor(), at_3000);
  controller->total = 3500;
  client.schedule_inform({.kind = "event2"});
  ASSERT_TRUE(delta::testing::eventually([&] {
    auto r = client.last_inform_run("event2");
    return r && r->emitted == 500;
  }));
  ASSERT_TRUE(delta::testing::eventually(
      [&] { return schema.count("delta_resource WHERE state = 'synced'") == 3500; }));
  EXPECT_EQ(stored_cursor(), delta::Timestamp(std::chrono::seconds(3500)));
  EXPECT_EQ(controller->runs, 2);
  client.stop();
}

}  // namespace
