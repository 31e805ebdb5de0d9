// End-to-end smoke test of the resource engine: inform, work, synced.
#include <atomic>

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

TEST(sync_smoke_pgtest, InformThenSynced) {
  delta::testing::ScratchSchema schema("smoke");
  auto pool = delta::testing::make_pool();
  delta::migrate(*pool, {.schema = schema.name()});
  auto controller = std::make_shared<ItemController>();
  delta::Config config;
  config.schema = schema.name();
  config.controllers.add(controller);
  config.namespaces["default"] = {.max_workers = 4};
  config.poll_interval = std::chrono::milliseconds(50);
  config.logger = delta::stderr_logger(delta::LogLevel::info);
  delta::Client client(pool, config);
  client.start();
  auto r = client.inform(Item{"a", 1});
  EXPECT_EQ(r.status, delta::InformStatus::inserted);
  EXPECT_EQ(r.resource.state, delta::ResourceState::scheduled);
  std::vector<Item> many;
  for (int i = 0; i < 1000; ++i) many.push_back({"k" + std::to_string(i), i});
  auto m = client.inform_many(many);
  EXPECT_EQ(m.inserted, 1000u);
  ASSERT_TRUE(delta::testing::eventually([&] {
    return schema.count("delta_resource WHERE state = 'synced'") == 1001;
  }));
  auto again = client.inform(Item{"a", 1});
  EXPECT_EQ(again.status, delta::InformStatus::unchanged);
  auto changed = client.inform(Item{"a", 2});
  EXPECT_EQ(changed.status, delta::InformStatus::changed);
  EXPECT_EQ(changed.resource.generation, 2);
  ASSERT_TRUE(delta::testing::eventually([&] { return client.get<Item>("a").row.state == delta::ResourceState::synced; }));
  client.stop();
}

}  // namespace
