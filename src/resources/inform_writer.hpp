// Writes what callers inform delta of: validates and serialises objects, then upserts
// them, one kind per statement.
//
// Concurrent single-object informs of one kind outside a caller's transaction are
// combined: the first caller to find no statement of its kind in flight writes every
// waiting call in one statement (one commit), the others wait for their result.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <delta/object.hpp>
#include <delta/pg.hpp>
#include <delta/resource.hpp>

#include "resources/context.hpp"
#include "runtime/metrics.hpp"
#include "runtime/notify_limiter.hpp"

namespace delta::resources {

class InformWriter {
 public:
  // `wake(kind)`: runnable resources of `kind` were committed outside a caller's
  // transaction (wake this process's runners of the kind).
  InformWriter(ResourcesContext& ctx, runtime::NotifyLimiter& limiter,
               std::function<void(std::string_view kind)> wake);

  // One object, in the caller's transaction `tx` or (null) combined with concurrent
  // calls of its kind. Throws ValidationError before anything is written.
  InformResult write_one(pg::Transaction* tx, detail::ObjectData object);
  // Objects of one kind in as few statements as possible; `resurrect`: deleted resources
  // are scheduled again (explicit informs, not informer runs).
  InformManyResult write_many(pg::Transaction* tx, std::vector<detail::ObjectData>& objects,
                              bool resurrect);
  // Writes objects of `kind` already validated into `rows` by prepare().
  InformManyResult write_prepared(pg::Transaction* tx, const std::string& kind,
                                  std::span<const detail::ObjectData> objects,
                                  std::vector<UpsertRow>& rows, bool resurrect);
  // Validates and serialises objects of one kind; throws ValidationError naming the
  // first bad one (prefixed "objects[i]." in batches).
  std::vector<UpsertRow> prepare(std::span<const detail::ObjectData> objects);
  // Throws ValidationError unless a controller for `kind` is registered here or, by any
  // process, in the database.
  void check_kind_known(std::string_view kind);

 private:
  // One inform() call waiting to be written. Concurrent calls of a kind are combined:
  // the first caller to find no statement of its kind in flight writes every waiting call
  // in one statement (one commit), the others wait for their result.
  struct InformCall {
    const detail::ObjectData* object;
    UpsertRow row;
    InformResult result;
    std::exception_ptr error;
    bool done = false;  // guarded by combine_mutex_
    // Its caller waits here (with combine_mutex_) until its call is written or it is its
    // turn to write the next statement: only those are woken, not every waiting caller.
    std::condition_variable turn;
  };
  // Writes `calls` (distinct ids of `kind`) in one statement on `tx`, or autocommitted;
  // stores each call's result or error, never throws. A failed batch of several is
  // written again one call at a time, so one bad call fails alone.
  void write_calls(pg::Transaction* tx, const std::string& kind, std::span<InformCall*> calls);
  // Counts what a committed write did to objects of `kind` (delta_inform_objects_total);
  // writes in a caller's transaction are not counted (it may roll back).
  using OutcomeCounters = std::array<runtime::Counter*, 5>;  // by InformStatus
  OutcomeCounters outcome_counters(std::string_view kind);
  void count(std::string_view kind, std::span<const InformStatus> statuses);

  ResourcesContext& ctx_;
  runtime::NotifyLimiter& limiter_;
  std::function<void(std::string_view)> wake_;

  std::mutex combine_mutex_;
  // inform() calls of one kind waiting to be written together; guarded by combine_mutex_.
  struct Combiner {
    std::deque<InformCall*> queue;
    int busy = 0;  // statements in flight
    // After a statement with several callers: the next statement waits until this many
    // calls are queued (the callers just answered usually call again), at most until
    // gather_until. See kInformGather.
    std::size_t gather_to = 0;
    std::chrono::steady_clock::time_point gather_until;
    InformCall* gatherer = nullptr;  // the call whose thread waits for them
  };
  std::map<std::string, Combiner, std::less<>> combiners_;

  // Per kind with a controller here, filled at construction (read without a lock); other
  // kinds' counters are found in the registry on each write.
  std::map<std::string, OutcomeCounters, std::less<>> counters_;

  std::mutex known_mutex_;
  std::set<std::string, std::less<>> known_kinds_;  // guarded by known_mutex_
};

}  // namespace delta::resources
