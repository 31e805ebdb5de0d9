#include "resources/namespace_runner.hpp"

#include <fmt/format.h>

#include "common/invariant.hpp"
#include "resources/outcome.hpp"
#include "runtime/failure.hpp"
#include "runtime/fence.hpp"
#include "runtime/hooks.hpp"

namespace delta::resources {

namespace {
constexpr std::chrono::milliseconds kClaimCooldown{2};

// delta_reconcile_total's result label, in KindMetrics::results order.
constexpr std::array<std::string_view, 6> kResults{"synced",  "retry",         "degraded",
                                                   "removed", "requeue_after", "error"};
enum ReconcileResult : std::size_t { synced, retry, degraded, removed, requeue_after, error };

// The fields of a record logged through a WorkContext (detail::LogScope).
void work_fields(const void* what, std::vector<LogField>& fields) {
  const auto& row = *static_cast<const ResourceRow*>(what);
  fields.push_back({"kind", row.kind});
  fields.push_back({"namespace", row.namespace_name});
  fields.push_back({"object_id", row.object_id});
  fields.push_back({"generation", row.generation});
  fields.push_back({"attempt", row.attempt});
}

// `last`: the attempt was the resource's last (a failure degrades it, as finish.sql does).
ReconcileResult reconcile_result(const WorkOutcome& outcome, bool threw, bool last) {
  if (threw) return error;
  switch (outcome.row.outcome) {
    case Finish::synced:
      return synced;
    case Finish::deleted:
      return removed;
    case Finish::requeue:
    case Finish::release:
      return requeue_after;
    case Finish::failed:
      return last ? degraded : retry;
  }
  return error;
}
}  // namespace

NamespaceRunner::NamespaceRunner(ResourcesContext& ctx, KindSlots& slots, Completer& completer,
                                 runtime::Watchdog& watchdog, std::string name, int max_workers)
    : ctx_(ctx),
      slots_(slots),
      completer_(completer),
      watchdog_(watchdog),
      name_(std::move(name)),
      max_workers_(max_workers),
      cursors_(2 * ctx.kinds.size(), ctx.options.poll_interval),  // per kind and class
      backoff_{ctx.options.resource_backoff,
               [this](const std::string& message) {
                 ctx_.log(LogLevel::warn, fmt::format("resource backoff failed: {}", message));
               }},
      pool_(mutex_,
            {.pick =
                 [this](std::deque<Claimed>& ready) {
                   // The oldest buffered resource whose kind has a free work slot.
                   return std::find_if(ready.begin(), ready.end(), [&](const Claimed& claimed) {
                     return slots_.try_start(this, claimed.kind_index);
                   });
                 },
             .running_of =
                 [](const Claimed& claimed) {
                   return Working{claimed.row.id, claimed.row.attempted_at.value_or(Timestamp{}),
                                  claimed.kind_index};
                 },
             .run = [this](Claimed& claimed) { execute(claimed); },
             .finished =
                 [this](const Working& done, std::unique_lock<std::mutex>& lock) {
                   --in_flight_;
                   // The claimer waits for a refill, a NOTIFY, a poll or a kind's claim
                   // slot coming back (slots_freed); a freed slot matters to it only in
                   // the first case, so most finishes wake nobody.
                   const bool wake_claimer = refill_due() || capped_;
                   lock.unlock();
                   slots_.finish(done.kind_index, this);
                   if (wake_claimer) claimer_cv_.notify_all();
                   lock.lock();
                 }}) {
  for (const auto& info : ctx_.kinds) {
    kinds_.push_back(info.kind);
    lease_ms_.push_back(info.lease_ms);
  }
  capacity_ = max_workers_ + ctx_.options.resource_prefetch;
  const auto ns = ctx_.options.namespaces.find(name_);
  slots_.add_runner(this, ns == ctx_.options.namespaces.end() ? 1 : ns->second.weight);
  auto& metrics = *ctx_.runtime.metrics;
  for (const auto& kind : kinds_) {
    KindMetrics& counted = metrics_.emplace_back();
    for (std::size_t result = 0; result < kResults.size(); ++result) {
      counted.results[result] = &metrics.counter(
          "delta_reconcile_total", "Attempts at working a resource, by how they ended.",
          {"kind", "namespace", "result"}, {kind, name_, std::string(kResults[result])});
    }
    counted.duration =
        &metrics.histogram("delta_reconcile_duration_seconds", "How long work() took, in seconds.",
                           runtime::duration_buckets(), {"kind"}, {kind});
    counted.active = &metrics.gauge(
        "delta_resources_active", "Resources being worked in this process now.", {"kind"}, {kind});
  }
  claim_batch_ =
      &metrics.histogram("delta_claim_batch_size", "Resources one claim statement returned.",
                         runtime::size_buckets(), {"namespace"}, {name_});
  for (auto lease : lease_ms_) {
    if (lease >= 0) renew_after_ = std::min(renew_after_, std::chrono::milliseconds(lease / 3));
  }
}

void NamespaceRunner::renew_buffered() {
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::int64_t> ids, leases;
  std::vector<Timestamp> attempted;
  {
    std::lock_guard lock(mutex_);
    for (const auto& claimed : pool_.ready()) {
      const auto kind_index = claimed.kind_index;
      if (lease_ms_[kind_index] < 0 || now - claimed.at < renew_after_) continue;
      ids.push_back(claimed.row.id);
      attempted.push_back(claimed.row.attempted_at.value_or(Timestamp{}));
      leases.push_back(lease_ms_[kind_index]);
    }
  }
  if (ids.empty()) return;
  std::vector<std::int64_t> held;
  try {
    auto conn = ctx_.pool().acquire();
    held = ctx_.store.renew_leases(*conn, ids, attempted, leases, ctx_.id(), ctx_.now());
  } catch (const std::exception& e) {
    ctx_.runtime.count_error("resource lease renewal");
    ctx_.log(LogLevel::warn,
             fmt::format("namespace {}: renewing the leases of {} waiting resources failed: {}",
                         name_, ids.size(), e.what()),
             {{"namespace", name_}, {"resources", ids.size()}, {"error", e.what()}});
    return;
  }
  std::sort(ids.begin(), ids.end());
  std::sort(held.begin(), held.end());
  std::vector<std::size_t> lost;
  {
    std::lock_guard lock(mutex_);
    auto& ready = pool_.ready();
    for (auto it = ready.begin(); it != ready.end();) {
      if (!std::binary_search(ids.begin(), ids.end(), it->row.id)) {
        ++it;
      } else if (std::binary_search(held.begin(), held.end(), it->row.id)) {
        it->at = now;
        ++it;
      } else {
        lost.push_back(it->kind_index);
        it = ready.erase(it);
        --in_flight_;
      }
    }
  }
  for (auto kind_index : lost)
    slots_.give_back(this, kind_index, 1);
  if (!lost.empty()) {
    ctx_.log(LogLevel::info,
             fmt::format("namespace {}: {} waiting resources lost their lease", name_, lost.size()),
             {{"namespace", name_}, {"resources", lost.size()}});
  }
}

bool NamespaceRunner::works(std::string_view kind) const {
  return std::find(kinds_.begin(), kinds_.end(), kind) != kinds_.end();
}

void NamespaceRunner::start() {
  int parallelism = 0;
  for (const auto& info : ctx_.kinds)
    parallelism += info.parallelism;
  const int threads = std::min(max_workers_, parallelism);
  pool_.start(threads);
  for (int i = 0; i < std::max(1, ctx_.options.resource_claimers); ++i)
    claimers_.emplace_back([this, i](std::stop_token stop) { claim_loop(stop, i); });
}

void NamespaceRunner::wake() {
  {
    std::lock_guard lock(mutex_);
    wake_ = true;
  }
  claimer_cv_.notify_all();
}

void NamespaceRunner::slots_freed(const KindSlots::Freed& freed) {
  {
    std::lock_guard lock(mutex_);
    if (freed.claim && !(freed.others && freed.by == this)) wake_ = true;
    // A buffered resource of that kind may run now. The runner whose worker finished
    // needs no wake-up: that worker looks at the buffer next.
    if (freed.run && freed.by != this) pool_.wake_one();
  }
  if (freed.claim && !(freed.others && freed.by == this)) claimer_cv_.notify_all();
}

int NamespaceRunner::in_flight() const {
  std::lock_guard lock(mutex_);
  return in_flight_;
}

std::vector<std::pair<std::int64_t, Timestamp>> NamespaceRunner::running() const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::int64_t, Timestamp>> running;
  for (const auto& working : pool_.running())
    running.emplace_back(working.id, working.attempted_at);
  return running;
}

void NamespaceRunner::claim_loop(std::stop_token stop, int index) {
  internal::LoopBackoff backoff;
  while (!stop.stop_requested()) {
    int free_slots = 0;
    std::vector<std::optional<ClaimKey>> after;
    // Outcomes are written behind the work: while they pile up, claim nothing more (a
    // worker's slot comes free when its outcome is handed over, not when it is written).
    const bool backlogged = completer_.backlogged();
    // A fenced client claims nothing: its heartbeat is not recorded, others may soon
    // rescue what it holds.
    const bool fenced = ctx_.runtime.fence != nullptr && ctx_.runtime.fence->fenced();
    const std::uint64_t epoch = ctx_.runtime.fence != nullptr ? ctx_.runtime.fence->epoch() : 0;
    {
      std::lock_guard lock(mutex_);
      if (!claiming_) break;
      free_slots = backlogged || fenced ? 0 : claimable();
      // While another claimer's statement is in flight, claim only a refill-sized batch.
      if (claiming_now_ > 0 && free_slots < refill_size()) free_slots = 0;
      free_slots = std::max(free_slots, 0);
      claiming_now_ += free_slots;
      wake_ = false;
      if (free_slots > 0) after = cursors_.begin(std::chrono::steady_clock::now());
    }
    std::chrono::milliseconds wait = ctx_.options.poll_interval;
    bool claimed_any_kind = false;
    bool rate_wait = false;  // the wait ends when a rate limiter has starts again
    if (free_slots > 0) {
      auto limits = slots_.reserve(this, free_slots);
      int reserved = 0;
      for (auto limit : limits)
        reserved += limit;
      std::vector<ResourceRow> rows;
      std::vector<std::chrono::steady_clock::time_point> starts;
      bool limited = false, capped = false;
      std::optional<std::chrono::steady_clock::time_point> next_due;
      bool claimed_ok = false;
      const int limit = std::min(free_slots, reserved);
      if (reserved > 0) {
        claimed_any_kind = true;
        try {
          auto conn = ctx_.pool().acquire();
          try {
            ctx_.flow.kinds->refresh_if_stale(*conn);
            ctx_.flow.namespaces->refresh_if_stale(*conn);
          } catch (const std::exception&) {
            // Logged; claims go on under the limits last read.
            ctx_.runtime.count_error("flow limits");
          }
          if (ctx_.flow.limited(kinds_, name_)) {
            // While the limits are far from reached, claim first and check after (one
            // round trip); once a check refused or a claim came near them, lock first.
            std::optional<ResourceStore::LimitedClaim> claimed;
            const auto now_ticks = std::chrono::steady_clock::now().time_since_epoch().count();
            const bool bound = limits_bound_.load(std::memory_order_relaxed) ||
                               now_ticks < pessimistic_until_.load(std::memory_order_relaxed);
            if (!bound) {
              claimed = ctx_.store.claim_optimistic(
                  *conn, *ctx_.flow.kind_store, *ctx_.flow.namespace_store, name_, kinds_, limits,
                  lease_ms_, limit, ctx_.id(), ctx_.now(), after);
            }
            // An optimistic claim took what it asked for, as an unlimited one.
            limited = !claimed.has_value();
            if (!claimed) {
              // Refused (or bound): lock first for a poll interval at least, so that a
              // refusal that the pessimistic claim's figures do not show (two rate limiters
              // over the same starts) does not make every claim run twice.
              if (!bound) {
                pessimistic_until_.store(
                    now_ticks + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                    ctx_.options.poll_interval)
                                    .count(),
                    std::memory_order_relaxed);
              }
              claimed = ctx_.store.claim_limited(*conn, *ctx_.flow.kind_store,
                                                 *ctx_.flow.namespace_store, name_, kinds_, limits,
                                                 lease_ms_, limit, ctx_.id(), ctx_.now(), after);
            }
            limits_bound_.store(claimed->cut || claimed->capped || claimed->next_due.has_value(),
                                std::memory_order_relaxed);
            rows = std::move(claimed->rows);
            starts = std::move(claimed->starts);
            capped = claimed->capped;
            next_due = claimed->next_due;
          } else {
            rows = ctx_.store.claim(*conn, name_, kinds_, limits, lease_ms_, limit, ctx_.id(),
                                    ctx_.now(), after);
          }
          conn.release();
          backoff.succeeded();
          claimed_ok = true;
          ++claims_;
          claimed_ += static_cast<std::int64_t>(rows.size());
          claim_batch_->observe(static_cast<double>(rows.size()));
        } catch (const std::exception& e) {
          wait = backoff.failed();
          ctx_.runtime.count_error("resource claim");
          ctx_.log(LogLevel::warn,
                   fmt::format("namespace {}: claim failed (retrying in {} ms): {}", name_,
                               wait.count(), e.what()),
                   {{"namespace", name_}, {"retry_in_ms", wait.count()}, {"error", e.what()}});
        }
      }
      // Give back the reservations the claim did not use. The cursors are per kind and
      // priority class: ranges [0, n) fresh, [n, 2n) background; a kind's background
      // range was asked for what its fresh rows left of its limit.
      const std::size_t n = kinds_.size();
      std::vector<ClaimCursors::Claimed> per_range(2 * n);
      std::vector<std::size_t> kind_of;
      kind_of.reserve(rows.size());
      for (const auto& row : rows) {
        kind_of.push_back(slots_.index_of(row.kind));
        auto& range = per_range[kind_of.back() + (row.priority == Priority::background ? n : 0)];
        ++range.got;
        range.last = ClaimKey{row.run_at, row.id};  // rows come in claim order
      }
      for (std::size_t i = 0; i < n; ++i) {
        per_range[i].asked = limits[i];
        per_range[n + i].asked = std::max(limits[i] - per_range[i].got, 0);
        const int got = per_range[i].got + per_range[n + i].got;
        // A claim the flow limits cut short says nothing of what is due.
        if (claimed_ok && !limited) slots_.claimed(this, i, limits[i], got);
        slots_.give_back(this, i, limits[i] - got, false);
      }
      std::lock_guard lock(mutex_);
      // A limited claim that the limits cut short is no sign that rows ran out: the cursors
      // and the backlog flag learn only from claims that got what they asked for.
      const bool full = static_cast<int>(rows.size()) >= limit;
      if (claimed_ok && (!limited || full) && cursors_.claimed(after, per_range, full)) {
        wake_ = true;  // look behind the cursor right away
      }
      claiming_now_ -= free_slots;
      if (reserved > 0) more_ = static_cast<int>(rows.size()) == limit;
      if (claimed_ok) capped_ = capped;
      in_flight_ += static_cast<int>(rows.size());
      const auto claimed_at = std::chrono::steady_clock::now();
      for (std::size_t i = 0; i < rows.size(); ++i) {
        pool_.ready().push_back(
            {std::move(rows[i]), claimed_at, kind_of[i], epoch,
             i < starts.size() ? starts[i] : std::chrono::steady_clock::time_point{}});
      }
      pool_.wake_one();
      if (next_due) {
        // The rate limiters' next starts are due then: claim again at that time.
        const auto until = std::chrono::ceil<std::chrono::milliseconds>(
            *next_due - std::chrono::steady_clock::now());
        wait = std::clamp(until, std::chrono::milliseconds(1), wait);
        rate_wait = true;
      }
    }
    if (index == 0) renew_buffered();
    std::unique_lock lock(mutex_);
    if (index == 0 && !pool_.ready().empty()) {
      wait = std::min(wait, renew_after_ / 2 + std::chrono::milliseconds(1));
    }
    if (more_ && claimable() > 0 && claimed_any_kind && !rate_wait) {
      wait = std::min(wait, kClaimCooldown);
    }
    if (backlogged) wait = std::min(wait, kClaimCooldown);
    claimer_cv_.wait_for(lock, stop, wait, [&] { return !claiming_ || wake_ || refill_due(); });
  }
}

void NamespaceRunner::execute(Claimed& taken) {
  ResourceRow& claimed = taken.row;
  const auto claimed_at = taken.at;
  const auto now = ctx_.now();
  const KindInfo* info = ctx_.kind(claimed.kind);
  const bool want_event = !ctx_.events.empty();
  FinishRow claim;
  claim.id = claimed.id;
  claim.attempted_at = claimed.attempted_at.value_or(Timestamp{});
  claim.generation = claimed.generation;
  const int attempt = claimed.attempt;
  const Backoff& backoff = backoff_;
  // Hands `outcome` to the completer, with its event when someone listens.
  auto submit = [&](WorkOutcome outcome, const ResourceRow& row) {
    Completer::Item item{std::move(outcome.row), std::nullopt};
    // Others may wait for the capacity this frees only while the cap is reached.
    if (capped_.load(std::memory_order_relaxed) && ctx_.flow.capped(row.kind, name_)) {
      item.frees = &ctx_.kinds[taken.kind_index].kind;
    }
    if (want_event && outcome.event) {
      item.event = Event{*outcome.event, row, std::move(outcome.event_error)};
    }
    completer_.submit(std::move(item));
  };

  if (const auto* fence = ctx_.runtime.fence;
      fence != nullptr && (fence->fenced() || taken.epoch != fence->epoch())) {
    // Fenced since it was claimed (it may have been rescued meanwhile): given back
    // unstarted, without using an attempt (refused if it was rescued).
    WorkOutcome released;
    released.row = std::move(claim);
    released.row.outcome = Finish::release;
    submit(std::move(released), claimed);
    return;
  }
  if (!wait_for_start(taken)) {
    // Stopped before its rate limiters' turn came: given back unstarted.
    WorkOutcome released;
    released.row = std::move(claim);
    released.row.outcome = Finish::release;
    submit(std::move(released), claimed);
    return;
  }
  std::unique_ptr<ControllerBase::Prepared> prepared;
  const std::string kind = claimed.kind;
  try {
    // The claim asks only for kinds this client has controllers for.
    internal::check_invariant(info != nullptr, "claimed a resource of a kind with no controller");
    // Without subscribers the row is not needed again: move it into the resource.
    prepared = want_event ? info->controller->prepare(claimed)
                          : info->controller->prepare(std::move(claimed));
  } catch (const std::exception& e) {
    const runtime::Failure failure{
        fmt::format("the stored object does not parse as {}: {}", kind, e.what()), "parse"};
    auto outcome = failed_outcome(std::move(claim), attempt, now, failure, backoff);
    count(taken.kind_index, outcome, true, false, 0);
    submit(std::move(outcome), claimed);
    return;
  }
  const ResourceRow& row = prepared->row();

  std::chrono::milliseconds timeout = info->timeout;
  try {
    auto own = prepared->timeout();
    if (own != kDefaultTimeout) timeout = own;
  } catch (const std::exception& e) {
    ctx_.log(LogLevel::warn,
             fmt::format("{}/{}: work_timeout() threw ({}); using the default", row.kind,
                         row.object_id, e.what()),
             {{"kind", row.kind},
              {"namespace", row.namespace_name},
              {"object_id", row.object_id},
              {"error", e.what()}});
  }
  // The lease started at the claim. A resource that waited in the buffer for a while, or
  // that may run longer than its kind's timeout, gets a fresh lease before it is worked;
  // if its lease is gone meanwhile (rescued), it is not worked here.
  const bool waited =
      std::chrono::steady_clock::now() - claimed_at > ctx_.options.stuck_threshold / 2;
  if (waited || timeout != info->timeout) {
    const std::int64_t lease =
        timeout.count() < 0 ? -1 : (timeout + ctx_.options.stuck_threshold).count();
    bool held = true;
    try {
      auto conn = ctx_.pool().acquire();
      held =
          !ctx_.store
               .renew_leases(*conn, {row.id}, {claim.attempted_at}, {lease}, ctx_.id(), ctx_.now())
               .empty();
    } catch (const std::exception& e) {
      held = !waited;  // a fresh claim's lease still covers the kind's timeout
      ctx_.log(LogLevel::warn,
               fmt::format("{}/{}: could not renew the lease{}: {}", row.kind, row.object_id,
                           held ? "" : "; not working it", e.what()),
               {{"kind", row.kind},
                {"namespace", row.namespace_name},
                {"object_id", row.object_id},
                {"error", e.what()}});
    }
    if (!held) {
      ctx_.log(
          LogLevel::info,
          fmt::format("{}/{}: its lease was taken over while it waited; not working it", row.kind,
                      row.object_id),
          {{"kind", row.kind}, {"namespace", row.namespace_name}, {"object_id", row.object_id}});
      return;
    }
  }
  const auto deadline = timeout.count() < 0 ? std::chrono::steady_clock::time_point::max()
                                            : std::chrono::steady_clock::now() + timeout;
  std::stop_token token = watchdog_.add(row.id, deadline);
  WorkContext context(token, deadline, ctx_.runtime.options.logger, ctx_.runtime.client,
                      {&work_fields, &row});
  const runtime::HookCalls* hooks = ctx_.runtime.hooks.get();
  WorkSpan span;
  if (hooks != nullptr) {
    span = {row.kind, row.namespace_name, row.object_id, row.id, row.generation,
            attempt,  delta::now()};
    hooks->each([&](Hooks& hook) { hook.work_started(span); });
  }

  WorkEnd end;
  KindMetrics& counted = metrics_[taken.kind_index];
  counted.active->add(1);
  const auto started = std::chrono::steady_clock::now();
  end.result = runtime::run_catching([&] { return prepared->work(context); }, end.failure);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  counted.active->add(-1);
  end.flags = watchdog_.remove(row.id);
  end.timeout = timeout;
  const bool threw = !end.result.has_value();
  auto outcome = work_outcome(std::move(claim), attempt, now, std::move(end), backoff);
  const auto result =
      count(taken.kind_index, outcome, threw, attempt >= row.max_attempts, took.count());
  if (hooks != nullptr) {
    const bool failed = result == retry || result == degraded || result == error;
    const SpanEnd ended{kResults[result], failed ? outcome.event_error : std::string_view(),
                        std::chrono::duration_cast<std::chrono::nanoseconds>(took)};
    hooks->each([&](Hooks& hook) { hook.work_finished(span, ended); }, true);
  }
  submit(std::move(outcome), row);
}

bool NamespaceRunner::wait_for_start(const Claimed& claimed) {
  if (claimed.start_at <= std::chrono::steady_clock::now()) return true;
  std::unique_lock lock(mutex_);
  start_cv_.wait_until(lock, claimed.start_at, [&] { return !claiming_; });
  return claiming_;
}

std::size_t NamespaceRunner::count(std::size_t kind_index, const WorkOutcome& outcome, bool threw,
                                   bool last, double seconds) {
  KindMetrics& counted = metrics_[kind_index];
  const auto result = reconcile_result(outcome, threw, last);
  counted.results[result]->add();
  counted.duration->observe(seconds);
  return result;
}

void NamespaceRunner::stop_claiming() {
  {
    std::lock_guard lock(mutex_);
    claiming_ = false;
  }
  start_cv_.notify_all();
  for (auto& claimer : claimers_)
    claimer.request_stop();
  claimer_cv_.notify_all();
  for (auto& claimer : claimers_) {
    if (claimer.joinable()) claimer.join();
  }
  release_buffered();
}

void NamespaceRunner::release_buffered() {
  std::vector<FinishRow> release;
  std::vector<std::size_t> kinds;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [row, at, kind_index, epoch, start_at] : pool_.take_ready()) {
      FinishRow finish;
      finish.id = row.id;
      finish.attempted_at = row.attempted_at.value_or(Timestamp{});
      finish.outcome = Finish::release;
      release.push_back(finish);
      kinds.push_back(kind_index);
    }
    in_flight_ -= static_cast<int>(release.size());
  }
  for (auto kind_index : kinds)
    slots_.give_back(this, kind_index, 1);
  if (release.empty()) return;
  try {
    auto conn = ctx_.pool().acquire();
    ctx_.store.finish(*conn, release, ctx_.id(), ctx_.now());
  } catch (const std::exception& e) {
    ctx_.log(LogLevel::warn,
             fmt::format("namespace {}: could not release {} unstarted resources (the rescuer "
                         "will): {}",
                         name_, release.size(), e.what()));
  }
}

void NamespaceRunner::join() {
  pool_.join();
  ctx_.log(LogLevel::debug, fmt::format("namespace {}: {} claims brought {} resources", name_,
                                        claims_.load(), claimed_.load()));
}

}  // namespace delta::resources
