// One libpq connection. Internal: users see Pool and Transaction.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <delta/pg.hpp>

struct pg_conn;

namespace delta::pg {

// A named statement, prepared once per connection on first use.
struct Statement {
  std::string name;
  std::string sql;
  // Prepare it again once its preparation is older than this (zero: prepared once for
  // the connection's life). PostgreSQL caches a generic plan of a prepared statement on
  // each connection and keeps it until the table's statistics change: a plan made while
  // a table was empty (a sequential scan) would still be used when the table holds
  // millions of rows, long before autovacuum analyzes it. delta's statements over its
  // queue and resource tables are prepared again every second (see plan_min_runs), which
  // bounds how long a stale plan can live while keeping the per-execution cost of a
  // prepared statement (planning every execution instead halved single-object inform
  // throughput).
  std::chrono::milliseconds max_plan_age{0};
  // ...and only once it has run at least this many times since it was prepared (or its
  // plan is older than kPlanAgeLimit x max_plan_age). A stale plan costs in proportion to
  // how often it runs, and preparing again costs the next execution a parse and a plan:
  // at idle rates, every second was every fifth inform or claim, on the path from an
  // inform to its work.
  int plan_min_runs = 0;
  static constexpr int kPlanAgeLimit = 60;
  // Plan it at every execution, with its parameter values, instead of preparing it: for
  // statements whose best plan depends on the size of their array parameters (a generic
  // plan is made without knowing how many elements they hold).
  bool replan = false;
  // Settings for the statement's own transaction when it runs outside a transaction
  // block: set_config(name, value, true) goes ahead of it in the same round trip (libpq
  // pipeline mode: both, then the commit, are one implicit transaction), and the
  // connection's own settings stay untouched. Inside a transaction block they are not
  // applied -- they would last until that transaction's end.
  std::vector<std::pair<std::string, std::string>> local_settings{};
};

// `name` as a quoted SQL identifier ("a""b" for a"b).
std::string quote_identifier(std::string_view name);

struct ConnectOptions {
  std::string url;  // empty: libpq's PG* environment
  std::chrono::milliseconds connect_timeout{5000};
  std::string application_name = "delta";
  std::chrono::milliseconds statement_timeout{0};
  bool jit = true;  // false: SET jit = off
};

class Connection {
 public:
  // Connects; throws DatabaseError (kind connection) on failure or when the deadline passes.
  static std::unique_ptr<Connection> open(const ConnectOptions& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one statement (extended protocol, text results). Throws DatabaseError.
  Result exec(std::string_view sql, const Params& params = {});
  // Prepares `statement` on this connection if needed, then runs it.
  Result exec_prepared(const Statement& statement, const Params& params = {});
  // Prepares `statement` on this connection unless it is prepared already (and its plan
  // not too old): for a Pipeline's send_prepared. Not for a replan statement.
  void prepare(const Statement& statement, const Params& params);
  // Runs a script of several statements (simple protocol, no parameters).
  void exec_script(std::string_view sql);

  // True when libpq reports the connection as bad.
  bool broken() const noexcept;
  // Checks, without blocking, whether the server closed the connection while idle.
  // Returns false if the connection is unusable.
  bool check_alive() noexcept;
  // Inside a transaction block (idle in transaction or failed)?
  bool in_transaction() const noexcept;
  // Inside a transaction block that an error aborted (only ROLLBACK is accepted)?
  bool transaction_failed() const noexcept;
  int backend_pid() const noexcept;
  int socket() const noexcept;
  pg_conn* raw() const noexcept { return conn_; }

  std::chrono::steady_clock::time_point last_used() const noexcept { return last_used_; }
  void touch() noexcept { last_used_ = std::chrono::steady_clock::now(); }

  // Raises the DatabaseError describing the connection's current error.
  [[noreturn]] void throw_connection_error(std::string_view context) const;

 private:
  friend class Pipeline;
  explicit Connection(pg_conn* conn) : conn_(conn) {}
  Result check(void* pg_result, std::string_view sql);
  // Runs `statement` (prepared, or planned with its parameters if replan) after its
  // local_settings in one implicit transaction (a Pipeline), returning its rows once the
  // commit is confirmed.
  Result exec_with_settings(const Statement& statement, const Params& params);

  pg_conn* conn_;
  // Set by the notice receiver when the server reports a FATAL or PANIC error outside a
  // query (e.g. the backend was terminated while the connection sat idle), and by check()
  // for an error of libpq's own (the connection failed).
  bool fatal_ = false;
  // Prepared statements by name: when they were prepared, and how often they ran since.
  struct Prepared {
    std::chrono::steady_clock::time_point at;
    std::int64_t runs = 0;
  };
  std::unordered_map<std::string, Prepared> prepared_;
  std::chrono::steady_clock::time_point last_used_ = std::chrono::steady_clock::now();
};

// Statements sent back to back on one connection (libpq's pipeline mode): each is sent
// without waiting for the results of those before it, and results are read in order, so
// the client prepares the next statement while the server runs the previous one. Every
// statement is planned at its execution, with its parameters (as Statement::replan).
// Statements between two syncs form one implicit transaction when no transaction block
// is open; delta uses it inside one.
class Pipeline {
 public:
  // When statements reach the server: `each` is sent (and its results asked for) as it is
  // queued; `at_sync` waits in the client's buffer and goes out with send_sync() -- one
  // write and one round trip for a short run of statements that is read only as a whole.
  enum class Flush { each, at_sync };
  explicit Pipeline(Connection& conn, Flush flush = Flush::each);  // throws DatabaseError
  // Leaves pipeline mode; with results still unread (after an error), first reads and
  // discards them. A connection that breaks meanwhile is left for the pool to discard.
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Sends one statement and asks the server to flush its results as they come.
  void send(const std::string& sql, const Params& params);
  // The same for a statement already prepared on the connection.
  void send_prepared(const std::string& name, const Params& params);
  // The result of the oldest statement not yet received; throws DatabaseError.
  Result receive();
  std::size_t in_flight() const noexcept { return in_flight_; }
  // Ends the statements sent so far -- outside a transaction block, commits their
  // implicit transaction -- and waits for the server to confirm; throws DatabaseError
  // when that fails (e.g. a deferred constraint). Receive every result first.
  void sync();
  // Sends that end now, without waiting: the server runs the statements and commits
  // without a second round trip. Then receive() each result and sync() for the
  // confirmation. No statement may be sent after it.
  void send_sync();

 private:
  // After queueing a statement (`queued`: libpq's answer): asks for its results, flushes.
  void sent(int queued);

  Connection& conn_;
  Flush flush_;
  std::size_t in_flight_ = 0;
  bool sent_ = false;       // statements sent that no sync has ended yet
  bool sync_sent_ = false;  // a sync sent whose confirmation is not read yet
};

}  // namespace delta::pg
