#include "runtime/elector.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include "runtime/fence.hpp"
#include "runtime/task_list.hpp"

namespace delta::runtime {

namespace {

using Clock = std::chrono::steady_clock;

std::string hostname() {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0) return "unknown";
  return buffer;
}

}  // namespace

void Elector::on_elected(std::function<void()> callback) {
  on_elected_.push_back(std::move(callback));
}

void Elector::start() {
  heartbeat();  // registered before any work is taken, so the rescuers know this client
  pulse_thread_ = std::jthread([this](std::stop_token stop) { pulse(stop); });
}

void Elector::stop() {
  if (pulse_thread_.joinable()) {
    pulse_thread_.request_stop();
    wake_.notify_all();
    pulse_thread_.join();
  }
  try {
    on_pulse_connection([&](pg::Connection& conn) {
      if (leader_) store_.resign(conn, ctx_.id());
      store_.mark_stopped(conn, ctx_.id(), ctx_.now());
    });
  } catch (const std::exception& e) {
    ctx_.log(LogLevel::warn,
             fmt::format("could not resign or mark the client stopped: {}", e.what()));
  }
  pulse_conn_.reset();
  leader_ = false;
}

template <class F>
void Elector::on_pulse_connection(F&& body) {
  if (pulse_conn_ && !pulse_conn_->check_alive()) pulse_conn_.reset();
  if (!pulse_conn_) {
    pg::ConnectOptions options;
    options.url = ctx_.pool->url();
    options.connect_timeout = ctx_.pool->options().connect_timeout;
    options.application_name = ctx_.pool->options().application_name;
    options.statement_timeout = ctx_.options.heartbeat_interval * 2;
    pulse_conn_ = pg::Connection::open(options);
  }
  try {
    body(*pulse_conn_);
    last_contact_.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  } catch (const DatabaseError& e) {
    if (e.kind() == DatabaseErrorKind::connection || pulse_conn_->broken()) pulse_conn_.reset();
    throw;
  }
}

void Elector::wake_election() {
  {
    std::lock_guard lock(mutex_);
    election_requested_ = true;
  }
  wake_.notify_all();
}

bool Elector::is_leader() const {
  return leader_ && Clock::now().time_since_epoch().count() < leader_until_.load();
}

void Elector::heartbeat() {
  // The database records a time no earlier than this: the fence counts from it.
  const auto sent = Clock::now();
  on_pulse_connection([&](pg::Connection& conn) {
    store_.heartbeat(conn, ctx_.id(), hostname(), static_cast<int>(::getpid()),
                     ctx_.options.metadata, ctx_.now());
  });
  if (ctx_.fence != nullptr) ctx_.fence->recorded(sent);
}

void Elector::elect() {
  const auto attempt_started = Clock::now();
  bool elected = false;
  on_pulse_connection([&](pg::Connection& conn) {
    elected = store_.elect(conn, ctx_.id(), ctx_.options.leader_ttl.count(), ctx_.now());
  });
  if (elected) {
    // Count the lease from before the statement ran, so this client never believes in a
    // lease longer than the database granted.
    leader_until_ = (attempt_started + ctx_.options.leader_ttl).time_since_epoch().count();
    if (!leader_.exchange(true)) {
      ctx_.log(LogLevel::info, fmt::format("client {} is now the leader", ctx_.id()),
               {{"client", ctx_.id()}});
      for (const auto& callback : on_elected_)
        callback();
    }
  } else if (leader_.exchange(false)) {
    ctx_.log(LogLevel::warn, fmt::format("client {} lost the leadership", ctx_.id()),
             {{"client", ctx_.id()}});
  }
}

void Elector::pulse(std::stop_token stop) {
  constexpr std::size_t kElection = 1;
  TaskList tasks;
  tasks.add(
      "heartbeat", ctx_.options.heartbeat_interval, [this] { heartbeat(); },
      Clock::now() + ctx_.options.heartbeat_interval);
  tasks.add("leader election", ctx_.options.leader_renew_interval, [this] { elect(); });
  while (!stop.stop_requested()) {
    {
      std::lock_guard lock(mutex_);
      if (election_requested_) {
        election_requested_ = false;
        tasks.make_due(kElection);
      }
    }
    tasks.run_due(stop, ctx_);
    std::unique_lock lock(mutex_);
    wake_.wait_until(lock, stop, tasks.next_due(Clock::now() + std::chrono::seconds(1)),
                     [&] { return election_requested_; });
  }
}

}  // namespace delta::runtime
