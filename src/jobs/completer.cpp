// Batched, fenced outcome writes.
#include "jobs/completer.hpp"

#include <algorithm>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

namespace delta::jobs {

Completer::Completer(JobsContext& ctx)
    : ctx_(ctx),
      writer_(
          static_cast<std::size_t>(ctx.options.completer_batch_size),
          ctx.options.completer_flush_interval,
          [this](std::vector<Item>& batch) { return write(batch); },
          [this](std::size_t dropped) {
            ctx_.log(LogLevel::error,
                     fmt::format("giving up on {} job outcomes at shutdown; the rescuer will "
                                 "retry those jobs",
                                 dropped));
          }) {}

void Completer::submit(Completion completion, std::optional<JobEvent> event, std::string frees) {
  writer_.submit(Item{std::move(completion), std::move(event), std::move(frees)});
}

void Completer::stop() {
  writer_.stop();
  ctx_.log(LogLevel::debug, fmt::format("completer: {} statements wrote {} outcomes",
                                        batches_.load(), written_.load()));
}

void Completer::apply(std::vector<Item>& batch) {
  std::vector<Completion> outcomes;
  outcomes.reserve(batch.size());
  for (const auto& item : batch)
    outcomes.push_back(item.completion);
  auto conn = ctx_.pool().acquire();
  auto applied = ctx_.store.complete(*conn, outcomes, ctx_.now());
  std::vector<std::string_view> freed;
  for (const auto& item : batch) {
    if (!item.frees.empty() && std::find(freed.begin(), freed.end(), item.frees) == freed.end())
      freed.push_back(item.frees);
  }
  for (auto queue : freed) {
    try {
      conn->exec("SELECT pg_notify($1, $2)", pg::Params(ctx_.store.jobs_channel(), queue));
    } catch (const std::exception& e) {
      // The fetchers' poll finds the capacity instead.
      ctx_.runtime.count_error("job completer");
      ctx_.log(LogLevel::warn,
               fmt::format("could not wake the fetchers of queue {}: {}", queue, e.what()),
               {{"queue", queue}, {"error", e.what()}});
    }
  }
  conn.release();
  ++batches_;
  written_ += static_cast<std::int64_t>(batch.size());
  if (applied.size() != batch.size()) {
    ctx_.log(LogLevel::info,
             fmt::format("{} job outcomes were not applied: the jobs were rescued or released "
                         "while they ran",
                         batch.size() - applied.size()),
             {{"not_applied", batch.size() - applied.size()}});
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
  const bool written = internal::write_splitting(
      batch, [this](std::vector<Item>& items) { apply(items); },
      [](Item& item) { item.completion.error.reset(); },
      [](const Item& item) { return item.completion.id; }, "job", ctx_.runtime.options.logger);
  if (!written) ctx_.runtime.count_error("job completer");
  return written;
}

}  // namespace delta::jobs
