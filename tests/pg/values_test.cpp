// Codec, detail helpers and Params: conversions to and from PostgreSQL's text format,
// and array parameters in its binary array format. No database needed.
//
// Suites are named after the executable so `ctest -R values` selects them.
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <delta/errors.hpp>
#include <delta/pg_values.hpp>
#include <delta/time.hpp>

#include "support/binary_array.hpp"
#include "support/instant.hpp"

namespace {

using delta::DatabaseError;
using delta::DatabaseErrorKind;
using delta::Timestamp;
using delta::pg::Bytes;
using delta::pg::Codec;
using delta::pg::Params;
namespace detail = delta::pg::detail;
namespace oid = delta::pg::oid;
using delta::testing::BinaryArray;
using delta::testing::kInstant;
using delta::testing::parse_binary_array;
using namespace std::chrono_literals;

using OptionalStrings = std::vector<std::optional<std::string>>;

template <class T>
std::string encode(const T& value) {
  std::string out;
  Codec<T>::encode(value, out);
  return out;
}

// Runs `decode` and checks it throws a DatabaseError of kind bad_input.
template <class Fn>
void expect_bad_input(Fn decode, std::string_view what) {
  try {
    decode();
    ADD_FAILURE() << "no exception decoding " << what;
  } catch (const DatabaseError& e) {
    EXPECT_EQ(e.kind(), DatabaseErrorKind::bad_input) << what << ": " << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type decoding " << what << ": " << e.what();
  }
}

Bytes bytes(std::initializer_list<int> values) {
  Bytes out;
  for (int value : values) {
    out.push_back(static_cast<std::byte>(value));
  }
  return out;
}

// ---- integers ----------------------------------------------------------------------

TEST(values_test, Int16Limits) {
  EXPECT_EQ(Codec<std::int16_t>::decode("32767"), 32767);
  EXPECT_EQ(Codec<std::int16_t>::decode("-32768"), -32768);
  EXPECT_EQ(Codec<std::int16_t>::decode("0"), 0);
  EXPECT_EQ(encode<std::int16_t>(std::numeric_limits<std::int16_t>::min()), "-32768");
  EXPECT_EQ(encode<std::int16_t>(std::numeric_limits<std::int16_t>::max()), "32767");
}

TEST(values_test, Int16OutOfRangeThrows) {
  EXPECT_THROW(Codec<std::int16_t>::decode("99999"), DatabaseError);
  expect_bad_input([] { Codec<std::int16_t>::decode("99999"); }, "99999");
  expect_bad_input([] { Codec<std::int16_t>::decode("32768"); }, "32768");
  expect_bad_input([] { Codec<std::int16_t>::decode("-32769"); }, "-32769");
}

TEST(values_test, Int32Limits) {
  EXPECT_EQ(Codec<std::int32_t>::decode("2147483647"), std::numeric_limits<std::int32_t>::max());
  EXPECT_EQ(Codec<std::int32_t>::decode("-2147483648"), std::numeric_limits<std::int32_t>::min());
  EXPECT_EQ(encode<std::int32_t>(std::numeric_limits<std::int32_t>::min()), "-2147483648");
  expect_bad_input([] { Codec<std::int32_t>::decode("2147483648"); }, "2147483648");
  expect_bad_input([] { Codec<std::int32_t>::decode("-2147483649"); }, "-2147483649");
}

TEST(values_test, Int64Limits) {
  EXPECT_EQ(Codec<std::int64_t>::decode("9223372036854775807"),
            std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(Codec<std::int64_t>::decode("-9223372036854775808"),
            std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(encode<std::int64_t>(std::numeric_limits<std::int64_t>::min()), "-9223372036854775808");
  EXPECT_EQ(encode<std::int64_t>(std::numeric_limits<std::int64_t>::max()), "9223372036854775807");
  expect_bad_input([] { Codec<std::int64_t>::decode("9223372036854775808"); },
                   "9223372036854775808");
  expect_bad_input([] { Codec<std::int64_t>::decode("-9223372036854775809"); },
                   "-9223372036854775809");
  expect_bad_input([] { Codec<std::int64_t>::decode("99999999999999999999999"); },
                   "99999999999999999999999");
}

TEST(values_test, IntGarbageThrows) {
  for (std::string_view text : {"", "abc", "12x", "1.5", " ", "--1", "0x10"}) {
    expect_bad_input([text] { Codec<std::int64_t>::decode(text); }, text);
    expect_bad_input([text] { Codec<std::int32_t>::decode(text); }, text);
  }
}

TEST(values_test, IntParseHelperHonoursBounds) {
  EXPECT_EQ(detail::parse_int("10", 0, 10), 10);
  EXPECT_EQ(detail::parse_int("0", 0, 10), 0);
  expect_bad_input([] { detail::parse_int("11", 0, 10); }, "11 in [0,10]");
  expect_bad_input([] { detail::parse_int("-1", 0, 10); }, "-1 in [0,10]");
}

// ---- bool --------------------------------------------------------------------------

TEST(values_test, Bool) {
  EXPECT_TRUE(Codec<bool>::decode("t"));
  EXPECT_FALSE(Codec<bool>::decode("f"));
  EXPECT_EQ(encode(true), "t");
  EXPECT_EQ(encode(false), "f");
  EXPECT_TRUE(Codec<bool>::decode(encode(true)));
  EXPECT_FALSE(Codec<bool>::decode(encode(false)));
  expect_bad_input([] { Codec<bool>::decode("maybe"); }, "maybe");
  expect_bad_input([] { Codec<bool>::decode(""); }, "(empty)");
}

// ---- double ------------------------------------------------------------------------

TEST(values_test, DoubleRoundTripsExactly) {
  for (double value :
       {0.0, 1.0, -1.5, 0.1, 1.0 / 3.0, 6.02214076e23, -2.5e-300,
        std::numeric_limits<double>::max(), std::numeric_limits<double>::lowest(),
        std::numeric_limits<double>::min(), std::numeric_limits<double>::denorm_min()}) {
    std::string text = encode(value);
    EXPECT_EQ(Codec<double>::decode(text), value) << text;
  }
}

TEST(values_test, DoubleSpecialValuesUsePostgresSpelling) {
  EXPECT_EQ(encode(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(encode(std::numeric_limits<double>::infinity()), "Infinity");
  EXPECT_EQ(encode(-std::numeric_limits<double>::infinity()), "-Infinity");
  EXPECT_TRUE(std::isnan(Codec<double>::decode("NaN")));
  EXPECT_EQ(Codec<double>::decode("Infinity"), std::numeric_limits<double>::infinity());
  EXPECT_EQ(Codec<double>::decode("-Infinity"), -std::numeric_limits<double>::infinity());
}

TEST(values_test, DoubleParsesServerOutput) {
  EXPECT_EQ(Codec<double>::decode("1.5"), 1.5);
  EXPECT_EQ(Codec<double>::decode("-0"), 0.0);
  EXPECT_TRUE(std::signbit(Codec<double>::decode("-0")));
  EXPECT_EQ(Codec<double>::decode("1e+100"), 1e100);
  EXPECT_EQ(Codec<double>::decode("1.7976931348623157e+308"), std::numeric_limits<double>::max());
  expect_bad_input([] { Codec<double>::decode("abc"); }, "abc");
  expect_bad_input([] { Codec<double>::decode(""); }, "(empty)");
  expect_bad_input([] { Codec<double>::decode("1.5x"); }, "1.5x");
}

// ---- timestamps --------------------------------------------------------------------

TEST(values_test, TimestampParsesMicroseconds) {
  EXPECT_EQ(detail::parse_timestamp("2026-11-28 00:27:28.123456+00"), kInstant);
  EXPECT_EQ(Codec<Timestamp>::decode("2026-11-28 00:27:28.123456+00"), kInstant);
}

TEST(values_test, TimestampParsesWholeSeconds) {
  EXPECT_EQ(detail::parse_timestamp("2026-11-28 00:27:28+00"),
            kInstant - std::chrono::microseconds{123456});
}

TEST(values_test, TimestampParsesShortFractions) {
  // PostgreSQL drops trailing zeros: .5 is 500000 microseconds, .000001 is one.
  Timestamp whole = kInstant - std::chrono::microseconds{123456};
  EXPECT_EQ(detail::parse_timestamp("2026-11-28 00:27:28.5+00"), whole + 500ms);
  EXPECT_EQ(detail::parse_timestamp("2026-11-28 00:27:28.12+00"), whole + 120ms);
  EXPECT_EQ(detail::parse_timestamp("2026-11-28 00:27:28.000001+00"),
            whole + std::chrono::microseconds{1});
}

TEST(values_test, TimestampParsesOffsets) {
  EXPECT_EQ(detail::parse_timestamp("2026-11-28 05:57:28.123456+05:30"), kInstant);
  EXPECT_EQ(detail::parse_timestamp("2026-11-27 16:27:28.123456-08"), kInstant);
  EXPECT_EQ(detail::parse_timestamp("2026-11-27 14:57:28.123456-09:30"), kInstant);
  EXPECT_EQ(detail::parse_timestamp("2026-11-28 14:27:28.123456+14"), kInstant);
}

TEST(values_test, TimestampParsesOffsetWithSeconds) {
  // Local mean time zones (e.g. Asia/Kolkata before 1942) print offsets with seconds.
  Timestamp expected = std::chrono::sys_days{std::chrono::year{1900} / 1 / 1} - 5h - 53min - 28s;
  EXPECT_EQ(detail::parse_timestamp("1900-01-01 00:00:00+05:53:28"), expected);
}

TEST(values_test, TimestampBeforeEpoch) {
  Timestamp epoch{};
  EXPECT_EQ(detail::parse_timestamp("1969-12-31 23:59:59.999999+00"),
            epoch - std::chrono::microseconds{1});
  EXPECT_EQ(detail::parse_timestamp("1970-01-01 00:00:00+00"), epoch);
  EXPECT_EQ(detail::parse_timestamp("1900-02-28 12:00:00.25+00"),
            std::chrono::sys_days{std::chrono::year{1900} / 2 / 28} + 12h + 250ms);
}

TEST(values_test, TimestampInfinity) {
  EXPECT_EQ(detail::parse_timestamp("infinity"), Timestamp::max());
  EXPECT_EQ(detail::parse_timestamp("-infinity"), Timestamp::min());
}

TEST(values_test, TimestampFormatsKnownInstant) {
  std::string out;
  detail::format_timestamp(kInstant, out);
  EXPECT_NE(out.find("2026-11-28"), std::string::npos) << out;
  EXPECT_NE(out.find("00:27:28.123456"), std::string::npos) << out;
  EXPECT_EQ(detail::parse_timestamp(out), kInstant) << out;
  EXPECT_EQ(encode(kInstant), out);
}

TEST(values_test, TimestampFormatAppends) {
  std::string out = "prefix:";
  detail::format_timestamp(kInstant, out);
  EXPECT_EQ(out.rfind("prefix:", 0), 0U) << out;
  EXPECT_GT(out.size(), std::string("prefix:").size());
}

TEST(values_test, TimestampFormatRoundTrips) {
  Timestamp epoch{};
  for (Timestamp value :
       {epoch, epoch - std::chrono::microseconds{1}, epoch + std::chrono::microseconds{1}, kInstant,
        kInstant + std::chrono::microseconds{876544},
        std::chrono::sys_days{std::chrono::year{1900} / 1 / 1} + 1h + 2min + 3s + 4us,
        std::chrono::sys_days{std::chrono::year{2000} / 2 / 29} + 23h + 59min + 59s + 999999us}) {
    std::string out;
    detail::format_timestamp(value, out);
    EXPECT_EQ(detail::parse_timestamp(out), value) << out;
  }
}

TEST(values_test, TimestampInfinityFormatsRoundTrip) {
  std::string max_text;
  detail::format_timestamp(Timestamp::max(), max_text);
  EXPECT_EQ(max_text, "infinity");
  std::string min_text;
  detail::format_timestamp(Timestamp::min(), min_text);
  EXPECT_EQ(min_text, "-infinity");
}

TEST(values_test, TimestampGarbageThrows) {
  for (std::string_view text : {"", "yesterday", "2026-13-01 00:00:00+00", "2026-11-28 25:00:00+00",
                                "2026-11-28 00:27:28+"}) {
    expect_bad_input([text] { detail::parse_timestamp(text); }, text);
  }
}

// ---- bytea -------------------------------------------------------------------------

TEST(values_test, ByteaHex) {
  EXPECT_EQ(detail::parse_bytea_hex("\\x00ff"), bytes({0x00, 0xff}));
  EXPECT_EQ(Codec<Bytes>::decode("\\x00ff"), bytes({0x00, 0xff}));
  EXPECT_EQ(detail::parse_bytea_hex("\\x"), Bytes{});
  EXPECT_EQ(detail::parse_bytea_hex("\\xDEADbeef"), bytes({0xde, 0xad, 0xbe, 0xef}));
}

TEST(values_test, ByteaAllByteValues) {
  std::string text = "\\x";
  Bytes expected;
  const char* digits = "0123456789abcdef";
  for (int value = 0; value < 256; ++value) {
    text.push_back(digits[value / 16]);
    text.push_back(digits[value % 16]);
    expected.push_back(static_cast<std::byte>(value));
  }
  EXPECT_EQ(detail::parse_bytea_hex(text), expected);
}

TEST(values_test, ByteaMalformedThrows) {
  for (std::string_view text : {"\\x0", "\\xzz", "\\x0g", "00ff"}) {
    expect_bad_input([text] { detail::parse_bytea_hex(text); }, text);
  }
}

TEST(values_test, ByteaEncodesRawBytes) {
  Bytes value = bytes({0x00, 0x5c, 0x27, 0xff, 0x00});
  std::string out = encode(value);
  ASSERT_EQ(out.size(), 5U);
  EXPECT_EQ(out, std::string("\0\\'\xff\0", 5));
}

// ---- arrays ------------------------------------------------------------------------

TEST(values_test, ArrayEmpty) {
  EXPECT_TRUE(detail::parse_array("{}").empty());
  EXPECT_TRUE(Codec<std::vector<std::string>>::decode("{}").empty());
  EXPECT_TRUE(Codec<std::vector<std::int64_t>>::decode("{}").empty());
}

TEST(values_test, ArrayPlainElements) {
  EXPECT_EQ(detail::parse_array("{a,b,c}"), (OptionalStrings{"a", "b", "c"}));
  EXPECT_EQ(detail::parse_array("{1,-2,3}"), (OptionalStrings{"1", "-2", "3"}));
  EXPECT_EQ(detail::parse_array("{héllo,世界}"), (OptionalStrings{"héllo", "世界"}));
}

TEST(values_test, ArrayQuotedElements) {
  EXPECT_EQ(detail::parse_array(R"({"a,b","{x}"," spaced ","",x})"),
            (OptionalStrings{"a,b", "{x}", " spaced ", "", "x"}));
}

TEST(values_test, ArrayBackslashEscapes) {
  // {"say \"hi\"","back\\slash"} holds: say "hi"   and   back\slash
  EXPECT_EQ(detail::parse_array(R"({"say \"hi\"","back\\slash"})"),
            (OptionalStrings{R"(say "hi")", R"(back\slash)"}));
}

TEST(values_test, ArrayNullElements) {
  EXPECT_EQ(detail::parse_array(R"({NULL,"NULL",a,"null"})"),
            (OptionalStrings{std::nullopt, "NULL", "a", "null"}));
  EXPECT_EQ(detail::parse_array("{NULL}"), (OptionalStrings{std::nullopt}));
}

TEST(values_test, ArrayDecodeRejectsNullElement) {
  expect_bad_input([] { Codec<std::vector<std::int64_t>>::decode("{1,NULL}"); }, "{1,NULL}");
  expect_bad_input([] { Codec<std::vector<std::string>>::decode("{NULL}"); }, "{NULL}");
}

TEST(values_test, ArrayDecodeTyped) {
  EXPECT_EQ(Codec<std::vector<std::int64_t>>::decode("{1,-2,9223372036854775807}"),
            (std::vector<std::int64_t>{1, -2, std::numeric_limits<std::int64_t>::max()}));
  EXPECT_EQ(Codec<std::vector<bool>>::decode("{t,f}"), (std::vector<bool>{true, false}));
  expect_bad_input([] { Codec<std::vector<std::int16_t>>::decode("{1,99999}"); }, "{1,99999}");
}

TEST(values_test, ArrayMalformedThrows) {
  for (std::string_view text : {"", "a,b", "{a,b", R"({"a})", "{a}x"}) {
    expect_bad_input([text] { detail::parse_array(text); }, text);
  }
}

TEST(values_test, ArrayTextRoundTrip) {
  std::vector<std::string> values = {"plain",  "a,b",       "{braces}",    "say \"hi\"",
                                     "back\\", "",          "NULL",        "null",
                                     " pad ",  "tab\there", "line\nbreak", "héllo 世界 🚀"};
  std::string text = encode(values);
  EXPECT_EQ(text.front(), '{');
  EXPECT_EQ(text.back(), '}');
  EXPECT_EQ(Codec<std::vector<std::string>>::decode(text), values) << text;
  // The string "NULL" must not come back as a NULL element.
  auto elements = detail::parse_array(text);
  ASSERT_EQ(elements.size(), values.size());
  for (std::size_t element_idx = 0; element_idx < elements.size(); ++element_idx) {
    ASSERT_TRUE(elements[element_idx].has_value()) << element_idx;
    EXPECT_EQ(*elements[element_idx], values[element_idx]);
  }
}

TEST(values_test, ArrayIntRoundTrip) {
  std::vector<std::int64_t> values = {0, -1, std::numeric_limits<std::int64_t>::min(),
                                      std::numeric_limits<std::int64_t>::max()};
  EXPECT_EQ(Codec<std::vector<std::int64_t>>::decode(encode(values)), values);
  EXPECT_EQ(encode(std::vector<std::int64_t>{}), "{}");
}

TEST(values_test, ArrayAppendElementQuotes) {
  std::string out;
  detail::append_array_element("a\"b\\c", out);
  auto parsed = detail::parse_array("{" + out + "}");
  ASSERT_EQ(parsed.size(), 1U);
  EXPECT_EQ(parsed[0], std::optional<std::string>("a\"b\\c"));
}

// ---- json --------------------------------------------------------------------------

TEST(values_test, JsonRoundTrip) {
  nlohmann::json doc = {
      {"name", "héllo 世界 🚀"},
      {"nested", {{"list", {1, 2.5, nullptr, true}}, {"empty", nlohmann::json::object()}}},
      {"quote", "a\"b\\c\n"}};
  EXPECT_EQ(Codec<nlohmann::json>::decode(encode(doc)), doc);
  EXPECT_EQ(Codec<nlohmann::json>::decode(R"({"a": [1, {"b": null}]})"),
            (nlohmann::json{{"a", {1, {{"b", nullptr}}}}}));
}

// ---- Params ------------------------------------------------------------------------

TEST(values_test, ParamsNull) {
  Params params(std::nullopt, std::optional<std::int64_t>{}, std::optional<std::string>{},
                std::optional<std::int64_t>{7});
  ASSERT_EQ(params.size(), 4U);
  ASSERT_EQ(params.values().size(), 4U);
  ASSERT_EQ(params.types().size(), 4U);
  ASSERT_EQ(params.formats().size(), 4U);
  EXPECT_FALSE(params.values()[0].has_value());
  EXPECT_EQ(params.types()[0], oid::kUnknown);
  EXPECT_FALSE(params.values()[1].has_value());
  EXPECT_EQ(params.types()[1], oid::kInt8);
  EXPECT_FALSE(params.values()[2].has_value());
  EXPECT_EQ(params.types()[2], oid::kUnknown);
  EXPECT_EQ(params.values()[3], std::optional<std::string>("7"));
  EXPECT_EQ(params.types()[3], oid::kInt8);
}

TEST(values_test, ParamsOids) {
  std::string text = "s";
  std::string_view view = "v";
  Params params(text, view, "literal", true, std::int16_t{1}, std::int32_t{2}, std::int64_t{3}, 2.5,
                kInstant, nlohmann::json{{"a", 1}}, std::vector<std::string>{"x"},
                std::vector<std::int64_t>{1}, std::chrono::milliseconds{1500});
  std::vector<unsigned> expected = {
      oid::kUnknown,   oid::kUnknown,   oid::kUnknown, oid::kBool,        oid::kInt2,
      oid::kInt4,      oid::kInt8,      oid::kFloat8,  oid::kTimestamptz, oid::kJsonb,
      oid::kTextArray, oid::kInt8Array, oid::kInterval};
  EXPECT_EQ(params.types(), expected);
  // Arrays of scalar elements go binary; everything else as text.
  std::vector<int> formats(expected.size(), 0);
  formats[10] = formats[11] = 1;
  EXPECT_EQ(params.formats(), formats);
  const BinaryArray texts = parse_binary_array(*params.values()[10]);
  EXPECT_EQ(texts.element_oid, oid::kText);
  EXPECT_EQ(texts.elements, (OptionalStrings{"x"}));
  const BinaryArray bigints = parse_binary_array(*params.values()[11]);
  EXPECT_EQ(bigints.element_oid, oid::kInt8);
  EXPECT_EQ(bigints.elements, (OptionalStrings{std::string("\0\0\0\0\0\0\0\1", 8)}));
  EXPECT_EQ(params.values()[0], std::optional<std::string>("s"));
  EXPECT_EQ(params.values()[1], std::optional<std::string>("v"));
  EXPECT_EQ(params.values()[2], std::optional<std::string>("literal"));
  EXPECT_EQ(params.values()[3], std::optional<std::string>("t"));
  EXPECT_EQ(params.values()[6], std::optional<std::string>("3"));
  ASSERT_TRUE(params.values()[8].has_value());
  EXPECT_EQ(detail::parse_timestamp(*params.values()[8]), kInstant);
  ASSERT_TRUE(params.values()[9].has_value());
  EXPECT_EQ(nlohmann::json::parse(*params.values()[9]), (nlohmann::json{{"a", 1}}));
  EXPECT_EQ(params.values()[12], std::optional<std::string>("1500000 microseconds"));
}

TEST(values_test, ParamsAddArrayProjectsEachElement) {
  struct Row {
    std::string name;
    std::int16_t n;
    std::optional<std::string> note;
  };
  const std::vector<Row> rows = {{"plain", 1, "a \"quoted\" note"}, {"back\\slash", -2, {}}};
  Params params;
  params.add_array(rows, [](const Row& r) -> const std::string& { return r.name; })
      .add_array(rows, [](const Row& r) { return r.n; })
      .add_array(rows, [](const Row& r) -> const std::optional<std::string>& { return r.note; })
      .add_array(std::vector<Row>{}, [](const Row& r) { return r.n; });
  ASSERT_EQ(params.size(), 4U);
  EXPECT_EQ(params.types(), (std::vector<unsigned>{oid::kTextArray, oid::kInt2Array,
                                                   oid::kTextArray, oid::kInt2Array}));
  EXPECT_EQ(params.formats(), (std::vector<int>{1, 1, 1, 1}));
  // Text as it is (nothing escaped), integers in network byte order, NULL as length -1.
  const BinaryArray names = parse_binary_array(*params.values()[0]);
  EXPECT_EQ(names.ndim, 1U);
  EXPECT_EQ(names.has_null, 0U);
  EXPECT_EQ(names.element_oid, oid::kText);
  EXPECT_EQ(names.lower_bound, 1U);
  EXPECT_EQ(names.elements, (OptionalStrings{"plain", "back\\slash"}));
  const BinaryArray numbers = parse_binary_array(*params.values()[1]);
  EXPECT_EQ(numbers.element_oid, oid::kInt2);
  EXPECT_EQ(numbers.elements,
            (OptionalStrings{std::string("\0\1", 2), std::string("\xff\xfe", 2)}));
  const BinaryArray notes = parse_binary_array(*params.values()[2]);
  EXPECT_EQ(notes.has_null, 1U);
  EXPECT_EQ(notes.elements, (OptionalStrings{"a \"quoted\" note", std::nullopt}));
  // No rows: no dimensions.
  const BinaryArray empty = parse_binary_array(*params.values()[3]);
  EXPECT_EQ(empty.ndim, 0U);
  EXPECT_EQ(empty.element_oid, oid::kInt2);
  EXPECT_TRUE(empty.elements.empty());
  // The same bytes as a vector of the projected values.
  Params copied(std::vector<std::string>{"plain", "back\\slash"});
  EXPECT_EQ(copied.values()[0], params.values()[0]);
}

TEST(values_test, ParamsBytesAreBinary) {
  Bytes value = bytes({0x00, 0x01, 0xff});
  Params params(std::string("text"), value, std::optional<Bytes>{});
  ASSERT_EQ(params.size(), 3U);
  EXPECT_EQ(params.formats()[0], 0);
  EXPECT_EQ(params.types()[1], oid::kBytea);
  EXPECT_EQ(params.formats()[1], 1);
  EXPECT_EQ(params.values()[1], std::optional<std::string>(std::string("\0\x01\xff", 3)));
  EXPECT_FALSE(params.values()[2].has_value());
  EXPECT_EQ(params.types()[2], oid::kBytea);
}

TEST(values_test, ParamsAddChains) {
  Params params;
  EXPECT_EQ(params.size(), 0U);
  params.add(std::int32_t{1}).add(std::nullopt).add(std::string("x"));
  EXPECT_EQ(params.size(), 3U);
  EXPECT_EQ(params.types(), (std::vector<unsigned>{oid::kInt4, oid::kUnknown, oid::kUnknown}));
}

// ---- errors ------------------------------------------------------------------------

// A large array parameter's buffer is given back when its Params goes and handed out
// again, capacity kept; small ones and more than a few are not kept. (The pool is shared
// by the process: drained first, so that only this test's buffers are in it.)
TEST(values_test, LargeParameterBuffersAreReused) {
  // Kept buffers are at least 64 KiB; an empty pool hands out a new, small string.
  const auto pooled = [] { return delta::pg::detail::take_buffer().capacity() >= 1024; };
  while (pooled()) {
  }
  std::vector<std::string> large(20000, "some text of a typical length");
  std::size_t capacity = 0;
  {
    delta::pg::Params params;
    params.add_array(large, [](const std::string& s) -> const std::string& { return s; });
    capacity = params.values()[0]->capacity();
    ASSERT_GT(capacity, std::size_t{64} << 10);
    params.add(std::string("small"));
  }
  std::string reused = delta::pg::detail::take_buffer();
  EXPECT_EQ(reused.capacity(), capacity);
  EXPECT_TRUE(reused.empty());
  EXPECT_FALSE(pooled()) << "the small value was not kept";
  // Encoding into a reused buffer gives the same bytes as into a fresh one.
  delta::pg::Params again;
  again.add_array(large, [](const std::string& s) -> const std::string& { return s; });
  std::string fresh;
  delta::pg::send_array<std::string>(
      large, [](const std::string& s) -> const std::string& { return s; }, fresh);
  EXPECT_EQ(*again.values()[0], fresh);
  // Bounded: of many given back at once only a few are kept.
  for (int i = 0; i < 100; ++i) {
    std::string buffer;
    buffer.reserve(std::size_t{128} << 10);
    delta::pg::detail::give_buffer(std::move(buffer));
  }
  int kept = 0;
  while (pooled())
    ++kept;
  EXPECT_GT(kept, 0);
  EXPECT_LE(kept, 16);
  // ...and never more than 16 MiB in all, nor one buffer larger than 4 MiB.
  for (int i = 0; i < 16; ++i) {
    std::string buffer;
    buffer.reserve(std::size_t{3} << 20);
    delta::pg::detail::give_buffer(std::move(buffer));
  }
  std::size_t bytes = 0;
  for (;;) {
    std::string b = delta::pg::detail::take_buffer();
    if (b.capacity() < 1024) break;
    bytes += b.capacity();
  }
  EXPECT_GT(bytes, 0u);
  EXPECT_LE(bytes, std::size_t{16} << 20);
  std::string huge;
  huge.reserve(std::size_t{5} << 20);
  delta::pg::detail::give_buffer(std::move(huge));
  EXPECT_FALSE(pooled()) << "a buffer over 4 MiB is not kept";
}

TEST(values_test, SqlstateClassification) {
  using Kind = DatabaseErrorKind;
  EXPECT_EQ(DatabaseError::classify("08006"), Kind::connection);
  EXPECT_EQ(DatabaseError::classify("08001"), Kind::connection);
  EXPECT_EQ(DatabaseError::classify("57P01"), Kind::connection);
  EXPECT_EQ(DatabaseError::classify("57P03"), Kind::connection);
  EXPECT_EQ(DatabaseError::classify("57P02"), Kind::connection);  // crash_shutdown
  // idle_session_timeout ended the session: a new connection works.
  EXPECT_EQ(DatabaseError::classify("57P05"), Kind::connection);
  // database_dropped: no new connection can work.
  EXPECT_EQ(DatabaseError::classify("57P04"), Kind::other);
  EXPECT_EQ(DatabaseError::classify("40001"), Kind::retryable);
  EXPECT_EQ(DatabaseError::classify("40P01"), Kind::retryable);
  EXPECT_EQ(DatabaseError::classify("23505"), Kind::unique_violation);
  EXPECT_EQ(DatabaseError::classify("23503"), Kind::constraint);
  EXPECT_EQ(DatabaseError::classify("23502"), Kind::constraint);
  EXPECT_EQ(DatabaseError::classify("22012"), Kind::bad_input);
  EXPECT_EQ(DatabaseError::classify("22P02"), Kind::bad_input);
  EXPECT_EQ(DatabaseError::classify("42601"), Kind::bad_input);
  EXPECT_EQ(DatabaseError::classify("42P01"), Kind::bad_input);
  EXPECT_EQ(DatabaseError::classify("57014"), Kind::query_canceled);
  EXPECT_EQ(DatabaseError::classify("XX000"), Kind::other);
  EXPECT_EQ(DatabaseError::classify(""), Kind::other);
}

TEST(values_test, DatabaseErrorRetryable) {
  EXPECT_TRUE(DatabaseError("40001", "serialization").retryable());
  EXPECT_TRUE(DatabaseError("40P01", "deadlock").retryable());
  EXPECT_TRUE(DatabaseError("08006", "lost").retryable());
  EXPECT_FALSE(DatabaseError("23505", "dup").retryable());
  EXPECT_FALSE(DatabaseError("42601", "syntax").retryable());
  DatabaseError dup("23505", "duplicate key", "Key (id)=(1) already exists.", "t_pkey");
  EXPECT_EQ(dup.sqlstate(), "23505");
  EXPECT_EQ(dup.kind(), DatabaseErrorKind::unique_violation);
  EXPECT_EQ(dup.detail(), "Key (id)=(1) already exists.");
  EXPECT_EQ(dup.constraint(), "t_pkey");
  EXPECT_NE(std::string(dup.what()).find("duplicate key"), std::string::npos);
}

TEST(values_test, PoolTimeoutErrorKind) {
  delta::PoolTimeoutError error("no connection within 200ms (pool size 2)");
  EXPECT_EQ(error.kind(), DatabaseErrorKind::pool_timeout);
  EXPECT_TRUE(error.sqlstate().empty());
  const delta::DatabaseError& as_base = error;
  EXPECT_EQ(as_base.kind(), DatabaseErrorKind::pool_timeout);
}

}  // namespace
