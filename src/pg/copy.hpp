// COPY ... FROM STDIN in text format, buffered.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pg/connection.hpp"

namespace delta::pg {

// Streams rows into `COPY table (columns) FROM STDIN`. Rows are encoded with the same
// codecs as parameters and sent in chunks. finish() must be called to complete the
// COPY; destroying an unfinished writer aborts it (the rows are not written).
//
//   CopyWriter copy(conn, "COPY t (id, name) FROM STDIN");
//   copy.row(std::int64_t{1}, std::string("a"));
//   std::int64_t n = copy.finish();
class CopyWriter {
 public:
  CopyWriter(Connection& conn, std::string_view copy_sql);
  ~CopyWriter();
  CopyWriter(const CopyWriter&) = delete;
  CopyWriter& operator=(const CopyWriter&) = delete;

  template <class... Fields>
  void row(const Fields&... fields) {
    bool first = true;
    (field(fields, first), ...);
    end_row();
  }
  // Ends the COPY; returns the number of rows written. Throws DatabaseError.
  std::int64_t finish();
  // Aborts the COPY with `reason`; the server rolls back the statement.
  void abort(std::string_view reason) noexcept;

 private:
  template <class T>
  void field(const T& value, bool& first) {
    if (!first) buffer_.push_back('\t');
    first = false;
    using D = std::remove_cvref_t<T>;
    if constexpr (std::is_same_v<D, std::nullopt_t>) {
      buffer_.append("\\N");
    } else if constexpr (kIsOptional<D>) {
      if (!value) {
        buffer_.append("\\N");
      } else {
        bool inner_first = true;
        field(*value, inner_first);
      }
    } else if constexpr (std::is_same_v<D, Bytes>) {
      append_bytea(value);
    } else {
      scratch_.clear();
      using C = Codec<std::conditional_t<std::is_array_v<D>, const char*, D>>;
      C::encode(value, scratch_);
      append_escaped(scratch_);
    }
  }
  void append_escaped(std::string_view text);
  void append_bytea(const Bytes& value);
  void end_row();
  void flush();

  Connection& conn_;
  std::string buffer_;
  std::string scratch_;
  bool open_ = true;
};

}  // namespace delta::pg
