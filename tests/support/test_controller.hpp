// A controller whose work() does what each object's `action` names, and the object types
// it works, for tests of the resource engine in one process.
#pragma once

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <delta/controller.hpp>
#include <delta/object.hpp>
#include <delta/resource.hpp>

#include "support/gate.hpp"
#include "support/keyed_objects.hpp"
#include "support/recorder.hpp"

namespace delta::testing {

// What the "throw" action throws; its recorded, demangled type name is
// "delta::testing::Broken".
struct Broken : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Defines object type `Type` for TestController: a `key`, the `action` its work() takes
// and a `version` (DELTA_KEYED_MEMBERS).
#define DELTA_TEST_OBJECT(Type, Kind, Parallelism) \
  struct Type {                                    \
    std::string key;                               \
    std::string action = "sync";                   \
    int version = 0;                               \
    DELTA_KEYED_MEMBERS(Kind, Parallelism)         \
  };                                               \
  NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Type, key, action, version)

DELTA_TEST_OBJECT(Thing, "thing", 4)

// The same, with a compare hook ordering objects by `version`.
struct Versioned {
  std::string key;
  std::string action = "sync";
  int version = 0;
  DELTA_KEYED_MEMBERS("versioned", 4)
  int compare(const Versioned& stored) const { return version - stored.version; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Versioned, key, action, version)

// Works objects T with `key`, `action` and `version` members (DELTA_TEST_OBJECT); every
// work() call is recorded in the Recorder (enter on entry, leave on return). Actions:
//   sync         synced()
//   retry        retry("boom <attempt>")
//   throw        throws Broken("disk full")
//   throw_std    throws std::out_of_range("index 7")
//   throw_int    throws 42
//   remove       remove("gone")
//   requeue      requeue_after(1 h)
//   fail_once    retry("first try fails") on the key's first run, synced() afterwards
//   block        waits for the gate (ignoring the stop token), then synced()
//   block_stop   waits for the gate or the stop token; retry("stopped") when stopped
//   hang_once    the key's first run blocks like `block`; later runs are synced()
//   hold         Recorder::hold(the object's version), then synced()
// Any other action throws std::logic_error. Thread-safe.
template <class T>
class TestController : public delta::Controller<T> {
 public:
  TestController(std::shared_ptr<Recorder> recorder, std::shared_ptr<Gate> gate)
      : recorder_(std::move(recorder)), gate_(std::move(gate)) {}

  delta::WorkResult work(delta::WorkContext& ctx, const delta::Resource<T>& r) override {
    const T& object = r.object;
    const int run = recorder_->enter(
        {object.key, object.action, object.version, r.row.generation, r.row.attempt});
    struct Leave {
      Recorder& recorder;
      ~Leave() { recorder.leave(); }
    } leave{*recorder_};
    const std::string& action = object.action;
    if (action == "sync") return delta::synced();
    if (action == "retry") return delta::retry(fmt::format("boom {}", r.row.attempt));
    if (action == "throw") throw Broken("disk full");
    if (action == "throw_std") throw std::out_of_range("index 7");
    if (action == "throw_int") throw 42;
    if (action == "remove") return delta::remove("gone");
    if (action == "requeue") return delta::requeue_after(std::chrono::hours(1));
    if (action == "fail_once") return run == 1 ? delta::retry("first try fails") : delta::synced();
    if (action == "block") {
      gate_->wait(ctx.stop_token(), false);
      return delta::synced();
    }
    if (action == "block_stop") {
      return gate_->wait(ctx.stop_token(), true) ? delta::synced() : delta::retry("stopped");
    }
    if (action == "hang_once") {
      if (run == 1) gate_->wait(ctx.stop_token(), false);
      return delta::synced();
    }
    if (action == "hold") {
      recorder_->hold(object.version);
      return delta::synced();
    }
    throw std::logic_error("unknown test action " + action);
  }

 private:
  std::shared_ptr<Recorder> recorder_;
  std::shared_ptr<Gate> gate_;
};

}  // namespace delta::testing
