// Backoff for background loops that hit an error.
#pragma once

#include <algorithm>
#include <chrono>

namespace delta::internal {

// 100 ms doubling to 10 s; reset by a success.
class LoopBackoff {
 public:
  std::chrono::milliseconds failed() {
    delay_ = delay_.count() == 0 ? std::chrono::milliseconds(100)
                                 : std::min(delay_ * 2, std::chrono::milliseconds(10000));
    return delay_;
  }
  void succeeded() { delay_ = std::chrono::milliseconds(0); }

 private:
  std::chrono::milliseconds delay_{0};
};

}  // namespace delta::internal
