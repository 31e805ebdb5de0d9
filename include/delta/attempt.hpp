// What every kind of work shares: the context a running attempt sees, and how a failed
// attempt is kept. Resources' work, informer runs and jobs all use these.
#pragma once

#include <chrono>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <delta/export.hpp>
#include <delta/log.hpp>
#include <delta/time.hpp>

DELTA_PUBLIC_BEGIN

namespace delta {

class Client;

// One failed attempt, as kept in a resource's or job's errors (the last 20).
struct AttemptError {
  int attempt = 0;
  Timestamp at;
  std::string error;  // the message
  std::string type;   // exception type, or "retry" / "rescue" / "timeout" / "parse" ...
};

namespace detail {
// What a piece of user code decided about its attempt: an outcome, a message (an error,
// a reason) and a duration whose meaning depends on the outcome. WorkResult and
// jobs::JobResult are made only by their factory functions (synced(), jobs::complete(),
// ...).
template <class OutcomeEnum>
class Decision {
 public:
  using Outcome = OutcomeEnum;
  Outcome outcome() const noexcept { return outcome_; }
  const std::string& message() const noexcept { return message_; }

 protected:
  Decision(Outcome outcome, std::string message, std::chrono::milliseconds duration)
      : outcome_(outcome), message_(std::move(message)), duration_(duration) {}
  std::chrono::milliseconds duration() const noexcept { return duration_; }

 private:
  Outcome outcome_;
  std::string message_;
  std::chrono::milliseconds duration_{0};
};

// Adds the fields of what runs (kind, namespace, object_id, generation, attempt; or job_id,
// queue, kind, attempt) to a record logged through its context. Called only when a record
// is logged, so that a context costs nothing to make.
struct LogScope {
  void (*append)(const void* what, std::vector<LogField>& fields) = nullptr;
  const void* what = nullptr;
};

// What a running attempt gets to see of the client running it.
class RunContext {
 public:
  RunContext(std::stop_token stop, std::chrono::steady_clock::time_point deadline,
             const Logger& logger, Client* client, LogScope scope = {})
      : stop_(std::move(stop)),
        deadline_(deadline),
        logger_(logger),
        client_(client),
        scope_(scope) {}
  // Set when the deadline passed, an operator cancelled the work, or the client is
  // stopping: return soon.
  std::stop_token stop_token() const noexcept { return stop_; }
  bool stop_requested() const noexcept { return stop_.stop_requested(); }
  // When the timeout ends (time_point::max() without a timeout).
  std::chrono::steady_clock::time_point deadline() const noexcept { return deadline_; }
  // Logs through the client's logger; the record carries `fields` and then the fields of
  // what runs (kind, namespace, object_id, generation, attempt; for a job job_id, queue,
  // kind, attempt).
  void log(LogLevel level, std::string_view message,
           std::initializer_list<LogField> fields = {}) const;
  // The client running this work (to inform other objects, insert jobs, ...). Throws
  // delta::Error when there is none (a context built by hand in a test).
  Client& client() const;

 private:
  std::stop_token stop_;
  std::chrono::steady_clock::time_point deadline_;
  const Logger& logger_;
  Client* client_;
  LogScope scope_;
};
}  // namespace detail

}  // namespace delta

DELTA_PUBLIC_END
