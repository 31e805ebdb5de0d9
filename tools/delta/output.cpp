#include "output.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <delta/errors.hpp>

namespace delta_cli {

namespace {

bool is_continuation(char byte) {
  return (static_cast<unsigned char>(byte) & 0xC0U) == 0x80U;
}

// Characters (UTF-8 code points) in `text`.
std::size_t width_of(std::string_view text) {
  return static_cast<std::size_t>(
      std::count_if(text.begin(), text.end(), [](char byte) { return !is_continuation(byte); }));
}

// `text` cut to `max_width` characters, the last of them "…"; unchanged when it fits.
std::string truncated(std::string text, std::size_t max_width) {
  if (max_width == 0 || width_of(text) <= max_width) return text;
  std::size_t characters = 0;
  std::size_t byte_idx = 0;
  for (; byte_idx < text.size(); ++byte_idx) {
    if (is_continuation(text[byte_idx])) continue;
    if (characters == max_width - 1) break;
    ++characters;
  }
  text.resize(byte_idx);
  return text + "…";
}

std::string sanitized(std::string text) {
  for (char& byte : text) {
    if (static_cast<unsigned char>(byte) < 0x20U || byte == '\x7f') byte = ' ';
  }
  return text;
}

struct Unit {
  std::int64_t ms;
  const char* name;
};
constexpr std::array<Unit, 4> kUnits{{
    {86'400'000, "d"},
    {3'600'000, "h"},
    {60'000, "min"},
    {1'000, "s"},
}};

// `ms` (>= 0) in at most `parts` units, largest first: "1 h 30 min".
std::string in_units(std::int64_t ms, int parts) {
  if (ms < 1000) return fmt::format("{} ms", ms);
  std::string text;
  for (const auto& unit : kUnits) {
    if (parts == 0) break;
    const std::int64_t amount = ms / unit.ms;
    if (amount == 0) {
      if (!text.empty()) break;  // "1 h", not "1 h 0 min 5 s"
      continue;
    }
    if (!text.empty()) text += ' ';
    text += fmt::format("{} {}", amount, unit.name);
    ms -= amount * unit.ms;
    --parts;
  }
  return text;
}

}  // namespace

Table::Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

void Table::add(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  for (std::size_t column_idx = 0; column_idx < cells.size(); ++column_idx) {
    cells[column_idx] =
        truncated(sanitized(std::move(cells[column_idx])), columns_[column_idx].max_width);
  }
  rows_.push_back(std::move(cells));
}

std::string Table::render() const {
  const bool header = std::any_of(columns_.begin(), columns_.end(),
                                  [](const Column& column) { return !column.title.empty(); });
  std::vector<std::size_t> widths(columns_.size(), 0);
  for (std::size_t column_idx = 0; column_idx < columns_.size(); ++column_idx) {
    if (header) widths[column_idx] = width_of(columns_[column_idx].title);
    for (const auto& row : rows_) {
      widths[column_idx] = std::max(widths[column_idx], width_of(row[column_idx]));
    }
  }
  std::string out;
  const auto line = [&](const auto& cell_of) {
    std::string text;
    for (std::size_t column_idx = 0; column_idx < columns_.size(); ++column_idx) {
      const std::string& cell = cell_of(column_idx);
      const std::string padding(widths[column_idx] - width_of(cell), ' ');
      const bool last = column_idx + 1 == columns_.size();
      if (column_idx > 0) text += "  ";
      if (columns_[column_idx].align == Align::right) {
        text += padding + cell;
      } else {
        text += cell;
        if (!last) text += padding;
      }
    }
    while (!text.empty() && text.back() == ' ')
      text.pop_back();
    out += text + '\n';
  };
  if (header)
    line([&](std::size_t column_idx) -> const std::string& { return columns_[column_idx].title; });
  for (const auto& row : rows_) {
    line([&](std::size_t column_idx) -> const std::string& { return row[column_idx]; });
  }
  return out;
}

std::string rfc3339(Timestamp time) {
  return delta::to_rfc3339(time);
}

Json json_time(const std::optional<Timestamp>& time) {
  return time ? Json(rfc3339(*time)) : Json(nullptr);
}

Json json_text(const std::optional<std::string>& text) {
  return text ? Json(*text) : Json(nullptr);
}

Json json_ms(const std::optional<std::chrono::milliseconds>& duration) {
  return duration ? Json(duration->count()) : Json(nullptr);
}

std::string ago(const std::optional<Timestamp>& time, Timestamp now) {
  if (!time) return "-";
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*time - now).count();
  if (ms > -1000 && ms < 1000) return "now";
  const std::string amount = in_units(ms < 0 ? -ms : ms, 1);
  return ms < 0 ? amount + " ago" : "in " + amount;
}

std::string human_duration(const std::optional<std::chrono::milliseconds>& duration) {
  if (!duration) return "-";
  const std::int64_t ms = duration->count();
  return ms < 0 ? "-" + in_units(-ms, 2) : in_units(ms, 2);
}

std::string with_commas(std::int64_t number) {
  std::string digits = std::to_string(number < 0 ? -number : number);
  for (auto position = static_cast<std::ptrdiff_t>(digits.size()) - 3; position > 0;
       position -= 3) {
    digits.insert(static_cast<std::size_t>(position), ",");
  }
  return number < 0 ? "-" + digits : digits;
}

std::string count_of(std::int64_t number, std::string_view noun) {
  return fmt::format("{} {}{}", with_commas(number), noun, number == 1 ? "" : "s");
}

std::string or_dash(const std::optional<std::string>& value) {
  return value && !value->empty() ? *value : std::string("-");
}

std::string json_cell(const nlohmann::json& value) {
  if (value.is_null() || (value.is_object() && value.empty())) return "-";
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string joined(const std::vector<std::string>& items) {
  return items.empty() ? std::string("-") : fmt::format("{}", fmt::join(items, ", "));
}

void print_json(const Json& value) {
  const std::string text = value.dump(2, ' ', false, Json::error_handler_t::replace);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
}

}  // namespace delta_cli

namespace delta_cli {

std::optional<delta::RateLimit> parse_rate(const std::string& text) {
  if (text == "none") return std::nullopt;
  const auto bad = [&] {
    return delta::ValidationError(
        "rate", fmt::format("'{}' is not a rate: write COUNT/[N]UNIT with UNIT ms, s, m or h "
                            "(50/s, 100/500ms, 600/1m), or none",
                            text));
  };
  const auto slash = text.find('/');
  if (slash == std::string::npos || slash == 0) throw bad();
  std::int64_t count = 0;
  const auto* first = text.data();
  auto [count_end, count_error] = std::from_chars(first, first + slash, count);
  if (count_error != std::errc{} || count_end != first + slash) throw bad();
  std::string per = text.substr(slash + 1);
  std::size_t digits = 0;
  while (digits < per.size() && per[digits] >= '0' && per[digits] <= '9')
    ++digits;
  std::int64_t amount = 1;
  if (digits > 0) {
    auto [end, error] = std::from_chars(per.data(), per.data() + digits, amount);
    if (error != std::errc{} || end != per.data() + digits) throw bad();
  }
  const std::string unit = per.substr(digits);
  std::int64_t unit_ms = 0;
  if (unit == "ms") {
    unit_ms = 1;
  } else if (unit == "s") {
    unit_ms = 1000;
  } else if (unit == "m") {
    unit_ms = 60'000;
  } else if (unit == "h") {
    unit_ms = 3'600'000;
  } else {
    throw bad();
  }
  if (count < 1 || count > 1'000'000'000) {
    throw delta::ValidationError("rate", fmt::format("the count of '{}' must be at least 1", text));
  }
  if (amount < 1 || amount > 100'000'000'000 / unit_ms) {
    throw delta::ValidationError("rate",
                                 fmt::format("the interval of '{}' must be at least 1 ms", text));
  }
  return delta::RateLimit{static_cast<int>(count), std::chrono::milliseconds(amount * unit_ms)};
}

std::string limits_text(const delta::FlowLimits& limits) {
  std::vector<std::string> parts;
  if (limits.rate_limit) parts.push_back(delta::to_string(*limits.rate_limit));
  if (limits.max_concurrency) parts.push_back(fmt::format("{} at once", *limits.max_concurrency));
  if (parts.empty()) return "none";
  return fmt::format("{}", fmt::join(parts, ", "));
}

std::string limits_summary(const delta::LimitsInfo& info) {
  if (info.overridden) {
    return fmt::format("{} (overridden{}; defaults: {})", limits_text(info.in_force),
                       info.overridden_at ? " at " + rfc3339(*info.overridden_at) : "",
                       limits_text(info.defaults));
  }
  return fmt::format("{} (the defaults)", limits_text(info.in_force));
}

std::string limits_cell(const delta::LimitsInfo& info) {
  if (!info.in_force.max_concurrency && !info.in_force.rate_limit) {
    return info.overridden ? "none (override)" : "-";
  }
  return limits_text(info.in_force) + (info.overridden ? " (override)" : "");
}

nlohmann::json limits_json(const delta::FlowLimits& limits) {
  nlohmann::json out = nlohmann::json::object();
  out["max_concurrency"] =
      limits.max_concurrency ? nlohmann::json(*limits.max_concurrency) : nlohmann::json(nullptr);
  if (limits.rate_limit) {
    out["rate"] = {{"count", limits.rate_limit->count}, {"per_ms", limits.rate_limit->per.count()}};
  } else {
    out["rate"] = nullptr;
  }
  return out;
}

nlohmann::json limits_info_json(const delta::LimitsInfo& info) {
  nlohmann::json out = nlohmann::json::object();
  out["in_force"] = limits_json(info.in_force);
  out["defaults"] = limits_json(info.defaults);
  out["override"] = info.overridden ? limits_json(*info.overridden) : nlohmann::json(nullptr);
  out["overridden_at"] =
      info.overridden_at ? nlohmann::json(rfc3339(*info.overridden_at)) : nlohmann::json(nullptr);
  return out;
}

}  // namespace delta_cli
