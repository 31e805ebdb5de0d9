// The shared state behind delta::pg::Pool.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>

#include <delta/pg.hpp>

#include "pg/connection.hpp"

namespace delta::pg {

class PoolImpl : public std::enable_shared_from_this<PoolImpl> {
 public:
  PoolImpl(std::string url, PoolOptions options);

  PooledConnection acquire(std::chrono::milliseconds timeout);
  // Takes a connection back: rolled back if left in a transaction, closed if broken.
  void give_back(std::unique_ptr<Connection> conn) noexcept;
  PoolStats stats() const;

  const std::string& url() const noexcept { return url_; }
  const PoolOptions& options() const noexcept { return options_; }

 private:
  // Closes a connection that will not be reused; `lock` is held.
  void forget_locked() noexcept;

  const std::string url_;
  const PoolOptions options_;
  const ConnectOptions connect_;

  mutable std::mutex mutex_;
  std::condition_variable available_;                 // signalled when idle_ grows or open_ shrinks
  std::deque<std::unique_ptr<Connection>> idle_;      // guarded by mutex_; back = most recent
  std::size_t open_ = 0;                              // guarded by mutex_; incl. ones being opened
  std::size_t waiting_ = 0;                           // guarded by mutex_
  std::uint64_t created_ = 0;                         // guarded by mutex_
  std::uint64_t discarded_ = 0;                       // guarded by mutex_
  std::uint64_t timeouts_ = 0;                        // guarded by mutex_
  std::uint64_t waits_ = 0;                           // guarded by mutex_
  std::chrono::steady_clock::duration wait_time_{0};  // guarded by mutex_
};

}  // namespace delta::pg
