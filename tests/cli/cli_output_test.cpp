// What the `delta` command prints, apart from its commands: tables, times, counts.
#include <chrono>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "output.hpp"

namespace {

using namespace std::chrono_literals;
using delta_cli::Align;
using delta_cli::Table;

delta::Timestamp at(std::chrono::sys_days day, std::chrono::microseconds time_of_day) {
  return delta::Timestamp(day) + time_of_day;
}

TEST(cli_output_test, TableAlignsColumnsUnderTheirHeader) {
  Table table({{"KIND"}, {"ID"}, {"COUNT", Align::right}, {"NOTE"}});
  table.add({"user", "bob@example.com", "3", "first"});
  table.add({"invoice", "7", "1200", ""});
  EXPECT_EQ(table.render(),
            "KIND     ID               COUNT  NOTE\n"
            "user     bob@example.com      3  first\n"
            "invoice  7                 1200\n");
  EXPECT_EQ(table.size(), 2U);
}

TEST(cli_output_test, AnEmptyTableIsItsHeader) {
  EXPECT_EQ(Table({{"KIND"}, {"ID"}}).render(), "KIND  ID\n");
}

TEST(cli_output_test, ATableWithoutTitlesHasNoHeader) {
  Table table({{""}, {""}});
  table.add({"state", "synced"});
  table.add({"generation", "2"});
  EXPECT_EQ(table.render(), "state       synced\ngeneration  2\n");
}

TEST(cli_output_test, LongCellsAreCutAndControlCharactersBecomeSpaces) {
  Table table({{"ID", Align::left, 6}, {"ERROR"}});
  table.add({"abcdefghij", "line one\nline two\ttab"});
  table.add({"abcdef", "x"});
  EXPECT_EQ(table.render(),
            "ID      ERROR\n"
            "abcde…  line one line two tab\n"
            "abcdef  x\n");
}

TEST(cli_output_test, WidthsCountCharactersNotBytes) {
  Table table({{"NAME"}, {"N", Align::right}});
  table.add({"zoë", "1"});
  table.add({"ab", "22"});
  EXPECT_EQ(table.render(),
            "NAME   N\n"
            "zoë    1\n"
            "ab    22\n");
  Table cut({{"NAME", Align::left, 3}});
  cut.add({"ëëëë"});
  EXPECT_EQ(cut.render(), "NAME\nëë…\n");
}

TEST(cli_output_test, Rfc3339IsUtcWithMicroseconds) {
  using namespace std::chrono;
  EXPECT_EQ(delta_cli::rfc3339(at(2026y / November / 28, 27min + 28s + 123456us)),
            "2026-11-28T00:27:28.123456Z");
  EXPECT_EQ(delta_cli::rfc3339(at(1999y / January / 2, 23h + 59min + 59s)),
            "1999-01-02T23:59:59.000000Z");
  EXPECT_EQ(delta_cli::json_time(std::nullopt), nullptr);
  EXPECT_EQ(delta_cli::json_time(at(2026y / November / 28, 0us)), "2026-11-28T00:00:00.000000Z");
}

TEST(cli_output_test, TimesAreRelativeToNow) {
  using namespace std::chrono;
  const auto now = at(2026y / November / 28, 12h);
  EXPECT_EQ(delta_cli::ago(std::nullopt, now), "-");
  EXPECT_EQ(delta_cli::ago(now, now), "now");
  EXPECT_EQ(delta_cli::ago(now - 900ms, now), "now");
  EXPECT_EQ(delta_cli::ago(now + 2s + 500ms, now), "in 2 s");
  EXPECT_EQ(delta_cli::ago(now - 3min - 20s, now), "3 min ago");
  EXPECT_EQ(delta_cli::ago(now - 5h, now), "5 h ago");
  EXPECT_EQ(delta_cli::ago(now + 72h, now), "in 3 d");
}

TEST(cli_output_test, DurationsUseTheTwoLargestUnits) {
  using std::chrono::milliseconds;
  EXPECT_EQ(delta_cli::human_duration(std::nullopt), "-");
  EXPECT_EQ(delta_cli::human_duration(milliseconds(0)), "0 ms");
  EXPECT_EQ(delta_cli::human_duration(milliseconds(250)), "250 ms");
  EXPECT_EQ(delta_cli::human_duration(milliseconds(45'000)), "45 s");
  EXPECT_EQ(delta_cli::human_duration(milliseconds(65'000)), "1 min 5 s");
  EXPECT_EQ(delta_cli::human_duration(milliseconds(5'400'000)), "1 h 30 min");
  EXPECT_EQ(delta_cli::human_duration(milliseconds(3'605'000)), "1 h");
  EXPECT_EQ(delta_cli::human_duration(milliseconds(7 * 86'400'000LL + 3'600'000)), "7 d 1 h");
  EXPECT_EQ(delta_cli::human_duration(milliseconds(-2'000)), "-2 s");
}

TEST(cli_output_test, CountsHaveThousandsSeparators) {
  EXPECT_EQ(delta_cli::with_commas(0), "0");
  EXPECT_EQ(delta_cli::with_commas(999), "999");
  EXPECT_EQ(delta_cli::with_commas(1234), "1,234");
  EXPECT_EQ(delta_cli::with_commas(1234567), "1,234,567");
  EXPECT_EQ(delta_cli::with_commas(-1234), "-1,234");
  EXPECT_EQ(delta_cli::count_of(1, "resource"), "1 resource");
  EXPECT_EQ(delta_cli::count_of(0, "job"), "0 jobs");
  EXPECT_EQ(delta_cli::count_of(1234, "resource"), "1,234 resources");
}

}  // namespace

TEST(cli_output_test, RatesAndLimitsReadAsTheOptionsWriteThem) {
  using std::chrono::milliseconds;
  EXPECT_EQ(delta::to_string(delta::RateLimit{50, milliseconds(1000)}), "50/1s");
  EXPECT_EQ(delta::to_string(delta::RateLimit{600, milliseconds(60'000)}), "600/1m");
  EXPECT_EQ(delta::to_string(delta::RateLimit{5, milliseconds(7'200'000)}), "5/2h");
  EXPECT_EQ(delta::to_string(delta::RateLimit{100, milliseconds(500)}), "100/500ms");
  // What the text says, parse_rate reads back.
  for (const auto& rate :
       {delta::RateLimit{50, milliseconds(1000)}, delta::RateLimit{100, milliseconds(1500)}}) {
    EXPECT_EQ(delta_cli::parse_rate(delta::to_string(rate)), rate);
  }
  EXPECT_EQ(delta_cli::limits_text(
                {.max_concurrency = 20, .rate_limit = delta::RateLimit{50, milliseconds(1000)}}),
            "50/1s, 20 at once");
  EXPECT_EQ(delta_cli::limits_text({}), "none");
  delta::LimitsInfo info;
  EXPECT_EQ(delta_cli::limits_cell(info), "-");
  info.in_force.max_concurrency = 3;
  info.overridden = info.in_force;
  EXPECT_EQ(delta_cli::limits_cell(info), "3 at once (override)");
}
