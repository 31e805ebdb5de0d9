// delta's PostgreSQL connection pool and transactions.
//
// A Pool owns a bounded set of libpq connections shared by everything in a process: a
// delta::Client, delta::migrate, and your own code. A Transaction borrows one connection
// for its lifetime; pass it to Client::inform_tx or jobs().insert_tx to make delta's
// writes commit (or roll back) together with your own.
//
//   auto pool = delta::pg::Pool::create("postgres://app@db/app", {.max_connections = 16});
//   auto tx = pool->begin();
//   tx.exec("UPDATE account SET plan = $1 WHERE id = $2", "pro", std::int64_t{42});
//   client.inform_tx(tx, account);
//   tx.commit();                              // or let tx go out of scope to roll back
//
// Thread-safety: a Pool is safe to share between threads. A Transaction (and the Result
// rows it returns) belongs to one thread at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <delta/errors.hpp>
#include <delta/export.hpp>
#include <delta/pg_values.hpp>

DELTA_PUBLIC_BEGIN

namespace delta::pg {

class DELTA_INTERNAL Connection;
class DELTA_INTERNAL PoolImpl;
struct DELTA_INTERNAL ResultHandle;

class Result;

// One row of a Result. Keeps the result's data alive, so it may outlive the Result.
class Row {
 public:
  // Field `column` converted to T; std::optional<T> maps NULL to nullopt. Throws
  // DatabaseError (bad_input) for a NULL into a non-optional T or a value that does not
  // parse, and std::out_of_range for a bad column.
  template <class T>
  T get(int column) const {
    if constexpr (kIsOptional<T>) {
      if (is_null(column)) return std::nullopt;
      return Codec<typename T::value_type>::decode(text(column));
    } else {
      if (is_null(column)) throw_null(column);
      return Codec<T>::decode(text(column));
    }
  }
  template <class T>
  T get(std::string_view column) const {
    return get<T>(column_index(column));
  }
  bool is_null(int column) const;
  std::string_view text(int column) const;
  int column_index(std::string_view name) const;  // throws std::out_of_range
  int columns() const;

 private:
  friend class Result;
  Row(std::shared_ptr<ResultHandle> handle, int row) : handle_(std::move(handle)), row_(row) {}
  [[noreturn]] void throw_null(int column) const;
  std::shared_ptr<ResultHandle> handle_;
  int row_;
};

// The rows of one statement. Cheap to move; rows are decoded on access.
class Result {
 public:
  Result();
  explicit Result(std::shared_ptr<ResultHandle> handle);
  // Number of rows returned.
  std::size_t size() const noexcept;
  bool empty() const noexcept { return size() == 0; }
  // Rows affected by INSERT/UPDATE/DELETE/COPY (the command tag's count), else 0.
  std::int64_t affected_rows() const noexcept;
  Row operator[](std::size_t row) const;  // throws std::out_of_range
  // The first row; throws NotFound when there are no rows.
  Row one() const;

  class Iterator {
   public:
    Row operator*() const { return (*result_)[index_]; }
    Iterator& operator++() {
      ++index_;
      return *this;
    }
    bool operator==(const Iterator& other) const { return index_ == other.index_; }

   private:
    friend class Result;
    Iterator(const Result* result, std::size_t index) : result_(result), index_(index) {}
    const Result* result_;
    std::size_t index_;
  };
  Iterator begin() const { return {this, 0}; }
  Iterator end() const { return {this, size()}; }

  const ResultHandle* handle() const noexcept { return handle_.get(); }

 private:
  std::shared_ptr<ResultHandle> handle_;
};

// Pool settings. Every duration is validated by Pool::create.
struct PoolOptions {
  // Most connections open at once. Must be >= 1.
  std::size_t max_connections = 10;
  // How long acquire()/begin() wait for a free connection before PoolTimeoutError.
  std::chrono::milliseconds acquire_timeout{5000};
  // Deadline for establishing one connection (libpq connect_timeout; rounded up to s).
  std::chrono::milliseconds connect_timeout{5000};
  // application_name reported to the server (pg_stat_activity).
  std::string application_name = "delta";
  // Session statement_timeout; 0 leaves the server's default.
  std::chrono::milliseconds statement_timeout{0};
  // An idle connection older than this is closed instead of reused; 0 = never.
  std::chrono::milliseconds max_idle{std::chrono::minutes(5)};
  // PostgreSQL's JIT compilation of queries on this pool's connections. Off by default:
  // it pays off for long analytic queries, while delta's batch statements are short but
  // estimated expensive enough to be compiled (measured: 505 ms of compilation for a
  // 5,000-object inform that runs in ~130 ms). true leaves the server's setting.
  bool jit = false;
};

// Counters describing a pool at one instant.
struct PoolStats {
  std::size_t open = 0;                   // connections open (idle + in use)
  std::size_t idle = 0;                   // connections waiting in the pool
  std::size_t in_use = 0;                 // connections lent out
  std::size_t waiting = 0;                // callers blocked in acquire()
  std::uint64_t created = 0;              // connections opened over the pool's life
  std::uint64_t discarded = 0;            // connections closed: broken, stale, or not rollback-able
  std::uint64_t timeouts = 0;             // acquire() calls that gave up
  std::uint64_t waits = 0;                // acquire() calls that had to wait for a connection
  std::chrono::nanoseconds wait_time{0};  // how long acquire() calls waited, in all
};

// A connection lent by a Pool; returns it on destruction. Internal code reaches the
// connection through operator->; users normally hold a Transaction instead.
class PooledConnection {
 public:
  PooledConnection() = default;
  PooledConnection(std::shared_ptr<PoolImpl> pool, std::unique_ptr<Connection> conn);
  PooledConnection(PooledConnection&&) noexcept;
  PooledConnection& operator=(PooledConnection&&) noexcept;
  ~PooledConnection();

  Connection* operator->() const noexcept { return conn_.get(); }
  Connection& operator*() const noexcept { return *conn_; }
  explicit operator bool() const noexcept { return conn_ != nullptr; }
  // Returns the connection to the pool now (discarding it if it is unusable).
  void release();

 private:
  std::shared_ptr<PoolImpl> pool_;
  std::unique_ptr<Connection> conn_;
};

// A database transaction on a pooled connection. Rolls back on destruction unless
// committed. Move-only; use from one thread at a time.
class Transaction {
 public:
  explicit Transaction(PooledConnection conn);
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) noexcept = delete;
  ~Transaction();

  // Runs one statement with $1..$n bound to args. Throws DatabaseError; after an error
  // the transaction can only be rolled back (or rolled back to a savepoint).
  template <class... Args>
  Result exec(std::string_view sql, const Args&... args) {
    return exec_params(sql, Params(args...));
  }
  Result exec_params(std::string_view sql, const Params& params);

  // Commits. Throws DatabaseError if the commit fails (the transaction is then over).
  void commit();
  // Rolls back; never throws (a broken connection is discarded by the pool).
  void rollback() noexcept;
  // Savepoints: names must be plain identifiers.
  void savepoint(std::string_view name);
  void rollback_to(std::string_view name);
  void release_savepoint(std::string_view name);

  bool active() const noexcept { return active_; }
  // The underlying connection (internal use).
  Connection& connection() const;

 private:
  PooledConnection conn_;
  bool active_ = true;
};

// A bounded pool of connections to one database.
class Pool {
 public:
  // Creates a pool for `url` (a libpq URI or key=value string). An empty url uses
  // libpq's environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, ...).
  // Opens one connection at once to check the settings; throws ConfigError for bad
  // options and DatabaseError when the server cannot be reached.
  static std::shared_ptr<Pool> create(std::string url = {}, PoolOptions options = {});
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Borrows a connection, waiting up to acquire_timeout; throws PoolTimeoutError naming
  // the pool size, or DatabaseError when a new connection cannot be opened.
  PooledConnection acquire();
  PooledConnection acquire(std::chrono::milliseconds timeout);
  // BEGINs a transaction on a borrowed connection.
  Transaction begin();
  // Runs one statement in its own transaction (autocommit).
  template <class... Args>
  Result exec(std::string_view sql, const Args&... args) {
    return exec_params(sql, Params(args...));
  }
  Result exec_params(std::string_view sql, const Params& params);

  PoolStats stats() const;
  const PoolOptions& options() const noexcept;
  // The connection string as given (may be empty); never contains more than the user gave.
  const std::string& url() const noexcept;

 private:
  explicit Pool(std::shared_ptr<PoolImpl> impl);
  std::shared_ptr<PoolImpl> impl_;
};

}  // namespace delta::pg

DELTA_PUBLIC_END
