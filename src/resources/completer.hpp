// Writes work outcomes in batches (one statement, fenced by lease owner, claim time and
// generation, for every outcome ready within completer_flush_interval), then publishes
// their events.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <vector>

#include <delta/resource.hpp>

#include "common/batch_writer.hpp"
#include "resources/context.hpp"
#include "resources/store.hpp"

namespace delta::resources {

class Completer {
 public:
  struct Item {
    FinishRow row;
    std::optional<Event> event;
    // Set when the resource's kind or namespace has a concurrency cap: once the outcome is
    // written, claimers of every process waiting for capacity are woken (the kind's name).
    const std::string* frees = nullptr;
  };
  explicit Completer(ResourcesContext& ctx);
  void start() { writer_.start(); }
  void submit(Item item) { writer_.submit(std::move(item)); }
  // More outcomes wait than the next two statements write: claimers pause.
  bool backlogged() const { return writer_.backlogged(); }
  // Writes everything pending, then ends the thread.
  void stop();

 private:
  void apply(std::vector<Item>& batch);
  ResourcesContext& ctx_;
  std::atomic<std::int64_t> batches_{0};
  std::atomic<std::int64_t> written_{0};
  internal::BatchWriter<Item> writer_;
};

}  // namespace delta::resources
