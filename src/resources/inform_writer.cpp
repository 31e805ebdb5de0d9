#include "resources/inform_writer.hpp"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "common/validate.hpp"

namespace delta::resources {

namespace {
constexpr std::string_view kDefaultNamespace = "default";
constexpr int kDefaultMaxAttempts = 10;
// Objects per statement in inform_many (all in one transaction).
constexpr std::size_t kInformChunk = 5000;
// Combined inform() statements of one kind in flight at once. One is best: callers that
// arrive meanwhile make the next batch bigger (two measured slower in bench/run).
constexpr int kInformInFlight = 1;
// After a statement that answered several callers (or left some waiting), the next one
// waits for them to call again, up to this long after the answer: callers informing in a
// loop then share every statement instead of splitting into two groups that take turns
// (16 threads: 16 objects a statement instead of 16 and 1 in turn, +20-25% objects/s).
// A lone caller, and one that comes later than this, never waits.
constexpr auto kInformGather = std::chrono::microseconds(300);

}  // namespace

InformWriter::InformWriter(ResourcesContext& ctx, runtime::NotifyLimiter& limiter,
                           std::function<void(std::string_view kind)> wake)
    : ctx_(ctx), limiter_(limiter), wake_(std::move(wake)) {
  for (const auto& info : ctx_.kinds)
    counters_.emplace(info.kind, outcome_counters(info.kind));
}

InformWriter::OutcomeCounters InformWriter::outcome_counters(std::string_view kind) {
  if (auto it = counters_.find(kind); it != counters_.end()) return it->second;
  static constexpr std::array<std::string_view, 5> kOutcomes{"inserted", "changed", "unchanged",
                                                             "stale", "skipped_deleted"};
  OutcomeCounters counters{};
  for (std::size_t i = 0; i < kOutcomes.size(); ++i) {
    counters[i] = &ctx_.runtime.metrics->counter(
        "delta_inform_objects_total",
        "Objects informed (by inform calls and informer runs) outside a caller's transaction, "
        "by what writing them did.",
        {"kind", "outcome"}, {std::string(kind), std::string(kOutcomes[i])});
  }
  return counters;
}

void InformWriter::count(std::string_view kind, std::span<const InformStatus> statuses) {
  const OutcomeCounters counters = outcome_counters(kind);
  std::array<std::uint64_t, 5> counts{};
  for (auto status : statuses)
    ++counts[static_cast<std::size_t>(status)];
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] > 0) counters[i]->add(counts[i]);
  }
}

std::vector<UpsertRow> InformWriter::prepare(std::span<const detail::ObjectData> objects) {
  std::vector<UpsertRow> rows;
  rows.reserve(objects.size());
  for (std::size_t i = 0; i < objects.size(); ++i) {
    const detail::ObjectData& object = objects[i];
    auto fail = [&](std::string_view field, const std::string& problem) {
      const std::string where = objects.size() == 1 ? "" : fmt::format("objects[{}].", i);
      throw ValidationError(where + std::string(field), problem);
    };
    if (auto problem = internal::check_name(object.kind); !problem.empty()) fail("kind", problem);
    if (auto problem = internal::check_object_id(object.id); !problem.empty()) fail("id", problem);
    UpsertRow row;
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
    if (opts.priority && *opts.priority != Priority::fresh &&
        *opts.priority != Priority::background) {
      fail("priority", fmt::format("{} is not a priority class (fresh or background)",
                                   static_cast<int>(*opts.priority)));
    }
    row.priority = opts.priority;
    rows.push_back(std::move(row));
  }
  return rows;
}

void InformWriter::check_kind_known(std::string_view kind) {
  if (ctx_.kind(kind) != nullptr) return;
  {
    std::lock_guard lock(known_mutex_);
    if (known_kinds_.contains(kind)) return;
  }
  auto conn = ctx_.pool().acquire();
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

InformResult InformWriter::write_one(pg::Transaction* tx, detail::ObjectData object) {
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

void InformWriter::write_calls(pg::Transaction* tx, const std::string& kind,
                               std::span<InformCall*> calls) {
  const bool compare = std::any_of(calls.begin(), calls.end(),
                                   [](const InformCall* call) { return call->object->compare; });
  const bool notify = tx != nullptr || limiter_.should_notify(ctx_.store.channel(), {kind});
  bool changed = false;
  try {
    with_connection(ctx_.pool(), tx, compare, [&](pg::Connection& conn) {
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
            ctx_.log(LogLevel::warn,
                     fmt::format("{} {}: the stored object could not be compared ({}); using "
                                 "its content hash",
                                 kind, call->row.object_id, e.what()),
                     {{"kind", kind}, {"object_id", call->row.object_id}, {"error", e.what()}});
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
      std::vector<UpsertRow> rows;
      rows.reserve(writing.size());
      for (const InformCall* call : writing)
        rows.push_back(call->row);
      auto outcomes = ctx_.store.upsert(conn, kind, rows, true, true, notify, ctx_.now());
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
  if (tx != nullptr) return;
  std::vector<InformStatus> statuses;
  statuses.reserve(calls.size());
  for (const InformCall* call : calls)
    statuses.push_back(call->result.status);
  count(kind, statuses);
  if (changed) wake_(kind);
}

InformManyResult InformWriter::write_many(pg::Transaction* tx,
                                          std::vector<detail::ObjectData>& objects,
                                          bool resurrect) {
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
  return write_prepared(tx, kind, objects, rows, resurrect);
}

InformManyResult InformWriter::write_prepared(pg::Transaction* tx, const std::string& kind,
                                              std::span<const detail::ObjectData> objects,
                                              std::vector<UpsertRow>& rows, bool resurrect) {
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
  const bool notify = tx != nullptr || limiter_.should_notify(ctx_.store.channel(), {kind});
  std::vector<InformStatus> status_of(objects.size(), InformStatus::unchanged);

  with_connection(
      ctx_.pool(), tx, compare || unique.size() > kInformChunk, [&](pg::Connection& conn) {
        for (std::size_t begin = 0; begin < unique.size(); begin += kInformChunk) {
          const std::size_t end = std::min(unique.size(), begin + kInformChunk);
          if (!compare && unique.size() == objects.size()) {
            // Every id once and nothing to compare: the rows as they are, without a copy.
            auto outcomes = ctx_.store.upsert(
                conn, kind, std::span<const UpsertRow>(rows.data() + begin, end - begin), resurrect,
                false, notify, ctx_.now());
            std::copy(outcomes.status.begin(), outcomes.status.end(),
                      status_of.begin() + static_cast<std::ptrdiff_t>(begin));
            continue;
          }
          std::vector<UpsertRow> chunk;
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
              ctx_.store.upsert(conn, kind, chunk, resurrect, false, notify, ctx_.now());
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
  if (tx == nullptr) {
    std::vector<InformStatus> statuses;
    statuses.reserve(unique.size());
    for (auto index : unique)
      statuses.push_back(status_of[index]);
    count(kind, statuses);
    if (result.inserted + result.changed > 0) wake_(kind);
  }
  return result;
}

}  // namespace delta::resources
