// How the `delta` command prints: aligned tables, human times and counts, and JSON.
//
//   Table table({{"KIND"}, {"ID", Align::left, 40}, {"COUNT", Align::right}});
//   table.add({"user", "bob@example.com", "3"});
//   fmt::print("{}", table.render());
//
// Nothing here touches the database.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <delta/admin.hpp>
#include <delta/rate_limit.hpp>
#include <delta/time.hpp>

namespace delta_cli {

using delta::Timestamp;

// What the command prints as JSON: objects keep their fields in the order they are set.
using Json = nlohmann::ordered_json;

// What a read command prints (--output).
enum class Format { table, json };

enum class Align { left, right };

struct Column {
  std::string title;
  Align align = Align::left;
  // Longer cells are cut to this many characters, the last one "…"; 0: never cut.
  std::size_t max_width = 0;
};

// Rows of text in aligned columns: a header row (unless every title is empty), then one
// line per row, columns two spaces apart, the last column not padded. Widths count UTF-8
// characters; control characters in cells (a newline in an error message) become spaces.
class Table {
 public:
  explicit Table(std::vector<Column> columns);
  // `cells` has one entry per column (missing ones are empty, extra ones dropped).
  void add(std::vector<std::string> cells);
  std::size_t size() const noexcept { return rows_.size(); }
  // Every line, each ending in "\n".
  std::string render() const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// 2026-11-28T00:27:28.123456Z (RFC 3339, UTC, microseconds).
std::string rfc3339(Timestamp time);
// rfc3339(time), or JSON null.
Json json_time(const std::optional<Timestamp>& time);
// The text, or JSON null.
Json json_text(const std::optional<std::string>& text);
// A duration as whole milliseconds, or JSON null.
Json json_ms(const std::optional<std::chrono::milliseconds>& duration);

// `time` relative to `now`: "3 min ago", "in 2 s", "now" (within a second); "-" for none.
std::string ago(const std::optional<Timestamp>& time, Timestamp now);
// "250 ms", "45 s", "1 h 30 min", "2 d 3 h" (the two largest units); "-" for none.
std::string human_duration(const std::optional<std::chrono::milliseconds>& duration);

// 1234567 -> "1,234,567".
std::string with_commas(std::int64_t number);
// "1 resource", "1,234 resources".
std::string count_of(std::int64_t number, std::string_view noun);

// `value` as it goes in a table cell: "-" for none.
std::string or_dash(const std::optional<std::string>& value);
// Compact JSON for a table cell ("-" for null or an empty object).
std::string json_cell(const nlohmann::json& value);
// Items joined by ", " ("-" for none).
std::string joined(const std::vector<std::string>& items);

// Prints `value` to standard output, indented by two, invalid UTF-8 replaced.
void print_json(const Json& value);

// A rate as operators write it: COUNT/[N]UNIT with UNIT ms, s, m or h ("50/s",
// "100/500ms", "600/1m"); "none": no limit. Throws delta::ValidationError("rate", ...).
std::optional<delta::RateLimit> parse_rate(const std::string& text);
// "50/1s, 20 at once", or "none".
std::string limits_text(const delta::FlowLimits& limits);
// One line: what is in force and where it comes from (the override, or the defaults).
std::string limits_summary(const delta::LimitsInfo& info);
// A list table's LIMITS cell: the limits in force, "(override)" when an operator set them;
// "-" without any.
std::string limits_cell(const delta::LimitsInfo& info);
// {"max_concurrency": 20|null, "rate": {"count": 50, "per_ms": 1000}|null}
nlohmann::json limits_json(const delta::FlowLimits& limits);
// {"in_force": ..., "defaults": ..., "override": ...|null, "overridden_at": ...|null}
nlohmann::json limits_info_json(const delta::LimitsInfo& info);

}  // namespace delta_cli
