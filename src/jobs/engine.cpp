// JobsEngine: the public operations of client.jobs(), start/stop, and the notifier.
#include "jobs/engine.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "common/validate.hpp"

namespace delta::jobs {

// ---- validation -------------------------------------------------------------------------

void validate_insert(const JobInsert& job, const std::string& where) {
  auto field = [&](std::string_view name) {
    return where.empty() ? std::string(name) : where + "." + std::string(name);
  };
  if (auto problem = internal::check_name(job.kind); !problem.empty()) {
    throw ValidationError(field("kind"), problem);
  }
  const InsertOpts& opts = job.opts;
  if (auto problem = internal::check_name(opts.queue); !problem.empty()) {
    throw ValidationError(field("queue"), problem);
  }
  if (opts.priority < 1 || opts.priority > 4) {
    throw ValidationError(field("priority"),
                          fmt::format("{} is not in 1 (highest) .. 4", opts.priority));
  }
  if (opts.max_attempts < 1 || opts.max_attempts > 32767) {
    throw ValidationError(field("max_attempts"),
                          fmt::format("{} is not in 1 .. 32767", opts.max_attempts));
  }
  for (std::size_t i = 0; i < opts.tags.size(); ++i) {
    if (auto problem = internal::check_tag(opts.tags[i]); !problem.empty()) {
      throw ValidationError(field(fmt::format("tags[{}]", i)), problem);
    }
  }
  if (!opts.metadata.is_object()) {
    throw ValidationError(field("metadata"),
                          fmt::format("must be a JSON object, not {}", opts.metadata.type_name()));
  }
  std::string dumped;
  for (auto [name, value] : {std::pair{"args", &job.args}, std::pair{"metadata", &opts.metadata}}) {
    if (auto problem = internal::dump_storable(*value, dumped); !problem.empty()) {
      throw ValidationError(field(name), problem);
    }
  }
  const UniqueOpts& unique = opts.unique;
  if (unique.by_period.count() < 0) {
    throw ValidationError(field("unique.by_period"), "must not be negative");
  }
  if (!unique.by_state.empty()) {
    for (JobState required :
         {JobState::available, JobState::scheduled, JobState::running, JobState::retryable}) {
      if (std::find(unique.by_state.begin(), unique.by_state.end(), required) ==
          unique.by_state.end()) {
        throw ValidationError(
            field("unique.by_state"),
            fmt::format("must include \"{}\" (available, scheduled, running and retryable are "
                        "always required)",
                        to_string(required)));
      }
    }
  }
}

// ---- JobsEngine -------------------------------------------------------------------------

JobsEngine::JobsEngine(std::shared_ptr<pg::Pool> pool, Config config, Client* client)
    : ctx_{std::move(pool), config, JobStore(config.schema), client, {}},
      completer_(ctx_),
      maintainer_(ctx_) {}

JobsEngine::~JobsEngine() {
  stop(std::chrono::seconds(10));
}

bool JobsEngine::should_notify(const std::string& channel, const std::vector<std::string>& keys) {
  if (ctx_.config.notify_rate_limit.count() <= 0 || stopped_) return true;
  const auto now = std::chrono::steady_clock::now();
  bool notify = false;
  bool owed = false;
  std::lock_guard lock(notify_mutex_);
  for (const auto& key : keys) {
    auto [last, fresh] = last_notify_.try_emplace(NotifyKey{channel, key}, now);
    if (fresh || now - last->second >= ctx_.config.notify_rate_limit) {
      last->second = now;
      notify = true;
    } else {
      owed = trailing_.insert(NotifyKey{channel, key}).second || owed;
    }
  }
  if (owed) {
    if (!trailer_.joinable()) {
      trailer_ = std::jthread([this](std::stop_token stop) { trailer_loop(stop); });
    }
    notify_owed_.notify_all();
  }
  return notify;
}

void JobsEngine::add_channel(std::string channel,
                             std::function<void(const std::string&)> on_payload,
                             std::function<void()> on_reconnect) {
  if (started_) throw Error("add_channel after start");
  extra_channels_.push_back({std::move(channel), std::move(on_payload), std::move(on_reconnect)});
}

void JobsEngine::trailer_loop(std::stop_token stop) {
  std::unique_lock lock(notify_mutex_);
  while (!stop.stop_requested()) {
    const auto now = std::chrono::steady_clock::now();
    auto next = now + std::chrono::seconds(1);
    std::vector<NotifyKey> owed;
    for (auto it = trailing_.begin(); it != trailing_.end();) {
      auto& last = last_notify_[*it];
      if (now - last >= ctx_.config.notify_rate_limit) {
        last = now;
        owed.push_back(*it);
        it = trailing_.erase(it);
      } else {
        next = std::min(next, last + ctx_.config.notify_rate_limit);
        ++it;
      }
    }
    if (!owed.empty()) {
      lock.unlock();
      try {
        auto conn = ctx_.pool->acquire();
        for (const auto& [channel, payload] : owed)
          ctx_.store.notify(*conn, channel, payload);
      } catch (const std::exception& e) {
        ctx_.log(LogLevel::warn, fmt::format("could not send a wake-up: {}", e.what()));
      }
      lock.lock();
      continue;
    }
    notify_owed_.wait_until(lock, next);  // woken early by new debts and by stop
  }
}

InsertResult JobsEngine::insert(const JobInsert& job) {
  return insert_many(std::span<const JobInsert>(&job, 1)).front();
}

InsertResult JobsEngine::insert_tx(pg::Transaction& tx, const JobInsert& job) {
  return insert_many_tx(tx, std::span<const JobInsert>(&job, 1)).front();
}

std::vector<InsertResult> JobsEngine::insert_many(std::span<const JobInsert> jobs) {
  if (jobs.empty()) return {};
  std::vector<std::string> queues;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    validate_insert(jobs[i], jobs.size() == 1 ? "" : fmt::format("jobs[{}]", i));
    if (std::find(queues.begin(), queues.end(), jobs[i].opts.queue) == queues.end()) {
      queues.push_back(jobs[i].opts.queue);
    }
  }
  const bool notify = should_notify(ctx_.store.jobs_channel(), queues);
  auto conn = ctx_.pool->acquire();
  if (jobs.size() <= JobStore::kInsertChunk)
    return ctx_.store.insert(*conn, jobs, ctx_.now(), notify);
  // Several statements: all of them or none.
  pg::Transaction tx(std::move(conn));
  auto results = ctx_.store.insert(tx.connection(), jobs, ctx_.now(), notify);
  tx.commit();
  return results;
}

std::vector<InsertResult> JobsEngine::insert_many_tx(pg::Transaction& tx,
                                                     std::span<const JobInsert> jobs) {
  if (jobs.empty()) return {};
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    validate_insert(jobs[i], jobs.size() == 1 ? "" : fmt::format("jobs[{}]", i));
  }
  // Always notify: the NOTIFY is delivered when the caller commits, which is exactly when
  // the jobs become visible.
  return ctx_.store.insert(tx.connection(), jobs, ctx_.now(), true);
}

JobRow JobsEngine::get(std::int64_t id) {
  auto conn = ctx_.pool->acquire();
  auto job = ctx_.store.get(*conn, id);
  if (!job) throw NotFound(fmt::format("job {} does not exist", id));
  return *job;
}

JobRow JobsEngine::cancel(std::int64_t id) {
  auto conn = ctx_.pool->acquire();
  auto job = ctx_.store.cancel(*conn, id, ctx_.now());
  if (!job) throw NotFound(fmt::format("job {} does not exist", id));
  return *job;
}

JobRow JobsEngine::retry(std::int64_t id) {
  auto conn = ctx_.pool->acquire();
  auto job = ctx_.store.retry(*conn, id, ctx_.now());
  if (!job) throw NotFound(fmt::format("job {} does not exist", id));
  return *job;
}

void JobsEngine::set_paused(std::string_view queue, bool paused) {
  if (auto problem = internal::check_name(queue); !problem.empty()) {
    throw ValidationError("queue", problem);
  }
  auto conn = ctx_.pool->acquire();
  ctx_.store.set_queue_paused(*conn, std::string(queue), paused, ctx_.now());
}

Subscription<JobEvent> JobsEngine::subscribe(std::vector<JobEventKind> kinds,
                                             std::size_t capacity) {
  return ctx_.events.subscribe(std::move(kinds), capacity);
}

void JobsEngine::start() {
  if (started_) throw Error("the job engine was already started");
  started_ = true;
  watchdog_.start();
  completer_.start();
  maintainer_.start();

  pg::ListenerOptions listen;
  listen.connect.url = ctx_.pool->url();
  listen.connect.connect_timeout = ctx_.pool->options().connect_timeout;
  listen.connect.application_name = ctx_.pool->options().application_name;
  listen.on_reconnect = [this] {
    ctx_.log(LogLevel::info, "notification listener reconnected; polling every queue");
    for (auto& runner : runners_)
      runner->wake();
    for (auto& extra : extra_channels_) {
      if (extra.on_reconnect) extra.on_reconnect();
    }
  };
  listen.on_error = [this](const std::string& message) { ctx_.log(LogLevel::warn, message); };
  listener_ = std::make_unique<pg::Listener>(std::move(listen));
  listener_->listen(ctx_.store.jobs_channel());
  listener_->listen(ctx_.store.control_channel());
  for (auto& extra : extra_channels_)
    listener_->listen(extra.channel);

  for (const auto& [name, queue] : ctx_.config.queues) {
    runners_.push_back(
        std::make_unique<QueueRunner>(ctx_, completer_, watchdog_, name, queue.max_workers));
  }
  for (auto& runner : runners_)
    runner->start();
  notifier_ = std::jthread([this](std::stop_token stop) { notifier_loop(stop); });
}

void JobsEngine::notifier_loop(std::stop_token stop) {
  while (!stop.stop_requested()) {
    auto notification = listener_->wait(std::chrono::seconds(1));
    if (notification) {
      const auto& payload = notification->payload;
      if (notification->channel == ctx_.store.jobs_channel()) {
        for (auto& runner : runners_) {
          if (runner->queue() == payload) runner->wake();
        }
      } else if (notification->channel != ctx_.store.control_channel()) {
        for (auto& extra : extra_channels_) {
          if (extra.channel == notification->channel && extra.on_payload) {
            extra.on_payload(payload);
          }
        }
      } else if (payload == "leader_resigned") {
        maintainer_.wake_election();
      } else if (payload.starts_with("cancel:")) {
        try {
          watchdog_.cancel(std::stoll(payload.substr(7)));
        } catch (const std::exception&) {
        }
      }
    }
  }
}

void JobsEngine::stop(std::chrono::milliseconds grace) {
  if (!started_ || stopped_) return;
  stopped_ = true;
  using Clock = std::chrono::steady_clock;
  for (auto& runner : runners_)
    runner->stop_fetching();

  auto busy = [&] {
    for (auto& runner : runners_) {
      if (runner->in_flight() > 0) return true;
    }
    return false;
  };
  const auto grace_end = Clock::now() + grace;
  while (busy() && Clock::now() < grace_end)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (busy()) {
    ctx_.log(LogLevel::info, "stop: grace period over; cancelling running jobs");
    watchdog_.shutdown_all();
    // Jobs that honour their stop token return quickly; give them a moment, then hand
    // whatever still runs to other processes.
    const auto cancel_end = Clock::now() + std::min(grace, std::chrono::milliseconds(1000));
    while (busy() && Clock::now() < cancel_end) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::vector<std::int64_t> ids;
    for (auto& runner : runners_) {
      auto running = runner->running_ids();
      ids.insert(ids.end(), running.begin(), running.end());
    }
    if (!ids.empty()) {
      try {
        auto conn = ctx_.pool->acquire();
        ctx_.store.release(*conn, ids, ctx_.config.id, ctx_.now());
        ctx_.log(LogLevel::warn, fmt::format("stop: released {} jobs still running; waiting for "
                                             "their threads to return",
                                             ids.size()));
      } catch (const std::exception& e) {
        ctx_.log(LogLevel::warn, fmt::format("stop: could not release running jobs: {}", e.what()));
      }
    }
  }
  for (auto& runner : runners_)
    runner->join();
  completer_.stop();
  if (notifier_.joinable()) {
    notifier_.request_stop();
    listener_->interrupt();
    notifier_.join();
  }
  watchdog_.stop();
  maintainer_.stop();
  ctx_.events.close_all();
}

// ---- Jobs facade ------------------------------------------------------------------------

InsertResult Jobs::insert(const JobInsert& job) {
  return engine_->insert(job);
}
InsertResult Jobs::insert_tx(pg::Transaction& tx, const JobInsert& job) {
  return engine_->insert_tx(tx, job);
}
std::vector<InsertResult> Jobs::insert_many(std::span<const JobInsert> jobs) {
  return engine_->insert_many(jobs);
}
std::vector<InsertResult> Jobs::insert_many_tx(pg::Transaction& tx,
                                               std::span<const JobInsert> jobs) {
  return engine_->insert_many_tx(tx, jobs);
}
JobRow Jobs::get(std::int64_t id) {
  return engine_->get(id);
}
JobRow Jobs::cancel(std::int64_t id) {
  return engine_->cancel(id);
}
JobRow Jobs::retry(std::int64_t id) {
  return engine_->retry(id);
}
void Jobs::pause_queue(std::string_view queue) {
  engine_->set_paused(queue, true);
}
void Jobs::resume_queue(std::string_view queue) {
  engine_->set_paused(queue, false);
}
Subscription<JobEvent> Jobs::subscribe(std::vector<JobEventKind> kinds, std::size_t capacity) {
  return engine_->subscribe(std::move(kinds), capacity);
}

}  // namespace delta::jobs
