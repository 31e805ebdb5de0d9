// Text-format conversions for the codecs in <delta/pg_values.hpp>.
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <delta/errors.hpp>
#include <delta/pg_values.hpp>

namespace delta::pg {

namespace detail {

void throw_decode_error(std::string_view type, std::string_view text) {
  constexpr std::size_t kShown = 64;
  std::string shown(text.substr(0, kShown));
  if (text.size() > kShown) shown += "...";
  throw DatabaseError("22P02", fmt::format("cannot convert \"{}\" to {}", shown, type));
}

std::int64_t parse_int(std::string_view text, std::int64_t min, std::int64_t max) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    throw_decode_error("an integer in range", text);
  }
  return value;
}

double parse_double(std::string_view text) {
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text == "Infinity") return std::numeric_limits<double>::infinity();
  if (text == "-Infinity") return -std::numeric_limits<double>::infinity();
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) throw_decode_error("double", text);
  return value;
}

bool parse_bool(std::string_view text) {
  if (text == "t" || text == "true") return true;
  if (text == "f" || text == "false") return false;
  throw_decode_error("bool", text);
}

namespace {

// Reads exactly `digits` decimal digits at `pos`.
bool read_fixed(std::string_view text, std::size_t& pos, int digits, int& out) {
  if (pos + static_cast<std::size_t>(digits) > text.size()) return false;
  int value = 0;
  for (int i = 0; i < digits; ++i) {
    char c = text[pos + static_cast<std::size_t>(i)];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += static_cast<std::size_t>(digits);
  out = value;
  return true;
}

bool expect(std::string_view text, std::size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}

}  // namespace

// Parses PostgreSQL's ISO output for timestamptz: "YYYY-MM-DD HH:MM:SS[.ffffff]±HH[:MM[:SS]]",
// plus "infinity" and "-infinity". Years beyond 9999 and BC dates are rejected.
Timestamp parse_timestamp(std::string_view text) {
  if (text == "infinity") return Timestamp::max();
  if (text == "-infinity") return Timestamp::min();
  std::size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  bool ok = read_fixed(text, pos, 4, year) && expect(text, pos, '-') &&
            read_fixed(text, pos, 2, month) && expect(text, pos, '-') &&
            read_fixed(text, pos, 2, day) && (expect(text, pos, ' ') || expect(text, pos, 'T')) &&
            read_fixed(text, pos, 2, hour) && expect(text, pos, ':') &&
            read_fixed(text, pos, 2, minute) && expect(text, pos, ':') &&
            read_fixed(text, pos, 2, second);
  if (!ok) throw_decode_error("timestamptz", text);
  std::int64_t micros = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 6) {
        micros = micros * 10 + (text[pos] - '0');
        ++digits;
      }
      ++pos;
    }
    if (digits == 0) throw_decode_error("timestamptz", text);
    for (; digits < 6; ++digits)
      micros *= 10;
  }
  std::int64_t offset_seconds = 0;
  if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int oh = 0, om = 0, os = 0;
    if (!read_fixed(text, pos, 2, oh)) throw_decode_error("timestamptz", text);
    if (expect(text, pos, ':') && !read_fixed(text, pos, 2, om)) {
      throw_decode_error("timestamptz", text);
    }
    if (expect(text, pos, ':') && !read_fixed(text, pos, 2, os)) {
      throw_decode_error("timestamptz", text);
    }
    offset_seconds = sign * (oh * 3600 + om * 60 + os);
  } else if (pos < text.size() && text[pos] == 'Z') {
    ++pos;
  }
  if (pos != text.size()) throw_decode_error("timestamptz", text);
  using namespace std::chrono;
  year_month_day ymd{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                     std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok() || hour > 23 || minute > 59 || second > 60) {
    throw_decode_error("timestamptz", text);
  }
  auto local = sys_days{ymd} + hours{hour} + minutes{minute} + seconds{second};
  return time_point_cast<microseconds>(local) + microseconds{micros} - seconds{offset_seconds};
}

void format_timestamp(Timestamp value, std::string& out) {
  using namespace std::chrono;
  if (value == Timestamp::max()) {
    out.append("infinity");
    return;
  }
  if (value == Timestamp::min()) {
    out.append("-infinity");
    return;
  }
  auto day_point = floor<days>(value);
  year_month_day ymd{day_point};
  auto micros = (value - day_point).count();  // within the day
  std::int64_t total_seconds = micros / 1'000'000;
  std::int64_t fraction = micros % 1'000'000;
  out.append(fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}+00", int(ymd.year()),
                         unsigned(ymd.month()), unsigned(ymd.day()), total_seconds / 3600,
                         (total_seconds / 60) % 60, total_seconds % 60, fraction));
}

Bytes parse_bytea_hex(std::string_view text) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) {
    throw_decode_error("bytea (hex)", text);
  }
  auto nibble = [&](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw_decode_error("bytea (hex)", text);
  };
  Bytes bytes;
  bytes.reserve((text.size() - 2) / 2);
  for (std::size_t i = 2; i < text.size(); i += 2) {
    bytes.push_back(static_cast<std::byte>(nibble(text[i]) * 16 + nibble(text[i + 1])));
  }
  return bytes;
}

std::vector<std::optional<std::string>> parse_array(std::string_view text) {
  std::vector<std::optional<std::string>> elements;
  // Skip an optional dimension decoration such as "[0:2]=".
  std::size_t pos = 0;
  if (!text.empty() && text[0] == '[') {
    pos = text.find('=');
    if (pos == std::string_view::npos) throw_decode_error("array", text);
    ++pos;
  }
  if (pos >= text.size() || text[pos] != '{' || text.back() != '}') {
    throw_decode_error("array", text);
  }
  ++pos;
  const std::size_t end = text.size() - 1;
  if (pos == end) return elements;
  while (pos <= end) {
    std::string element;
    bool quoted = false;
    if (text[pos] == '"') {
      quoted = true;
      ++pos;
      while (pos < end && text[pos] != '"') {
        if (text[pos] == '\\' && pos + 1 < end) ++pos;
        element.push_back(text[pos]);
        ++pos;
      }
      if (pos >= end) throw_decode_error("array", text);
      ++pos;  // closing quote
    } else {
      if (text[pos] == '{') throw_decode_error("one-dimensional array", text);
      while (pos < end && text[pos] != ',') {
        if (text[pos] == '\\' && pos + 1 < end) ++pos;
        element.push_back(text[pos]);
        ++pos;
      }
    }
    if (!quoted && element == "NULL") {
      elements.emplace_back(std::nullopt);
    } else {
      elements.emplace_back(std::move(element));
    }
    if (pos == end) break;
    if (text[pos] != ',') throw_decode_error("array", text);
    ++pos;
    if (pos == end) throw_decode_error("array", text);
  }
  return elements;
}

void append_array_element(std::string_view text, std::string& out) {
  // Per character into a string reserved ahead (encode_array): faster here than counting
  // first and writing into a resized string, or appending the runs between specials.
  out.push_back('"');
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}

}  // namespace detail

void Codec<double>::encode(double value, std::string& out) {
  if (std::isnan(value)) {
    out.append("NaN");
  } else if (std::isinf(value)) {
    out.append(value > 0 ? "Infinity" : "-Infinity");
  } else {
    char buffer[32];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    out.append(buffer, end);
  }
}

namespace detail {
namespace {
// Buffers smaller than kMinKept are cheap to allocate; larger than kMaxKept are rare and
// would pin too much memory. At most kKept buffers and kKeptBytes in all are kept: the
// large columns of a few statements in flight at once (an informer's 2,500-object batch
// has two such columns of ~150 kB each).
constexpr std::size_t kMinKept = std::size_t{64} << 10;
constexpr std::size_t kMaxKept = std::size_t{4} << 20;
constexpr std::size_t kKept = 16;
constexpr std::size_t kKeptBytes = std::size_t{16} << 20;

struct BufferPool {
  std::mutex mutex;
  std::vector<std::string> free;
  std::size_t bytes = 0;  // capacity of the buffers in `free`
};

BufferPool& buffer_pool() {
  // Never destroyed: Params may be destroyed by threads still running at exit.
  static auto* pool = new BufferPool;
  return *pool;
}
}  // namespace

std::string take_buffer() {
  auto& pool = buffer_pool();
  std::lock_guard lock(pool.mutex);
  if (pool.free.empty()) return {};
  std::string buffer = std::move(pool.free.back());
  pool.free.pop_back();
  pool.bytes -= buffer.capacity();
  return buffer;
}

void give_buffer(std::string&& buffer) noexcept {
  if (buffer.capacity() < kMinKept || buffer.capacity() > kMaxKept) return;
  auto& pool = buffer_pool();
  std::lock_guard lock(pool.mutex);
  if (pool.free.size() >= kKept || pool.bytes + buffer.capacity() > kKeptBytes) return;
  buffer.clear();
  try {
    const std::size_t capacity = buffer.capacity();
    pool.free.push_back(std::move(buffer));
    pool.bytes += capacity;
  } catch (...) {  // the buffer is freed instead
  }
}
}  // namespace detail

Params::~Params() {
  for (auto& value : values_) {
    if (value) detail::give_buffer(std::move(*value));
  }
}

void Params::add_null(unsigned type_oid) {
  values_.emplace_back(std::nullopt);
  types_.push_back(type_oid);
  formats_.push_back(0);
}

void Params::add_encoded(std::string value, unsigned type_oid, bool binary) {
  values_.emplace_back(std::move(value));
  types_.push_back(type_oid);
  formats_.push_back(binary ? 1 : 0);
}

void Params::reserve(std::size_t n) {
  values_.reserve(n);
  types_.reserve(n);
  formats_.reserve(n);
}

}  // namespace delta::pg
