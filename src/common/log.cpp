#include <chrono>
#include <cstdio>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <delta/log.hpp>
#include <delta/time.hpp>

namespace delta {

std::string_view to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warn:
      return "warn";
    case LogLevel::error:
      return "error";
  }
  return "?";
}

std::string LogValue::to_string() const {
  struct Text {
    std::string operator()(const std::string& text) const { return text; }
    std::string operator()(std::int64_t number) const { return fmt::format("{}", number); }
    std::string operator()(double number) const { return fmt::format("{}", number); }
    std::string operator()(bool flag) const { return flag ? "true" : "false"; }
  };
  return std::visit(Text{}, value_);
}

const LogValue* LogRecord::find(std::string_view key) const noexcept {
  for (const auto& field : fields) {
    if (field.key == key) return &field.value;
  }
  return nullptr;
}

void Logger::log(LogLevel level, std::string_view message, std::span<const LogField> fields) const {
  if (!enabled(level)) return;
  (*sink_)(LogRecord{delta::now(), level, message, fields});
}

void Logger::write(const LogRecord& record) const {
  if (enabled(record.level)) (*sink_)(record);
}

Logger::Sink Logger::text_sink(std::function<void(LogLevel, std::string_view)> text) {
  return [text = std::move(text)](const LogRecord& record) {
    if (record.fields.empty()) {
      text(record.level, record.message);
    } else {
      text(record.level, format_text(record));
    }
  };
}

namespace {

// Appends `text` with newlines, tabs and other control characters escaped (and, when
// `quoted`, with quotes and backslashes escaped too).
void append_escaped(std::string& out, std::string_view text, bool quoted) {
  for (char c : text) {
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '"':
        out += quoted ? "\\\"" : "\"";
        break;
      case '\\':
        out += quoted ? "\\\\" : "\\";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
}

bool needs_quotes(std::string_view text) {
  if (text.empty()) return true;
  for (char c : text) {
    if (c == ' ' || c == '=' || c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20 ||
        c == 0x7f) {
      return true;
    }
  }
  return false;
}

void append_fields(std::string& out, std::span<const LogField> fields) {
  for (const auto& field : fields) {
    if (!out.empty()) out += ' ';
    append_escaped(out, field.key, false);
    out += '=';
    std::string value = field.value.to_string();
    const bool quote =
        std::holds_alternative<std::string>(field.value.get()) && needs_quotes(value);
    if (quote) out += '"';
    append_escaped(out, value, quote);
    if (quote) out += '"';
  }
}

std::string time_of_day(Timestamp time) {
  const auto ms = std::chrono::time_point_cast<std::chrono::milliseconds>(time);
  const auto day = std::chrono::floor<std::chrono::days>(ms);
  const std::chrono::hh_mm_ss clock{ms - day};
  return fmt::format("{:02}:{:02}:{:02}.{:03}", clock.hours().count(), clock.minutes().count(),
                     clock.seconds().count(), clock.subseconds().count());
}

// One line written at once, so that lines from several threads never interleave.
void write_line(std::FILE* out, const std::string& line) {
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  std::fwrite(line.data(), 1, line.size(), out);
  std::fflush(out);
}

}  // namespace

std::string format_fields(std::span<const LogField> fields) {
  std::string out;
  append_fields(out, fields);
  return out;
}

std::string format_text(const LogRecord& record) {
  std::string out;
  append_escaped(out, record.message, false);
  append_fields(out, record.fields);
  return out;
}

std::string format_json(const LogRecord& record) {
  nlohmann::ordered_json line;
  line["time"] = to_rfc3339(record.time);
  line["level"] = to_string(record.level);
  line["message"] = record.message;
  for (const auto& field : record.fields) {
    if (line.contains(field.key)) continue;  // the first of a key wins
    std::visit([&](const auto& value) { line[field.key] = value; }, field.value.get());
  }
  return line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

Logger stderr_logger(LogLevel min_level) {
  return Logger(
      [](const LogRecord& record) {
        write_line(stderr, fmt::format("{} delta {}: {}\n", time_of_day(record.time),
                                       to_string(record.level), format_text(record)));
      },
      min_level);
}

Logger json_logger(LogLevel min_level, std::FILE* out) {
  return Logger(
      [out](const LogRecord& record) {
        std::string line = format_json(record);
        line += '\n';
        write_line(out != nullptr ? out : stderr, line);
      },
      min_level);
}

Logger null_logger() {
  return Logger([](const LogRecord&) {}, LogLevel::error);
}

}  // namespace delta
