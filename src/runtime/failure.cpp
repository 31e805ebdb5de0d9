#include "runtime/failure.hpp"

#include <cstdlib>
#include <typeinfo>

#include <cxxabi.h>
#include <fmt/format.h>

#include <delta/pg_values.hpp>

namespace delta::runtime {

std::string exception_type(const std::exception& e) {
  int status = 0;
  const char* mangled = typeid(e).name();
  char* demangled = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string name = (status == 0 && demangled != nullptr) ? demangled : mangled;
  std::free(demangled);
  return name;
}

std::string storable_text(std::string_view text) {
  // jsonb needs valid UTF-8 without NUL: replace bad bytes with U+FFFD and drop NULs.
  std::string clean;
  clean.reserve(text.size());
  for (char c : text) {
    if (c != '\0') clean.push_back(c);
  }
  auto dumped =
      nlohmann::json(clean).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return nlohmann::json::parse(dumped).get<std::string>();
}

nlohmann::json error_entry(int attempt, std::optional<Timestamp> now, std::string_view message,
                           std::string_view type) {
  std::string at;
  pg::detail::format_timestamp(now.value_or(delta::now()), at);
  return {{"attempt", attempt},
          {"at", at},
          {"error", storable_text(message)},
          {"type", storable_text(type)}};
}

Failure attempt_failure(Failure thrown, const std::string* retried, bool timed_out,
                        std::chrono::milliseconds timeout) {
  Failure failure = std::move(thrown);
  if (retried != nullptr) failure = {*retried, "retry"};
  if (timed_out) {
    failure.message = fmt::format("timed out after {} ms{}{}", timeout.count(),
                                  failure.message.empty() ? "" : ": ", failure.message);
    failure.type = "timeout";
  }
  return failure;
}

}  // namespace delta::runtime
