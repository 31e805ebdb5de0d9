#include <regex>
#include <utility>

#include <fmt/format.h>

#include <delta/pg.hpp>

#include "pg/connection.hpp"
#include "pg/pool_impl.hpp"

namespace delta::pg {

namespace {

ConnectOptions connect_options(const std::string& url, const PoolOptions& options) {
  ConnectOptions connect;
  connect.url = url;
  connect.connect_timeout = options.connect_timeout;
  connect.application_name = options.application_name;
  connect.statement_timeout = options.statement_timeout;
  connect.jit = options.jit;
  return connect;
}

void validate(const PoolOptions& options) {
  std::vector<std::string> problems;
  if (options.max_connections < 1) problems.emplace_back("max_connections must be at least 1");
  if (options.acquire_timeout.count() < 0) {
    problems.emplace_back("acquire_timeout must not be negative");
  }
  if (options.connect_timeout.count() <= 0) problems.emplace_back("connect_timeout must be > 0");
  if (options.statement_timeout.count() < 0) {
    problems.emplace_back("statement_timeout must not be negative (0 = server default)");
  }
  if (options.max_idle.count() < 0) problems.emplace_back("max_idle must not be negative");
  if (options.application_name.size() > 63) {
    problems.emplace_back("application_name must be at most 63 bytes");
  }
  if (!problems.empty()) throw ConfigError(std::move(problems));
}

}  // namespace

// ---- PoolImpl ---------------------------------------------------------------------------

PoolImpl::PoolImpl(std::string url, PoolOptions options)
    : url_(std::move(url)),
      options_(std::move(options)),
      connect_(connect_options(url_, options_)) {}

PooledConnection PoolImpl::acquire(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool waited = false;
  std::unique_lock lock(mutex_);
  for (;;) {
    while (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      lock.unlock();
      const bool stale = options_.max_idle.count() > 0 &&
                         std::chrono::steady_clock::now() - conn->last_used() > options_.max_idle;
      if (!stale && conn->check_alive()) {
        return PooledConnection(shared_from_this(), std::move(conn));
      }
      conn.reset();  // close outside the lock
      lock.lock();
      forget_locked();
    }
    if (open_ < options_.max_connections) {
      ++open_;
      lock.unlock();
      try {
        auto conn = Connection::open(connect_);
        lock.lock();
        ++created_;
        lock.unlock();
        return PooledConnection(shared_from_this(), std::move(conn));
      } catch (...) {
        lock.lock();
        --open_;
        available_.notify_one();
        throw;
      }
    }
    ++waiting_;
    if (!waited) ++waits_;
    waited = true;
    const auto wait_began = std::chrono::steady_clock::now();
    const bool woken = available_.wait_until(
        lock, deadline, [&] { return !idle_.empty() || open_ < options_.max_connections; });
    wait_time_ += std::chrono::steady_clock::now() - wait_began;
    --waiting_;
    if (!woken) {
      ++timeouts_;
      throw PoolTimeoutError(fmt::format(
          "no database connection became free within {} ms: all {} connections of the pool "
          "are in use (raise PoolOptions::max_connections or hold connections for less time)",
          timeout.count(), options_.max_connections));
    }
  }
}

void PoolImpl::forget_locked() noexcept {
  --open_;
  ++discarded_;
  available_.notify_one();
}

void PoolImpl::give_back(std::unique_ptr<Connection> conn) noexcept {
  bool reusable = !conn->broken();
  if (reusable && conn->in_transaction()) {
    try {
      conn->exec_script("ROLLBACK");
      reusable = !conn->in_transaction() && !conn->broken();
    } catch (...) {
      reusable = false;
    }
  }
  if (!reusable) {
    conn.reset();
    std::lock_guard lock(mutex_);
    forget_locked();
    return;
  }
  std::lock_guard lock(mutex_);
  idle_.push_back(std::move(conn));
  available_.notify_one();
}

PoolStats PoolImpl::stats() const {
  std::lock_guard lock(mutex_);
  PoolStats stats;
  stats.open = open_;
  stats.idle = idle_.size();
  stats.in_use = open_ - idle_.size();
  stats.waiting = waiting_;
  stats.created = created_;
  stats.discarded = discarded_;
  stats.timeouts = timeouts_;
  stats.waits = waits_;
  stats.wait_time = std::chrono::duration_cast<std::chrono::nanoseconds>(wait_time_);
  return stats;
}

// ---- PooledConnection -------------------------------------------------------------------

PooledConnection::PooledConnection(std::shared_ptr<PoolImpl> pool, std::unique_ptr<Connection> conn)
    : pool_(std::move(pool)), conn_(std::move(conn)) {}

PooledConnection::PooledConnection(PooledConnection&&) noexcept = default;

PooledConnection& PooledConnection::operator=(PooledConnection&& other) noexcept {
  if (this != &other) {
    release();
    pool_ = std::move(other.pool_);
    conn_ = std::move(other.conn_);
  }
  return *this;
}

PooledConnection::~PooledConnection() {
  release();
}

void PooledConnection::release() {
  if (conn_ && pool_) pool_->give_back(std::move(conn_));
  conn_.reset();
  pool_.reset();
}

// ---- Transaction ------------------------------------------------------------------------

namespace {
void validate_savepoint(std::string_view name) {
  static const std::regex kIdentifier("^[A-Za-z_][A-Za-z0-9_]{0,62}$");
  if (!std::regex_match(name.begin(), name.end(), kIdentifier)) {
    throw ValidationError("savepoint", fmt::format("\"{}\" is not a plain identifier", name));
  }
}
}  // namespace

Transaction::Transaction(PooledConnection conn) : conn_(std::move(conn)) {
  conn_->exec_script("BEGIN");
}

Transaction::Transaction(Transaction&& other) noexcept
    : conn_(std::move(other.conn_)), active_(std::exchange(other.active_, false)) {}

Transaction::~Transaction() {
  if (active_) rollback();
}

Connection& Transaction::connection() const {
  if (!active_) throw Error("the transaction is no longer active (committed or rolled back)");
  return *conn_;
}

Result Transaction::exec_params(std::string_view sql, const Params& params) {
  return connection().exec(sql, params);
}

void Transaction::commit() {
  Connection& conn = connection();
  active_ = false;
  if (conn.transaction_failed()) {
    conn_.release();  // the pool rolls it back
    throw DatabaseError("25P02",
                        "cannot commit: the transaction was aborted by an earlier error and "
                        "has been rolled back");
  }
  try {
    conn.exec_script("COMMIT");
  } catch (...) {
    conn_.release();
    throw;
  }
  conn_.release();
}

void Transaction::rollback() noexcept {
  if (!active_) return;
  active_ = false;
  try {
    conn_->exec_script("ROLLBACK");
  } catch (...) {
    // The pool discards a connection it cannot roll back.
  }
  conn_.release();
}

void Transaction::savepoint(std::string_view name) {
  validate_savepoint(name);
  connection().exec_script(fmt::format("SAVEPOINT {}", name));
}

void Transaction::rollback_to(std::string_view name) {
  validate_savepoint(name);
  connection().exec_script(fmt::format("ROLLBACK TO SAVEPOINT {}", name));
}

void Transaction::release_savepoint(std::string_view name) {
  validate_savepoint(name);
  connection().exec_script(fmt::format("RELEASE SAVEPOINT {}", name));
}

// ---- Pool -------------------------------------------------------------------------------

std::shared_ptr<Pool> Pool::create(std::string url, PoolOptions options) {
  validate(options);
  auto impl = std::make_shared<PoolImpl>(std::move(url), std::move(options));
  // Open one connection now so a wrong URL or an unreachable server fails here.
  impl->acquire(impl->options().acquire_timeout).release();
  return std::shared_ptr<Pool>(new Pool(std::move(impl)));
}

Pool::Pool(std::shared_ptr<PoolImpl> impl) : impl_(std::move(impl)) {}
Pool::~Pool() = default;

PooledConnection Pool::acquire() {
  return impl_->acquire(impl_->options().acquire_timeout);
}
PooledConnection Pool::acquire(std::chrono::milliseconds timeout) {
  return impl_->acquire(timeout);
}

Transaction Pool::begin() {
  return Transaction(acquire());
}

Result Pool::exec_params(std::string_view sql, const Params& params) {
  PooledConnection conn = acquire();
  return conn->exec(sql, params);
}

PoolStats Pool::stats() const {
  return impl_->stats();
}
const PoolOptions& Pool::options() const noexcept {
  return impl_->options();
}
const std::string& Pool::url() const noexcept {
  return impl_->url();
}

}  // namespace delta::pg
