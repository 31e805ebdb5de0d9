// delta::prometheus::Server against a live PostgreSQL: /metrics after a known workload read
// by a strict reader of the format, /healthz and /readyz through a client's life and while
// the database refuses it, methods, paths, the bearer token and bad listen addresses.
#include <atomic>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>

#include <delta/delta.hpp>
#include <delta/prometheus.hpp>

#include "prometheus/exposition.hpp"
#include "support/maintenance_config.hpp"
#include "support/pg_test.hpp"
#include "support/role.hpp"

namespace {

using delta::testing::eventually;
using delta::testing::parse_exposition;
using delta::testing::ScratchSchema;

struct Item {
  std::string key;
  static constexpr std::string_view kind = "item";
  std::string id() const { return key; }
  static delta::ObjectSettings settings() { return {.parallelism = 4}; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Item, key)

class ItemController : public delta::Controller<Item> {
 public:
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<Item>&) override {
    return delta::synced();
  }
};

delta::Config item_config(const std::string& schema) {
  auto config = delta::testing::maintenance_config(schema);
  config.controllers.add(std::make_shared<ItemController>());
  config.namespaces["default"] = {.max_workers = 4};
  return config;
}

struct Reply {
  int status = 0;  // 0: no answer
  std::string body;
  std::string content_type;
};

Reply get(int port, const std::string& path, const httplib::Headers& headers = {}) {
  httplib::Client http("127.0.0.1", port);
  http.set_connection_timeout(std::chrono::seconds(5));
  http.set_read_timeout(std::chrono::seconds(10));
  auto result = http.Get(path.c_str(), headers);
  if (!result) return {};
  return {result->status, result->body, result->get_header_value("Content-Type")};
}

TEST(server_pgtest, MetricsAfterAKnownWorkloadPassAStrictReader) {
  constexpr int kItems = 50;
  ScratchSchema schema("prom", delta::testing::SchemaStart::migrated);
  delta::Client client(schema.shared_pool(), item_config(schema.name()));
  delta::prometheus::Server server(client, {.listen = "127.0.0.1:0"});
  ASSERT_GT(server.port(), 0);
  client.start();
  std::vector<Item> items;
  for (int i = 0; i < kItems; ++i)
    items.push_back({"item-" + std::to_string(i)});
  client.inform_many(items);
  ASSERT_TRUE(
      eventually([&] { return schema.count("delta_resource WHERE state = 'synced'") == kItems; }));
  ASSERT_TRUE(eventually([&] { return client.is_leader(); }));

  const auto reply = get(server.port(), "/metrics");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.content_type, delta::prometheus::kContentType);
  const auto parsed = parse_exposition(reply.body);
  ASSERT_EQ(parsed.error, "") << reply.body;
  EXPECT_EQ(parsed.value("delta_reconcile_total", "delta_reconcile_total",
                         {{"kind", "item"}, {"namespace", "default"}, {"result", "synced"}}),
            kItems);
  EXPECT_EQ(parsed.value("delta_inform_objects_total", "delta_inform_objects_total",
                         {{"kind", "item"}, {"outcome", "inserted"}}),
            kItems);
  const std::string h = "delta_reconcile_duration_seconds";
  EXPECT_EQ(parsed.value(h, h + "_count", {{"kind", "item"}}), kItems);
  EXPECT_EQ(parsed.value(h, h + "_bucket", {{"kind", "item"}, {"le", "+Inf"}}), kItems);
  EXPECT_EQ(parsed.value("delta_is_leader", "delta_is_leader"), 1);
  EXPECT_EQ(parsed.families.at("delta_pool_connections").type, "gauge");
  EXPECT_EQ(parsed.families.at("delta_claim_batch_size").type, "histogram");

  EXPECT_EQ(get(server.port(), "/healthz").status, 200);
  EXPECT_TRUE(eventually([&] { return get(server.port(), "/readyz").status == 200; }));
  client.stop();
  const auto healthz = get(server.port(), "/healthz");
  EXPECT_EQ(healthz.status, 503);
  EXPECT_EQ(healthz.body, "the client has stopped\n");
  EXPECT_EQ(get(server.port(), "/readyz").status, 503);
  EXPECT_EQ(get(server.port(), "/metrics").status, 200) << "metrics outlive the client's run";
}

TEST(server_pgtest, OnlyGetIsServedAndUnknownPathsAreNotFound) {
  ScratchSchema schema("prom", delta::testing::SchemaStart::migrated);
  delta::Client client(schema.shared_pool(), item_config(schema.name()));
  delta::prometheus::Server server(client, {.listen = "127.0.0.1:0"});
  httplib::Client http("127.0.0.1", server.port());
  auto post = http.Post("/metrics", "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->get_header_value("Allow"), "GET, HEAD");
  auto del = http.Delete("/readyz");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 405);
  EXPECT_EQ(get(server.port(), "/nothing").status, 404);
  const auto before_start = get(server.port(), "/healthz");
  EXPECT_EQ(before_start.status, 503);
  EXPECT_EQ(before_start.body, "the client has not started\n");
  server.stop();
  server.stop();  // idempotent
  EXPECT_EQ(get(server.port(), "/healthz").status, 0) << "nothing listens after stop()";
}

TEST(server_pgtest, ABearerTokenGuardsMetricsButNotTheProbes) {
  ScratchSchema schema("prom", delta::testing::SchemaStart::migrated);
  delta::Client client(schema.shared_pool(), item_config(schema.name()));
  delta::prometheus::Server server(client, {.listen = "127.0.0.1:0", .bearer_token = "s3cret"});
  const auto refused = get(server.port(), "/metrics");
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(get(server.port(), "/metrics", {{"Authorization", "Bearer wrong"}}).status, 401);
  const auto allowed = get(server.port(), "/metrics", {{"Authorization", "Bearer s3cret"}});
  EXPECT_EQ(allowed.status, 200);
  EXPECT_EQ(parse_exposition(allowed.body).error, "");
  EXPECT_EQ(get(server.port(), "/healthz").status, 503) << "open, and the client is not started";
}

TEST(server_pgtest, BadListenAddressesAndABusyPortAreRefused) {
  ScratchSchema schema("prom", delta::testing::SchemaStart::migrated);
  delta::Client client(schema.shared_pool(), item_config(schema.name()));
  for (const char* listen : {"", "9464", "localhost:", ":9464", "localhost:99999", "h:12x"}) {
    EXPECT_THROW(delta::prometheus::Server(client, {.listen = listen}), delta::ConfigError)
        << listen;
  }
  delta::prometheus::Server first(client, {.listen = "127.0.0.1:0"});
  EXPECT_THROW(
      delta::prometheus::Server(client, {.listen = "127.0.0.1:" + std::to_string(first.port())}),
      delta::Error);
}

TEST(server_pgtest, ReadyzTurnsUnreadyWhileTheDatabaseRefusesTheClientAndBackAfter) {
  ScratchSchema schema("prom", delta::testing::SchemaStart::migrated);
  delta::testing::Role role(schema.pool(), "delta_ready");
  auto config = item_config(schema.name());
  config.logger = delta::null_logger();  // the refused connections would fill the log
  delta::Client client(
      delta::pg::Pool::create(role.url(), {.connect_timeout = std::chrono::seconds(2)}), config);
  delta::prometheus::Server server(client, {.listen = "127.0.0.1:0"});
  client.start();
  ASSERT_TRUE(eventually([&] { return get(server.port(), "/readyz").status == 200; }));

  role.refuse();
  Reply unready;
  ASSERT_TRUE(eventually(
      [&] {
        unready = get(server.port(), "/readyz");
        return unready.status == 503;
      },
      std::chrono::seconds(30)))
      << unready.body;
  EXPECT_NE(unready.body.find("has not been reached for"), std::string::npos) << unready.body;
  EXPECT_EQ(get(server.port(), "/healthz").status, 200) << "alive all the same";
  EXPECT_FALSE(client.health().ready);

  role.allow();
  EXPECT_TRUE(eventually([&] { return get(server.port(), "/readyz").status == 200; },
                         std::chrono::seconds(30)));
  EXPECT_TRUE(client.health().ready);
  client.stop();
}

}  // namespace
