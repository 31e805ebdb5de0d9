#include "resources/kind_slots.hpp"

#include <algorithm>

#include "common/invariant.hpp"

namespace delta::resources {

KindSlots::KindSlots(const std::vector<KindInfo>& kinds, int prefetch, bool fair) : fair_(fair) {
  for (const auto& info : kinds) {
    names_.push_back(info.kind);
    claim_total_.push_back(info.parallelism + prefetch);
    run_total_.push_back(info.parallelism);
  }
  claim_free_ = claim_total_;
  run_free_ = run_total_;
}

void KindSlots::add_runner(const void* id, int weight) {
  std::lock_guard lock(mutex_);
  Runner r;
  r.id = id;
  r.weight = std::max(1, weight);
  r.held.assign(names_.size(), 0);
  r.running.assign(names_.size(), 0);
  r.waits.assign(names_.size(), false);
  runners_.push_back(std::move(r));
}

KindSlots::Runner& KindSlots::runner(const void* id) {
  for (auto& r : runners_) {
    if (r.id == id) return r;
  }
  internal::check_invariant(false, "a namespace runner that KindSlots does not know");
  return runners_.front();
}

int KindSlots::share(const Runner& r, std::size_t k, int total, bool for_work) const {
  if (!fair_) return total;
  int weights = r.weight;
  bool others = false;
  for (const auto& other : runners_) {
    if (other.id == r.id) continue;
    // For work slots, a runner waits when it has resources of the kind in its buffer.
    const bool waiting = for_work ? other.held[k] > other.running[k] : other.waits[k];
    if (!waiting) continue;
    others = true;
    weights += other.weight;
  }
  if (!others) return total;
  // Rounded up: every waiting runner gets at least one slot.
  return std::max(1, (total * r.weight + weights - 1) / weights);
}

std::vector<std::int32_t> KindSlots::reserve(const void* id, int want) {
  std::lock_guard lock(mutex_);
  Runner& r = runner(id);
  std::vector<std::int32_t> got(claim_free_.size(), 0);
  for (std::size_t k = 0; k < claim_free_.size(); ++k) {
    const int allowed = std::max(0, share(r, k, claim_total_[k], false) - r.held[k]);
    got[k] = std::min({claim_free_[k], want, allowed});
    claim_free_[k] -= got[k];
    r.held[k] += got[k];
    // Asking and finding nothing free: it may have work due that others' slots hold.
    if (got[k] == 0 && want > 0 && allowed > 0) r.waits[k] = true;
  }
  return got;
}

void KindSlots::claimed(const void* id, std::size_t k, int asked, int got) {
  if (asked <= 0) return;
  std::lock_guard lock(mutex_);
  runner(id).waits[k] = got >= asked;
}

void KindSlots::give_back(const void* id, std::size_t k, int count, bool announce) {
  if (count <= 0) return;
  bool freed = false;
  {
    std::lock_guard lock(mutex_);
    Runner& r = runner(id);
    r.held[k] = std::max(0, r.held[k] - count);
    freed = claim_free_[k] == 0;
    claim_free_[k] += count;
  }
  if (announce && freed && on_freed_) on_freed_(Freed{.claim = true});
}

bool KindSlots::try_start(const void* id, std::size_t k) {
  // Called with the runner's lock held (its worker pool's pick): no callbacks from here.
  std::lock_guard lock(mutex_);
  if (run_free_[k] == 0) return false;
  Runner& r = runner(id);
  // At its share while another runner has resources of the kind waiting: the slot is
  // theirs (finish() wakes their workers).
  if (r.running[k] >= share(r, k, run_total_[k], true)) return false;
  --run_free_[k];
  ++r.running[k];
  return true;
}

void KindSlots::finish(std::size_t k, const void* by) {
  Freed freed{.by = by};
  {
    std::lock_guard lock(mutex_);
    Runner& r = runner(by);
    r.held[k] = std::max(0, r.held[k] - 1);
    r.running[k] = std::max(0, r.running[k] - 1);
    freed.claim = claim_free_[k] == 0;
    freed.run = run_free_[k] == 0;
    ++claim_free_[k];
    ++run_free_[k];
    // Others waiting for the kind: tell them even when slots were left, since this
    // runner's share may be what kept them out.
    if (fair_) {
      for (const auto& other : runners_) {
        if (other.id == by) continue;
        if (other.waits[k] && !freed.claim) freed.claim = freed.others = true;
        if (other.held[k] > other.running[k]) freed.run = true;
      }
    }
  }
  if ((freed.claim || freed.run) && on_freed_) on_freed_(freed);
}

std::size_t KindSlots::index_of(std::string_view kind) const {
  for (std::size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == kind) return i;
  }
  return names_.size();
}

}  // namespace delta::resources
