// Logging: structured records and the sinks they go to.
//
// delta logs what its background loops do (leader changes, rescues, retries, errors it
// backs off from, informer runs and their progress). Each record carries a message and
// fields — kind, namespace, object_id, generation, attempt, job_id, queue, duration_ms,
// error, ... — so that a log pipeline can filter on them. By default records at info and
// above go to stderr as one line of text with the fields as key=value; json_logger()
// writes JSON lines instead; any callable taking a LogRecord plugs in another library
// (spdlog, a company's logger: see docs/observability.md).
//
//   config.logger = delta::json_logger(delta::LogLevel::info);
//   config.logger = [](const delta::LogRecord& record) { ... };
//   config.logger = [](delta::LogLevel level, std::string_view line) { ... };  // plain text
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include <delta/export.hpp>
#include <delta/time.hpp>

DELTA_PUBLIC_BEGIN

namespace delta {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3 };

std::string_view to_string(LogLevel level) noexcept;

// The value of a field: text, an integer, a floating-point number or a boolean (JSON
// output keeps the type).
class LogValue {
 public:
  using Variant = std::variant<std::string, std::int64_t, double, bool>;

  LogValue(std::string text) : value_(std::move(text)) {}
  LogValue(std::string_view text) : value_(std::string(text)) {}
  LogValue(const char* text) : value_(std::string(text)) {}
  template <class I>
  requires(std::is_integral_v<I> && !std::is_same_v<I, bool> && !std::is_same_v<I, char>)
      LogValue(I number)
      : value_(static_cast<std::int64_t>(number)) {}
  LogValue(double number) : value_(number) {}
  LogValue(bool flag) : value_(flag) {}

  const Variant& get() const noexcept { return value_; }
  // The value as text: strings as they are, numbers in decimal, booleans true/false.
  std::string to_string() const;

 private:
  Variant value_;
};

struct LogField {
  std::string key;
  LogValue value;
};

// One thing delta logged. Valid only during the call to the logger: copy what is kept.
struct LogRecord {
  Timestamp time{};
  LogLevel level = LogLevel::info;
  std::string_view message{};
  std::span<const LogField> fields{};

  // The first field with this key, or null.
  const LogValue* find(std::string_view key) const noexcept;
};

// Where delta's records go. Copies share the sink. Called from delta's threads, possibly
// several at once: the sink must be thread-safe and should return quickly.
//
// Built from a callable taking `const LogRecord&`, or from one taking
// `(LogLevel, std::string_view)`, which receives the message with the fields appended as
// key=value. An empty Logger drops everything.
class Logger {
 public:
  using Sink = std::function<void(const LogRecord&)>;

  Logger() = default;
  Logger(std::nullptr_t) noexcept {}
  template <class F>
  requires std::is_invocable_v<F&, const LogRecord&> Logger(F sink,
                                                            LogLevel min_level = LogLevel::debug)
      : sink_(std::make_shared<const Sink>(std::move(sink))), min_level_(min_level) {}
  template <class F>
  requires(!std::is_invocable_v<F&, const LogRecord&> &&
           std::is_invocable_v<F&, LogLevel, std::string_view>)
      Logger(F text, LogLevel min_level = LogLevel::debug)
      : Logger(text_sink(std::function<void(LogLevel, std::string_view)>(std::move(text))),
               min_level) {}

  explicit operator bool() const noexcept { return sink_ != nullptr; }
  // Whether a record at `level` reaches the sink (skip building costly messages if not).
  bool enabled(LogLevel level) const noexcept { return sink_ && level >= min_level_; }

  void operator()(LogLevel level, std::string_view message,
                  std::initializer_list<LogField> fields = {}) const {
    log(level, message, std::span<const LogField>(fields.begin(), fields.size()));
  }
  void log(LogLevel level, std::string_view message, std::span<const LogField> fields) const;
  // Sends a record as it is (its level still checked against the minimum).
  void write(const LogRecord& record) const;

 private:
  static Sink text_sink(std::function<void(LogLevel, std::string_view)> text);

  std::shared_ptr<const Sink> sink_;
  LogLevel min_level_ = LogLevel::debug;
};

// The message followed by the fields as key=value, values quoted where they hold spaces,
// quotes, '=' or control characters; newlines escaped, so a record is one line.
std::string format_text(const LogRecord& record);
// Only the fields, key=value separated by spaces ("" without fields).
std::string format_fields(std::span<const LogField> fields);
// One JSON object: {"time":"...Z","level":"info","message":"...", <fields>}; invalid UTF-8
// is replaced, so the line is always valid JSON.
std::string format_json(const LogRecord& record);

// Records at `min_level` and above to stderr, one line each: the time of day, the level,
// the message and the fields as key=value.
Logger stderr_logger(LogLevel min_level = LogLevel::info);

// Records at `min_level` and above as JSON lines (format_json) to `out` (default stderr).
Logger json_logger(LogLevel min_level = LogLevel::info, std::FILE* out = nullptr);

// A logger that discards everything.
Logger null_logger();

}  // namespace delta

DELTA_PUBLIC_END
