#include "resources/maintenance.hpp"

#include <random>

#include <fmt/format.h>

#include "resources/informer.hpp"

namespace delta::resources {

namespace {

constexpr int kRescueBatch = 1000;
constexpr int kExpireBatch = 5000;
constexpr int kCleanBatch = 10000;

}  // namespace

void Maintenance::register_tasks(runtime::LeaderTasks& tasks) {
  const std::string lane(kLane);
  const auto& options = ctx_.options;
  const auto interval = options.maintenance_interval;
  const auto budget = std::min(options.cleaner_interval, std::chrono::milliseconds(60000));
  tasks.add(lane, "resource rescuer", options.rescuer_interval, [this] { run_rescuer(); });
  tasks.add(lane, "inform scheduler", interval, [this] { run_inform_scheduler(); });
  tasks.add(lane, "resource expirer", interval, [this, interval] { run_expirer(interval); });
  tasks.add(lane, "resource cleaner", options.cleaner_interval,
            [this, budget] { run_cleaner(budget); });
}

std::int64_t Maintenance::run_rescuer() {
  std::int64_t total = 0;
  for (;;) {
    auto conn = ctx_.pool().acquire();
    auto rescued =
        ctx_.store.rescue(*conn, ctx_.runtime.options.client_ttl.count(), kRescueBatch, ctx_.now());
    conn.release();
    total += static_cast<std::int64_t>(rescued.size());
    std::vector<Event> events;
    for (auto& [row, reason] : rescued) {
      ctx_.log(LogLevel::warn,
               fmt::format("resource {}/{} rescued: {}", row.kind, row.object_id, reason),
               {{"kind", row.kind},
                {"namespace", row.namespace_name},
                {"object_id", row.object_id},
                {"generation", row.generation},
                {"attempt", row.attempt},
                {"reason", reason}});
      if (!ctx_.events.empty()) {
        Event event;
        event.category =
            row.state == ResourceState::degraded ? EventCategory::degraded : EventCategory::failed;
        event.error = "rescued: " + reason;
        event.resource = std::move(row);
        events.push_back(std::move(event));
      }
    }
    ctx_.events.publish_many(events);
    if (static_cast<int>(rescued.size()) < kRescueBatch) break;
  }
  if (total > 0) {
    // Rescued resources are runnable at once.
    wake_all_();
  }
  return total;
}

std::int64_t Maintenance::run_inform_scheduler() {
  auto tx = ctx_.pool().begin();
  auto& conn = tx.connection();
  auto due = ctx_.store.due_informs(conn, ctx_.now());
  std::int64_t inserted = 0;
  const auto jitter = ctx_.options.inform_jitter;
  thread_local std::mt19937_64 random{std::random_device{}()};
  for (const auto& [kind, interval_ms] : due) {
    std::optional<Timestamp> at;
    if (jitter.count() > 0) {
      auto delay = std::uniform_int_distribution<std::int64_t>(0, jitter.count())(random);
      at = ctx_.now().value_or(delta::now()) + std::chrono::milliseconds(delay);
    }
    auto insert = inform_job(kind, {{"kind", kind}, {"process_existing", false}}, at);
    auto result = jobs_.insert_own(conn, insert);
    if (!result.unique_skipped_as_duplicate) {
      ++inserted;
      ctx_.log(LogLevel::debug,
               fmt::format("informer {}: run scheduled (every {} ms)", kind, interval_ms),
               {{"kind", kind}, {"interval_ms", interval_ms}});
    }
  }
  tx.commit();
  return inserted;
}

std::int64_t Maintenance::run_expirer(std::chrono::milliseconds budget) {
  const auto end = std::chrono::steady_clock::now() + budget;
  std::int64_t total = 0;
  for (;;) {
    auto conn = ctx_.pool().acquire();
    auto moved = ctx_.store.expire(*conn, kExpireBatch, ctx_.now());
    total += moved;
    if (moved < kExpireBatch || std::chrono::steady_clock::now() >= end) break;
  }
  if (total > 0) {
    ctx_.log(LogLevel::info, fmt::format("expirer: {} synced resources expired", total),
             {{"expired", total}});
    wake_all_();
  }
  return total;
}

std::int64_t Maintenance::run_cleaner(std::chrono::milliseconds budget) {
  const auto end = std::chrono::steady_clock::now() + budget;
  std::int64_t total = 0;
  for (;;) {
    auto conn = ctx_.pool().acquire();
    auto deleted = ctx_.store.clean(*conn, kCleanBatch, ctx_.now());
    total += deleted;
    if (deleted < kCleanBatch) break;
    if (std::chrono::steady_clock::now() >= end) {
      ctx_.log(LogLevel::info, "cleaner: time budget spent; continuing next interval");
      break;
    }
  }
  if (total > 0) {
    ctx_.log(LogLevel::info, fmt::format("cleaner: {} resources past retention deleted", total),
             {{"deleted", total}});
  }
  return total;
}

}  // namespace delta::resources
