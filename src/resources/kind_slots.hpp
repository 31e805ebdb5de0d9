// Per-kind limits across every namespace runner of this process: at most `parallelism`
// resources of a kind are worked at once, and at most parallelism + prefetch are claimed
// (worked or waiting in a runner's buffer).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "resources/context.hpp"

namespace delta::resources {

class KindSlots {
 public:
  KindSlots(const std::vector<KindInfo>& kinds, int prefetch);
  // Reserves up to `want` claims of each kind; returns how many each got.
  std::vector<std::int32_t> reserve(int want);
  // Returns unused claim reservations. `announce`: tell the runners when the kind had
  // none left (not for a claimer returning what it did not use: it would wake itself).
  void give_back(std::size_t kind_index, int count, bool announce = true);
  // Takes a work slot of the kind; false when `parallelism` are already running.
  bool try_start(std::size_t kind_index);
  // A resource of the kind finished: frees its work slot and its claim. `by`: the runner
  // whose worker finished it (it looks at its own buffer next, so needs no wake-up).
  void finish(std::size_t kind_index, const void* by = nullptr);
  std::size_t index_of(std::string_view kind) const;
  // What a kind that had no free slot got back.
  struct Freed {
    bool claim = false;  // a claim slot: claimers may claim the kind again
    bool run = false;    // a work slot: workers may start a buffered resource of it
    const void* by = nullptr;
  };
  // Called (outside the lock) when a kind that had no free slot gets one back.
  void on_freed(std::function<void(const Freed&)> callback) { on_freed_ = std::move(callback); }

 private:
  std::function<void(const Freed&)> on_freed_;
  std::mutex mutex_;
  std::vector<int> claim_free_;  // guarded by mutex_
  std::vector<int> run_free_;    // guarded by mutex_
  std::vector<std::string> names_;
};

}  // namespace delta::resources
