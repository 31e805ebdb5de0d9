#include <chrono>
#include <cstdio>
#include <mutex>

#include <fmt/format.h>

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

Logger stderr_logger(LogLevel min_level) {
  return [min_level](LogLevel level, std::string_view message) {
    if (level < min_level) return;
    static std::mutex mutex;
    auto now =
        std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
    auto day = std::chrono::floor<std::chrono::days>(now);
    std::chrono::hh_mm_ss time{now - day};
    std::string line = fmt::format("{:02}:{:02}:{:02}.{:03} delta {}: {}\n", time.hours().count(),
                                   time.minutes().count(), time.seconds().count(),
                                   time.subseconds().count(), to_string(level), message);
    std::lock_guard lock(mutex);
    std::fwrite(line.data(), 1, line.size(), stderr);
  };
}

Logger null_logger() {
  return [](LogLevel, std::string_view) {};
}

}  // namespace delta
