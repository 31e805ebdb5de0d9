#include "runtime/runtime.hpp"

#include "runtime/hooks.hpp"

namespace delta::runtime {

Runtime::Runtime(std::shared_ptr<pg::Pool> pool, const Options& options, Client* client)
    : ctx_{std::move(pool), options.with_defaults(), client},
      fence_(ctx_),
      store_(ctx_.options.schema),
      elector_(ctx_, store_),
      notifier_(ctx_),
      limiter_(ctx_,
               [this](const std::vector<NotifyLimiter::Key>& owed) {
                 auto conn = ctx_.pool->acquire();
                 for (const auto& [channel, payload] : owed)
                   store_.notify(*conn, channel, payload);
               }),
      leader_tasks_(ctx_, [this] { return elector_.is_leader(); }),
      cluster_gauges_(ctx_, [this] { return elector_.is_leader(); }) {
  ctx_.fence = &fence_;
  if (!ctx_.options.hooks.empty()) ctx_.hooks = std::make_shared<const HookCalls>(ctx_);
  cluster_gauges_.register_task(leader_tasks_);
  elector_.on_elected([this] { leader_tasks_.wake(); });
  notifier_.add_channel(store_.control_channel(), [this](const std::string& payload) {
    if (payload == "leader_resigned") elector_.wake_election();
  });
}

void Runtime::start() {
  elector_.start();
  started_ = true;
  leader_tasks_.start_early();
  notifier_.listen();
}

void Runtime::run() {
  notifier_.start();
}

void Runtime::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  leader_tasks_.stop();
  notifier_.stop();
  limiter_.stop();
  elector_.stop();
}

}  // namespace delta::runtime
