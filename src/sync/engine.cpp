// SyncEngine: inform, resource operations, start/stop and resource maintenance.
#include "sync/engine.hpp"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "common/validate.hpp"

namespace delta::sync {

namespace {
constexpr std::string_view kDefaultNamespace = "default";
constexpr int kDefaultMaxAttempts = 10;
// Objects per statement in inform_many (all in one transaction).
constexpr std::size_t kInformChunk = 5000;
constexpr int kRescueBatch = 1000;
// Combined inform() statements of one kind in flight at once. One is best: callers that
// arrive meanwhile make the next batch bigger (two measured slower in bench/run).
constexpr int kInformInFlight = 1;
// After a statement that answered several callers (or left some waiting), the next one
// waits for them to call again, up to this long after the answer: callers informing in a
// loop then share every statement instead of splitting into two groups that take turns
// (16 threads: 16 objects a statement instead of 16 and 1 in turn, +20-25% objects/s).
// A lone caller, and one that comes later than this, never waits.
constexpr auto kInformGather = std::chrono::microseconds(300);

std::optional<std::int64_t> millis(std::optional<std::chrono::milliseconds> value) {
  if (!value || value->count() <= 0) return std::nullopt;
  return value->count();
}
}  // namespace

const KindInfo* SyncContext::kind(std::string_view name) const {
  for (const auto& info : kinds) {
    if (info.kind == name) return &info;
  }
  return nullptr;
}

SyncEngine::SyncEngine(jobs::EngineContext& base, jobs::JobsEngine& jobs)
    : ctx_{base, ResourceStore(base.config.schema), {}, {}}, jobs_(jobs), finisher_(ctx_) {
  const Config& config = base.config;
  for (const auto& name : config.controllers.kinds()) {
    KindInfo info;
    info.kind = name;
    info.controller = config.controllers.find(name);
    info.parallelism = info.controller->settings().parallelism;
    info.timeout = config.work_timeout;
    info.lease_ms = info.timeout.count() < 0 ? -1 : (info.timeout + config.stuck_threshold).count();
    ctx_.kinds.push_back(std::move(info));
  }
  slots_ = std::make_unique<KindSlots>(ctx_.kinds, config.resource_prefetch);
  jobs_.add_channel(
      ctx_.store.channel(), [this](const std::string& kind) { wake_kind(kind); },
      [this] {
        for (auto& runner : runners_)
          runner->wake();
      });
}

SyncEngine::~SyncEngine() {
  try {
    stop(std::chrono::seconds(0));
  } catch (...) {
  }
}

// ---- inform -----------------------------------------------------------------------------

std::vector<InformRow> SyncEngine::prepare(std::span<const detail::ObjectData> objects) {
  std::vector<InformRow> rows;
  rows.reserve(objects.size());
  for (std::size_t i = 0; i < objects.size(); ++i) {
    const detail::ObjectData& object = objects[i];
    auto fail = [&](std::string_view field, const std::string& problem) {
      const std::string where = objects.size() == 1 ? "" : fmt::format("objects[{}].", i);
      throw ValidationError(where + std::string(field), problem);
    };
    if (auto problem = internal::check_name(object.kind); !problem.empty()) fail("kind", problem);
    if (auto problem = internal::check_object_id(object.id); !problem.empty()) fail("id", problem);
    InformRow row;
    row.object_id = object.id;
    const InformOpts& opts = object.opts;
    row.namespace_name =
        opts.namespace_name.empty() ? std::string(kDefaultNamespace) : opts.namespace_name;
    if (auto problem = internal::check_name(row.namespace_name); !problem.empty()) {
      fail("namespace_name", problem);
    }
    for (std::size_t t = 0; t < opts.tags.size(); ++t) {
      if (auto problem = internal::check_tag(opts.tags[t]); !problem.empty()) {
        fail(fmt::format("tags[{}]", t), problem);
      }
    }
    row.tags = opts.tags;
    if (!opts.metadata) {
      row.metadata = "{}";
    } else if (!opts.metadata->is_object()) {
      fail("metadata", fmt::format("must be a JSON object, not {}", opts.metadata->type_name()));
    } else if (auto problem = internal::dump_storable(*opts.metadata, row.metadata);
               !problem.empty()) {
      fail("metadata", problem);
    }
    const int max_attempts = opts.max_attempts == 0 ? kDefaultMaxAttempts : opts.max_attempts;
    if (max_attempts < 1 || max_attempts > 32767) {
      fail("max_attempts", fmt::format("{} is not in 1 .. 32767", opts.max_attempts));
    }
    row.max_attempts = static_cast<std::int16_t>(max_attempts);
    if (auto problem = internal::dump_storable(object.json, row.body); !problem.empty()) {
      fail("object", problem);
    }
    row.external_created_at = object.created_at;
    row.force = opts.force;
    rows.push_back(std::move(row));
  }
  return rows;
}

void SyncEngine::check_kind_known(std::string_view kind) {
  if (ctx_.kind(kind) != nullptr) return;
  {
    std::lock_guard lock(known_mutex_);
    if (known_kinds_.contains(kind)) return;
  }
  auto conn = ctx_.base.pool->acquire();
  auto kinds = ctx_.store.known_kinds(*conn);
  conn.release();
  std::lock_guard lock(known_mutex_);
  known_kinds_.insert(kinds.begin(), kinds.end());
  if (known_kinds_.contains(kind)) return;
  throw ValidationError("kind", fmt::format("\"{}\" is unknown: no controller for it is registered "
                                            "in this client or, by another client, in the "
                                            "database",
                                            kind));
}

void SyncEngine::wake_kind(std::string_view kind) {
  for (auto& runner : runners_) {
    if (runner->works(kind)) runner->wake();
  }
}

namespace {
// Runs `body(conn)` on the caller's transaction, or on a connection of the pool — inside a
// transaction of its own when `transactional`.
template <class F>
auto with_connection(pg::Pool& pool, pg::Transaction* tx, bool transactional, F&& body) {
  if (tx != nullptr) return body(tx->connection());
  if (!transactional) {
    auto conn = pool.acquire();
    return body(*conn);
  }
  auto own = pool.begin();
  auto result = body(own.connection());
  own.commit();
  return result;
}
}  // namespace

InformResult SyncEngine::inform(pg::Transaction* tx, detail::ObjectData object) {
  InformCall call{&object, {}, {}, {}, false, {}};
  call.row = std::move(prepare(std::span<const detail::ObjectData>(&object, 1)).front());
  check_kind_known(object.kind);
  const std::string kind(object.kind);
  if (tx != nullptr) {
    InformCall* calls[] = {&call};
    write_calls(tx, kind, calls);
  } else {
    std::unique_lock lock(combine_mutex_);
    Combiner& combiner = combiners_[kind];
    auto& queue = combiner.queue;
    queue.push_back(&call);
    if (combiner.gatherer != nullptr && queue.size() >= combiner.gather_to) {
      combiner.gatherer->turn.notify_one();
    }
    while (!call.done) {
      if (combiner.busy >= kInformInFlight) {
        call.turn.wait(lock);
        continue;
      }
      ++combiner.busy;
      if (combiner.gather_to != 0) {
        combiner.gatherer = &call;
        while (queue.size() < combiner.gather_to &&
               call.turn.wait_until(lock, combiner.gather_until) == std::cv_status::no_timeout) {
        }
        combiner.gatherer = nullptr;
        combiner.gather_to = 0;
      }
      // Write what waits, each id once (a repeated id waits for the next statement).
      std::vector<InformCall*> batch;
      std::unordered_set<std::string_view> ids;
      for (auto it = queue.begin(); it != queue.end() && batch.size() < kInformChunk;) {
        if (ids.insert((*it)->row.object_id).second) {
          batch.push_back(*it);
          it = queue.erase(it);
        } else {
          ++it;
        }
      }
      lock.unlock();
      write_calls(nullptr, kind, batch);
      lock.lock();
      // Notified under the lock: a woken caller returns (destroying its call) only after
      // this thread lets go of it. The first caller still waiting writes the next
      // statement; the others sleep on.
      for (InformCall* written : batch) {
        written->done = true;
        if (written != &call) written->turn.notify_one();
      }
      --combiner.busy;
      if (batch.size() > 1 || !queue.empty()) {
        combiner.gather_to = std::min(queue.size() + batch.size(), kInformChunk);
        combiner.gather_until = std::chrono::steady_clock::now() + kInformGather;
      }
      if (!queue.empty()) queue.front()->turn.notify_one();
    }
  }
  if (call.error) std::rethrow_exception(call.error);
  return std::move(call.result);
}

void SyncEngine::write_calls(pg::Transaction* tx, const std::string& kind,
                             std::span<InformCall*> calls) {
  const bool compare = std::any_of(calls.begin(), calls.end(),
                                   [](const InformCall* call) { return call->object->compare; });
  const bool notify = tx != nullptr || jobs_.should_notify(ctx_.store.channel(), {kind});
  bool changed = false;
  try {
    with_connection(*ctx_.base.pool, tx, compare, [&](pg::Connection& conn) {
      std::vector<InformCall*> writing;
      writing.reserve(calls.size());
      std::unordered_map<std::string, nlohmann::json> stored;
      if (compare) {
        std::vector<std::string> ids;
        for (const InformCall* call : calls) {
          if (call->object->compare) ids.push_back(call->row.object_id);
        }
        for (auto& found : ctx_.store.lock_objects(conn, kind, ids)) {
          if (found.state == ResourceState::deleted) continue;
          stored.emplace(std::move(found.object_id), std::move(found.object));
        }
      }
      for (InformCall* call : calls) {
        call->result = {};
        auto it = stored.find(call->row.object_id);
        if (it != stored.end()) {
          int order = 0;
          try {
            order = call->object->compare(it->second);
          } catch (const std::exception& e) {
            ctx_.log(LogLevel::warn, fmt::format("{} {}: the stored object could not be "
                                                 "compared ({}); using its content hash",
                                                 kind, call->row.object_id, e.what()));
          }
          if (order < 0) {
            call->result.status = InformStatus::stale;
            call->result.already_exists = true;
            call->result.resource = ctx_.store.get(conn, kind, call->row.object_id).value();
            continue;
          }
          if (order > 0) call->row.force = true;
        }
        writing.push_back(call);
      }
      if (writing.empty()) return 0;
      std::vector<InformRow> rows;
      rows.reserve(writing.size());
      for (const InformCall* call : writing)
        rows.push_back(call->row);
      auto outcomes = ctx_.store.inform(conn, kind, rows, true, true, notify, ctx_.now());
      for (std::size_t k = 0; k < writing.size(); ++k) {
        InformResult& out = writing[k]->result;
        out.status = outcomes.status[k];
        out.already_exists = out.status != InformStatus::inserted;
        out.changed = out.status == InformStatus::inserted || out.status == InformStatus::changed;
        changed = changed || out.changed;
        if (outcomes.rows[k]) {
          out.resource = std::move(*outcomes.rows[k]);
        } else {
          // Inserted by another transaction after this statement's snapshot was taken.
          auto row = ctx_.store.get(conn, kind, writing[k]->row.object_id);
          if (row) out.resource = std::move(*row);
        }
      }
      return 0;
    });
  } catch (...) {
    if (tx != nullptr || calls.size() == 1) {
      for (InformCall* call : calls)
        call->error = std::current_exception();
      return;
    }
    for (InformCall*& call : calls)
      write_calls(nullptr, kind, std::span<InformCall*>(&call, 1));
    return;
  }
  if (tx == nullptr && changed) wake_kind(kind);
}

InformManyResult SyncEngine::inform_many(pg::Transaction* tx,
                                         std::vector<detail::ObjectData>& objects, bool resurrect) {
  if (objects.empty()) return {};
  auto rows = prepare(objects);
  const std::string kind(objects.front().kind);
  for (std::size_t i = 1; i < objects.size(); ++i) {
    if (objects[i].kind != kind) {
      throw ValidationError(
          fmt::format("objects[{}].kind", i),
          fmt::format("\"{}\" differs from the batch's kind \"{}\"", objects[i].kind, kind));
    }
  }
  check_kind_known(kind);
  return write_many(tx, kind, objects, rows, resurrect);
}

InformManyResult SyncEngine::write_many(pg::Transaction* tx, const std::string& kind,
                                        std::span<const detail::ObjectData> objects,
                                        std::vector<InformRow>& rows, bool resurrect) {
  InformManyResult result;
  if (objects.empty()) return result;
  // The same id twice in one statement is not allowed by ON CONFLICT: the later wins.
  std::unordered_map<std::string_view, std::size_t> last;
  last.reserve(objects.size());
  for (std::size_t i = 0; i < objects.size(); ++i)
    last[objects[i].id] = i;
  std::vector<std::size_t> unique;
  unique.reserve(last.size());
  for (std::size_t i = 0; i < objects.size(); ++i) {
    if (last[objects[i].id] == i) unique.push_back(i);
  }
  const bool compare = static_cast<bool>(objects.front().compare);
  const bool notify = tx != nullptr || jobs_.should_notify(ctx_.store.channel(), {kind});
  std::vector<InformStatus> status_of(objects.size(), InformStatus::unchanged);

  with_connection(
      *ctx_.base.pool, tx, compare || unique.size() > kInformChunk, [&](pg::Connection& conn) {
        for (std::size_t begin = 0; begin < unique.size(); begin += kInformChunk) {
          const std::size_t end = std::min(unique.size(), begin + kInformChunk);
          if (!compare && unique.size() == objects.size()) {
            // Every id once and nothing to compare: the rows as they are, without a copy.
            auto outcomes = ctx_.store.inform(
                conn, kind, std::span<const InformRow>(rows.data() + begin, end - begin), resurrect,
                false, notify, ctx_.now());
            std::copy(outcomes.status.begin(), outcomes.status.end(),
                      status_of.begin() + static_cast<std::ptrdiff_t>(begin));
            continue;
          }
          std::vector<InformRow> chunk;
          std::vector<std::size_t> index;
          chunk.reserve(end - begin);
          index.reserve(end - begin);
          std::unordered_map<std::string, nlohmann::json> stored;
          if (compare) {
            std::vector<std::string> ids;
            for (std::size_t k = begin; k < end; ++k)
              ids.push_back(objects[unique[k]].id);
            for (auto& found : ctx_.store.lock_objects(conn, kind, ids)) {
              if (found.state == ResourceState::deleted) continue;
              stored.emplace(std::move(found.object_id), std::move(found.object));
            }
          }
          for (std::size_t k = begin; k < end; ++k) {
            const std::size_t i = unique[k];
            if (compare) {
              auto it = stored.find(objects[i].id);
              if (it != stored.end()) {
                int order = 0;
                try {
                  order = objects[i].compare(it->second);
                } catch (const std::exception&) {
                  order = 0;  // not comparable: the content hash decides
                }
                if (order < 0) {
                  status_of[i] = InformStatus::stale;
                  continue;
                }
                if (order > 0) rows[i].force = true;
              }
            }
            chunk.push_back(std::move(rows[i]));
            index.push_back(i);
          }
          if (chunk.empty()) continue;
          auto outcomes =
              ctx_.store.inform(conn, kind, chunk, resurrect, false, notify, ctx_.now());
          for (std::size_t k = 0; k < outcomes.status.size(); ++k)
            status_of[index[k]] = outcomes.status[k];
        }
        return 0;
      });

  result.statuses.resize(objects.size());
  for (std::size_t i = 0; i < objects.size(); ++i) {
    const InformStatus status = status_of[last[objects[i].id]];
    result.statuses[i] = status;
    if (last[objects[i].id] != i) continue;  // counted once, at the winning object
    switch (status) {
      case InformStatus::inserted:
        ++result.inserted;
        break;
      case InformStatus::changed:
        ++result.changed;
        break;
      case InformStatus::unchanged:
        ++result.unchanged;
        break;
      case InformStatus::stale:
        ++result.stale;
        break;
      case InformStatus::skipped_deleted:
        ++result.skipped_deleted;
        break;
    }
  }
  if (tx == nullptr && result.inserted + result.changed > 0) wake_kind(kind);
  return result;
}

// ---- resource operations ----------------------------------------------------------------

namespace {
void check_key(std::string_view kind, std::string_view id) {
  if (auto problem = internal::check_name(kind); !problem.empty()) {
    throw ValidationError("kind", problem);
  }
  if (auto problem = internal::check_object_id(id); !problem.empty()) {
    throw ValidationError("id", problem);
  }
}
}  // namespace

ResourceRow SyncEngine::get(std::string_view kind, std::string_view id) {
  check_key(kind, id);
  auto conn = ctx_.base.pool->acquire();
  auto row = ctx_.store.get(*conn, kind, id);
  if (!row) throw NotFound(fmt::format("resource {}/{} does not exist", kind, id));
  return *row;
}

ResourceRow SyncEngine::invalidate(std::string_view kind, std::string_view id) {
  check_key(kind, id);
  auto conn = ctx_.base.pool->acquire();
  auto row = ctx_.store.invalidate(*conn, kind, id, ctx_.now());
  if (!row) {
    auto current = ctx_.store.get(*conn, kind, id);
    if (!current) throw NotFound(fmt::format("resource {}/{} does not exist", kind, id));
    throw ValidationError("state", fmt::format("resource {}/{} is {}; only a synced resource can "
                                               "be invalidated",
                                               kind, id, to_string(current->state)));
  }
  ctx_.base.store.notify(*conn, ctx_.store.channel(), std::string(kind));
  conn.release();
  wake_kind(kind);
  return *row;
}

ResourceRow SyncEngine::retry(std::string_view kind, std::string_view id) {
  check_key(kind, id);
  auto conn = ctx_.base.pool->acquire();
  auto row = ctx_.store.retry(*conn, kind, id, ctx_.now());
  if (!row) {
    auto current = ctx_.store.get(*conn, kind, id);
    if (!current) throw NotFound(fmt::format("resource {}/{} does not exist", kind, id));
    throw ValidationError("state", fmt::format("resource {}/{} is {}; only a failed or degraded "
                                               "resource can be retried",
                                               kind, id, to_string(current->state)));
  }
  ctx_.base.store.notify(*conn, ctx_.store.channel(), std::string(kind));
  conn.release();
  wake_kind(kind);
  return *row;
}

Subscription<Event> SyncEngine::subscribe(std::vector<EventCategory> categories,
                                          std::size_t capacity) {
  return ctx_.events.subscribe(std::move(categories), capacity);
}

// ---- start / stop -----------------------------------------------------------------------

void SyncEngine::start() {
  if (started_) throw Error("the resource engine was already started");
  const Config& config = ctx_.config();
  {
    auto conn = ctx_.base.pool->acquire();
    for (const auto& [name, ns] : config.namespaces) {
      auto expiry = millis(ns.resource_expiry.value_or(config.resource_expiry));
      ctx_.store.upsert_namespace(
          *conn, name, expiry,
          expiry ? std::nullopt : millis(ns.synced_retention.value_or(config.synced_retention)),
          millis(ns.deleted_retention.value_or(config.deleted_retention)),
          millis(ns.degraded_retention.value_or(config.degraded_retention)));
    }
    for (const auto& info : ctx_.kinds) {
      auto interval = info.controller->settings().inform_interval.value_or(config.inform_interval);
      ctx_.store.upsert_controller(*conn, info.kind, millis(interval));
    }
  }
  started_ = true;
  watchdog_.start();
  finisher_.start();
  if (!ctx_.kinds.empty()) {
    for (const auto& [name, ns] : config.namespaces) {
      runners_.push_back(std::make_unique<NamespaceRunner>(ctx_, *slots_, finisher_, watchdog_,
                                                           name, ns.max_workers));
    }
  }
  slots_->on_freed([this](const KindSlots::Freed& freed) {
    for (auto& runner : runners_)
      runner->slots_freed(freed);
  });
  for (auto& runner : runners_)
    runner->start();
  maintenance_ = std::jthread([this](std::stop_token stop) { maintenance_loop(stop); });
}

void SyncEngine::stop(std::chrono::milliseconds grace) {
  if (!started_ || stopped_.exchange(true)) return;
  using Clock = std::chrono::steady_clock;
  for (auto& runner : runners_)
    runner->stop_claiming();
  auto busy = [&] {
    for (auto& runner : runners_) {
      if (runner->in_flight() > 0) return true;
    }
    return false;
  };
  const auto grace_end = Clock::now() + grace;
  while (busy() && Clock::now() < grace_end)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (busy()) {
    ctx_.log(LogLevel::info, "stop: grace period over; cancelling running work");
    watchdog_.shutdown_all();
    const auto cancel_end = Clock::now() + std::min(grace, std::chrono::milliseconds(1000));
    while (busy() && Clock::now() < cancel_end)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::vector<FinishRow> release;
    for (auto& runner : runners_) {
      for (auto [id, attempted_at] : runner->running()) {
        FinishRow row;
        row.id = id;
        row.attempted_at = attempted_at;
        row.outcome = Finish::release;
        release.push_back(row);
      }
    }
    if (!release.empty()) {
      try {
        auto conn = ctx_.base.pool->acquire();
        auto released = ctx_.store.finish(*conn, release, ctx_.config().id, ctx_.now());
        ctx_.log(LogLevel::warn, fmt::format("stop: released {} resources still being worked; "
                                             "waiting for their threads to return",
                                             released.size()));
      } catch (const std::exception& e) {
        ctx_.log(LogLevel::warn,
                 fmt::format("stop: could not release resources still being worked (the "
                             "rescuer will): {}",
                             e.what()));
      }
    }
  }
  for (auto& runner : runners_)
    runner->join();
  finisher_.stop();
  if (maintenance_.joinable()) {
    maintenance_.request_stop();
    maintenance_.join();
  }
  watchdog_.stop();
  ctx_.events.close_all();
}

// ---- maintenance ------------------------------------------------------------------------

std::int64_t SyncEngine::run_rescuer() {
  std::int64_t total = 0;
  for (;;) {
    auto conn = ctx_.base.pool->acquire();
    auto rescued =
        ctx_.store.rescue(*conn, ctx_.config().client_ttl.count(), kRescueBatch, ctx_.now());
    conn.release();
    total += static_cast<std::int64_t>(rescued.size());
    std::vector<Event> events;
    for (auto& [row, reason] : rescued) {
      ctx_.log(LogLevel::warn,
               fmt::format("resource {}/{} rescued: {}", row.kind, row.object_id, reason));
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
    for (auto& runner : runners_)
      runner->wake();
  }
  return total;
}

}  // namespace delta::sync
