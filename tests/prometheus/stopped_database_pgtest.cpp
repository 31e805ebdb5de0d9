// /readyz and /healthz of delta::prometheus::Server while the PostgreSQL server itself is
// stopped and after it is started again -- on a cluster this test owns
// (tests/support/cluster.hpp), never the suite's shared one. The server_pgtest variant
// refuses the client's role instead; this one takes the database away as an outage does.
#include <chrono>
#include <string>

#include <gtest/gtest.h>
#include <httplib.h>

#include <delta/delta.hpp>
#include <delta/prometheus.hpp>

#include "support/cluster.hpp"
#include "support/maintenance_config.hpp"
#include "support/pg_test.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using delta::testing::Cluster;
using delta::testing::eventually;

struct Item {
  std::string key;
  static constexpr std::string_view kind = "item";
  std::string id() const { return key; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Item, key)

class ItemController : public delta::Controller<Item> {
 public:
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<Item>&) override {
    return delta::synced();
  }
};

int status_of(int port, const char* path) {
  httplib::Client http("127.0.0.1", port);
  http.set_connection_timeout(5s);
  http.set_read_timeout(10s);
  auto result = http.Get(path);
  return result ? result->status : 0;
}

long long ms_since(Clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count();
}

TEST(stopped_database_pgtest, ReadyzIsUnreadyWhileThePostgresServerIsStoppedAndReadyAfter) {
  Cluster cluster;
  {
    auto admin = delta::pg::Pool::create(cluster.conninfo(), {.max_connections = 1});
    delta::migrate(*admin, {.schema = "delta_ready"});
  }
  auto config = delta::testing::maintenance_config("delta_ready");
  config.logger = delta::null_logger();  // the failed connections would fill the log
  config.controllers.add(std::make_shared<ItemController>());
  delta::Client client(
      delta::pg::Pool::create(cluster.conninfo(), {.connect_timeout = std::chrono::seconds(2)}),
      config);
  delta::prometheus::Server server(client, {.listen = "127.0.0.1:0"});
  client.start();
  ASSERT_TRUE(eventually([&] { return status_of(server.port(), "/readyz") == 200; }));

  cluster.stop(Cluster::Stop::fast);
  const auto stopped = Clock::now();
  ASSERT_TRUE(eventually([&] { return status_of(server.port(), "/readyz") == 503; }, 30s))
      << "still ready " << ms_since(stopped) << " ms after the server stopped";
  const auto unready_ms = ms_since(stopped);
  // Ready means the heartbeat reached the database within 2 x heartbeat_interval; the
  // probe must notice within a few heartbeats, not a TTL or a connect timeout later.
  EXPECT_LT(unready_ms, 10 * config.heartbeat_interval.count())
      << "unready only " << unready_ms << " ms after the server stopped";
  EXPECT_EQ(status_of(server.port(), "/healthz"), 200) << "the process is alive all along";
  EXPECT_FALSE(client.health().ready);
  EXPECT_TRUE(client.health().alive);

  cluster.start();
  const auto started = Clock::now();
  ASSERT_TRUE(eventually([&] { return status_of(server.port(), "/readyz") == 200; }, 30s))
      << "not ready " << ms_since(started) << " ms after the server was back";
  std::printf(
      "[ figures  ] /readyz: 503 %lld ms after the server stopped, 200 %lld ms after "
      "it was back\n",
      unready_ms, ms_since(started));
  EXPECT_TRUE(client.health().ready);
  client.stop();
}

}  // namespace
