// Log records: how fields are written as text and as JSON, how a plain-text logger gets
// them, and that levels below a logger's minimum never reach its sink.
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <delta/log.hpp>

namespace {

using delta::LogField;
using delta::LogLevel;
using delta::LogRecord;

LogRecord record(std::string_view message, const std::vector<LogField>& fields) {
  return LogRecord{
      delta::Timestamp{std::chrono::seconds(1'700'000'000) + std::chrono::microseconds(123'456)},
      LogLevel::warn, message, fields};
}

TEST(log_test, TextQuotesValuesThatWouldBreakKeyValueParsing) {
  const std::vector<LogField> fields{{"kind", "user"}, {"object_id", "a b"},      {"empty", ""},
                                     {"eq", "x=y"},    {"quote", "say \"hi\"\\"}, {"generation", 3},
                                     {"took_ms", 1.5}, {"forced", true}};
  EXPECT_EQ(delta::format_text(record("claim failed", fields)),
            "claim failed kind=user object_id=\"a b\" empty=\"\" eq=\"x=y\" "
            "quote=\"say \\\"hi\\\"\\\\\" generation=3 took_ms=1.5 forced=true");
}

TEST(log_test, TextIsOneLineWhateverTheMessageAndValuesHold) {
  const std::vector<LogField> fields{{"error", "ERROR: boom\nDETAIL: more\ttab\x01"}};
  const auto text = delta::format_text(record("two\nlines", fields));
  EXPECT_EQ(text.find('\n'), std::string::npos) << text;
  EXPECT_EQ(text.find('\x01'), std::string::npos) << text;
  EXPECT_EQ(text, "two\\nlines error=\"ERROR: boom\\nDETAIL: more\\ttab\\x01\"");
  EXPECT_EQ(delta::format_fields({}), "");
  EXPECT_EQ(delta::format_text(record("only a message", {})), "only a message");
}

TEST(log_test, JsonKeepsTypesAndIsValidForAnyBytes) {
  const std::vector<LogField> fields{{"kind", "user"},
                                     {"generation", 7},
                                     {"duration_ms", 2.25},
                                     {"forced", false},
                                     {"object_id", "bad \xff utf-8 \"<tag>\""},
                                     {"kind", "shadowed"}};
  const auto line = delta::format_json(record("rescued", fields));
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const auto json = nlohmann::json::parse(line);  // throws on invalid JSON
  EXPECT_EQ(json["time"], "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(json["level"], "warn");
  EXPECT_EQ(json["message"], "rescued");
  EXPECT_EQ(json["kind"], "user");  // the first of a key wins
  EXPECT_EQ(json["generation"], 7);
  EXPECT_TRUE(json["generation"].is_number_integer());
  EXPECT_DOUBLE_EQ(json["duration_ms"].get<double>(), 2.25);
  EXPECT_EQ(json["forced"], false);
  EXPECT_NE(json["object_id"].get<std::string>().find("<tag>"), std::string::npos);
  // The order is time, level, message, then the fields.
  EXPECT_EQ(line.rfind("{\"time\":", 0), 0U) << line;
  EXPECT_LT(line.find("\"message\""), line.find("\"kind\""));
}

TEST(log_test, APlainTextLoggerGetsTheFieldsAppended) {
  std::vector<std::string> lines;
  delta::Logger logger = [&](LogLevel, std::string_view line) { lines.emplace_back(line); };
  logger(LogLevel::info, "leader elected", {{"client", "host-1"}});
  logger(LogLevel::info, "no fields");
  ASSERT_EQ(lines.size(), 2U);
  EXPECT_EQ(lines[0], "leader elected client=host-1");
  EXPECT_EQ(lines[1], "no fields");
}

TEST(log_test, ARecordLoggerSeesTheFieldsAndLevelsBelowTheMinimumAreDropped) {
  std::vector<std::string> seen;
  delta::Logger logger(
      [&](const LogRecord& r) {
        const auto* kind = r.find("kind");
        seen.push_back(std::string(delta::to_string(r.level)) + " " + std::string(r.message) + " " +
                       (kind ? kind->to_string() : "-"));
        EXPECT_EQ(r.find("missing"), nullptr);
      },
      LogLevel::info);
  EXPECT_FALSE(logger.enabled(LogLevel::debug));
  EXPECT_TRUE(logger.enabled(LogLevel::warn));
  logger(LogLevel::debug, "dropped", {{"kind", "user"}});
  logger(LogLevel::warn, "kept", {{"kind", "user"}});
  logger.write(record("written", {}));
  EXPECT_EQ(seen, (std::vector<std::string>{"warn kept user", "warn written -"}));
}

TEST(log_test, AnEmptyLoggerDropsEverything) {
  delta::Logger empty;
  EXPECT_FALSE(empty);
  EXPECT_FALSE(empty.enabled(LogLevel::error));
  empty(LogLevel::error, "nowhere", {{"kind", "user"}});  // no crash, nothing to call
  EXPECT_TRUE(delta::null_logger());  // not empty: a client keeps it instead of stderr
}

TEST(log_test, JsonLoggerWritesOneObjectPerLine) {
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  auto logger = delta::json_logger(LogLevel::info, out);
  logger(LogLevel::debug, "below the minimum");
  logger(LogLevel::info, "first", {{"queue", "default"}});
  logger(LogLevel::error, "second", {{"job_id", 42}});
  std::rewind(out);
  std::vector<nlohmann::json> lines;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, out) != nullptr)
    lines.push_back(nlohmann::json::parse(buffer));
  std::fclose(out);
  ASSERT_EQ(lines.size(), 2U);
  EXPECT_EQ(lines[0]["message"], "first");
  EXPECT_EQ(lines[0]["queue"], "default");
  EXPECT_EQ(lines[1]["level"], "error");
  EXPECT_EQ(lines[1]["job_id"], 42);
}

}  // namespace
