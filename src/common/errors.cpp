#include <fmt/format.h>

#include <delta/errors.hpp>

namespace delta {

namespace {
std::string join_problems(const std::vector<std::string>& problems) {
  if (problems.size() == 1) return "invalid configuration: " + problems.front();
  std::string message = fmt::format("invalid configuration ({} problems):", problems.size());
  for (const auto& problem : problems) {
    message += "\n  - ";
    message += problem;
  }
  return message;
}
}  // namespace

ConfigError::ConfigError(std::vector<std::string> problems)
    : Error(join_problems(problems)), problems_(std::move(problems)) {}

ValidationError::ValidationError(std::string field, const std::string& message)
    : Error(field.empty() ? message : field + ": " + message), field_(std::move(field)) {}

DatabaseError::DatabaseError(std::string sqlstate, const std::string& message, std::string detail,
                             std::string constraint)
    : Error(sqlstate.empty() ? message : message + " (SQLSTATE " + sqlstate + ")"),
      sqlstate_(std::move(sqlstate)),
      kind_(classify(sqlstate_)),
      detail_(std::move(detail)),
      constraint_(std::move(constraint)) {}

DatabaseErrorKind DatabaseError::classify(std::string_view sqlstate) noexcept {
  if (sqlstate.size() != 5) return DatabaseErrorKind::other;
  const std::string_view cls = sqlstate.substr(0, 2);
  // 57P05 (idle_session_timeout, PostgreSQL 14) ends the session like 57P01; 57P04 (the
  // database was dropped) does too, but no new connection can succeed: not retryable.
  if (cls == "08" || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03" ||
      sqlstate == "57P05") {
    return DatabaseErrorKind::connection;
  }
  if (sqlstate == "40001" || sqlstate == "40P01") return DatabaseErrorKind::retryable;
  if (sqlstate == "23505") return DatabaseErrorKind::unique_violation;
  if (cls == "23") return DatabaseErrorKind::constraint;
  if (cls == "22" || cls == "42") return DatabaseErrorKind::bad_input;
  if (sqlstate == "57014") return DatabaseErrorKind::query_canceled;
  return DatabaseErrorKind::other;
}

bool DatabaseError::retryable() const noexcept {
  switch (kind_) {
    case DatabaseErrorKind::connection:
    case DatabaseErrorKind::retryable:
    case DatabaseErrorKind::pool_timeout:
      return true;
    default:
      return false;
  }
}

DatabaseError::DatabaseError(DatabaseErrorKind kind, const std::string& message)
    : Error(message), kind_(kind) {}

PoolTimeoutError::PoolTimeoutError(const std::string& message)
    : DatabaseError(DatabaseErrorKind::pool_timeout, message) {}

}  // namespace delta
