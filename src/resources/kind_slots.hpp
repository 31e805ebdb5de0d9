// Per-kind limits across every namespace runner of this process: at most `parallelism`
// resources of a kind are worked at once, and at most parallelism + prefetch are claimed
// (worked or waiting in a runner's buffer).
//
// Fair namespaces (Config::fair_namespaces): when several runners (namespaces) have work
// of one kind waiting, each gets a share of the kind's slots in proportion to its weight
// (NamespaceConfig::weight), so that a namespace's share of the workers does not depend on
// the size of its backlog. A runner "waits" for a kind when its last claim of the kind came
// back full (more is due) or when it asked for slots and found none free; a claim that
// comes back short ends it. A runner alone, or every runner below its share, takes what is
// free, as without fairness.
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
  KindSlots(const std::vector<KindInfo>& kinds, int prefetch, bool fair = true);
  // Registers a runner (before any call naming it) with its weight (>= 1).
  void add_runner(const void* runner, int weight);
  // Reserves up to `want` claims of each kind for `runner`; returns how many each got.
  std::vector<std::int32_t> reserve(const void* runner, int want);
  // What the runner's claim of each kind did with the reservation: `asked` of it, `got`
  // rows. A full claim means more is due (the runner waits for the kind); a short one that
  // nothing is.
  void claimed(const void* runner, std::size_t kind_index, int asked, int got);
  // Returns unused claim reservations. `announce`: tell the runners when the kind had
  // none left (not for a claimer returning what it did not use: it would wake itself).
  void give_back(const void* runner, std::size_t kind_index, int count, bool announce = true);
  // Takes a work slot of the kind for `runner`; false when `parallelism` are already
  // running, or when another runner with resources of the kind waiting is below its share
  // and this one is not.
  bool try_start(const void* runner, std::size_t kind_index);
  // A resource of the kind finished: frees its work slot and its claim. `by`: the runner
  // whose worker finished it (it looks at its own buffer next, so needs no wake-up).
  void finish(std::size_t kind_index, const void* by);
  std::size_t index_of(std::string_view kind) const;
  // What a kind that had no free slot got back.
  struct Freed {
    bool claim = false;  // a claim slot: claimers may claim the kind again
    bool run = false;    // a work slot: workers may start a buffered resource of it
    const void* by = nullptr;
    bool others = false;  // the claim slot is for runners other than `by`
  };
  // Called (outside the lock) when a kind that had no free slot gets one back, or, with
  // fairness, when a slot came back that a waiting runner may take.
  void on_freed(std::function<void(const Freed&)> callback) { on_freed_ = std::move(callback); }

 private:
  struct Runner {
    const void* id = nullptr;
    int weight = 1;
    std::vector<int> held;     // claim slots: reserved, buffered or running, per kind
    std::vector<int> running;  // work slots, per kind
    std::vector<bool> waits;   // has (or may have) more of the kind due
  };
  Runner& runner(const void* id);  // mutex_ held
  // How many of `total` slots of kind `k` `r` may hold while the runners waiting for the
  // kind share them by weight (mutex_ held); `total` when nobody else waits.
  int share(const Runner& r, std::size_t k, int total, bool for_work) const;

  std::function<void(const Freed&)> on_freed_;
  const bool fair_;
  mutable std::mutex mutex_;
  std::vector<int> claim_total_, run_total_;
  std::vector<int> claim_free_;  // guarded by mutex_
  std::vector<int> run_free_;    // guarded by mutex_
  std::vector<Runner> runners_;  // guarded by mutex_
  std::vector<std::string> names_;
};

}  // namespace delta::resources
