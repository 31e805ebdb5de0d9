// How a failed attempt of user code (a resource's work, a job, an informer run) is told
// apart and recorded.
#pragma once

#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include <nlohmann/json.hpp>

#include <delta/time.hpp>

namespace delta::runtime {

// The demangled type name of `e` ("std::runtime_error").
std::string exception_type(const std::exception& e);

// `text` made safe for jsonb: invalid UTF-8 replaced, NUL bytes removed.
std::string storable_text(std::string_view text);

// An entry for a job's or resource's errors array.
nlohmann::json error_entry(int attempt, std::optional<Timestamp> now, std::string_view message,
                           std::string_view type);

// What an exception from user code said.
struct Failure {
  std::string message;
  std::string type;  // exception_type(), or "unknown" for what is not a std::exception
};

// What a failed attempt records: what it threw, or the message it gave with retry()
// (`retried`, type "retry"), prefixed "timed out after N ms" (type "timeout") when its
// deadline passed.
Failure attempt_failure(Failure thrown, const std::string* retried, bool timed_out,
                        std::chrono::milliseconds timeout);

// Runs `body`; returns its result, or nullopt with `failure` filled in when it threw.
template <class F>
std::optional<std::invoke_result_t<F>> run_catching(F&& body, Failure& failure) {
  try {
    return body();
  } catch (const std::exception& e) {
    failure = {e.what(), exception_type(e)};
  } catch (...) {
    failure = {"unknown exception", "unknown"};
  }
  return std::nullopt;
}

}  // namespace delta::runtime
