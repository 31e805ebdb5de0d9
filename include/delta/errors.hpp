// delta's exception hierarchy.
//
// Every exception delta throws derives from delta::Error. Throwing is reserved for
// failures the caller must handle; expected outcomes (a duplicate skipped, an
// unchanged object) are reported in return values instead.
//
//   try {
//     client.inform(obj);
//   } catch (const delta::ValidationError& e) {   // bad input, nothing was written
//     log(e.field(), e.what());
//   } catch (const delta::DatabaseError& e) {     // e.sqlstate(), e.retryable()
//   }
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <delta/export.hpp>

DELTA_PUBLIC_BEGIN

namespace delta {

// Base of every exception delta throws.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An invalid configuration (Config, PoolOptions, a controller set). The message lists
// every bad field at once; problems() has them one by one.
class ConfigError : public Error {
 public:
  explicit ConfigError(std::vector<std::string> problems);
  explicit ConfigError(const std::string& problem) : ConfigError(std::vector{problem}) {}
  const std::vector<std::string>& problems() const noexcept { return problems_; }

 private:
  std::vector<std::string> problems_;
};

// Bad input to an API call (kind, namespace, tag, id, queue, priority, ...), or an
// unknown kind. Thrown before anything is written. field() names the offending input.
class ValidationError : public Error {
 public:
  ValidationError(std::string field, const std::string& message);
  const std::string& field() const noexcept { return field_; }

 private:
  std::string field_;
};

// What a DatabaseError means for the caller, derived from its SQLSTATE.
enum class DatabaseErrorKind {
  connection,        // class 08, 57P01-57P03, 57P05: the connection is gone; retry on a new one
  retryable,         // 40001 serialization failure, 40P01 deadlock: retry the transaction
  unique_violation,  // 23505
  constraint,        // any other integrity constraint violation (class 23)
  bad_input,         // class 22 (data exception) and 42 (syntax error or access rule): a bug
  query_canceled,    // 57014: statement_timeout or cancel request
  pool_timeout,      // no pooled connection became free within the acquire timeout
  other,
};

// An error reported by PostgreSQL or by the connection to it.
class DatabaseError : public Error {
 public:
  DatabaseError(std::string sqlstate, const std::string& message, std::string detail = {},
                std::string constraint = {});
  // The five-character SQLSTATE ("23505"); "08006" when the connection was lost before
  // the server could answer; empty for a pool timeout.
  const std::string& sqlstate() const noexcept { return sqlstate_; }
  DatabaseErrorKind kind() const noexcept { return kind_; }
  // The server's DETAIL field, if any.
  const std::string& detail() const noexcept { return detail_; }
  // The violated constraint's name for class 23 errors, if the server reported one.
  const std::string& constraint() const noexcept { return constraint_; }
  // True when running the same work again (on a fresh connection) may succeed.
  bool retryable() const noexcept;

  static DatabaseErrorKind classify(std::string_view sqlstate) noexcept;

 protected:
  DatabaseError(DatabaseErrorKind kind, const std::string& message);

 private:
  std::string sqlstate_;
  DatabaseErrorKind kind_;
  std::string detail_;
  std::string constraint_;
};

// A pool had no free connection within its acquire timeout.
class PoolTimeoutError : public DatabaseError {
 public:
  explicit PoolTimeoutError(const std::string& message);
};

// A resource, job or other named thing does not exist.
class NotFound : public Error {
 public:
  using Error::Error;
};

// The database schema is missing, unmigrated, or newer than this build of delta knows.
class SchemaError : public Error {
 public:
  using Error::Error;
};

}  // namespace delta

DELTA_PUBLIC_END
