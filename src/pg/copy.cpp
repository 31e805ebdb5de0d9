#include "pg/copy.hpp"

#include <fmt/format.h>
#include <libpq-fe.h>

#include "pg/result_handle.hpp"

namespace delta::pg {

namespace {
constexpr std::size_t kFlushBytes = 256 * 1024;
}

CopyWriter::CopyWriter(Connection& conn, std::string_view copy_sql) : conn_(conn) {
  Result started = conn_.exec(copy_sql);
  if (PQresultStatus(started.handle()->result) != PGRES_COPY_IN) {
    throw DatabaseError("42601", fmt::format("not a COPY ... FROM STDIN statement: {}", copy_sql));
  }
  buffer_.reserve(kFlushBytes + 4096);
}

CopyWriter::~CopyWriter() {
  if (open_) abort("CopyWriter destroyed before finish()");
}

void CopyWriter::append_escaped(std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '\\':
        buffer_.append("\\\\");
        break;
      case '\t':
        buffer_.append("\\t");
        break;
      case '\n':
        buffer_.append("\\n");
        break;
      case '\r':
        buffer_.append("\\r");
        break;
      default:
        buffer_.push_back(c);
    }
  }
}

void CopyWriter::append_bytea(const Bytes& value) {
  static constexpr char kHex[] = "0123456789abcdef";
  // bytea's hex input form, with the backslash escaped for COPY.
  buffer_.append("\\\\x");
  for (std::byte b : value) {
    auto v = std::to_integer<unsigned>(b);
    buffer_.push_back(kHex[v >> 4]);
    buffer_.push_back(kHex[v & 0xF]);
  }
}

void CopyWriter::end_row() {
  buffer_.push_back('\n');
  if (buffer_.size() >= kFlushBytes) flush();
}

void CopyWriter::flush() {
  if (buffer_.empty()) return;
  if (PQputCopyData(conn_.raw(), buffer_.data(), static_cast<int>(buffer_.size())) != 1) {
    open_ = false;
    conn_.throw_connection_error("COPY failed");
  }
  buffer_.clear();
}

std::int64_t CopyWriter::finish() {
  if (!open_) throw Error("COPY already finished or aborted");
  flush();
  open_ = false;
  if (PQputCopyEnd(conn_.raw(), nullptr) != 1) conn_.throw_connection_error("COPY failed");
  std::int64_t rows = 0;
  std::optional<DatabaseError> failure;
  while (PGresult* raw = PQgetResult(conn_.raw())) {
    auto handle = std::make_shared<ResultHandle>(raw);
    if (PQresultStatus(raw) == PGRES_COMMAND_OK) {
      rows = Result(handle).affected_rows();
    } else if (!failure) {
      const char* state = PQresultErrorField(raw, PG_DIAG_SQLSTATE);
      const char* message = PQresultErrorField(raw, PG_DIAG_MESSAGE_PRIMARY);
      const char* detail = PQresultErrorField(raw, PG_DIAG_MESSAGE_DETAIL);
      const char* constraint = PQresultErrorField(raw, PG_DIAG_CONSTRAINT_NAME);
      failure.emplace(state != nullptr ? state : "08006",
                      message != nullptr ? message : PQerrorMessage(conn_.raw()),
                      detail != nullptr ? detail : "", constraint != nullptr ? constraint : "");
    }
  }
  if (failure) throw *failure;
  return rows;
}

void CopyWriter::abort(std::string_view reason) noexcept {
  if (!open_) return;
  open_ = false;
  std::string text(reason);
  if (PQputCopyEnd(conn_.raw(), text.c_str()) == 1) {
    while (PGresult* raw = PQgetResult(conn_.raw()))
      PQclear(raw);
  }
}

}  // namespace delta::pg
