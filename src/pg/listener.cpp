#include "pg/listener.hpp"

#include <atomic>
#include <thread>

#include <fmt/format.h>
#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace delta::pg {

struct Listener::State {
  ListenerOptions options;
  std::unique_ptr<Connection> conn;
  std::set<std::string> channels;
  bool ever_connected = false;
  std::chrono::milliseconds delay{0};
  std::chrono::steady_clock::time_point next_attempt{};
  std::atomic<std::uint64_t> reconnects{0};
  std::atomic<int> backend_pid{0};
  int wake_fd = -1;

  void report(const std::string& message) const {
    if (options.on_error) options.on_error(message);
  }

  void lose(const std::string& why) {
    conn.reset();
    backend_pid = 0;
    report("listener connection lost: " + why);
    // The first reconnect is immediate; later ones back off.
    next_attempt = std::chrono::steady_clock::now();
  }

  // One connection attempt; on failure schedules the next one with backoff.
  bool try_connect() {
    try {
      auto fresh = Connection::open(options.connect);
      for (const auto& channel : channels)
        fresh->exec_script("LISTEN " + quote_identifier(channel));
      conn = std::move(fresh);
      backend_pid = conn->backend_pid();
      delay = std::chrono::milliseconds(0);
      if (ever_connected) {
        ++reconnects;
        if (options.on_reconnect) options.on_reconnect();
      }
      ever_connected = true;
      return true;
    } catch (const std::exception& e) {
      delay =
          delay.count() == 0 ? options.reconnect_min : std::min(delay * 2, options.reconnect_max);
      next_attempt = std::chrono::steady_clock::now() + delay;
      report(fmt::format("listener cannot connect (next attempt in {} ms): {}", delay.count(),
                         e.what()));
      return false;
    }
  }

  std::optional<Notification> pop() {
    PGnotify* notify = PQnotifies(conn->raw());
    if (notify == nullptr) return std::nullopt;
    Notification n{notify->relname, notify->extra != nullptr ? notify->extra : "", notify->be_pid};
    PQfreemem(notify);
    return n;
  }

  // Drains the wake-up eventfd; true if it was signalled.
  bool drain_wake() const {
    std::uint64_t count = 0;
    return ::read(wake_fd, &count, sizeof count) == static_cast<ssize_t>(sizeof count);
  }
};

Listener::Listener(ListenerOptions options) : state_(std::make_unique<State>()) {
  state_->options = std::move(options);
  state_->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (state_->wake_fd < 0) throw Error("cannot create an eventfd for the listener");
}

Listener::~Listener() {
  if (state_->wake_fd >= 0) ::close(state_->wake_fd);
}

void Listener::listen(const std::string& channel) {
  auto& s = *state_;
  if (!s.channels.insert(channel).second) return;
  if (!s.conn) {
    if (!s.ever_connected) s.try_connect();  // LISTENs every channel, this one included
    return;
  }
  try {
    s.conn->exec_script("LISTEN " + quote_identifier(channel));
  } catch (const DatabaseError& e) {
    if (e.kind() != DatabaseErrorKind::connection) {
      s.channels.erase(channel);
      throw;
    }
    s.lose(e.what());
  }
}

void Listener::unlisten(const std::string& channel) {
  auto& s = *state_;
  if (s.channels.erase(channel) == 0 || !s.conn) return;
  try {
    s.conn->exec_script("UNLISTEN " + quote_identifier(channel));
  } catch (const DatabaseError& e) {
    s.lose(e.what());
  }
}

std::optional<Notification> Listener::wait(std::chrono::milliseconds timeout) {
  auto& s = *state_;
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto now = Clock::now();
    if (!s.conn && now >= s.next_attempt) s.try_connect();
    if (s.conn) {
      if (auto n = s.pop()) return n;
    }
    now = Clock::now();
    if (now >= deadline) return std::nullopt;
    auto until = deadline;
    if (!s.conn) until = std::min(deadline, s.next_attempt);
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(until - now);
    pollfd fds[2] = {{s.wake_fd, POLLIN, 0}, {s.conn ? s.conn->socket() : -1, POLLIN, 0}};
    int rc = ::poll(fds, s.conn ? 2 : 1,
                    static_cast<int>(std::max<std::int64_t>(0, remaining.count()) + 1));
    if (rc < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    if ((fds[0].revents & POLLIN) != 0 && s.drain_wake()) return std::nullopt;
    if (s.conn && fds[1].revents != 0) {
      if (PQconsumeInput(s.conn->raw()) == 0 || s.conn->broken()) {
        s.lose(PQerrorMessage(s.conn->raw()));
      }
    }
  }
}

void Listener::interrupt() noexcept {
  std::uint64_t one = 1;
  [[maybe_unused]] auto written = ::write(state_->wake_fd, &one, sizeof one);
}

bool Listener::connected() const noexcept {
  return state_->backend_pid.load() != 0;
}
int Listener::backend_pid() const noexcept {
  return state_->backend_pid.load();
}
std::uint64_t Listener::reconnects() const noexcept {
  return state_->reconnects.load();
}

}  // namespace delta::pg
