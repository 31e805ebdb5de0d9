// Where a queue's next claim starts: after the last row the previous one took.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace delta::internal {

// A claim that scans runnable rows in their claim order from the beginning reads through
// the index entries of every row claimed since the last vacuum (killed, but still on their
// pages: ~600 index pages per 100,000 rows); a claim that starts after the last row the
// previous one took (its key, in claim order) enters the index past them. One cursor per
// scanned range (a kind, a queue). Rows that become runnable behind a cursor -- written
// by a transaction older than the claims that passed them, skipped while another claimer
// held them, given back -- are found by a claim from the beginning: the next one after a
// claim from the cursor came back short (the caller claims again at once), after
// reset(), and at least every `rescan`.
//
// `Key` is ordered by `<` in claim order. Not thread-safe.
template <class Key>
class ScanCursors {
 public:
  using Clock = std::chrono::steady_clock;
  struct Claimed {
    std::int32_t asked = 0;  // the range's limit in the claim
    std::int32_t got = 0;
    std::optional<Key> last;  // the last row it got, in claim order
  };

  ScanCursors(std::size_t ranges, std::chrono::milliseconds rescan)
      : at_(ranges), rescanned_at_(ranges), rescan_(rescan) {}

  // The cursors for a claim starting at `now` (none: from the beginning).
  std::vector<std::optional<Key>> begin(Clock::time_point now) {
    std::vector<std::optional<Key>> after(at_.size());
    for (std::size_t i = 0; i < at_.size(); ++i) {
      if (at_[i] && now - rescanned_at_[i] < rescan_) {
        after[i] = at_[i];
      } else {
        rescanned_at_[i] = now;
      }
    }
    return after;
  }

  // A claim that started from `after` got `claimed` (one entry per range); `capped`: it
  // got its limit in all, so a range short of its own limit may have rows left. Returns
  // true when a claim from the beginning should follow at once.
  bool claimed(const std::vector<std::optional<Key>>& after, const std::vector<Claimed>& claimed,
               bool capped) {
    bool rescan = false;
    for (std::size_t i = 0; i < at_.size() && i < claimed.size(); ++i) {
      const Claimed& range = claimed[i];
      if (range.asked <= 0) continue;
      if (range.got < range.asked && !capped) {
        // Nothing runnable left after the cursor: start from the beginning again -- at
        // once if this claim started from the cursor.
        at_[i].reset();
        rescan = rescan || (i < after.size() && after[i].has_value());
        continue;
      }
      // A concurrent claim may have moved the cursor further already.
      if (range.last && (!at_[i] || *at_[i] < *range.last)) at_[i] = range.last;
    }
    return rescan;
  }

  // The next claim of every range starts from the beginning (e.g. after a wake-up that
  // may announce rows behind the cursors).
  void reset() {
    for (auto& at : at_)
      at.reset();
  }

 private:
  std::vector<std::optional<Key>> at_;
  std::vector<Clock::time_point> rescanned_at_;
  std::chrono::milliseconds rescan_;
};

}  // namespace delta::internal
