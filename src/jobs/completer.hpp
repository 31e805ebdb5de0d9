// Writes job outcomes in batches (one statement for all outcomes ready within
// completer_flush_interval), then publishes their events.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <vector>

#include <delta/jobs.hpp>

#include "common/batch_writer.hpp"
#include "jobs/context.hpp"
#include "jobs/store.hpp"

namespace delta::jobs {

class Completer {
 public:
  explicit Completer(JobsContext& ctx);
  void start() { writer_.start(); }
  // `frees`: the queue's name when its concurrency is capped: once the outcome is written,
  // fetchers of every process waiting for capacity are woken.
  void submit(Completion completion, std::optional<JobEvent> event, std::string frees = {});
  // Writes everything pending, then ends the thread.
  void stop();
  std::size_t pending() const { return writer_.pending(); }
  // More outcomes wait than the next two statements write: fetchers pause.
  bool backlogged() const { return writer_.backlogged(); }

 private:
  struct Item {
    Completion completion;
    std::optional<JobEvent> event;
    std::string frees;
  };
  // Writes `batch`; false when it should be tried again later (e.g. connection lost).
  bool write(std::vector<Item>& batch);
  void apply(std::vector<Item>& batch);

  JobsContext& ctx_;
  std::atomic<std::int64_t> batches_{0};
  std::atomic<std::int64_t> written_{0};
  internal::BatchWriter<Item> writer_;
};

}  // namespace delta::jobs
