// Batched, fenced outcome writes.
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include "jobs/engine.hpp"

namespace delta::jobs {

void Completer::start() {
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

void Completer::submit(Completion completion, std::optional<JobEvent> event) {
  bool full = false;
  {
    std::lock_guard lock(mutex_);
    if (pending_.empty()) first_pending_ = std::chrono::steady_clock::now();
    pending_.push_back({std::move(completion), std::move(event)});
    full = static_cast<int>(pending_.size()) >= ctx_.config.completer_batch_size;
    if (pending_.size() == 1 || full) ready_.notify_all();
  }
}

std::size_t Completer::pending() const {
  std::lock_guard lock(mutex_);
  return pending_.size();
}

void Completer::stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    ready_.notify_all();
    thread_.join();
  }
  ctx_.log(LogLevel::debug, fmt::format("completer: {} statements wrote {} outcomes",
                                        batches_.load(), written_.load()));
}

namespace {
// Failures that writing the same outcomes again cannot fix.
bool is_poison(const std::exception& e) {
  if (const auto* db = dynamic_cast<const DatabaseError*>(&e)) {
    return db->kind() == DatabaseErrorKind::bad_input ||
           db->kind() == DatabaseErrorKind::constraint;
  }
  return dynamic_cast<const nlohmann::json::exception*>(&e) != nullptr;
}
}  // namespace

void Completer::apply(std::vector<Item>& batch) {
  std::vector<Completion> outcomes;
  outcomes.reserve(batch.size());
  for (const auto& item : batch)
    outcomes.push_back(item.completion);
  auto conn = ctx_.pool->acquire();
  auto applied = ctx_.store.complete(*conn, outcomes, ctx_.now());
  conn.release();
  ++batches_;
  written_ += static_cast<std::int64_t>(batch.size());
  if (applied.size() != batch.size()) {
    ctx_.log(LogLevel::info,
             fmt::format("{} job outcomes were not applied: the jobs were rescued or released "
                         "while they ran",
                         batch.size() - applied.size()));
  }
  if (ctx_.events.empty()) return;
  std::unordered_map<std::int64_t, JobState> ended(applied.begin(), applied.end());
  std::vector<JobEvent> events;
  events.reserve(batch.size());
  for (auto& item : batch) {
    auto it = ended.find(item.completion.id);
    if (!item.event || it == ended.end()) continue;
    if (it->second == JobState::cancelled && item.event->kind != JobEventKind::cancelled) {
      // Cancelled by an operator while it ran: the row says so, and so does the event.
      item.event->kind = JobEventKind::cancelled;
      item.event->error = "cancelled while running";
    }
    events.push_back(std::move(*item.event));
  }
  ctx_.events.publish_many(events);
}

bool Completer::write(std::vector<Item>& batch) {
  try {
    apply(batch);
    return true;
  } catch (const std::exception& e) {
    if (!is_poison(e)) {
      ctx_.log(LogLevel::warn, fmt::format("writing {} job outcomes failed (will retry): {}",
                                           batch.size(), e.what()));
      return false;
    }
    ctx_.log(LogLevel::error, fmt::format("writing {} job outcomes failed: {}; writing them one "
                                          "by one",
                                          batch.size(), e.what()));
  }
  // One outcome the database refuses must not hold back the others.
  for (auto& item : batch) {
    std::vector<Item> single{item};
    try {
      apply(single);
      continue;
    } catch (const std::exception& e) {
      if (!is_poison(e)) {
        ctx_.log(LogLevel::warn, fmt::format("job {}: outcome not written ({}); the rescuer will "
                                             "retry the job",
                                             item.completion.id, e.what()));
        continue;
      }
    }
    try {
      single.front().completion.error.reset();
      apply(single);
      ctx_.log(LogLevel::error, fmt::format("job {}: its error message could not be stored and "
                                            "was dropped",
                                            item.completion.id));
    } catch (const std::exception& e) {
      ctx_.log(LogLevel::error, fmt::format("job {}: outcome refused by the database ({}); the "
                                            "rescuer will retry the job",
                                            item.completion.id, e.what()));
    }
  }
  return true;
}

void Completer::run(std::stop_token stop) {
  LoopBackoff backoff;
  const auto batch_size = static_cast<std::size_t>(ctx_.config.completer_batch_size);
  int failures_after_stop = 0;
  for (;;) {
    std::vector<Item> batch;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, stop, [&] { return !pending_.empty(); });
      if (pending_.empty()) return;  // stopping with nothing left
      if (!stop.stop_requested() && pending_.size() < batch_size) {
        auto flush_at = first_pending_ + ctx_.config.completer_flush_interval;
        ready_.wait_until(lock, stop, flush_at, [&] { return pending_.size() >= batch_size; });
      }
      auto take = std::min(pending_.size(), batch_size);
      batch.assign(std::make_move_iterator(pending_.begin()),
                   std::make_move_iterator(pending_.begin() + static_cast<std::ptrdiff_t>(take)));
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(take));
      if (!pending_.empty()) first_pending_ = std::chrono::steady_clock::now();
    }
    if (write(batch)) {
      backoff.succeeded();
      continue;
    }
    // Keep the outcomes (in order) and try again after a pause.
    {
      std::lock_guard lock(mutex_);
      pending_.insert(pending_.begin(), std::make_move_iterator(batch.begin()),
                      std::make_move_iterator(batch.end()));
      first_pending_ = std::chrono::steady_clock::now();
    }
    if (stop.stop_requested() && ++failures_after_stop >= 5) {
      std::lock_guard lock(mutex_);
      ctx_.log(LogLevel::error,
               fmt::format("giving up on {} job outcomes at shutdown; the rescuer will retry "
                           "those jobs",
                           pending_.size()));
      pending_.clear();
      return;
    }
    auto pause = backoff.failed();
    std::this_thread::sleep_for(stop.stop_requested() ? std::chrono::milliseconds(200) : pause);
  }
}

}  // namespace delta::jobs
