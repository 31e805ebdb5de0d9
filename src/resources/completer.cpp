#include "resources/completer.hpp"

#include <algorithm>
#include <unordered_map>

#include <fmt/format.h>

namespace delta::resources {

namespace {

std::optional<EventCategory> category_of(ResourceState state) {
  switch (state) {
    case ResourceState::synced:
      return EventCategory::synced;
    case ResourceState::failed:
      return EventCategory::failed;
    case ResourceState::degraded:
      return EventCategory::degraded;
    case ResourceState::deleted:
      return EventCategory::deleted;
    default:
      return std::nullopt;
  }
}

}  // namespace

Completer::Completer(ResourcesContext& ctx)
    : ctx_(ctx),
      writer_(
          static_cast<std::size_t>(ctx.options.completer_batch_size),
          ctx.options.completer_flush_interval,
          [this](std::vector<Item>& batch) {
            const bool written = internal::write_splitting(
                batch, [this](std::vector<Item>& items) { apply(items); },
                [](Item& item) { item.row.error.reset(); },
                [](const Item& item) { return item.row.id; }, "resource",
                ctx_.runtime.options.logger);
            if (!written) ctx_.runtime.count_error("resource completer");
            return written;
          },
          [this](std::size_t dropped) {
            ctx_.log(LogLevel::error,
                     fmt::format("giving up on {} resource outcomes at shutdown; their leases "
                                 "will be rescued",
                                 dropped));
          }) {}

void Completer::stop() {
  writer_.stop();
  ctx_.log(LogLevel::debug, fmt::format("completer: {} resource statements wrote {} outcomes",
                                        batches_.load(), written_.load()));
}

void Completer::apply(std::vector<Item>& batch) {
  std::vector<FinishRow> rows;
  rows.reserve(batch.size());
  for (const auto& item : batch)
    rows.push_back(item.row);
  auto conn = ctx_.pool().acquire();
  auto finished = ctx_.store.finish(*conn, rows, ctx_.id(), ctx_.now());
  std::vector<const std::string*> freed;
  for (const auto& item : batch) {
    if (item.frees != nullptr && std::find(freed.begin(), freed.end(), item.frees) == freed.end())
      freed.push_back(item.frees);
  }
  for (const auto* kind : freed) {
    try {
      conn->exec("SELECT pg_notify($1, $2)", pg::Params(ctx_.store.channel(), *kind));
    } catch (const std::exception& e) {
      // The claimers' poll finds the capacity instead.
      ctx_.runtime.count_error("resource completer");
      ctx_.log(LogLevel::warn,
               fmt::format("could not wake the claimers of {}: {}", *kind, e.what()),
               {{"kind", *kind}, {"error", e.what()}});
    }
  }
  conn.release();
  ++batches_;
  written_ += static_cast<std::int64_t>(batch.size());
  if (finished.size() != batch.size()) {
    ctx_.log(LogLevel::info,
             fmt::format("{} resource outcomes were not applied: their leases were rescued or "
                         "released while they were worked",
                         batch.size() - finished.size()),
             {{"not_applied", batch.size() - finished.size()}});
  }
  if (ctx_.events.empty()) return;
  std::unordered_map<std::int64_t, ResourceState> ended;
  for (const auto& done : finished)
    ended.emplace(done.id, done.state);
  std::vector<Event> events;
  for (auto& item : batch) {
    auto it = ended.find(item.row.id);
    if (!item.event || it == ended.end()) continue;
    auto category = category_of(it->second);
    if (!category) continue;  // scheduled again: the content changed while it was worked
    item.event->category = *category;
    events.push_back(std::move(*item.event));
  }
  ctx_.events.publish_many(events);
}

}  // namespace delta::resources
