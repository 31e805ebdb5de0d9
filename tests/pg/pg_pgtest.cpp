// Pool, Transaction, Result and Connection against a live PostgreSQL (run under
// pg_virtualenv). Each test works in its own schema, so tests can run in parallel.
//
// Suites are named after the executable so `ctest -R pg_pgtest` selects them.
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <delta/errors.hpp>
#include <delta/pg.hpp>
#include <delta/pg_values.hpp>
#include <delta/time.hpp>

#include "common/digest.hpp"
#include "pg/connection.hpp"
#include "support/instant.hpp"
#include "support/pg_test.hpp"

namespace {

namespace dt = delta::testing;
using delta::DatabaseError;
using delta::DatabaseErrorKind;
using delta::Timestamp;
using delta::pg::Bytes;
using delta::pg::Params;
using delta::pg::Pool;
using delta::pg::Statement;
using delta::pg::Transaction;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A schema of its own for one test, dropped (with everything in it) at the end.
class Scratch : public dt::ScratchSchema {
 public:
  Scratch() : dt::ScratchSchema("pgt") {}
};

// Runs `fn`, which must throw a DatabaseError, and returns it.
template <class Fn>
DatabaseError expect_database_error(Fn fn) {
  try {
    fn();
  } catch (const DatabaseError& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected DatabaseError, got: " << e.what();
    return DatabaseError("", "wrong exception type");
  }
  ADD_FAILURE() << "expected DatabaseError, nothing was thrown";
  return DatabaseError("", "nothing thrown");
}

// Number of Unicode code points in UTF-8 `text`.
std::int64_t code_points(std::string_view text) {
  std::int64_t n = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

std::int32_t backend_pid_of(delta::pg::Connection& conn) {
  return conn.exec("SELECT pg_backend_pid()").one().get<std::int32_t>(0);
}

// ---- parameter and row round trips --------------------------------------------------

TEST(pg_pgtest, TextRoundTripsUnicodeAndSpecialCharacters) {
  auto pool = dt::make_pool();
  std::vector<std::string> values = {"héllo 世界 🚀",
                                     "it's \"quoted\"",
                                     "back\\slash \\x00ff \\N \\.",
                                     "tab\there",
                                     "line\nbreak\r\nend",
                                     "",
                                     " spaces ",
                                     "NULL",
                                     "{a,b}",
                                     "$1 ? %s"};
  for (const auto& value : values) {
    auto row_result = pool->exec(
        "SELECT $1::text AS v, length($1::text) AS chars, octet_length($1::text) "
        "AS bytes, $1::text IS NULL AS is_null",
        value);
    auto row = row_result.one();
    EXPECT_EQ(row.get<std::string>("v"), value);
    EXPECT_EQ(row.get<std::int32_t>("chars"), code_points(value)) << value;
    EXPECT_EQ(row.get<std::int32_t>("bytes"), static_cast<std::int32_t>(value.size())) << value;
    EXPECT_FALSE(row.get<bool>("is_null")) << value;
  }
}

// Stored content hashes are computed in the client; rows written when the statement
// computed them (sha256() in SQL) must keep comparing equal.
TEST(pg_pgtest, ClientSha256MatchesPostgres) {
  auto pool = dt::make_pool();
  for (const std::string& value :
       {std::string(), std::string("{\"a\":1}"), std::string("h\u00e9llo \u4e16\u754c \U0001F680"),
        std::string(5000, 'x'), std::string("back\\slash \"quote\" \ttab\nline")}) {
    auto row =
        pool->exec("SELECT encode(sha256(convert_to($1::text, 'UTF8')), 'hex')", value).one();
    EXPECT_EQ(row.get<std::string>(0), delta::internal::sha256_hex(value)) << value;
  }
}

TEST(pg_pgtest, TextArrivesAsUtf8) {
  auto pool = dt::make_pool();
  auto row_result =
      pool->exec(R"(SELECT $1::text = U&'h\00E9llo \4E16\754C \+01F680', U&'\4E16\754C')",
                 std::string("héllo 世界 🚀"));
  auto row = row_result.one();
  EXPECT_TRUE(row.get<bool>(0));
  EXPECT_EQ(row.get<std::string>(1), "世界");
}

TEST(pg_pgtest, StringViewAndCharPointerParameters) {
  auto pool = dt::make_pool();
  std::string_view view = "ab";
  const char* pointer = "cd";
  auto row_result = pool->exec("SELECT $1::text || $2::text || $3::text", view, pointer, "ef");
  auto row = row_result.one();
  EXPECT_EQ(row.get<std::string>(0), "abcdef");
}

TEST(pg_pgtest, IntegerLimitsRoundTrip) {
  auto pool = dt::make_pool();
  using I16 = std::numeric_limits<std::int16_t>;
  using I32 = std::numeric_limits<std::int32_t>;
  using I64 = std::numeric_limits<std::int64_t>;
  auto row_result = pool->exec(
      "SELECT $1, $2, $3, $4, $5, $6, pg_typeof($1)::text, pg_typeof($3)::text, "
      "pg_typeof($5)::text, $6 = -9223372036854775807 - 1",
      I16::min(), I16::max(), I32::min(), I32::max(), I64::max(), I64::min());
  auto row = row_result.one();
  EXPECT_EQ(row.get<std::int16_t>(0), I16::min());
  EXPECT_EQ(row.get<std::int16_t>(1), I16::max());
  EXPECT_EQ(row.get<std::int32_t>(2), I32::min());
  EXPECT_EQ(row.get<std::int32_t>(3), I32::max());
  EXPECT_EQ(row.get<std::int64_t>(4), I64::max());
  EXPECT_EQ(row.get<std::int64_t>(5), I64::min());
  EXPECT_EQ(row.get<std::string>(6), "smallint");
  EXPECT_EQ(row.get<std::string>(7), "integer");
  EXPECT_EQ(row.get<std::string>(8), "bigint");
  EXPECT_TRUE(row.get<bool>(9));
}

TEST(pg_pgtest, IntegerTooWideForTargetThrows) {
  auto pool = dt::make_pool();
  auto row_result = pool->exec("SELECT 99999::int4, 3000000000::int8");
  auto row = row_result.one();
  auto error = expect_database_error([&] { row.get<std::int16_t>(0); });
  EXPECT_EQ(error.kind(), DatabaseErrorKind::bad_input);
  error = expect_database_error([&] { row.get<std::int32_t>(1); });
  EXPECT_EQ(error.kind(), DatabaseErrorKind::bad_input);
  EXPECT_EQ(row.get<std::int64_t>(1), 3000000000LL);
}

TEST(pg_pgtest, DoubleRoundTripsExactly) {
  auto pool = dt::make_pool();
  for (double value :
       {0.1, -1.0 / 3.0, 6.02214076e23, std::numeric_limits<double>::max(),
        std::numeric_limits<double>::min(), std::numeric_limits<double>::denorm_min(),
        std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()}) {
    auto row_result = pool->exec("SELECT $1, pg_typeof($1)::text", value);
    auto row = row_result.one();
    EXPECT_EQ(row.get<double>(0), value);
    EXPECT_EQ(row.get<std::string>(1), "double precision");
  }
  auto row_result = pool->exec("SELECT $1 = 'NaN'::float8, $1, $2 = 0.1::float8",
                               std::numeric_limits<double>::quiet_NaN(), 0.1);
  auto row = row_result.one();
  EXPECT_TRUE(row.get<bool>(0));
  EXPECT_TRUE(std::isnan(row.get<double>(1)));
  EXPECT_TRUE(row.get<bool>(2));
}

TEST(pg_pgtest, BoolRoundTrips) {
  auto pool = dt::make_pool();
  auto row_result = pool->exec("SELECT $1, NOT $1, $2, pg_typeof($1)::text", true, false);
  auto row = row_result.one();
  EXPECT_TRUE(row.get<bool>(0));
  EXPECT_FALSE(row.get<bool>(1));
  EXPECT_FALSE(row.get<bool>(2));
  EXPECT_EQ(row.get<std::string>(3), "boolean");
}

TEST(pg_pgtest, TimestampKeepsMicroseconds) {
  auto pool = dt::make_pool();
  auto row_result = pool->exec(
      "SELECT $1, $1 = '2026-11-28 00:27:28.123456+00'::timestamptz, "
      "pg_typeof($1)::text",
      dt::kInstant);
  auto row = row_result.one();
  EXPECT_EQ(row.get<Timestamp>(0), dt::kInstant);
  EXPECT_TRUE(row.get<bool>(1));
  EXPECT_EQ(row.get<std::string>(2), "timestamp with time zone");

  auto literal_result = pool->exec("SELECT '2026-11-28 00:27:28.000001+00'::timestamptz");
  auto literal = literal_result.one();
  EXPECT_EQ(literal.get<Timestamp>(0),
            dt::kInstant - std::chrono::microseconds{123456} + std::chrono::microseconds{1});
}

TEST(pg_pgtest, TimestampBeforeEpoch) {
  auto pool = dt::make_pool();
  Timestamp value = Timestamp{} - std::chrono::microseconds{1};
  auto row_result =
      pool->exec("SELECT $1, $1 = '1969-12-31 23:59:59.999999+00'::timestamptz", value);
  auto row = row_result.one();
  EXPECT_EQ(row.get<Timestamp>(0), value);
  EXPECT_TRUE(row.get<bool>(1));
}

TEST(pg_pgtest, TimestampMatchesServerNow) {
  auto pool = dt::make_pool();
  Timestamp before = delta::now();
  auto row_result = pool->exec("SELECT now(), (extract(epoch FROM now()) * 1000000)::bigint");
  auto row = row_result.one();
  Timestamp after = delta::now();
  auto server_now = row.get<Timestamp>(0);
  EXPECT_EQ(server_now.time_since_epoch().count(), row.get<std::int64_t>(1));
  // Same host, so the clocks agree closely.
  EXPECT_GE(server_now, before - 2s);
  EXPECT_LE(server_now, after + 2s);
}

TEST(pg_pgtest, TimestampInSessionTimeZones) {
  auto pool = dt::make_pool();
  for (std::string zone : {"UTC", "America/Los_Angeles", "Asia/Kolkata", "Australia/Adelaide",
                           "Pacific/Chatham", "America/St_Johns"}) {
    auto tx = pool->begin();
    tx.exec("SET LOCAL TimeZone = '" + zone + "'");
    auto row_result = tx.exec("SELECT $1::timestamptz, $1::timestamptz::text", dt::kInstant);
    auto row = row_result.one();
    EXPECT_EQ(row.get<Timestamp>(0), dt::kInstant) << zone << ": " << row.get<std::string>(1);
    auto literal_result = tx.exec("SELECT '2026-07-01 12:00:00.5+00'::timestamptz");
    auto literal = literal_result.one();
    EXPECT_EQ(literal.get<Timestamp>(0),
              std::chrono::sys_days{std::chrono::year{2026} / 7 / 1} + 12h + 500ms)
        << zone;
    tx.rollback();
  }
}

TEST(pg_pgtest, TimestampWithLocalMeanTimeOffset) {
  auto pool = dt::make_pool();
  auto tx = pool->begin();
  tx.exec("SET LOCAL TimeZone = 'Asia/Kolkata'");
  auto row_result = tx.exec(
      "SELECT '1900-01-01 00:00:00+00'::timestamptz, "
      "'1900-01-01 00:00:00+00'::timestamptz::text");
  auto row = row_result.one();
  EXPECT_EQ(row.get<Timestamp>(0),
            Timestamp{std::chrono::sys_days{std::chrono::year{1900} / 1 / 1}})
      << row.get<std::string>(1);
}

TEST(pg_pgtest, TimestampInfinity) {
  auto pool = dt::make_pool();
  auto row_result = pool->exec("SELECT 'infinity'::timestamptz, '-infinity'::timestamptz");
  auto row = row_result.one();
  EXPECT_EQ(row.get<Timestamp>(0), Timestamp::max());
  EXPECT_EQ(row.get<Timestamp>(1), Timestamp::min());
  auto sent_result =
      pool->exec("SELECT $1 = 'infinity'::timestamptz, $2 = '-infinity'::timestamptz",
                 Timestamp::max(), Timestamp::min());
  auto sent = sent_result.one();
  EXPECT_TRUE(sent.get<bool>(0));
  EXPECT_TRUE(sent.get<bool>(1));
}

TEST(pg_pgtest, DurationParameterIsInterval) {
  auto pool = dt::make_pool();
  auto row_result = pool->exec(
      "SELECT $1 = interval '1.5 seconds', $2 = interval '-2 hours', "
      "pg_typeof($1)::text, $3 = interval '1 microsecond'",
      std::chrono::milliseconds{1500}, std::chrono::hours{-2}, std::chrono::microseconds{1});
  auto row = row_result.one();
  EXPECT_TRUE(row.get<bool>(0));
  EXPECT_TRUE(row.get<bool>(1));
  EXPECT_EQ(row.get<std::string>(2), "interval");
  EXPECT_TRUE(row.get<bool>(3));
}

TEST(pg_pgtest, JsonbRoundTrips) {
  auto pool = dt::make_pool();
  nlohmann::json doc = {
      {"name", "héllo 世界 🚀"},
      {"nested", {{"list", {1, 2.5, nullptr, true, "x"}}, {"empty", nlohmann::json::object()}}},
      {"tricky", "quote \" backslash \\ tab \t newline \n"},
      {"array_of_objects", {{{"a", 1}}, {{"b", {{"c", "d"}}}}}}};
  auto row_result = pool->exec(
      "SELECT $1, pg_typeof($1)::text, $1 ->> 'name', "
      "$1 -> 'nested' -> 'list' ->> 4, $1 #>> '{array_of_objects,1,b,c}'",
      doc);
  auto row = row_result.one();
  EXPECT_EQ(row.get<nlohmann::json>(0), doc);
  EXPECT_EQ(row.get<std::string>(1), "jsonb");
  EXPECT_EQ(row.get<std::string>(2), "héllo 世界 🚀");
  EXPECT_EQ(row.get<std::string>(3), "x");
  EXPECT_EQ(row.get<std::string>(4), "d");

  for (const nlohmann::json& scalar : {nlohmann::json(nullptr), nlohmann::json("s"),
                                       nlohmann::json(42), nlohmann::json::array()}) {
    auto scalar_row_result = pool->exec("SELECT $1, $1 IS NULL", scalar);
    auto scalar_row = scalar_row_result.one();
    EXPECT_EQ(scalar_row.get<nlohmann::json>(0), scalar);
    EXPECT_FALSE(scalar_row.get<bool>(1));
  }
}

TEST(pg_pgtest, ByteaAllByteValuesRoundTrip) {
  auto pool = dt::make_pool();
  Bytes value;
  std::string hex;
  const char* digits = "0123456789abcdef";
  for (int byte = 0; byte < 256; ++byte) {
    value.push_back(static_cast<std::byte>(byte));
    hex.push_back(digits[byte / 16]);
    hex.push_back(digits[byte % 16]);
  }
  auto row_result =
      pool->exec("SELECT $1, length($1), encode($1, 'hex'), pg_typeof($1)::text", value);
  auto row = row_result.one();
  EXPECT_EQ(row.get<Bytes>(0), value);
  EXPECT_EQ(row.get<std::int32_t>(1), 256);
  EXPECT_EQ(row.get<std::string>(2), hex);
  EXPECT_EQ(row.get<std::string>(3), "bytea");

  auto empty_result = pool->exec("SELECT $1, length($1)", Bytes{});
  auto empty = empty_result.one();
  EXPECT_TRUE(empty.get<Bytes>(0).empty());
  EXPECT_EQ(empty.get<std::int32_t>(1), 0);
}

TEST(pg_pgtest, TextArrayWithTrickyElements) {
  auto pool = dt::make_pool();
  std::vector<std::string> values = {
      "plain", "a\"b",  "a,b",   "{x}",       "back\\slash",  "",         "NULL",
      "null",  " pad ", "tab\t", "new\nline", "héllo 世界 🚀", "'single'", "\\"};
  auto row_result = pool->exec("SELECT $1, cardinality($1), pg_typeof($1)::text", values);
  auto row = row_result.one();
  EXPECT_EQ(row.get<std::vector<std::string>>(0), values);
  EXPECT_EQ(row.get<std::int32_t>(1), static_cast<std::int32_t>(values.size()));
  EXPECT_EQ(row.get<std::string>(2), "text[]");

  // Element by element on the server: nothing was split, merged or turned into NULL.
  auto elements = pool->exec(
      "SELECT e, e IS NULL FROM unnest($1::text[]) WITH ORDINALITY AS u(e, i) "
      "ORDER BY i",
      values);
  ASSERT_EQ(elements.size(), values.size());
  for (std::size_t element_idx = 0; element_idx < values.size(); ++element_idx) {
    EXPECT_FALSE(elements[element_idx].get<bool>(1)) << values[element_idx];
    EXPECT_EQ(elements[element_idx].get<std::optional<std::string>>(0),
              std::optional<std::string>(values[element_idx]));
  }
}

TEST(pg_pgtest, TextArrayBuiltByServerDecodes) {
  auto pool = dt::make_pool();
  auto row_result =
      pool->exec(R"(SELECT ARRAY['a"b', 'a,b', '{x}', '', 'NULL', 'back\slash', ' pad ',
                                        E'tab\t', 'héllo 世界 🚀']::text[])");
  auto row = row_result.one();
  EXPECT_EQ(row.get<std::vector<std::string>>(0),
            (std::vector<std::string>{"a\"b", "a,b", "{x}", "", "NULL", "back\\slash", " pad ",
                                      "tab\t", "héllo 世界 🚀"}));
}

TEST(pg_pgtest, ScalarArraysRoundTrip) {
  auto pool = dt::make_pool();
  std::vector<std::int64_t> bigints = {std::numeric_limits<std::int64_t>::min(), -1, 0,
                                       std::numeric_limits<std::int64_t>::max()};
  std::vector<std::int32_t> ints = {std::numeric_limits<std::int32_t>::min(), 7};
  std::vector<bool> bools = {true, false, true};
  std::vector<double> doubles = {0.1, -2.5, std::numeric_limits<double>::infinity()};
  std::vector<Timestamp> stamps = {dt::kInstant, Timestamp{}};
  std::vector<nlohmann::json> docs = {{{"a", "b,c"}}, {1, "x\"y"}, nlohmann::json("{}")};
  auto row_result = pool->exec(
      "SELECT $1, $2, $3, $4, $5, $6, pg_typeof($1)::text, ($1)[4], "
      "pg_typeof($6)::text, $6[2] ->> 1",
      bigints, ints, bools, doubles, stamps, docs);
  auto row = row_result.one();
  EXPECT_EQ(row.get<std::vector<std::int64_t>>(0), bigints);
  EXPECT_EQ(row.get<std::vector<std::int32_t>>(1), ints);
  EXPECT_EQ(row.get<std::vector<bool>>(2), bools);
  EXPECT_EQ(row.get<std::vector<double>>(3), doubles);
  EXPECT_EQ(row.get<std::vector<Timestamp>>(4), stamps);
  EXPECT_EQ(row.get<std::vector<nlohmann::json>>(5), docs);
  EXPECT_EQ(row.get<std::string>(6), "bigint[]");
  EXPECT_EQ(row.get<std::int64_t>(7), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(row.get<std::string>(8), "jsonb[]");
  EXPECT_EQ(row.get<std::string>(9), "x\"y");
}

// Array parameters go in the binary array format: the edges of each element type, as
// the server reads them (compared in SQL with the same values written as literals).
TEST(pg_pgtest, BinaryArrayParametersKeepTheirEdges) {
  auto pool = dt::make_pool();
  using namespace std::chrono;
  const Timestamp before_2000 = sys_days{year{1969} / 7 / 20} + 20h + 17min + 40s + 500ms;
  std::vector<Timestamp> stamps = {Timestamp::min(), before_2000, dt::kInstant, Timestamp::max()};
  std::vector<std::int16_t> smallints = {std::numeric_limits<std::int16_t>::min(), -1,
                                         std::numeric_limits<std::int16_t>::max()};
  std::vector<double> doubles = {-0.0, std::numeric_limits<double>::quiet_NaN(),
                                 -std::numeric_limits<double>::infinity(), 1e-300};
  std::vector<std::optional<std::int64_t>> with_nulls = {std::nullopt, 42, std::nullopt};
  auto row_result = pool->exec(
      "SELECT $1::timestamptz[] = ARRAY['-infinity', '1969-07-20 20:17:40.5+00', "
      "'2026-11-28 00:27:28.123456+00', 'infinity']::timestamptz[], "
      "$2::smallint[] = '{-32768,-1,32767}'::smallint[], ($3::float8[])::text, "
      "($4::bigint[])::text, array_position($4, 42), pg_typeof($1)::text",
      stamps, smallints, doubles, with_nulls);
  auto row = row_result.one();
  EXPECT_TRUE(row.get<bool>(0));
  EXPECT_TRUE(row.get<bool>(1));
  EXPECT_EQ(row.get<std::string>(2), "{-0,NaN,-Infinity,1e-300}");
  EXPECT_EQ(row.get<std::string>(3), "{NULL,42,NULL}");
  EXPECT_EQ(row.get<std::int32_t>(4), 2);
  EXPECT_EQ(row.get<std::string>(5), "timestamp with time zone[]");
}

// A time far before PostgreSQL's range (but not -infinity) is refused as out of range,
// not wrapped around into some other time.
TEST(pg_pgtest, BinaryTimestampBeyondTheRangeIsRefused) {
  auto pool = dt::make_pool();
  const std::vector<Timestamp> stamps = {Timestamp::min() + std::chrono::microseconds(1)};
  auto error =
      expect_database_error([&] { pool->exec("SELECT cardinality($1::timestamptz[])", stamps); });
  EXPECT_EQ(error.sqlstate(), "22008") << error.what();
}

// A text element that is not UTF-8 is refused by the server with a specific error, as in
// a text literal; nothing is cut at a NUL byte either.
TEST(pg_pgtest, BinaryTextArrayElementsAreCheckedByTheServer) {
  auto pool = dt::make_pool();
  auto bad_utf8 = expect_database_error([&] {
    pool->exec("SELECT cardinality($1::text[])", std::vector<std::string>{"ok", "\xff\xfe"});
  });
  EXPECT_EQ(bad_utf8.sqlstate(), "22021") << bad_utf8.what();
  auto nul = expect_database_error([&] {
    pool->exec("SELECT cardinality($1::text[])", std::vector<std::string>{std::string("a\0b", 3)});
  });
  EXPECT_EQ(nul.sqlstate(), "22021") << nul.what();
}

TEST(pg_pgtest, EmptyArraysRoundTrip) {
  auto pool = dt::make_pool();
  auto row_result = pool->exec("SELECT $1, cardinality($1), $2, cardinality($2), '{}'::text[]",
                               std::vector<std::string>{}, std::vector<std::int64_t>{});
  auto row = row_result.one();
  EXPECT_TRUE(row.get<std::vector<std::string>>(0).empty());
  EXPECT_EQ(row.get<std::int32_t>(1), 0);
  EXPECT_TRUE(row.get<std::vector<std::int64_t>>(2).empty());
  EXPECT_EQ(row.get<std::int32_t>(3), 0);
  EXPECT_TRUE(row.get<std::vector<std::string>>(4).empty());
}

TEST(pg_pgtest, ArrayWithNullElementDoesNotDecode) {
  auto pool = dt::make_pool();
  auto row_result = pool->exec("SELECT ARRAY[1, NULL]::bigint[]");
  auto row = row_result.one();
  auto error = expect_database_error([&] { row.get<std::vector<std::int64_t>>(0); });
  EXPECT_EQ(error.kind(), DatabaseErrorKind::bad_input);
}

TEST(pg_pgtest, OptionalNullInAndOut) {
  auto pool = dt::make_pool();
  auto row_result = pool->exec(
      "SELECT $1 AS v, $1 IS NULL AS is_null, pg_typeof($1)::text AS type, "
      "$2::text IS NULL AS bare_null, $3 AS present, $4::text IS NULL AS text_null, "
      "$5 IS NULL AS bytes_null, pg_typeof($5)::text AS bytes_type",
      std::optional<std::int64_t>{}, std::nullopt, std::optional<std::int64_t>{5},
      std::optional<std::string>{}, std::optional<Bytes>{});
  auto row = row_result.one();
  EXPECT_TRUE(row.is_null(0));
  EXPECT_EQ(row.get<std::optional<std::int64_t>>("v"), std::nullopt);
  EXPECT_TRUE(row.get<bool>("is_null"));
  EXPECT_EQ(row.get<std::string>("type"), "bigint");
  EXPECT_TRUE(row.get<bool>("bare_null"));
  EXPECT_EQ(row.get<std::optional<std::int64_t>>("present"), std::optional<std::int64_t>{5});
  EXPECT_TRUE(row.get<bool>("text_null"));
  EXPECT_TRUE(row.get<bool>("bytes_null"));
  EXPECT_EQ(row.get<std::string>("bytes_type"), "bytea");

  auto error = expect_database_error([&] { row.get<std::int64_t>("v"); });
  EXPECT_EQ(error.kind(), DatabaseErrorKind::bad_input);
  EXPECT_EQ(row.get<std::optional<std::string>>("v"), std::nullopt);
  EXPECT_EQ(row.get<std::optional<Timestamp>>("v"), std::nullopt);
}

TEST(pg_pgtest, NullsOfEveryTypeComeBackAsNullopt) {
  auto pool = dt::make_pool();
  auto row_result = pool->exec(
      "SELECT NULL::text, NULL::bool, NULL::int2, NULL::int4, NULL::float8, "
      "NULL::timestamptz, NULL::jsonb, NULL::bytea, NULL::text[], ''::text");
  auto row = row_result.one();
  EXPECT_EQ(row.get<std::optional<std::string>>(0), std::nullopt);
  EXPECT_EQ(row.get<std::optional<bool>>(1), std::nullopt);
  EXPECT_EQ(row.get<std::optional<std::int16_t>>(2), std::nullopt);
  EXPECT_EQ(row.get<std::optional<std::int32_t>>(3), std::nullopt);
  EXPECT_EQ(row.get<std::optional<double>>(4), std::nullopt);
  EXPECT_EQ(row.get<std::optional<Timestamp>>(5), std::nullopt);
  EXPECT_EQ(row.get<std::optional<nlohmann::json>>(6), std::nullopt);
  EXPECT_EQ(row.get<std::optional<Bytes>>(7), std::nullopt);
  EXPECT_EQ(row.get<std::optional<std::vector<std::string>>>(8), std::nullopt);
  // The empty string is not NULL.
  EXPECT_FALSE(row.is_null(9));
  EXPECT_EQ(row.get<std::optional<std::string>>(9), std::optional<std::string>(""));
  for (int column = 0; column < 9; ++column) {
    EXPECT_TRUE(row.is_null(column)) << column;
  }
}

// ---- Row and Result ------------------------------------------------------------------

TEST(pg_pgtest, RowGetByColumnName) {
  auto pool = dt::make_pool();
  auto result = pool->exec("SELECT 1::int4 AS a, 'x'::text AS b, NULL::int8 AS c");
  auto row_result = result;
  auto row = row_result.one();
  EXPECT_EQ(row.columns(), 3);
  EXPECT_EQ(row.column_index("b"), 1);
  EXPECT_EQ(row.get<std::int32_t>("a"), 1);
  EXPECT_EQ(row.get<std::string>("b"), "x");
  EXPECT_EQ(row.text(1), "x");
  EXPECT_EQ(row.get<std::optional<std::int64_t>>("c"), std::nullopt);
  EXPECT_THROW(row.get<std::int32_t>("missing"), std::out_of_range);
  EXPECT_THROW(row.column_index("missing"), std::out_of_range);
  EXPECT_THROW(row.get<std::int32_t>(3), std::out_of_range);
  EXPECT_THROW(row.get<std::int32_t>(-1), std::out_of_range);
}

TEST(pg_pgtest, ResultRowsAndIteration) {
  auto pool = dt::make_pool();
  auto result = pool->exec("SELECT g FROM generate_series(1, 5) AS g ORDER BY g");
  ASSERT_EQ(result.size(), 5U);
  EXPECT_FALSE(result.empty());
  std::int64_t sum = 0;
  std::size_t rows = 0;
  for (auto row : result) {
    sum += row.get<std::int32_t>(0);
    ++rows;
  }
  EXPECT_EQ(rows, 5U);
  EXPECT_EQ(sum, 15);
  EXPECT_EQ(result[4].get<std::int32_t>("g"), 5);
  EXPECT_THROW(result[5], std::out_of_range);
  EXPECT_EQ(result.one().get<std::int32_t>(0), 1);
}

TEST(pg_pgtest, ResultOneThrowsNotFoundWhenEmpty) {
  auto pool = dt::make_pool();
  auto result = pool->exec("SELECT 1 WHERE false");
  EXPECT_TRUE(result.empty());
  EXPECT_EQ(result.size(), 0U);
  EXPECT_THROW(result.one(), delta::NotFound);
  EXPECT_TRUE(result.begin() == result.end());
}

TEST(pg_pgtest, AffectedRows) {
  Scratch scratch;
  auto& pool = scratch.pool();
  pool.exec("CREATE TABLE " + scratch.table("items") + " (id bigint PRIMARY KEY, n int NOT NULL)");
  auto inserted = pool.exec("INSERT INTO " + scratch.table("items") +
                            " SELECT g, g % 2 FROM generate_series(1, 5) AS g");
  EXPECT_EQ(inserted.affected_rows(), 5);
  auto updated = pool.exec("UPDATE " + scratch.table("items") + " SET n = n + 10 WHERE n = $1",
                           std::int32_t{1});
  EXPECT_EQ(updated.affected_rows(), 3);
  EXPECT_TRUE(updated.empty());
  auto none = pool.exec("UPDATE " + scratch.table("items") + " SET n = 0 WHERE id < 0");
  EXPECT_EQ(none.affected_rows(), 0);
  auto deleted = pool.exec("DELETE FROM " + scratch.table("items") + " WHERE id <= 2");
  EXPECT_EQ(deleted.affected_rows(), 2);
  auto returning = pool.exec("UPDATE " + scratch.table("items") + " SET n = 1 RETURNING id");
  EXPECT_EQ(returning.affected_rows(), 3);
  EXPECT_EQ(returning.size(), 3U);
  EXPECT_EQ(pool.exec("SELECT * FROM " + scratch.table("items")).affected_rows(), 0);
}

// ---- transactions ---------------------------------------------------------------------

TEST(pg_pgtest, TransactionCommitMakesRowsVisible) {
  Scratch scratch;
  auto& pool = scratch.pool();
  pool.exec("CREATE TABLE " + scratch.table("t") + " (id bigint PRIMARY KEY)");
  auto tx = pool.begin();
  EXPECT_TRUE(tx.active());
  tx.exec("INSERT INTO " + scratch.table("t") + " VALUES ($1)", std::int64_t{1});
  // Not visible to other connections before commit.
  EXPECT_EQ(scratch.count("t"), 0);
  EXPECT_EQ(tx.exec("SELECT count(*) FROM " + scratch.table("t")).one().get<std::int64_t>(0), 1);
  tx.commit();
  EXPECT_FALSE(tx.active());
  EXPECT_EQ(scratch.count("t"), 1);
}

TEST(pg_pgtest, TransactionRollsBackOnDestruction) {
  Scratch scratch;
  auto& pool = scratch.pool();
  pool.exec("CREATE TABLE " + scratch.table("t") + " (id bigint PRIMARY KEY)");
  {
    auto tx = pool.begin();
    tx.exec("INSERT INTO " + scratch.table("t") + " VALUES ($1)", std::int64_t{1});
    EXPECT_EQ(tx.exec("SELECT count(*) FROM " + scratch.table("t")).one().get<std::int64_t>(0), 1);
  }
  EXPECT_EQ(scratch.count("t"), 0);
  EXPECT_EQ(pool.stats().in_use, 0U);
}

TEST(pg_pgtest, TransactionRollsBackOnException) {
  Scratch scratch;
  auto& pool = scratch.pool();
  pool.exec("CREATE TABLE " + scratch.table("t") + " (id bigint PRIMARY KEY)");
  EXPECT_THROW(
      {
        auto tx = pool.begin();
        tx.exec("INSERT INTO " + scratch.table("t") + " VALUES ($1)", std::int64_t{1});
        throw std::runtime_error("application failure");
      },
      std::runtime_error);
  EXPECT_EQ(scratch.count("t"), 0);
}

TEST(pg_pgtest, TransactionExplicitRollback) {
  Scratch scratch;
  auto& pool = scratch.pool();
  pool.exec("CREATE TABLE " + scratch.table("t") + " (id bigint PRIMARY KEY)");
  auto tx = pool.begin();
  tx.exec("INSERT INTO " + scratch.table("t") + " VALUES (1)");
  tx.rollback();
  EXPECT_FALSE(tx.active());
  tx.rollback();  // a second rollback is harmless
  EXPECT_EQ(scratch.count("t"), 0);
}

TEST(pg_pgtest, TransactionMovedCommitsOnce) {
  Scratch scratch;
  auto& pool = scratch.pool();
  pool.exec("CREATE TABLE " + scratch.table("t") + " (id bigint PRIMARY KEY)");
  {
    auto tx = pool.begin();
    tx.exec("INSERT INTO " + scratch.table("t") + " VALUES (1)");
    Transaction moved(std::move(tx));
    moved.exec("INSERT INTO " + scratch.table("t") + " VALUES (2)");
    moved.commit();
  }  // the moved-from transaction is destroyed here and must do nothing
  EXPECT_EQ(scratch.count("t"), 2);
  EXPECT_EQ(pool.stats().in_use, 0U);
}

TEST(pg_pgtest, SavepointRollbackTo) {
  Scratch scratch;
  auto& pool = scratch.pool();
  pool.exec("CREATE TABLE " + scratch.table("t") + " (id bigint PRIMARY KEY)");
  auto tx = pool.begin();
  tx.exec("INSERT INTO " + scratch.table("t") + " VALUES (1)");
  tx.savepoint("before_two");
  tx.exec("INSERT INTO " + scratch.table("t") + " VALUES (2)");
  tx.rollback_to("before_two");
  tx.exec("INSERT INTO " + scratch.table("t") + " VALUES (3)");
  tx.savepoint("before_four");
  tx.exec("INSERT INTO " + scratch.table("t") + " VALUES (4)");
  tx.release_savepoint("before_four");
  tx.commit();
  auto ids = pool.exec("SELECT id FROM " + scratch.table("t") + " ORDER BY id");
  ASSERT_EQ(ids.size(), 3U);
  EXPECT_EQ(ids[0].get<std::int64_t>(0), 1);
  EXPECT_EQ(ids[1].get<std::int64_t>(0), 3);
  EXPECT_EQ(ids[2].get<std::int64_t>(0), 4);
}

TEST(pg_pgtest, SavepointRecoversFromError) {
  Scratch scratch;
  auto& pool = scratch.pool();
  pool.exec("CREATE TABLE " + scratch.table("t") + " (id bigint PRIMARY KEY)");
  auto tx = pool.begin();
  tx.exec("INSERT INTO " + scratch.table("t") + " VALUES (1)");
  tx.savepoint("attempt");
  auto error =
      expect_database_error([&] { tx.exec("INSERT INTO " + scratch.table("t") + " VALUES (1)"); });
  EXPECT_EQ(error.sqlstate(), "23505");
  tx.rollback_to("attempt");
  tx.exec("INSERT INTO " + scratch.table("t") + " VALUES (2)");
  tx.commit();
  EXPECT_EQ(scratch.count("t"), 2);
}

TEST(pg_pgtest, CommitAfterFailedStatementThrowsAndRollsBack) {
  // COMMIT of an aborted transaction is answered with ROLLBACK, not an error; commit()
  // must not report success.
  Scratch scratch;
  auto& pool = scratch.pool();
  pool.exec("CREATE TABLE " + scratch.table("t") + " (id bigint PRIMARY KEY)");
  auto tx = pool.begin();
  tx.exec("INSERT INTO " + scratch.table("t") + " VALUES (1)");
  EXPECT_THROW(tx.exec("SELECT 1/0"), DatabaseError);
  EXPECT_THROW(tx.commit(), DatabaseError);
  EXPECT_FALSE(tx.active());
  EXPECT_EQ(scratch.count("t"), 0);
}

TEST(pg_pgtest, CommitReportsDeferredConstraintViolation) {
  Scratch scratch;
  auto& pool = scratch.pool();
  pool.exec("CREATE TABLE " + scratch.table("t") +
            " (id bigint, CONSTRAINT t_id_deferred UNIQUE (id) DEFERRABLE INITIALLY DEFERRED)");
  auto tx = pool.begin();
  tx.exec("INSERT INTO " + scratch.table("t") + " VALUES (1)");
  tx.exec("INSERT INTO " + scratch.table("t") + " VALUES (1)");
  auto error = expect_database_error([&] { tx.commit(); });
  EXPECT_EQ(error.sqlstate(), "23505");
  EXPECT_EQ(error.kind(), DatabaseErrorKind::unique_violation);
  EXPECT_EQ(error.constraint(), "t_id_deferred");
  EXPECT_FALSE(tx.active());
  EXPECT_EQ(scratch.count("t"), 0);
}

// ---- errors ---------------------------------------------------------------------------

TEST(pg_pgtest, UniqueViolation) {
  Scratch scratch;
  auto& pool = scratch.pool();
  pool.exec("CREATE TABLE " + scratch.table("users") +
            " (id bigint PRIMARY KEY, email text CONSTRAINT users_email_key UNIQUE)");
  pool.exec("INSERT INTO " + scratch.table("users") + " VALUES (1, $1)", "a@example.com");
  auto error = expect_database_error([&] {
    pool.exec("INSERT INTO " + scratch.table("users") + " VALUES (2, $1)", "a@example.com");
  });
  EXPECT_EQ(error.sqlstate(), "23505");
  EXPECT_EQ(error.kind(), DatabaseErrorKind::unique_violation);
  EXPECT_EQ(error.constraint(), "users_email_key");
  EXPECT_NE(error.detail().find("a@example.com"), std::string::npos) << error.detail();
  EXPECT_FALSE(error.retryable());
  // The pool is fine afterwards.
  EXPECT_EQ(scratch.count("users"), 1);
}

TEST(pg_pgtest, OtherConstraintViolations) {
  Scratch scratch;
  auto& pool = scratch.pool();
  pool.exec("CREATE TABLE " + scratch.table("parent") + " (id bigint PRIMARY KEY)");
  pool.exec("CREATE TABLE " + scratch.table("child") + " (id bigint NOT NULL, parent bigint " +
            "CONSTRAINT child_parent_fkey REFERENCES " + scratch.table("parent") +
            ", n int CONSTRAINT child_n_positive CHECK (n > 0))");
  auto fk = expect_database_error(
      [&] { pool.exec("INSERT INTO " + scratch.table("child") + " VALUES (1, 42, 1)"); });
  EXPECT_EQ(fk.sqlstate(), "23503");
  EXPECT_EQ(fk.kind(), DatabaseErrorKind::constraint);
  EXPECT_EQ(fk.constraint(), "child_parent_fkey");
  auto check = expect_database_error(
      [&] { pool.exec("INSERT INTO " + scratch.table("child") + " VALUES (1, NULL, -1)"); });
  EXPECT_EQ(check.sqlstate(), "23514");
  EXPECT_EQ(check.kind(), DatabaseErrorKind::constraint);
  EXPECT_EQ(check.constraint(), "child_n_positive");
  auto not_null = expect_database_error(
      [&] { pool.exec("INSERT INTO " + scratch.table("child") + " VALUES (NULL, NULL, 1)"); });
  EXPECT_EQ(not_null.sqlstate(), "23502");
  EXPECT_EQ(not_null.kind(), DatabaseErrorKind::constraint);
}

TEST(pg_pgtest, SyntaxError) {
  auto pool = dt::make_pool();
  auto error = expect_database_error([&] { pool->exec("SELEC 1"); });
  EXPECT_EQ(error.sqlstate(), "42601");
  EXPECT_EQ(error.kind(), DatabaseErrorKind::bad_input);
  EXPECT_FALSE(error.retryable());
  EXPECT_NE(std::string(error.what()).find("syntax error"), std::string::npos) << error.what();
  EXPECT_EQ(pool->exec("SELECT 1").one().get<std::int32_t>(0), 1);
}

TEST(pg_pgtest, UndefinedTableIsBadInput) {
  auto pool = dt::make_pool();
  auto error = expect_database_error([&] { pool->exec("SELECT * FROM no_such_table_pgtest"); });
  EXPECT_EQ(error.sqlstate(), "42P01");
  EXPECT_EQ(error.kind(), DatabaseErrorKind::bad_input);
}

TEST(pg_pgtest, DivisionByZero) {
  auto pool = dt::make_pool();
  auto error = expect_database_error([&] { pool->exec("SELECT $1::int / 0", std::int32_t{1}); });
  EXPECT_EQ(error.sqlstate(), "22012");
  EXPECT_EQ(error.kind(), DatabaseErrorKind::bad_input);
  EXPECT_NE(std::string(error.what()).find("division by zero"), std::string::npos) << error.what();
}

TEST(pg_pgtest, InvalidTextRepresentation) {
  auto pool = dt::make_pool();
  auto error = expect_database_error([&] { pool->exec("SELECT $1::int", "not a number"); });
  EXPECT_EQ(error.sqlstate(), "22P02");
  EXPECT_EQ(error.kind(), DatabaseErrorKind::bad_input);
}

TEST(pg_pgtest, StatementTimeoutIsQueryCanceled) {
  auto pool = dt::make_pool({.statement_timeout = 100ms});
  EXPECT_EQ(pool->exec("SHOW statement_timeout").one().get<std::string>(0), "100ms");
  auto start = Clock::now();
  auto error = expect_database_error([&] { pool->exec("SELECT pg_sleep(2)"); });
  auto elapsed = Clock::now() - start;
  EXPECT_EQ(error.sqlstate(), "57014");
  EXPECT_EQ(error.kind(), DatabaseErrorKind::query_canceled);
  EXPECT_LT(elapsed, 1500ms);
  EXPECT_EQ(pool->exec("SELECT 1").one().get<std::int32_t>(0), 1);
}

TEST(pg_pgtest, ApplicationNameIsReported) {
  auto pool = dt::make_pool({.application_name = "delta-pgtest-app"});
  EXPECT_EQ(pool->exec("SELECT current_setting('application_name')").one().get<std::string>(0),
            "delta-pgtest-app");
}

// ---- pool -----------------------------------------------------------------------------

TEST(pg_pgtest, PoolExhaustionTimesOut) {
  auto pool = dt::make_pool({.max_connections = 2, .acquire_timeout = 200ms});
  auto first = pool->acquire();
  auto second = pool->acquire();
  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  EXPECT_NE(first->backend_pid(), second->backend_pid());
  EXPECT_EQ(pool->stats().in_use, 2U);

  auto start = Clock::now();
  try {
    auto third = pool->acquire();
    ADD_FAILURE() << "acquire on an exhausted pool succeeded";
  } catch (const delta::PoolTimeoutError& e) {
    auto elapsed = Clock::now() - start;
    EXPECT_GE(elapsed, 150ms);
    EXPECT_LT(elapsed, 2s);
    EXPECT_NE(std::string(e.what()).find('2'), std::string::npos) << e.what();
    EXPECT_EQ(e.kind(), DatabaseErrorKind::pool_timeout);
    EXPECT_TRUE(e.sqlstate().empty());
  }
  EXPECT_EQ(pool->stats().timeouts, 1U);
  EXPECT_EQ(pool->stats().open, 2U);
  EXPECT_THROW(pool->begin(), delta::PoolTimeoutError);
  EXPECT_THROW(pool->exec("SELECT 1"), delta::PoolTimeoutError);

  second.release();
  EXPECT_FALSE(second);
  EXPECT_EQ(pool->exec("SELECT 1").one().get<std::int32_t>(0), 1);
}

TEST(pg_pgtest, AcquireWithExplicitTimeout) {
  auto pool = dt::make_pool({.max_connections = 1, .acquire_timeout = 5s});
  auto held = pool->acquire();
  auto start = Clock::now();
  EXPECT_THROW(pool->acquire(50ms), delta::PoolTimeoutError);
  auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 40ms);
  EXPECT_LT(elapsed, 2s);
}

TEST(pg_pgtest, WaiterGetsReleasedConnection) {
  auto pool = dt::make_pool({.max_connections = 1, .acquire_timeout = 5s});
  auto held = pool->acquire();
  int held_pid = held->backend_pid();

  std::atomic<int> waiter_pid{0};
  std::atomic<bool> waiter_failed{false};
  auto start = Clock::now();
  std::thread waiter([&] {
    try {
      auto conn = pool->acquire();
      waiter_pid = backend_pid_of(*conn);
    } catch (const std::exception&) {
      waiter_failed = true;
    }
  });
  bool waiting = dt::eventually([&] { return pool->stats().waiting == 1; }, 3s);
  held.release();
  waiter.join();
  auto elapsed = Clock::now() - start;
  EXPECT_TRUE(waiting);
  EXPECT_FALSE(waiter_failed);
  EXPECT_EQ(waiter_pid, held_pid);
  EXPECT_LT(elapsed, 4s);
  EXPECT_EQ(pool->stats().waiting, 0U);
  EXPECT_EQ(pool->stats().timeouts, 0U);
}

TEST(pg_pgtest, ConcurrentUseStaysWithinBounds) {
  auto pool = dt::make_pool({.max_connections = 3, .acquire_timeout = 5s});
  std::atomic<int> failures{0};
  std::atomic<std::int64_t> sum{0};
  std::vector<std::thread> threads;
  for (int thread_idx = 0; thread_idx < 8; ++thread_idx) {
    threads.emplace_back([&, thread_idx] {
      for (int query_idx = 0; query_idx < 25; ++query_idx) {
        try {
          sum +=
              pool->exec("SELECT $1::bigint", std::int64_t{thread_idx}).one().get<std::int64_t>(0);
        } catch (const std::exception&) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(sum, 25 * (0 + 1 + 2 + 3 + 4 + 5 + 6 + 7));
  auto stats = pool->stats();
  EXPECT_LE(stats.open, 3U);
  EXPECT_LE(stats.created, 3U);
  EXPECT_EQ(stats.in_use, 0U);
}

TEST(pg_pgtest, KilledIdleConnectionIsReplaced) {
  auto pool = dt::make_pool({.max_connections = 1});
  auto killer = dt::make_pool();
  auto old_pid = pool->exec("SELECT pg_backend_pid()").one().get<std::int32_t>(0);
  auto before = pool->stats();
  dt::terminate_backend(*killer, old_pid);

  auto new_pid = pool->exec("SELECT pg_backend_pid()").one().get<std::int32_t>(0);
  EXPECT_NE(new_pid, old_pid);
  auto after = pool->stats();
  EXPECT_EQ(after.created, before.created + 1);
  EXPECT_EQ(after.discarded, before.discarded + 1);
  EXPECT_EQ(after.open, 1U);
}

TEST(pg_pgtest, KilledConnectionInUseFailsThenPoolRecovers) {
  auto pool = dt::make_pool({.max_connections = 1});
  auto killer = dt::make_pool();
  auto before = pool->stats();
  {
    auto conn = pool->acquire();
    int pid = conn->backend_pid();
    EXPECT_EQ(backend_pid_of(*conn), pid);
    dt::terminate_backend(*killer, pid);
    auto error = expect_database_error([&] { conn->exec("SELECT 1"); });
    EXPECT_EQ(error.kind(), DatabaseErrorKind::connection)
        << error.sqlstate() << " " << error.what();
    EXPECT_TRUE(error.retryable());
    EXPECT_TRUE(conn->broken());
  }
  EXPECT_EQ(pool->exec("SELECT 1").one().get<std::int32_t>(0), 1);
  auto after = pool->stats();
  EXPECT_EQ(after.discarded, before.discarded + 1);
  EXPECT_EQ(after.created, before.created + 1);
}

TEST(pg_pgtest, KilledConnectionInTransactionFails) {
  auto pool = dt::make_pool({.max_connections = 1});
  auto killer = dt::make_pool();
  {
    auto tx = pool->begin();
    auto pid = tx.exec("SELECT pg_backend_pid()").one().get<std::int32_t>(0);
    dt::terminate_backend(*killer, pid);
    auto error = expect_database_error([&] { tx.exec("SELECT 1"); });
    EXPECT_EQ(error.kind(), DatabaseErrorKind::connection);
  }  // rollback on a dead connection must not throw
  EXPECT_EQ(pool->exec("SELECT 1").one().get<std::int32_t>(0), 1);
}

TEST(pg_pgtest, StatsCountConnections) {
  auto pool = dt::make_pool({.max_connections = 3});
  auto initial = pool->stats();
  EXPECT_EQ(initial.created, 1U);
  EXPECT_EQ(initial.open, 1U);
  EXPECT_EQ(initial.idle, 1U);
  EXPECT_EQ(initial.in_use, 0U);
  EXPECT_EQ(initial.waiting, 0U);
  EXPECT_EQ(initial.discarded, 0U);
  EXPECT_EQ(initial.timeouts, 0U);
  {
    auto first = pool->acquire();
    auto second = pool->acquire();
    auto busy = pool->stats();
    EXPECT_EQ(busy.in_use, 2U);
    EXPECT_EQ(busy.idle, 0U);
    EXPECT_EQ(busy.open, 2U);
    EXPECT_EQ(busy.created, 2U);
  }
  auto idle = pool->stats();
  EXPECT_EQ(idle.in_use, 0U);
  EXPECT_EQ(idle.idle, 2U);
  EXPECT_EQ(idle.open, 2U);
  EXPECT_EQ(idle.created, 2U);
  // Reuse does not open more connections.
  for (int query_idx = 0; query_idx < 5; ++query_idx) {
    pool->exec("SELECT 1");
  }
  EXPECT_EQ(pool->stats().created, 2U);
  EXPECT_EQ(pool->stats().discarded, 0U);
}

// True when `conn` is not inside a transaction left over by an earlier borrower: no open
// transaction block, no transaction id assigned, and no SET LOCAL still in force.
void expect_fresh_session(delta::pg::Connection& conn) {
  EXPECT_FALSE(conn.in_transaction());
  EXPECT_FALSE(conn.transaction_failed());
  auto state = conn.exec(
      "SELECT pg_current_xact_id_if_assigned() IS NULL, current_setting('application_name')");
  auto row = state.one();
  EXPECT_TRUE(row.get<bool>(0)) << "a transaction with an xid is still open";
  EXPECT_NE(row.get<std::string>(1), "leaked-transaction");
  EXPECT_FALSE(conn.in_transaction());
}

TEST(pg_pgtest, ConnectionReturnedMidTransactionDoesNotLeak) {
  Scratch scratch;
  scratch.pool().exec("CREATE TABLE " + scratch.table("t") + " (id bigint PRIMARY KEY)");
  auto pool = dt::make_pool({.max_connections = 1});
  {
    auto conn = pool->acquire();
    conn->exec("BEGIN");
    conn->exec("SET LOCAL application_name = 'leaked-transaction'");
    conn->exec("INSERT INTO " + scratch.table("t") + " VALUES (1)");
    EXPECT_TRUE(conn->in_transaction());
    conn.release();
  }
  auto next = pool->acquire();
  expect_fresh_session(*next);
  // The borrower's own statements commit on their own.
  next->exec("INSERT INTO " + scratch.table("t") + " VALUES (2)");
  next.release();
  auto ids = scratch.pool().exec("SELECT id FROM " + scratch.table("t"));
  ASSERT_EQ(ids.size(), 1U);
  EXPECT_EQ(ids.one().get<std::int64_t>(0), 2);
  EXPECT_EQ(pool->stats().open, 1U);
}

TEST(pg_pgtest, ConnectionReturnedInFailedTransactionDoesNotLeak) {
  auto pool = dt::make_pool({.max_connections = 1});
  {
    auto conn = pool->acquire();
    conn->exec("BEGIN");
    conn->exec("SET LOCAL application_name = 'leaked-transaction'");
    EXPECT_THROW(conn->exec("SELECT 1/0"), DatabaseError);
    EXPECT_TRUE(conn->in_transaction());
    EXPECT_TRUE(conn->transaction_failed());
  }  // returned by the destructor
  auto next = pool->acquire();
  expect_fresh_session(*next);
  EXPECT_EQ(next->exec("SELECT 1").one().get<std::int32_t>(0), 1);
}

TEST(pg_pgtest, IdleConnectionOlderThanMaxIdleIsReplaced) {
  auto pool = dt::make_pool({.max_connections = 1, .max_idle = 50ms});
  auto old_pid = pool->exec("SELECT pg_backend_pid()").one().get<std::int32_t>(0);
  std::this_thread::sleep_for(120ms);  // let the idle connection expire
  auto new_pid = pool->exec("SELECT pg_backend_pid()").one().get<std::int32_t>(0);
  EXPECT_NE(new_pid, old_pid);
}

// ---- connections ------------------------------------------------------------------------

TEST(pg_pgtest, JitIsOffUnlessThePoolTurnsItOn) {
  auto server_default = dt::make_pool({.max_connections = 1, .jit = true});
  const auto server_setting = server_default->exec("SHOW jit").one().get<std::string>(0);
  auto pool = dt::make_pool({.max_connections = 1});
  EXPECT_EQ(pool->exec("SHOW jit").one().get<std::string>(0), "off");
  auto reset = server_default->exec("SELECT reset_val FROM pg_settings WHERE name = 'jit'");
  EXPECT_EQ(server_setting, reset.one().get<std::string>(0));
}

TEST(pg_pgtest, PreparedStatements) {
  auto pool = dt::make_pool({.max_connections = 1});
  auto conn = pool->acquire();
  Statement add_one{"pgtest_add_one", "SELECT $1::bigint + 1"};
  Statement shout{"pgtest_shout", "SELECT upper($1::text) || '!'"};
  EXPECT_EQ(conn->exec_prepared(add_one, Params(std::int64_t{41})).one().get<std::int64_t>(0), 42);
  EXPECT_EQ(conn->exec_prepared(add_one, Params(std::int64_t{-1})).one().get<std::int64_t>(0), 0);
  EXPECT_EQ(conn->exec_prepared(shout, Params(std::string("héllo"))).one().get<std::string>(0),
            "HÉLLO!");
  EXPECT_EQ(conn->exec_prepared(shout, Params(std::string("x"))).one().get<std::string>(0), "X!");
  auto prepared = conn->exec(
      "SELECT name, statement FROM pg_prepared_statements WHERE name = ANY($1) ORDER BY name",
      Params(std::vector<std::string>{"pgtest_add_one", "pgtest_shout"}));
  ASSERT_EQ(prepared.size(), 2U);
  EXPECT_EQ(prepared[0].get<std::string>("name"), "pgtest_add_one");
  EXPECT_EQ(prepared[0].get<std::string>("statement"), add_one.sql);
  EXPECT_EQ(prepared[1].get<std::string>("name"), "pgtest_shout");
}

TEST(pg_pgtest, PreparedStatementSurvivesReturnToPool) {
  auto pool = dt::make_pool({.max_connections = 1});
  Statement add_one{"pgtest_add_one", "SELECT $1::bigint + 1"};
  {
    auto conn = pool->acquire();
    EXPECT_EQ(conn->exec_prepared(add_one, Params(std::int64_t{1})).one().get<std::int64_t>(0), 2);
  }
  auto conn = pool->acquire();
  EXPECT_EQ(conn->exec_prepared(add_one, Params(std::int64_t{2})).one().get<std::int64_t>(0), 3);
  EXPECT_EQ(conn->exec("SELECT count(*) FROM pg_prepared_statements WHERE name = $1",
                       Params(std::string("pgtest_add_one")))
                .one()
                .get<std::int64_t>(0),
            1);
}

TEST(pg_pgtest, PreparedStatementWithErrorIsNotRemembered) {
  auto pool = dt::make_pool({.max_connections = 1});
  auto conn = pool->acquire();
  Statement broken{"pgtest_broken", "SELEC $1"};
  auto first = expect_database_error([&] { conn->exec_prepared(broken, Params(std::int64_t{1})); });
  EXPECT_EQ(first.sqlstate(), "42601");
  // Running it again reports the same problem, not "prepared statement does not exist".
  auto second =
      expect_database_error([&] { conn->exec_prepared(broken, Params(std::int64_t{1})); });
  EXPECT_EQ(second.sqlstate(), "42601");
  EXPECT_EQ(conn->exec("SELECT 1").one().get<std::int32_t>(0), 1);
}

TEST(pg_pgtest, PreparedStatementRuntimeErrorKeepsStatement) {
  auto pool = dt::make_pool({.max_connections = 1});
  auto conn = pool->acquire();
  Statement divide{"pgtest_divide", "SELECT 10 / $1::int"};
  EXPECT_EQ(conn->exec_prepared(divide, Params(std::int32_t{2})).one().get<std::int32_t>(0), 5);
  auto error = expect_database_error([&] { conn->exec_prepared(divide, Params(std::int32_t{0})); });
  EXPECT_EQ(error.sqlstate(), "22012");
  EXPECT_EQ(conn->exec_prepared(divide, Params(std::int32_t{5})).one().get<std::int32_t>(0), 2);
}

// When the connection prepared the statement `name` (pg_prepared_statements).
std::string prepare_time(delta::pg::PooledConnection& conn, const std::string& name) {
  return conn
      ->exec("SELECT prepare_time::text FROM pg_prepared_statements WHERE name = $1", Params(name))
      .one()
      .get<std::string>(0);
}

// A cached generic plan made while a table was empty keeps its estimates however much the
// table grows (until ANALYZE); it is replaced once older than the statement's max_plan_age.
TEST(pg_pgtest, PreparedStatementIsPreparedAgainAfterMaxPlanAge) {
  Scratch scratch;
  auto conn = scratch.pool().acquire();
  const auto table = scratch.table("grows");
  conn->exec_script("CREATE TABLE " + table + " (k int) WITH (autovacuum_enabled = false); " +
                    "CREATE INDEX ON " + table + " (k)");
  conn->exec("SET plan_cache_mode = force_generic_plan");
  Statement find{"pgtest_plan_age", "SELECT count(*) FROM " + table + " WHERE k = $1", 500ms};
  auto plan = [&] {
    std::string text;
    for (auto row : conn->exec("EXPLAIN EXECUTE pgtest_plan_age(7)"))
      text += row.get<std::string>(0) + "\n";
    return text;
  };
  auto prepared_at = [&] { return prepare_time(conn, find.name); };
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(conn->exec_prepared(find, Params(std::int32_t{7})).one().get<std::int64_t>(0), 0);
  const auto first_prepared = prepared_at();
  EXPECT_EQ(conn->exec_prepared(find, Params(std::int32_t{7})).one().get<std::int64_t>(0), 0);
  EXPECT_EQ(prepared_at(), first_prepared);  // younger than max_plan_age: kept
  const auto first_plan = plan();
  conn->exec("INSERT INTO " + table + " SELECT g FROM generate_series(1, 200000) g");
  // The cached plan, made for an empty table, usually stays (not asserted: PostgreSQL also
  // drops cached plans when its invalidation queue overflows under concurrent DDL).
  std::this_thread::sleep_until(start + 600ms);  // the age itself is what is tested
  EXPECT_EQ(conn->exec_prepared(find, Params(std::int32_t{7})).one().get<std::int64_t>(0), 1);
  EXPECT_NE(prepared_at(), first_prepared);
  const auto second_plan = plan();
  EXPECT_NE(second_plan, first_plan) << second_plan;  // estimated for 200,000 rows
  // In a failed transaction block the statement is not prepared again: the error is the
  // transaction's, and the connection stays usable after the rollback.
  std::this_thread::sleep_for(600ms);
  conn->exec("BEGIN");
  expect_database_error([&] { conn->exec("SELECT 1/0"); });
  auto aborted = expect_database_error([&] { conn->exec_prepared(find, Params(std::int32_t{7})); });
  EXPECT_EQ(aborted.sqlstate(), "25P02");
  conn->exec("ROLLBACK");
  EXPECT_EQ(conn->exec_prepared(find, Params(std::int32_t{7})).one().get<std::int64_t>(0), 1);
}

// With plan_min_runs an aged plan is replaced only once it ran that many times since it
// was prepared, or once it is kPlanAgeLimit times older than max_plan_age.
TEST(pg_pgtest, AgedPlanIsKeptUntilItRanPlanMinRunsTimes) {
  auto pool = dt::make_pool({.max_connections = 1});
  auto conn = pool->acquire();
  Statement twice{"pgtest_min_runs", "SELECT $1::int + 1", 20ms, 3};
  auto prepared_at = [&] { return prepare_time(conn, twice.name); };
  auto run = [&] {
    EXPECT_EQ(conn->exec_prepared(twice, Params(std::int32_t{1})).one().get<std::int32_t>(0), 2);
  };
  run();  // prepared; 1 run
  const auto first = prepared_at();
  std::this_thread::sleep_for(50ms);  // older than max_plan_age from here on
  run();                              // 2 runs
  run();                              // 3 runs
  EXPECT_EQ(prepared_at(), first) << "aged, but not yet run plan_min_runs times";
  run();  // 3 runs since preparation: prepared again
  const auto second = prepared_at();
  EXPECT_NE(second, first);

  // A statement that rarely runs is still prepared again after kPlanAgeLimit x its age.
  Statement rare{"pgtest_rare", "SELECT $1::int + 2", 20ms, 1000000};
  auto rare_prepared_at = [&] { return prepare_time(conn, rare.name); };
  const auto start = std::chrono::steady_clock::now();
  conn->exec_prepared(rare, Params(std::int32_t{1}));
  const auto rare_first = rare_prepared_at();
  std::this_thread::sleep_for(100ms);
  conn->exec_prepared(rare, Params(std::int32_t{1}));
  EXPECT_EQ(rare_prepared_at(), rare_first);
  std::this_thread::sleep_until(start + Statement::kPlanAgeLimit * 20ms + 100ms);
  conn->exec_prepared(rare, Params(std::int32_t{1}));
  EXPECT_NE(rare_prepared_at(), rare_first);
}

TEST(pg_pgtest, ReplannedStatementIsNeverPrepared) {
  auto pool = dt::make_pool({.max_connections = 1});
  auto conn = pool->acquire();
  Statement add{"pgtest_replanned", "SELECT $1::bigint + 2", {}, 0, true};
  EXPECT_EQ(conn->exec_prepared(add, Params(std::int64_t{1})).one().get<std::int64_t>(0), 3);
  EXPECT_EQ(conn->exec_prepared(add, Params(std::int64_t{2})).one().get<std::int64_t>(0), 4);
  EXPECT_EQ(
      conn->exec("SELECT count(*) FROM pg_prepared_statements WHERE name = $1", Params(add.name))
          .one()
          .get<std::int64_t>(0),
      0);
}

// local_settings hold for the statement's own transaction only; the connection's
// settings are the same before and after. The same for a statement planned at every
// execution (replan), which is never prepared.
TEST(pg_pgtest, LocalSettingsApplyToTheStatementOnly) {
  for (bool replan : {false, true}) {
    SCOPED_TRACE(replan ? "replan" : "prepared");
    auto conn = delta::pg::Connection::open({.url = dt::database_url()});
    Statement show{
        "pgtest_local_settings",
        "SELECT current_setting('plan_cache_mode'), current_setting('synchronous_commit'), "
        "$1::int + 1"};
    show.replan = replan;
    show.local_settings = {{"plan_cache_mode", "force_generic_plan"},
                           {"synchronous_commit", "off"}};
    const auto session = [&] {
      auto row = conn->exec(
                         "SELECT current_setting('plan_cache_mode'), "
                         "current_setting('synchronous_commit')")
                     .one();
      return row.get<std::string>(0) + "/" + row.get<std::string>(1);
    };
    EXPECT_EQ(session(), "auto/on");
    for (std::int32_t n : {1, 2}) {
      auto row = conn->exec_prepared(show, Params(n)).one();
      EXPECT_EQ(row.get<std::string>(0), "force_generic_plan");
      EXPECT_EQ(row.get<std::string>(1), "off");
      EXPECT_EQ(row.get<std::int32_t>(2), n + 1);
      EXPECT_FALSE(conn->in_transaction());
      EXPECT_EQ(session(), "auto/on");
    }
    EXPECT_EQ(
        conn->exec("SELECT count(*) FROM pg_prepared_statements WHERE name = $1", Params(show.name))
            .one()
            .get<std::int64_t>(0),
        replan ? 0 : 1);
    // Inside a transaction block they would outlive the statement: not applied.
    conn->exec("BEGIN");
    auto row = conn->exec_prepared(show, Params(std::int32_t{5})).one();
    EXPECT_EQ(row.get<std::string>(0), "auto");
    EXPECT_EQ(row.get<std::string>(1), "on");
    EXPECT_EQ(session(), "auto/on");
    conn->exec("COMMIT");
  }
}

// A statement with local_settings commits before its rows are returned, and an error
// (in the statement or at its commit) leaves the connection idle and usable.
TEST(pg_pgtest, LocalSettingsStatementCommitsAndReportsErrors) {
  Scratch scratch;
  auto conn = delta::pg::Connection::open({.url = dt::database_url()});
  auto other = delta::pg::Connection::open({.url = dt::database_url()});
  const std::string table = scratch.table("written");
  conn->exec("CREATE TABLE " + table +
             " (n int PRIMARY KEY, m int UNIQUE DEFERRABLE INITIALLY DEFERRED)");
  Statement insert{"pgtest_local_insert",
                   "INSERT INTO " + table + " (n, m) VALUES ($1, $2) RETURNING n * 10"};
  insert.local_settings = {{"synchronous_commit", "off"}};
  EXPECT_EQ(conn->exec_prepared(insert, Params(std::int32_t{1}, std::int32_t{1}))
                .one()
                .get<std::int32_t>(0),
            10);
  // Committed: another session sees the row right away.
  EXPECT_EQ(other->exec("SELECT count(*) FROM " + table).one().get<std::int64_t>(0), 1);
  // An error in the statement itself.
  auto duplicate = expect_database_error(
      [&] { conn->exec_prepared(insert, Params(std::int32_t{1}, std::int32_t{2})); });
  EXPECT_EQ(duplicate.sqlstate(), "23505");
  EXPECT_FALSE(conn->in_transaction());
  // An error at the commit (a deferred unique check): no rows come back.
  auto deferred = expect_database_error(
      [&] { conn->exec_prepared(insert, Params(std::int32_t{2}, std::int32_t{1})); });
  EXPECT_EQ(deferred.sqlstate(), "23505");
  EXPECT_FALSE(conn->in_transaction());
  EXPECT_EQ(other->exec("SELECT count(*) FROM " + table).one().get<std::int64_t>(0), 1);
  // A bad setting name fails the statement before it runs.
  Statement bad{"pgtest_local_bad", "INSERT INTO " + table + " (n, m) VALUES ($1, $1)"};
  bad.local_settings = {{"no_such_setting", "1"}};
  expect_database_error([&] { conn->exec_prepared(bad, Params(std::int32_t{3})); });
  EXPECT_EQ(other->exec("SELECT count(*) FROM " + table).one().get<std::int64_t>(0), 1);
  // The connection is out of pipeline mode and works as before.
  EXPECT_EQ(conn->exec("SELECT 42").one().get<std::int32_t>(0), 42);
  EXPECT_EQ(conn->exec_prepared(insert, Params(std::int32_t{3}, std::int32_t{3}))
                .one()
                .get<std::int32_t>(0),
            30);
}

TEST(pg_pgtest, ExecScriptRunsSeveralStatements) {
  Scratch scratch;
  auto conn = scratch.pool().acquire();
  conn->exec_script("CREATE TABLE " + scratch.table("s") + " (id int); INSERT INTO " +
                    scratch.table("s") + " VALUES (1); INSERT INTO " + scratch.table("s") +
                    " VALUES (2);");
  EXPECT_EQ(conn->exec("SELECT sum(id) FROM " + scratch.table("s")).one().get<std::int64_t>(0), 3);
  auto error = expect_database_error([&] { conn->exec_script("SELECT 1; SELEC 2;"); });
  EXPECT_EQ(error.sqlstate(), "42601");
  EXPECT_FALSE(conn->in_transaction());
  EXPECT_EQ(conn->exec("SELECT 1").one().get<std::int32_t>(0), 1);
}

TEST(pg_pgtest, ConnectionOpenDirectly) {
  auto conn = delta::pg::Connection::open(
      {.url = dt::database_url(), .connect_timeout = 5s, .application_name = "pgtest-direct"});
  EXPECT_FALSE(conn->broken());
  EXPECT_TRUE(conn->check_alive());
  EXPECT_GT(conn->backend_pid(), 0);
  EXPECT_GE(conn->socket(), 0);
  EXPECT_EQ(conn->backend_pid(), backend_pid_of(*conn));
  EXPECT_EQ(conn->exec("SELECT current_setting('application_name')").one().get<std::string>(0),
            "pgtest-direct");
  EXPECT_FALSE(conn->in_transaction());
}

TEST(pg_pgtest, CheckAliveDetectsTerminatedBackend) {
  auto killer = dt::make_pool();
  auto conn = delta::pg::Connection::open({.url = dt::database_url()});
  ASSERT_TRUE(conn->check_alive());
  dt::terminate_backend(*killer, conn->backend_pid());
  EXPECT_TRUE(dt::eventually([&] { return !conn->check_alive(); }, 5s));
}

// ---- Pipeline -------------------------------------------------------------------------

TEST(pg_pgtest, PipelineReturnsResultsInOrderWhileMoreAreInFlight) {
  auto conn = delta::pg::Connection::open({.url = dt::database_url()});
  conn->exec("BEGIN");
  conn->exec("CREATE TEMP TABLE piped (n int)");
  {
    delta::pg::Pipeline pipeline(*conn);
    const std::string insert = "INSERT INTO piped SELECT * FROM unnest($1::int[]) RETURNING n";
    pipeline.send(insert, Params(std::vector<std::int32_t>{1, 2}));
    pipeline.send(insert, Params(std::vector<std::int32_t>{3}));
    EXPECT_EQ(pipeline.in_flight(), 2U);
    auto first = pipeline.receive();
    ASSERT_EQ(first.size(), 2U);
    EXPECT_EQ(first[0].get<std::int32_t>(0), 1);
    EXPECT_EQ(first[1].get<std::int32_t>(0), 2);
    // A statement sent after reading sees the rows of those before it.
    pipeline.send("SELECT count(*) FROM piped", Params());
    EXPECT_EQ(pipeline.receive().one().get<std::int32_t>(0), 3);
    EXPECT_EQ(pipeline.receive().one().get<std::int64_t>(0), 3);
    EXPECT_EQ(pipeline.in_flight(), 0U);
  }
  // Out of pipeline mode, still in the transaction.
  EXPECT_TRUE(conn->in_transaction());
  EXPECT_FALSE(conn->transaction_failed());
  EXPECT_EQ(conn->exec("SELECT sum(n) FROM piped").one().get<std::int64_t>(0), 6);
  conn->exec("COMMIT");
}

TEST(pg_pgtest, PipelineErrorAbortsTheRestAndLeavesTheConnectionUsable) {
  auto conn = delta::pg::Connection::open({.url = dt::database_url()});
  conn->exec("BEGIN");
  {
    delta::pg::Pipeline pipeline(*conn);
    pipeline.send("SELECT 1", Params());
    pipeline.send("SELECT 1 / $1::int", Params(std::int32_t{0}));
    pipeline.send("SELECT 3", Params());
    EXPECT_EQ(pipeline.receive().one().get<std::int32_t>(0), 1);
    auto error = expect_database_error([&] { pipeline.receive(); });
    EXPECT_EQ(error.sqlstate(), "22012");
    // The statement after it is not run; the pipeline is left without reading it.
  }
  EXPECT_TRUE(conn->transaction_failed());
  conn->exec("ROLLBACK");
  EXPECT_FALSE(conn->in_transaction());
  EXPECT_EQ(conn->exec("SELECT 42").one().get<std::int32_t>(0), 42);
  // Outside a transaction block too: the connection is back to normal afterwards.
  {
    delta::pg::Pipeline pipeline(*conn);
    pipeline.send("SELECT 'x'::int", Params());
    EXPECT_THROW(pipeline.receive(), DatabaseError);
  }
  EXPECT_FALSE(conn->in_transaction());
  EXPECT_EQ(conn->exec("SELECT 43").one().get<std::int32_t>(0), 43);
}

TEST(pg_pgtest, PipelineSentWithItsSyncIsOneTransaction) {
  auto conn = delta::pg::Connection::open({.url = dt::database_url()});
  conn->exec("DROP TABLE IF EXISTS pipe_sync");
  conn->exec("CREATE TABLE pipe_sync (n int)");
  const std::string insert = "INSERT INTO pipe_sync VALUES ($1) RETURNING n, txid_current()";
  {
    delta::pg::Pipeline pipeline(*conn, delta::pg::Pipeline::Flush::at_sync);
    pipeline.send(insert, Params(std::int32_t{1}));
    pipeline.send(insert, Params(std::int32_t{2}));
    pipeline.send_sync();
    EXPECT_THROW(pipeline.send("SELECT 1", Params()), std::logic_error);
    auto first = pipeline.receive().one();
    auto second = pipeline.receive().one();
    EXPECT_EQ(first.get<std::int32_t>(0), 1);
    EXPECT_EQ(second.get<std::int32_t>(0), 2);
    // Both in the one implicit transaction, committed by the sync.
    EXPECT_EQ(first.get<std::int64_t>(1), second.get<std::int64_t>(1));
    pipeline.sync();
  }
  EXPECT_FALSE(conn->in_transaction());
  auto other = delta::pg::Connection::open({.url = dt::database_url()});
  EXPECT_EQ(other->exec("SELECT count(*) FROM pipe_sync").one().get<std::int64_t>(0), 2);
  // An error rolls back what ran before it in that transaction, whether or not the caller
  // reads as far as the sync's confirmation.
  for (bool read_to_sync : {true, false}) {
    {
      delta::pg::Pipeline pipeline(*conn, delta::pg::Pipeline::Flush::at_sync);
      pipeline.send(insert, Params(std::int32_t{3}));
      pipeline.send("SELECT 1 / $1::int", Params(std::int32_t{0}));
      pipeline.send_sync();
      EXPECT_EQ(pipeline.receive().one().get<std::int32_t>(0), 3);
      EXPECT_THROW(pipeline.receive(), DatabaseError);
      if (read_to_sync) {
        EXPECT_NO_THROW(pipeline.sync());  // the error came from receive()
      }
    }
    EXPECT_FALSE(conn->in_transaction());
    EXPECT_EQ(conn->exec("SELECT 44").one().get<std::int32_t>(0), 44);
    EXPECT_EQ(other->exec("SELECT count(*) FROM pipe_sync").one().get<std::int64_t>(0), 2);
  }
  conn->exec("DROP TABLE pipe_sync");
}

// ---- Pool::create -----------------------------------------------------------------------

TEST(pg_pgtest, CreateWithEmptyUrlUsesEnvironment) {
  if (std::getenv("PGHOST") == nullptr && std::getenv("PGPORT") == nullptr &&
      std::getenv("PGDATABASE") == nullptr) {
    GTEST_SKIP() << "no PG* environment";
  }
  auto pool = Pool::create("", {.max_connections = 1});
  EXPECT_EQ(pool->url(), "");
  EXPECT_EQ(pool->options().max_connections, 1U);
  auto row_result = pool->exec(
      "SELECT current_database(), current_user, "
      "coalesce(inet_server_port(), current_setting('port')::int)");
  auto row = row_result.one();
  if (const char* database = std::getenv("PGDATABASE")) {
    EXPECT_EQ(row.get<std::string>(0), database);
  }
  if (const char* user = std::getenv("PGUSER")) {
    EXPECT_EQ(row.get<std::string>(1), user);
  }
  if (const char* port = std::getenv("PGPORT")) {
    EXPECT_EQ(row.get<std::int32_t>(2), std::stoi(port));
  }
}

TEST(pg_pgtest, CreateKeepsUrlAndOptions) {
  auto url = dt::database_url();
  auto pool = Pool::create(url, {.max_connections = 4, .acquire_timeout = 1234ms});
  EXPECT_EQ(pool->url(), url);
  EXPECT_EQ(pool->options().max_connections, 4U);
  EXPECT_EQ(pool->options().acquire_timeout, 1234ms);
}

TEST(pg_pgtest, CreateRejectsBadOptions) {
  EXPECT_THROW(Pool::create(dt::database_url(), {.max_connections = 0}), delta::ConfigError);
  try {
    Pool::create(dt::database_url(), {.max_connections = 0, .acquire_timeout = -1ms});
    ADD_FAILURE() << "bad options accepted";
  } catch (const delta::ConfigError& e) {
    // Every bad field is reported at once.
    EXPECT_GE(e.problems().size(), 2U) << e.what();
  }
  EXPECT_THROW(Pool::create(dt::database_url(), {.connect_timeout = -1ms}), delta::ConfigError);
  EXPECT_THROW(Pool::create(dt::database_url(), {.statement_timeout = -1ms}), delta::ConfigError);
}

TEST(pg_pgtest, CreateValidatesBeforeConnecting) {
  // Bad options are reported as such even when the server is unreachable.
  EXPECT_THROW(Pool::create("postgresql://127.0.0.1:1/x", {.max_connections = 0}),
               delta::ConfigError);
}

TEST(pg_pgtest, CreateAgainstUnreachableServer) {
  auto start = Clock::now();
  auto error = expect_database_error(
      [] { Pool::create("postgresql://127.0.0.1:1/x", {.connect_timeout = 1s}); });
  EXPECT_EQ(error.kind(), DatabaseErrorKind::connection) << error.sqlstate() << " " << error.what();
  EXPECT_TRUE(error.retryable());
  EXPECT_LT(Clock::now() - start, 5s);
}

}  // namespace
