#include "resources/kind_slots.hpp"

#include <algorithm>

namespace delta::resources {

KindSlots::KindSlots(const std::vector<KindInfo>& kinds, int prefetch) {
  for (const auto& info : kinds) {
    names_.push_back(info.kind);
    claim_free_.push_back(info.parallelism + prefetch);
    run_free_.push_back(info.parallelism);
  }
}

std::vector<std::int32_t> KindSlots::reserve(int want) {
  std::lock_guard lock(mutex_);
  std::vector<std::int32_t> got(claim_free_.size(), 0);
  for (std::size_t i = 0; i < claim_free_.size(); ++i) {
    got[i] = std::min(claim_free_[i], want);
    claim_free_[i] -= got[i];
  }
  return got;
}

void KindSlots::give_back(std::size_t kind_index, int count, bool announce) {
  if (count <= 0) return;
  bool freed = false;
  {
    std::lock_guard lock(mutex_);
    freed = claim_free_[kind_index] == 0;
    claim_free_[kind_index] += count;
  }
  if (announce && freed && on_freed_) on_freed_(Freed{.claim = true});
}

bool KindSlots::try_start(std::size_t kind_index) {
  std::lock_guard lock(mutex_);
  if (run_free_[kind_index] == 0) return false;
  --run_free_[kind_index];
  return true;
}

void KindSlots::finish(std::size_t kind_index, const void* by) {
  Freed freed{.by = by};
  {
    std::lock_guard lock(mutex_);
    freed.claim = claim_free_[kind_index] == 0;
    freed.run = run_free_[kind_index] == 0;
    ++claim_free_[kind_index];
    ++run_free_[kind_index];
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
