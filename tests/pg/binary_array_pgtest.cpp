// Binary array parameters (<delta/pg_values.hpp>) read by the server's own array_recv: the
// inputs of the binary_array fuzz target (its committed corpus, fuzz/corpus/binary_array/,
// and a seeded sample made like it), each split into elements as the target splits it,
// sent as text[], bigint[], integer[], smallint[], boolean[] and float8[] parameters and
// read back from the server's text output. The fuzzer checks the same encoding in
// process, where there is no server.
//
// Suites are named after the executable so `ctest -R binary_array_pgtest` selects them.
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include <delta/errors.hpp>
#include <delta/pg.hpp>
#include <delta/pg_values.hpp>

#include "support/binary_array.hpp"
#include "support/pg_test.hpp"
#include "support/utf8.hpp"

#ifndef DELTA_FUZZ_CORPUS
#error "DELTA_FUZZ_CORPUS must name fuzz/corpus (see tests/CMakeLists.txt)"
#endif

namespace {

namespace dt = delta::testing;

template <class T>
using Optionals = std::vector<std::optional<T>>;

struct Input {
  std::string name;
  std::string bytes;
};

std::vector<Input> corpus_inputs() {
  std::vector<Input> inputs;
  for (const auto& entry : std::filesystem::directory_iterator(
           std::filesystem::path(DELTA_FUZZ_CORPUS) / "binary_array")) {
    std::ifstream in(entry.path(), std::ios::binary);
    inputs.push_back(
        {entry.path().filename().string(),
         std::string{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()}});
  }
  return inputs;
}

// Inputs like a fuzzer's: lines of pieces that arrays quote or escape, multibyte
// characters, and now and then a NULL line, a NUL byte or a byte that is not UTF-8.
std::vector<Input> sampled_inputs(std::size_t count) {
  static constexpr std::string_view kPieces[] = {"a",
                                                 "Z",
                                                 "7",
                                                 "-",
                                                 "\"",
                                                 "\\",
                                                 "{",
                                                 "}",
                                                 ",",
                                                 " ",
                                                 "\t",
                                                 "\r",
                                                 "\x01",
                                                 "NULL",
                                                 "null",
                                                 "\xc3\xa9",
                                                 "\xe4\xb8\x96",
                                                 "\xf0\x9f\x9a\x80",
                                                 "'",
                                                 "[1]",
                                                 "=",
                                                 "\\N",
                                                 "9223372036854775807",
                                                 "-9223372036854775808"};
  static constexpr std::string_view kRare[] = {std::string_view("\0", 1), "\xff", "\xc3",
                                               "\xed\xa0\x80"};
  std::mt19937_64 random(20240601);  // fixed: the same sample every run
  std::vector<Input> inputs;
  for (std::size_t input_idx = 0; input_idx < count; ++input_idx) {
    std::string bytes;
    const auto lines = std::uniform_int_distribution<int>(0, 12)(random);
    for (int line_idx = 0; line_idx <= lines; ++line_idx) {
      if (line_idx > 0) bytes += '\n';
      const auto roll = std::uniform_int_distribution<int>(0, 99)(random);
      if (roll < 8) {
        bytes += "\\N";
        continue;
      }
      const auto pieces = std::uniform_int_distribution<int>(0, 10)(random);
      for (int piece_idx = 0; piece_idx < pieces; ++piece_idx) {
        if (std::uniform_int_distribution<int>(0, 199)(random) == 0) {
          bytes += kRare[random() % std::size(kRare)];
        } else {
          bytes += kPieces[random() % std::size(kPieces)];
        }
      }
    }
    inputs.push_back({"sample " + std::to_string(input_idx), std::move(bytes)});
  }
  // One long array, past the size whose buffer comes from the pool.
  std::string many;
  for (int element_idx = 0; element_idx < 5000; ++element_idx)
    many += (element_idx == 0 ? "" : "\n") + std::to_string(element_idx * 7919) + " \"x\"";
  inputs.push_back({"5000 elements", std::move(many)});
  return inputs;
}

// Whether the server takes `text` as a text value in `encoding` (SQL_ASCII: any bytes
// but NUL; UTF8: well-formed UTF-8 without NUL).
bool storable(const std::string& text, bool utf8) {
  return text.find('\0') == std::string::npos && (!utf8 || dt::valid_utf8(text));
}

class binary_array_pgtest : public ::testing::Test {
 protected:
  void SetUp() override {
    encoding_ = pool_->exec("SHOW server_encoding").one().get<std::string>(0);
    if (encoding_ != "UTF8" && encoding_ != "SQL_ASCII") {
      GTEST_SKIP() << "the test database's encoding is " << encoding_;
    }
  }

  // Sends the elements of `input` as a text[] parameter and checks what comes back: the
  // same elements when the server can store every one of them, else a bad_input error.
  void check_text(const Input& input) {
    const Optionals<std::string> elements = dt::array_input_elements(input.bytes);
    bool expect_stored = true;
    for (const auto& element : elements)
      expect_stored = expect_stored && (!element || storable(*element, encoding_ == "UTF8"));
    try {
      auto row = pool_->exec("SELECT $1::text[], cardinality($1::text[])", elements).one();
      EXPECT_TRUE(expect_stored) << input.name << ": the server stored what it cannot";
      EXPECT_EQ(row.get<Optionals<std::string>>(0), elements) << input.name;
      EXPECT_EQ(row.get<std::int32_t>(1), static_cast<std::int32_t>(elements.size())) << input.name;
    } catch (const delta::DatabaseError& e) {
      EXPECT_FALSE(expect_stored) << input.name << ": " << e.what();
      EXPECT_EQ(e.kind(), delta::DatabaseErrorKind::bad_input) << input.name << ": " << e.what();
    }
  }

  // The same elements as the fuzz target's numbers and booleans.
  void check_scalars(const Input& input) {
    const auto [bigints, integers, smallints, booleans, doubles] =
        dt::array_input_scalars(dt::array_input_elements(input.bytes));
    auto row = pool_
                   ->exec(
                       "SELECT $1::bigint[], $2::integer[], $3::smallint[], $4::boolean[], "
                       "$5::float8[]",
                       bigints, integers, smallints, booleans, doubles)
                   .one();
    EXPECT_EQ(row.get<Optionals<std::int64_t>>(0), bigints) << input.name;
    EXPECT_EQ(row.get<Optionals<std::int32_t>>(1), integers) << input.name;
    EXPECT_EQ(row.get<Optionals<std::int16_t>>(2), smallints) << input.name;
    EXPECT_EQ(row.get<Optionals<bool>>(3), booleans) << input.name;
    // Every double but NaN comes back equal (the server prints the shortest exact form);
    // a NaN comes back a NaN, its payload aside.
    const auto read = row.get<Optionals<double>>(4);
    ASSERT_EQ(read.size(), doubles.size()) << input.name;
    for (std::size_t element_idx = 0; element_idx < doubles.size(); ++element_idx) {
      const auto& sent = doubles[element_idx];
      ASSERT_EQ(read[element_idx].has_value(), sent.has_value()) << input.name;
      if (!sent) continue;
      if (std::isnan(*sent)) {
        EXPECT_TRUE(std::isnan(*read[element_idx])) << input.name;
      } else {
        EXPECT_EQ(std::bit_cast<std::uint64_t>(*read[element_idx]),
                  std::bit_cast<std::uint64_t>(*sent))
            << input.name << " element " << element_idx;
      }
    }
  }

  std::shared_ptr<delta::pg::Pool> pool_ = dt::make_pool();
  std::string encoding_;
};

TEST_F(binary_array_pgtest, TheFuzzCorpusRoundTripsThroughTheServer) {
  const std::vector<Input> inputs = corpus_inputs();
  ASSERT_FALSE(inputs.empty()) << DELTA_FUZZ_CORPUS;
  for (const Input& input : inputs) {
    check_text(input);
    check_scalars(input);
  }
}

TEST_F(binary_array_pgtest, ASampleLikeTheFuzzersInputsRoundTripsThroughTheServer) {
  std::size_t refused = 0;
  const std::vector<Input> inputs = sampled_inputs(400);
  for (const Input& input : inputs) {
    check_text(input);
    check_scalars(input);
    for (const auto& element : dt::array_input_elements(input.bytes)) {
      if (element && !storable(*element, encoding_ == "UTF8")) {
        ++refused;
        break;
      }
    }
  }
  // The sample has both kinds: arrays the server stores and arrays it must refuse.
  EXPECT_GT(refused, 0u);
  EXPECT_LT(refused, inputs.size() / 2);
}

}  // namespace
