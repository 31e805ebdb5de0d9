// A fixture for tests of the resource engine in one process: a migrated schema of its
// own, clients with short intervals whose controllers are TestControllers, and reads of
// the rows they leave.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <delta/client.hpp>
#include <delta/errors.hpp>
#include <delta/log.hpp>
#include <delta/pg.hpp>
#include <delta/resource.hpp>
#include <delta/time.hpp>

#include "support/gate.hpp"
#include "support/pg_test.hpp"
#include "support/printers.hpp"
#include "support/recorder.hpp"
#include "support/test_controller.hpp"

namespace delta::testing {

// `Base` is ::testing::Test or a ::testing::TestWithParam<...>; every client config()
// makes has a TestController for each of `Kinds`, sharing the fixture's Recorder and Gate.
// TearDown opens the gate and stops every client (200 ms grace) before the schema goes.
template <class Base, class... Kinds>
class ResourceTest : public Base {
 public:
  // `schema_prefix` starts the name of each test's schema.
  explicit ResourceTest(std::string schema_prefix) : schema_prefix_(std::move(schema_prefix)) {}

  void SetUp() override {
    schema_ = std::make_unique<ScratchSchema>(schema_prefix_, SchemaStart::migrated);
    recorder_ = std::make_shared<Recorder>();
    gate_ = std::make_shared<Gate>();
  }

  void TearDown() override {
    gate_->open();
    for (auto& client : clients_)
      client->stop(std::chrono::milliseconds(200));
    clients_.clear();
    reader_.reset();
    schema_.reset();
  }

  // What every TestController of this test records, and the gate its blocking actions
  // wait on.
  Recorder& recorder() const { return *recorder_; }
  Gate& gate() const { return *gate_; }

  // A TestController<T> sharing the recorder and the gate.
  template <class T>
  std::shared_ptr<TestController<T>> make_controller() const {
    return std::make_shared<TestController<T>>(recorder_, gate_);
  }
  // Adds make_controller<T>() to `cfg`.
  template <class T>
  void add_controller(Config& cfg) const {
    cfg.controllers.add(make_controller<T>());
  }

  // An inform-only configuration (no namespaces) with short intervals and a controller
  // for each of Kinds; failed resources wait an hour unless a test shortens the backoff.
  Config config() const {
    using namespace std::chrono_literals;
    Config cfg;
    cfg.schema = schema_->name();
    cfg.logger = delta::stderr_logger(delta::LogLevel::warn);
    cfg.poll_interval = 50ms;
    cfg.heartbeat_interval = 200ms;
    cfg.client_ttl = 1s;
    cfg.rescuer_interval = 100ms;
    cfg.leader_ttl = 1s;
    cfg.leader_renew_interval = 200ms;
    cfg.completer_flush_interval = 1ms;
    cfg.scheduler_interval = 50ms;
    cfg.resource_backoff = [](int) { return std::chrono::milliseconds(1h); };
    (add_controller<Kinds>(cfg), ...);
    return cfg;
  }
  // The same, working the "default" namespace with `max_workers`.
  Config worker_config(int max_workers = 4) const {
    Config cfg = config();
    cfg.namespaces["default"] = {.max_workers = max_workers};
    return cfg;
  }

  // A client of this test with a pool of its own, not started; stopped at TearDown.
  Client& add_client(Config cfg) {
    clients_.push_back(std::make_unique<Client>(make_pool(), std::move(cfg)));
    return *clients_.back();
  }
  // The same, started.
  Client& start(Config cfg) {
    Client& client = add_client(std::move(cfg));
    client.start();
    return client;
  }

  // A client that is never started: it informs and reads, and takes no part in anything.
  Client& reader() {
    if (!reader_) reader_ = std::make_unique<Client>(make_pool(), config());
    return *reader_;
  }

  // The resource `id` of `kind` as stored; throws delta::NotFound.
  ResourceRow row(const std::string& id, std::string_view kind = Thing::kind) {
    return reader().get_resource(kind, id);
  }
  ResourceState state(const std::string& id, std::string_view kind = Thing::kind) {
    return row(id, kind).state;
  }
  bool exists(const std::string& id, std::string_view kind = Thing::kind) {
    try {
      reader().get_resource(kind, id);
      return true;
    } catch (const delta::NotFound&) {
      return false;
    }
  }
  // A condition for eventually(): the resource is in state `wanted`.
  std::function<bool()> in_state(const std::string& id, ResourceState wanted,
                                 std::string_view kind = Thing::kind) {
    return [this, id, wanted, kind] { return state(id, kind) == wanted; };
  }

  // `name` qualified with this test's schema.
  std::string table(std::string_view name = "delta_resource") const { return schema_->table(name); }
  // How many resources `where` (a condition on delta_resource) selects.
  std::int64_t count(const std::string& where = "true") const {
    return schema_->count(fmt::format("delta_resource WHERE {}", where));
  }
  // Setup only: `UPDATE delta_resource SET <assignments>` on one row, which must exist.
  void set(const std::string& id, const std::string& assignments,
           std::string_view kind = Thing::kind) {
    auto result = schema_->pool().exec(
        fmt::format("UPDATE {} SET {} WHERE kind = $1 AND object_id = $2", table(), assignments),
        std::string(kind), id);
    ASSERT_EQ(result.affected_rows(), 1) << "setting " << id << ": " << assignments;
  }

  delta::pg::Pool& pool() const { return schema_->pool(); }
  const std::string& schema_name() const { return schema_->name(); }

 private:
  std::string schema_prefix_;
  std::unique_ptr<ScratchSchema> schema_;
  std::shared_ptr<Recorder> recorder_;
  std::shared_ptr<Gate> gate_;
  std::unique_ptr<Client> reader_;
  std::vector<std::unique_ptr<Client>> clients_;
};

// Milliseconds from now until `at` (negative: in the past).
inline std::int64_t ms_from_now(Timestamp at) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(at - delta::now()).count();
}

}  // namespace delta::testing
