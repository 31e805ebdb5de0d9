#include <charconv>
#include <stdexcept>

#include <fmt/format.h>

#include <delta/pg.hpp>

#include "pg/result_handle.hpp"

namespace delta::pg {

Result::Result() = default;
Result::Result(std::shared_ptr<ResultHandle> handle) : handle_(std::move(handle)) {}

std::size_t Result::size() const noexcept {
  return handle_ ? static_cast<std::size_t>(PQntuples(handle_->result)) : 0;
}

std::int64_t Result::affected_rows() const noexcept {
  if (!handle_) return 0;
  if (std::string_view(PQcmdStatus(handle_->result)).starts_with("SELECT")) return 0;
  const char* tuples = PQcmdTuples(handle_->result);
  std::int64_t count = 0;
  std::string_view text(tuples);
  std::from_chars(text.data(), text.data() + text.size(), count);
  return count;
}

Row Result::operator[](std::size_t row) const {
  if (row >= size()) {
    throw std::out_of_range(fmt::format("row {} out of range ({} rows)", row, size()));
  }
  return Row(handle_, static_cast<int>(row));
}

Row Result::one() const {
  if (empty()) throw NotFound("query returned no rows");
  return (*this)[0];
}

namespace {
void check_column(const PGresult* result, int column) {
  if (column < 0 || column >= PQnfields(result)) {
    throw std::out_of_range(
        fmt::format("column {} out of range ({} columns)", column, PQnfields(result)));
  }
}
}  // namespace

bool Row::is_null(int column) const {
  const PGresult* result = handle_->result;
  check_column(result, column);
  return PQgetisnull(result, row_, column) != 0;
}

std::string_view Row::text(int column) const {
  const PGresult* result = handle_->result;
  check_column(result, column);
  return {PQgetvalue(result, row_, column),
          static_cast<std::size_t>(PQgetlength(result, row_, column))};
}

int Row::column_index(std::string_view name) const {
  const PGresult* result = handle_->result;
  for (int column = 0; column < PQnfields(result); ++column) {
    if (name == PQfname(result, column)) return column;
  }
  throw std::out_of_range(fmt::format("no column named \"{}\"", name));
}

int Row::columns() const {
  return PQnfields(handle_->result);
}

void Row::throw_null(int column) const {
  throw DatabaseError("22004", fmt::format("column \"{}\" is NULL; read it as std::optional",
                                           PQfname(handle_->result, column)));
}

}  // namespace delta::pg
