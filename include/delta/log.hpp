// Logging hook.
//
// delta logs what its background loops do (leader changes, rescues, retries, errors it
// backs off from). By default messages at info and above go to stderr; set
// Config::logger to route them elsewhere.
#pragma once

#include <functional>
#include <string_view>

#include <delta/export.hpp>

DELTA_PUBLIC_BEGIN

namespace delta {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3 };

// Receives every message delta emits. Called from delta's threads, possibly several at
// once: it must be thread-safe and should return quickly.
using Logger = std::function<void(LogLevel level, std::string_view message)>;

// A logger writing messages at `min_level` and above to stderr, one line each.
Logger stderr_logger(LogLevel min_level = LogLevel::info);

// A logger that discards everything.
Logger null_logger();

std::string_view to_string(LogLevel level) noexcept;

}  // namespace delta

DELTA_PUBLIC_END
