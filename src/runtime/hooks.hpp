// Calls the user's hooks (delta/hooks.hpp) around a piece of user code: in order before
// it, in reverse order after it, each call guarded, so that a throwing hook is logged and
// counted and changes nothing about the work.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

#include <delta/hooks.hpp>

#include "runtime/context.hpp"

namespace delta::runtime {

class HookCalls {
 public:
  explicit HookCalls(Context& ctx);

  bool empty() const noexcept { return hooks_.empty(); }

  // Calls `call(hook)` on every hook, in order (reverse: in reverse order).
  template <class Call>
  void each(Call&& call, bool reverse = false) const {
    const std::size_t n = hooks_.size();
    for (std::size_t i = 0; i < n; ++i) {
      Hooks& hook = *hooks_[reverse ? n - 1 - i : i];
      try {
        call(hook);
      } catch (const std::exception& e) {
        failed(e.what());
      } catch (...) {
        failed("an exception not derived from std::exception");
      }
    }
  }

 private:
  void failed(const char* what) const;

  Context& ctx_;
  std::vector<std::shared_ptr<Hooks>> hooks_;
  Counter* errors_;
  mutable std::atomic<std::int64_t> last_logged_ns_{0};
  mutable std::atomic<std::int64_t> unlogged_{0};
};

}  // namespace delta::runtime
