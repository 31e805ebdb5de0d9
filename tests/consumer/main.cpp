// A program that uses delta the way a team's own project would: through its public
// headers and its installed package (or as a subproject). It migrates a schema of its
// own, informs one object, waits until its controller synced it, and cleans up. Exit 0
// on success; the database comes from DATABASE_URL or libpq's PG* variables.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include <unistd.h>

#include <delta/delta.hpp>
#ifdef DELTA_CONSUMER_PROMETHEUS
#include <delta/prometheus.hpp>
#endif

namespace {

struct Item {
  std::string key;
  int value = 0;
  static constexpr std::string_view kind = "item";
  std::string id() const { return key; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Item, key, value)

class ItemController : public delta::Controller<Item> {
 public:
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<Item>& item) override {
    worked += item.object.value;
    return delta::synced();
  }
  std::atomic<int> worked{0};
};

}  // namespace

int main() {
  using namespace std::chrono_literals;
  const char* url = std::getenv("DATABASE_URL");
  auto pool = delta::pg::Pool::create(url != nullptr ? url : "", {.max_connections = 4});
  const std::string schema = "consumer_" + std::to_string(::getpid());
  int status = 1;
  try {
    delta::migrate(*pool, {.schema = schema});
    auto controller = std::make_shared<ItemController>();
    delta::Config config;
    config.schema = schema;
    config.logger = delta::stderr_logger(delta::LogLevel::warn);
    config.poll_interval = 50ms;
    config.controllers.add(controller);
    config.namespaces["default"] = {.max_workers = 2};
    delta::Client client(pool, config);
    client.start();
    client.inform(Item{"answer", 42});
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (client.get<Item>("answer").row.state != delta::ResourceState::synced &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
    }
    bool synced = client.get<Item>("answer").row.state == delta::ResourceState::synced;
#ifdef DELTA_CONSUMER_PROMETHEUS
    {
      delta::prometheus::Server server(client, {.listen = "127.0.0.1:0"});
      const std::string text = delta::prometheus::render(client.metrics());
      if (server.port() <= 0 || text.find("delta_reconcile_total{") == std::string::npos) {
        std::fprintf(stderr, "consumer: delta::prometheus did not serve the metrics\n");
        synced = false;
      } else {
        std::printf("consumer: delta::prometheus serves on port %d\n", server.port());
      }
    }
#endif
    client.stop(1s);
    if (synced && controller->worked == 42) {
      std::printf("consumer: synced with delta %s\n", delta::kVersion);
      status = 0;
    } else {
      std::fprintf(stderr, "consumer: the resource was not synced (worked %d)\n",
                   controller->worked.load());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
  }
  pool->exec("DROP SCHEMA IF EXISTS \"" + schema + "\" CASCADE");
  return status;
}
