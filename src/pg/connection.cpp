#include "pg/connection.hpp"

#include <stdexcept>

#include <fmt/format.h>
#include <libpq-fe.h>
#include <poll.h>

#include "pg/result_handle.hpp"

namespace delta::pg {

namespace {

std::string trim_message(const char* message) {
  std::string text = message != nullptr ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
    text.pop_back();
  return text;
}

std::string field(const PGresult* result, int code) {
  const char* value = PQresultErrorField(result, code);
  return value != nullptr ? value : "";
}

// Waits until `fd` is ready for `events` or the deadline passes; false on timeout.
bool wait_socket(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (remaining.count() <= 0) return false;
    pollfd pfd{fd, events, 0};
    int rc = ::poll(&pfd, 1, static_cast<int>(remaining.count()));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return true;  // let libpq report the socket error
  }
}

}  // namespace

std::string quote_identifier(std::string_view name) {
  std::string quoted = "\"";
  for (char c : name) {
    if (c == '"') quoted.push_back('"');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}

std::unique_ptr<Connection> Connection::open(const ConnectOptions& options) {
  const auto deadline = std::chrono::steady_clock::now() + options.connect_timeout;
  const auto timeout_seconds =
      std::to_string(std::max<std::int64_t>(1, (options.connect_timeout.count() + 999) / 1000));
  std::vector<const char*> keys;
  std::vector<const char*> values;
  if (!options.url.empty()) {
    keys.push_back("dbname");
    values.push_back(options.url.c_str());
  }
  keys.push_back("connect_timeout");
  values.push_back(timeout_seconds.c_str());
  keys.push_back("application_name");
  values.push_back(options.application_name.c_str());
  keys.push_back(nullptr);
  values.push_back(nullptr);

  PGconn* raw = PQconnectStartParams(keys.data(), values.data(), 1);
  if (raw == nullptr) throw DatabaseError("08001", "out of memory allocating a connection");
  std::unique_ptr<Connection> conn(new Connection(raw));
  // Server notices (and the FATAL a terminated backend sends while idle) would otherwise
  // be printed to stderr by libpq; delta reports failures through errors instead.
  PQsetNoticeReceiver(
      raw,
      [](void* arg, const PGresult* result) {
        const char* severity = PQresultErrorField(result, PG_DIAG_SEVERITY_NONLOCALIZED);
        if (severity != nullptr &&
            (std::string_view(severity) == "FATAL" || std::string_view(severity) == "PANIC")) {
          static_cast<Connection*>(arg)->fatal_ = true;
        }
      },
      conn.get());
  if (PQstatus(raw) == CONNECTION_BAD) conn->throw_connection_error("cannot connect");

  PostgresPollingStatusType status = PGRES_POLLING_WRITING;
  while (status != PGRES_POLLING_OK) {
    if (status == PGRES_POLLING_FAILED) conn->throw_connection_error("cannot connect");
    short events = status == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    if (!wait_socket(PQsocket(raw), events, deadline)) {
      throw DatabaseError("08001", fmt::format("cannot connect: no answer within {} ms",
                                               options.connect_timeout.count()));
    }
    status = PQconnectPoll(raw);
  }

  std::string setup = "SET DateStyle = 'ISO, MDY'; SET bytea_output = 'hex'";
  if (options.statement_timeout.count() > 0) {
    setup += fmt::format("; SET statement_timeout = {}", options.statement_timeout.count());
  }
  if (!options.jit) setup += "; SET jit = off";
  conn->exec_script(setup);
  return conn;
}

Connection::~Connection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

void Connection::throw_connection_error(std::string_view context) const {
  throw DatabaseError("08006", fmt::format("{}: {}", context, trim_message(PQerrorMessage(conn_))));
}

Result Connection::check(void* pg_result, std::string_view sql) {
  auto* result = static_cast<PGresult*>(pg_result);
  touch();
  if (result == nullptr) throw_connection_error("query failed");
  auto handle = std::make_shared<ResultHandle>(result);
  switch (PQresultStatus(result)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_EMPTY_QUERY:
    case PGRES_COPY_IN:
    case PGRES_COPY_OUT:
      return Result(std::move(handle));
    default:
      break;
  }
  std::string sqlstate = field(result, PG_DIAG_SQLSTATE);
  std::string message = field(result, PG_DIAG_MESSAGE_PRIMARY);
  if (message.empty()) message = trim_message(PQresultErrorMessage(result));
  if (message.empty()) message = trim_message(PQerrorMessage(conn_));
  // The server sends a SQLSTATE with every error: one without is libpq's own, a failure of
  // the connection -- also while PQstatus still says CONNECTION_OK, as after a write that
  // hit a socket the server closed ("server closed the connection unexpectedly" before
  // any read saw the end of file). The connection is not used again.
  if (sqlstate.empty()) {
    sqlstate = "08006";
    fatal_ = true;
  }
  (void)sql;
  throw DatabaseError(std::move(sqlstate), message, field(result, PG_DIAG_MESSAGE_DETAIL),
                      field(result, PG_DIAG_CONSTRAINT_NAME));
}

namespace {
// The value pointers and lengths libpq takes for `params`.
struct WireParams {
  explicit WireParams(const Params& params) : values(params.size()), lengths(params.size()) {
    for (std::size_t i = 0; i < params.size(); ++i) {
      const auto& value = params.values()[i];
      values[i] = value ? value->data() : nullptr;
      lengths[i] = value ? static_cast<int>(value->size()) : 0;
    }
  }
  std::vector<const char*> values;
  std::vector<int> lengths;
};
}  // namespace

Result Connection::exec(std::string_view sql, const Params& params) {
  const std::string text(sql);
  const WireParams wire(params);
  return check(
      PQexecParams(conn_, text.c_str(), static_cast<int>(params.size()), params.types().data(),
                   wire.values.data(), wire.lengths.data(), params.formats().data(), 0),
      sql);
}

Result Connection::exec_prepared(const Statement& statement, const Params& params) {
  const auto n = params.size();
  if (statement.replan) {
    if (!statement.local_settings.empty() && PQtransactionStatus(conn_) == PQTRANS_IDLE)
      return exec_with_settings(statement, params);
    const WireParams wire(params);
    return check(
        PQexecParams(conn_, statement.sql.c_str(), static_cast<int>(n), params.types().data(),
                     wire.values.data(), wire.lengths.data(), params.formats().data(), 0),
        statement.sql);
  }
  prepare(statement, params);
  if (!statement.local_settings.empty() && PQtransactionStatus(conn_) == PQTRANS_IDLE)
    return exec_with_settings(statement, params);
  const WireParams wire(params);
  return check(PQexecPrepared(conn_, statement.name.c_str(), static_cast<int>(n),
                              wire.values.data(), wire.lengths.data(), params.formats().data(), 0),
               statement.sql);
}

void Connection::prepare(const Statement& statement, const Params& params) {
  const auto n = params.size();
  const auto now = std::chrono::steady_clock::now();
  auto it = prepared_.find(statement.name);
  // A statement in a failed transaction block fails anyway; it is not prepared again there.
  if (it != prepared_.end() && statement.max_plan_age.count() > 0 &&
      now - it->second.at > statement.max_plan_age &&
      (it->second.runs >= statement.plan_min_runs ||
       now - it->second.at > Statement::kPlanAgeLimit * statement.max_plan_age) &&
      PQtransactionStatus(conn_) != PQTRANS_INERROR) {
    check(PQexec(conn_, ("DEALLOCATE " + quote_identifier(statement.name)).c_str()), "DEALLOCATE");
    prepared_.erase(it);
    it = prepared_.end();
  }
  if (it == prepared_.end()) {
    check(PQprepare(conn_, statement.name.c_str(), statement.sql.c_str(), static_cast<int>(n),
                    params.types().data()),
          statement.sql);
    it = prepared_.emplace(statement.name, Prepared{now, 0}).first;
  }
  ++it->second.runs;
}

Result Connection::exec_with_settings(const Statement& statement, const Params& params) {
  std::string settings = "SELECT ";
  Params setting_params;
  for (const auto& [name, value] : statement.local_settings) {
    if (setting_params.size() > 0) settings += ", ";
    settings += fmt::format("set_config(${}, ${}, true)", setting_params.size() + 1,
                            setting_params.size() + 2);
    setting_params.add(name);
    setting_params.add(value);
  }
  // An error in either statement throws from receive(); the pipeline's destructor then
  // ends (rolls back) the implicit transaction.
  // One write and one round trip: the statements and the sync go out together, and the
  // server commits without waiting for the client to read the rows.
  Pipeline pipeline(*this, Pipeline::Flush::at_sync);
  pipeline.send(settings, setting_params);
  if (statement.replan) {
    pipeline.send(statement.sql, params);
  } else {
    pipeline.send_prepared(statement.name, params);
  }
  pipeline.send_sync();
  pipeline.receive();
  Result rows = pipeline.receive();
  pipeline.sync();
  return rows;
}

void Connection::exec_script(std::string_view sql) {
  const std::string text(sql);
  check(PQexec(conn_, text.c_str()), sql);
}

bool Connection::broken() const noexcept {
  return fatal_ || PQstatus(conn_) != CONNECTION_OK;
}

bool Connection::check_alive() noexcept {
  // An idle connection has nothing to read unless the server sent something unasked: a
  // notice, or the error and end-of-file of a terminated backend. Read until the socket
  // is quiet; libpq notices the end-of-file only on the read after the error message.
  for (int round = 0; round < 8; ++round) {
    if (broken()) return false;
    pollfd pfd{PQsocket(conn_), POLLIN, 0};
    int rc = ::poll(&pfd, 1, 0);
    if (rc < 0) return false;
    if (rc == 0) return true;
    if ((pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) return false;
    if (PQconsumeInput(conn_) == 0) return false;
    while (PGnotify* notify = PQnotifies(conn_))
      PQfreemem(notify);
  }
  return !broken();
}

bool Connection::in_transaction() const noexcept {
  return PQtransactionStatus(conn_) != PQTRANS_IDLE;
}

bool Connection::transaction_failed() const noexcept {
  return PQtransactionStatus(conn_) == PQTRANS_INERROR;
}

int Connection::backend_pid() const noexcept {
  return PQbackendPID(conn_);
}

int Connection::socket() const noexcept {
  return PQsocket(conn_);
}

Pipeline::Pipeline(Connection& conn, Flush flush) : conn_(conn), flush_(flush) {
  if (PQenterPipelineMode(conn_.conn_) != 1)
    conn_.throw_connection_error("cannot enter pipeline mode");
}

Pipeline::~Pipeline() {
  PGconn* raw = conn_.conn_;
  // A sync ends the pipeline's (possibly aborted) run of statements; inside a transaction
  // block it commits nothing.
  if (sent_ && PQstatus(raw) == CONNECTION_OK && PQpipelineSync(raw) == 1) sync_sent_ = true;
  if (sync_sent_ && PQstatus(raw) == CONNECTION_OK) {
    // Read up to the sync: the results left behind (aborted after the error) and NULLs.
    for (int nulls = 0; nulls < 2 * static_cast<int>(in_flight_) + 2;) {
      PGresult* result = PQgetResult(raw);
      if (result == nullptr) {
        if (PQstatus(raw) != CONNECTION_OK) break;
        ++nulls;
        continue;
      }
      const bool synced = PQresultStatus(result) == PGRES_PIPELINE_SYNC;
      PQclear(result);
      if (synced) break;
    }
  }
  if (PQstatus(raw) == CONNECTION_OK) PQexitPipelineMode(raw);
}

void Pipeline::send(const std::string& sql, const Params& params) {
  if (sync_sent_) throw std::logic_error("a statement sent after the pipeline's sync");
  const WireParams wire(params);
  sent(PQsendQueryParams(conn_.conn_, sql.c_str(), static_cast<int>(params.size()),
                         params.types().data(), wire.values.data(), wire.lengths.data(),
                         params.formats().data(), 0));
}

void Pipeline::send_prepared(const std::string& name, const Params& params) {
  if (sync_sent_) throw std::logic_error("a statement sent after the pipeline's sync");
  const WireParams wire(params);
  sent(PQsendQueryPrepared(conn_.conn_, name.c_str(), static_cast<int>(params.size()),
                           wire.values.data(), wire.lengths.data(), params.formats().data(), 0));
}

void Pipeline::sent(int queued) {
  PGconn* raw = conn_.conn_;
  // libpq keeps a pipeline's statements in its buffer until a sync, a flush request or a
  // full buffer.
  if (queued != 1 || (flush_ == Flush::each && (PQsendFlushRequest(raw) != 1 || PQflush(raw) != 0)))
    conn_.throw_connection_error("sending a pipelined statement failed");
  ++in_flight_;
  sent_ = true;
}

void Pipeline::send_sync() {
  if (sync_sent_) return;
  if (PQpipelineSync(conn_.conn_) != 1)
    conn_.throw_connection_error("sending a pipeline sync failed");
  sent_ = false;
  sync_sent_ = true;
}

void Pipeline::sync() {
  PGconn* raw = conn_.conn_;
  send_sync();
  sync_sent_ = false;  // the destructor has nothing left to end
  in_flight_ = 0;
  PGresult* failure = nullptr;
  for (;;) {
    PGresult* result = PQgetResult(raw);
    if (result == nullptr) {
      if (PQstatus(raw) == CONNECTION_OK) continue;  // the end of one statement's results
      if (failure != nullptr) PQclear(failure);
      conn_.throw_connection_error("the pipeline's sync failed");
    }
    const auto status = PQresultStatus(result);
    if (status == PGRES_PIPELINE_SYNC) {
      PQclear(result);
      break;
    }
    if (status == PGRES_FATAL_ERROR && failure == nullptr) {
      failure = result;
    } else {
      PQclear(result);
    }
  }
  if (failure != nullptr) conn_.check(failure, "pipeline sync");
}

Result Pipeline::receive() {
  PGconn* raw = conn_.conn_;
  PGresult* result = PQgetResult(raw);
  --in_flight_;
  if (result != nullptr) {
    // Each statement's results end with a NULL.
    PGresult* end = PQgetResult(raw);
    if (end != nullptr) {
      PQclear(end);
      PQclear(result);
      throw DatabaseError("XX000", "a pipelined statement returned more than one result");
    }
  }
  return conn_.check(result, "pipelined statement");
}

}  // namespace delta::pg
