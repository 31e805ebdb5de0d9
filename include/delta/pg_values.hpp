// Conversion of C++ values to and from PostgreSQL parameters and result fields.
//
// Supported types (and their PostgreSQL types):
//   std::string, std::string_view, const char*   text (sent untyped, so the server infers)
//   bool                                          boolean
//   std::int16_t, std::int32_t, std::int64_t      smallint, integer, bigint
//   double                                        double precision
//   delta::Timestamp                              timestamptz (microseconds, UTC)
//   std::chrono::duration                         interval (parameters only)
//   nlohmann::json                                jsonb
//   delta::pg::Bytes                              bytea (sent in binary, no escaping)
//   std::vector<T> of the scalar types above      T[] (text[], bigint[], jsonb[], ...)
//   std::optional<T>                              NULL when empty
//
// Extend by specialising delta::pg::Codec<T> with `static constexpr unsigned oid`,
// `static void encode(const T&, std::string& out)` and, for results,
// `static T decode(std::string_view text)`.
//
// Array parameters go in PostgreSQL's binary array format when their element codec has
// `send` (its binary form, as the type's receive function reads it) and `element_oid`:
// the server then reads each element by its length instead of parsing a quoted literal
// (for a batch of JSON bodies, every quote escaped by the client and unescaped by the
// server). Other element types go as text literals.
#pragma once

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <ranges>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include <delta/export.hpp>
#include <delta/time.hpp>

DELTA_PUBLIC_BEGIN

namespace delta::pg {

// Raw bytes for bytea.
using Bytes = std::vector<std::byte>;

namespace oid {
inline constexpr unsigned kUnknown = 0;
inline constexpr unsigned kBool = 16;
inline constexpr unsigned kBytea = 17;
inline constexpr unsigned kInt8 = 20;
inline constexpr unsigned kInt2 = 21;
inline constexpr unsigned kInt4 = 23;
inline constexpr unsigned kText = 25;
inline constexpr unsigned kFloat8 = 701;
inline constexpr unsigned kBoolArray = 1000;
inline constexpr unsigned kInt2Array = 1005;
inline constexpr unsigned kInt4Array = 1007;
inline constexpr unsigned kTextArray = 1009;
inline constexpr unsigned kInt8Array = 1016;
inline constexpr unsigned kFloat8Array = 1022;
inline constexpr unsigned kTimestamptz = 1184;
inline constexpr unsigned kTimestamptzArray = 1185;
inline constexpr unsigned kInterval = 1186;
inline constexpr unsigned kJsonb = 3802;
inline constexpr unsigned kJsonbArray = 3807;
}  // namespace oid

template <class T>
inline constexpr bool kIsOptional = false;
template <class T>
inline constexpr bool kIsOptional<std::optional<T>> = true;

// Codec<T> converts T to PostgreSQL's text format and back. Specialised below.
template <class T>
struct Codec;

// Helpers used by the codecs; they throw delta::DatabaseError (kind bad_input) on a
// value that does not parse.
namespace detail {
std::int64_t parse_int(std::string_view text, std::int64_t min, std::int64_t max);
double parse_double(std::string_view text);
bool parse_bool(std::string_view text);
Timestamp parse_timestamp(std::string_view text);
void format_timestamp(Timestamp value, std::string& out);
Bytes parse_bytea_hex(std::string_view text);
// Splits a one-dimensional array literal into its elements; NULL elements are empty.
std::vector<std::optional<std::string>> parse_array(std::string_view text);
// Appends `text` as a quoted array element.
void append_array_element(std::string_view text, std::string& out);
[[noreturn]] void throw_decode_error(std::string_view type, std::string_view text);
// Appends `value` in network byte order (PostgreSQL's binary formats).
inline void append_be(std::uint64_t value, int bytes, std::string& out) {
  char buffer[8];
  for (int i = 0; i < bytes; ++i) {
    buffer[i] = static_cast<char>(value >> (8 * (bytes - 1 - i)));
  }
  out.append(buffer, static_cast<std::size_t>(bytes));
}
// Overwrites the four bytes at `at` with `value` in network byte order.
inline void put_be32(std::uint32_t value, std::size_t at, std::string& out) {
  for (int i = 0; i < 4; ++i)
    out[at + i] = static_cast<char>(value >> (8 * (3 - i)));
}
}  // namespace detail

template <>
struct Codec<std::string> {
  static constexpr unsigned oid = oid::kUnknown;
  static constexpr unsigned array_oid = oid::kTextArray;
  static constexpr unsigned element_oid = oid::kText;
  static void encode(std::string_view value, std::string& out) { out.append(value); }
  static void send(std::string_view value, std::string& out) { out.append(value); }
  static std::string decode(std::string_view text) { return std::string(text); }
};
template <>
struct Codec<std::string_view> {
  static constexpr unsigned oid = oid::kUnknown;
  static constexpr unsigned array_oid = oid::kTextArray;
  static constexpr unsigned element_oid = oid::kText;
  static void encode(std::string_view value, std::string& out) { out.append(value); }
  static void send(std::string_view value, std::string& out) { out.append(value); }
};
template <>
struct Codec<const char*> {
  static constexpr unsigned oid = oid::kUnknown;
  static void encode(const char* value, std::string& out) { out.append(value); }
};
template <>
struct Codec<bool> {
  static constexpr unsigned oid = oid::kBool;
  static constexpr unsigned array_oid = oid::kBoolArray;
  static constexpr unsigned element_oid = oid::kBool;
  static void encode(bool value, std::string& out) { out.append(value ? "t" : "f"); }
  static void send(bool value, std::string& out) { out.push_back(value ? '\1' : '\0'); }
  static bool decode(std::string_view text) { return detail::parse_bool(text); }
};

template <class Int, unsigned Oid, unsigned ArrayOid>
struct IntCodec {
  static constexpr unsigned oid = Oid;
  static constexpr unsigned array_oid = ArrayOid;
  static constexpr unsigned element_oid = Oid;
  static void encode(Int value, std::string& out) { out.append(std::to_string(value)); }
  static void send(Int value, std::string& out) {
    detail::append_be(static_cast<std::uint64_t>(value), sizeof(Int), out);
  }
  static Int decode(std::string_view text) {
    return static_cast<Int>(
        detail::parse_int(text, std::numeric_limits<Int>::min(), std::numeric_limits<Int>::max()));
  }
};
template <>
struct Codec<std::int16_t> : IntCodec<std::int16_t, oid::kInt2, oid::kInt2Array> {};
template <>
struct Codec<std::int32_t> : IntCodec<std::int32_t, oid::kInt4, oid::kInt4Array> {};
template <>
struct Codec<std::int64_t> : IntCodec<std::int64_t, oid::kInt8, oid::kInt8Array> {};

template <>
struct Codec<double> {
  static constexpr unsigned oid = oid::kFloat8;
  static constexpr unsigned array_oid = oid::kFloat8Array;
  static constexpr unsigned element_oid = oid::kFloat8;
  static void encode(double value, std::string& out);
  static void send(double value, std::string& out) {
    detail::append_be(std::bit_cast<std::uint64_t>(value), 8, out);
  }
  static double decode(std::string_view text) { return detail::parse_double(text); }
};

template <>
struct Codec<Timestamp> {
  static constexpr unsigned oid = oid::kTimestamptz;
  static constexpr unsigned array_oid = oid::kTimestamptzArray;
  static constexpr unsigned element_oid = oid::kTimestamptz;
  static void encode(Timestamp value, std::string& out) { detail::format_timestamp(value, out); }
  // Microseconds since 2000-01-01 UTC; Timestamp::max()/min() are infinity/-infinity, as
  // in the text form.
  static void send(Timestamp value, std::string& out) {
    constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
    constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
    std::int64_t micros = kMax;
    if (value == Timestamp::min()) {
      micros = kMin;
    } else if (value != Timestamp::max()) {
      const std::int64_t count = value.time_since_epoch().count();
      // Far beyond PostgreSQL's range (which starts in 4713 BC) either way: sent as a
      // value the server refuses as out of range, not wrapped around.
      micros = count < kMin + kPostgresEpochMicros + 1 ? kMin + 1 : count - kPostgresEpochMicros;
    }
    detail::append_be(static_cast<std::uint64_t>(micros), 8, out);
  }
  static constexpr std::int64_t kPostgresEpochMicros = 946'684'800'000'000;
  static Timestamp decode(std::string_view text) { return detail::parse_timestamp(text); }
};

template <class Rep, class Period>
struct Codec<std::chrono::duration<Rep, Period>> {
  static constexpr unsigned oid = oid::kInterval;
  static void encode(std::chrono::duration<Rep, Period> value, std::string& out) {
    out.append(
        std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(value).count()));
    out.append(" microseconds");
  }
};

template <>
struct Codec<nlohmann::json> {
  static constexpr unsigned oid = oid::kJsonb;
  static constexpr unsigned array_oid = oid::kJsonbArray;
  static void encode(const nlohmann::json& value, std::string& out) { out.append(value.dump()); }
  static nlohmann::json decode(std::string_view text) { return nlohmann::json::parse(text); }
};

template <>
struct Codec<Bytes> {
  static constexpr unsigned oid = oid::kBytea;
  static constexpr bool binary = true;  // sent as raw bytes
  static void encode(const Bytes& value, std::string& out) {
    out.append(reinterpret_cast<const char*>(value.data()), value.size());
  }
  static Bytes decode(std::string_view text) { return detail::parse_bytea_hex(text); }
};

namespace detail {
// Large parameter buffers kept for reuse. A batch's array parameters are hundreds of
// kilobytes; allocated fresh for every statement, their pages were faulted in (and given
// back to the kernel when freed) each time, which cost an informer's writer ~40% of its
// CPU. take_buffer() returns an empty string, with the capacity of one given back
// earlier if there is one; give_buffer() keeps a few of them (bounded in number and
// size) and frees the rest. Thread-safe.
std::string take_buffer();
void give_buffer(std::string&& buffer) noexcept;
// Array parameters of at least this many elements take their buffer from the pool.
inline constexpr std::size_t kPooledArray = 256;
}  // namespace detail

namespace detail {
// Called once the first element of `values` is in `out` (`first` bytes with what precedes
// it): reserves room for the rest at that size, plus a quarter. A batch column of
// thousands of elements otherwise grows by doubling, copying itself (and touching fresh
// pages) a dozen times.
template <class Range>
void reserve_for_rest(const Range& values, std::size_t first, std::string& out) {
  if constexpr (std::ranges::sized_range<Range>) {
    const auto n = static_cast<std::size_t>(std::ranges::size(values));
    const std::size_t estimate = (first + 1) * (n + n / 4);
    out.reserve(out.size() + std::min<std::size_t>(estimate, std::size_t{1} << 24));
  }
}
}  // namespace detail

// Appends the array literal of project(v) for every v in `values`; an empty optional is a
// NULL element. Encodes a column of a batch without copying it out first.
template <class Range, class Project>
void encode_array(const Range& values, Project&& project, std::string& out) {
  const std::size_t start = out.size();
  out.push_back('{');
  std::string element;
  std::size_t index = 0;
  // Text goes into the literal as it is escaped, without a copy of its own.
  auto append = [&](const auto& item) {
    using T = std::remove_cvref_t<decltype(item)>;
    if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::string_view>) {
      detail::append_array_element(item, out);
    } else {
      element.clear();
      Codec<T>::encode(item, element);
      detail::append_array_element(element, out);
    }
  };
  for (const auto& value : values) {
    if (index != 0) out.push_back(',');
    decltype(auto) projected = project(value);
    using V = std::remove_cvref_t<decltype(projected)>;
    if constexpr (kIsOptional<V>) {
      if (projected) {
        append(*projected);
      } else {
        out.append("NULL");
      }
    } else {
      append(projected);
    }
    if (++index == 1) detail::reserve_for_rest(values, out.size() - start, out);
  }
  out.push_back('}');
}

// An element type that goes in the binary array format (see the top of this file).
template <class T>
concept BinaryElement = requires(const T& value, std::string& out) {
  Codec<T>::element_oid;
  Codec<T>::send(value, out);
};

// Appends the binary array of project(v) for every v in `values` (one dimension, lower
// bound 1; an empty optional is a NULL element): what array_recv reads.
template <class Element, class Range, class Project>
void send_array(const Range& values, Project&& project, std::string& out) {
  const std::size_t start = out.size();
  // ndim, has-nulls flag, element type; then the dimension's length and lower bound,
  // written once the elements are counted.
  detail::append_be(1, 4, out);
  detail::append_be(0, 4, out);
  detail::append_be(Codec<Element>::element_oid, 4, out);
  detail::append_be(0, 4, out);
  detail::append_be(1, 4, out);
  std::uint32_t count = 0;
  bool has_null = false;
  for (const auto& value : values) {
    decltype(auto) projected = project(value);
    using V = std::remove_cvref_t<decltype(projected)>;
    const Element* element = nullptr;
    if constexpr (kIsOptional<V>) {
      if (projected) element = &*projected;
    } else {
      element = &projected;
    }
    if (element == nullptr) {
      has_null = true;
      detail::append_be(0xFFFFFFFFu, 4, out);  // length -1: NULL
    } else {
      const std::size_t length_at = out.size();
      detail::append_be(0, 4, out);
      Codec<Element>::send(*element, out);
      detail::put_be32(static_cast<std::uint32_t>(out.size() - length_at - 4), length_at, out);
    }
    if (++count == 1) detail::reserve_for_rest(values, out.size() - start, out);
  }
  if (count == 0) {
    out.resize(start);  // no dimensions
    detail::append_be(0, 4, out);
    detail::append_be(0, 4, out);
    detail::append_be(Codec<Element>::element_oid, 4, out);
    return;
  }
  detail::put_be32(has_null ? 1 : 0, start + 4, out);
  detail::put_be32(count, start + 12, out);
}

inline constexpr auto kIdentity = [](const auto& value) -> const auto& {
  return value;
};

template <class T>
struct Codec<std::vector<T>> {
  static constexpr unsigned oid = Codec<T>::array_oid;
  static void encode(const std::vector<T>& values, std::string& out) {
    encode_array(values, kIdentity, out);
  }
  static std::vector<T> decode(std::string_view text) {
    std::vector<T> values;
    for (auto& element : detail::parse_array(text)) {
      if (!element) detail::throw_decode_error("array element (NULL)", text);
      values.push_back(Codec<T>::decode(*element));
    }
    return values;
  }
};

// Arrays with NULL elements.
template <class T>
struct Codec<std::vector<std::optional<T>>> {
  static constexpr unsigned oid = Codec<T>::array_oid;
  static void encode(const std::vector<std::optional<T>>& values, std::string& out) {
    encode_array(values, kIdentity, out);
  }
  static std::vector<std::optional<T>> decode(std::string_view text) {
    std::vector<std::optional<T>> values;
    for (auto& element : detail::parse_array(text)) {
      if (element) {
        values.emplace_back(Codec<T>::decode(*element));
      } else {
        values.emplace_back(std::nullopt);
      }
    }
    return values;
  }
};

template <class T>
inline constexpr bool kIsBinaryVector = false;
template <class T>
inline constexpr bool kIsBinaryVector<std::vector<T>> = BinaryElement<T>;
template <class T>
inline constexpr bool kIsBinaryVector<std::vector<std::optional<T>>> = BinaryElement<T>;

// A list of encoded query parameters. Usually built implicitly by exec(sql, args...).
class Params {
 public:
  Params() = default;
  Params(const Params&) = default;
  Params(Params&&) noexcept = default;
  Params& operator=(const Params&) = default;
  Params& operator=(Params&&) noexcept = default;
  // Gives large values back for reuse (detail::give_buffer).
  ~Params();
  template <class... Args>
  explicit Params(const Args&... args) {
    reserve(sizeof...(Args));
    (add(args), ...);
  }

  // Appends one parameter; an empty optional (or std::nullopt) is NULL.
  template <class T>
  Params& add(const T& value) {
    using Decayed = std::remove_cvref_t<T>;
    if constexpr (std::is_same_v<Decayed, std::nullopt_t>) {
      add_null(oid::kUnknown);
    } else if constexpr (kIsOptional<Decayed>) {
      if (value) {
        add(*value);
      } else {
        add_null(codec_for<typename Decayed::value_type>::oid);
      }
    } else if constexpr (kIsBinaryVector<Decayed>) {
      add_array(value, kIdentity);
    } else {
      using C = codec_for<Decayed>;
      std::string encoded;
      C::encode(value, encoded);
      constexpr bool binary = requires {
        C::binary;
      };
      add_encoded(std::move(encoded), C::oid, binary);
    }
    return *this;
  }

  // Appends one array parameter: project(v) for every v in `values` (see encode_array).
  template <class Range, class Project>
  Params& add_array(const Range& values, Project&& project) {
    using V = std::remove_cvref_t<decltype(project(*std::begin(values)))>;
    using Element = typename std::conditional_t<kIsOptional<V>, V, std::optional<V>>::value_type;
    std::string encoded;
    // Only a batch column is worth a pooled buffer (and the pool's lock).
    if constexpr (std::ranges::sized_range<Range>) {
      if (std::ranges::size(values) >= detail::kPooledArray) encoded = detail::take_buffer();
    }
    if constexpr (BinaryElement<Element>) {
      send_array<Element>(values, project, encoded);
      add_encoded(std::move(encoded), Codec<Element>::array_oid, true);
    } else {
      encode_array(values, project, encoded);
      add_encoded(std::move(encoded), Codec<Element>::array_oid, false);
    }
    return *this;
  }

  void add_null(unsigned type_oid);
  void add_encoded(std::string value, unsigned type_oid, bool binary);
  void reserve(std::size_t n);

  std::size_t size() const noexcept { return values_.size(); }
  const std::vector<std::optional<std::string>>& values() const noexcept { return values_; }
  const std::vector<unsigned>& types() const noexcept { return types_; }
  const std::vector<int>& formats() const noexcept { return formats_; }

 private:
  template <class T>
  using codec_for =
      Codec<std::conditional_t<std::is_array_v<T> || std::is_same_v<std::decay_t<T>, char*>,
                               const char*, T>>;

  std::vector<std::optional<std::string>> values_;
  std::vector<unsigned> types_;
  std::vector<int> formats_;
};

}  // namespace delta::pg

DELTA_PUBLIC_END
