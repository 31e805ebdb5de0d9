// resources::work_outcome: every way work() ends, and the finish row and event it comes to.
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "resources/outcome.hpp"

namespace {

using namespace std::chrono_literals;
using delta::EventCategory;
using delta::resources::Backoff;
using delta::resources::Finish;
using delta::resources::FinishRow;
using delta::resources::WorkEnd;

FinishRow claim() {
  FinishRow row;
  row.id = 7;
  row.attempted_at = delta::Timestamp{} + 1s;
  row.generation = 3;
  return row;
}

WorkEnd returned(delta::WorkResult result) {
  WorkEnd end;
  end.result = std::move(result);
  end.timeout = 100ms;
  return end;
}

WorkEnd threw(std::string message) {
  WorkEnd end;
  end.failure = {std::move(message), "std::runtime_error"};
  end.timeout = 100ms;
  return end;
}

struct Recorded {
  int asked_attempt = 0;
  std::string failure;
};

Backoff backoff(Recorded& recorded, bool throws = false) {
  return {[&recorded, throws](int attempt) {
            recorded.asked_attempt = attempt;
            if (throws) throw std::runtime_error("backoff broke");
            return std::chrono::milliseconds(attempt * 1000);
          },
          [&recorded](const std::string& message) { recorded.failure = message; }};
}

delta::resources::WorkOutcome map(WorkEnd end, Recorded& recorded, bool throws = false) {
  return delta::resources::work_outcome(claim(), 2, std::nullopt, std::move(end),
                                        backoff(recorded, throws));
}

std::string error_of(const FinishRow& row, const char* field) {
  return row.error ? (*row.error)[field].get<std::string>() : "";
}

TEST(resource_outcome_test, SyncedKeepsTheFence) {
  Recorded recorded;
  auto outcome = map(returned(delta::synced()), recorded);
  EXPECT_EQ(outcome.row.outcome, Finish::synced);
  EXPECT_EQ(outcome.row.id, 7);
  EXPECT_EQ(outcome.row.attempted_at, delta::Timestamp{} + 1s);
  EXPECT_EQ(outcome.row.generation, 3) << "the generation worked: a newer one is not synced";
  EXPECT_FALSE(outcome.row.error);
  EXPECT_EQ(outcome.event, EventCategory::synced);
  EXPECT_EQ(recorded.asked_attempt, 0) << "no backoff for a success";
}

TEST(resource_outcome_test, RemoveIsADeleteWithItsReason) {
  Recorded recorded;
  auto outcome = map(returned(delta::remove("gone upstream")), recorded);
  EXPECT_EQ(outcome.row.outcome, Finish::deleted);
  EXPECT_EQ(outcome.event, EventCategory::deleted);
  EXPECT_EQ(outcome.event_error, "gone upstream");
}

TEST(resource_outcome_test, RequeueIsNotAFailureAndHasNoEvent) {
  Recorded recorded;
  auto outcome = map(returned(delta::requeue_after(2500ms)), recorded);
  EXPECT_EQ(outcome.row.outcome, Finish::requeue);
  EXPECT_EQ(outcome.row.delay_ms, 2500);
  EXPECT_FALSE(outcome.event);
  EXPECT_FALSE(outcome.row.error);
  auto negative = map(returned(delta::requeue_after(-1s)), recorded);
  EXPECT_EQ(negative.row.delay_ms, 0);
}

TEST(resource_outcome_test, ShutdownReleasesUnlessItTimedOut) {
  Recorded recorded;
  auto end = threw("stopping");
  end.flags.shutdown = true;
  auto released = map(std::move(end), recorded);
  EXPECT_EQ(released.row.outcome, Finish::release);
  EXPECT_FALSE(released.event);
  auto late = threw("stopping");
  late.flags.shutdown = true;
  late.flags.timed_out = true;
  EXPECT_EQ(map(std::move(late), recorded).row.outcome, Finish::failed);
}

TEST(resource_outcome_test, AFailureRecordsItsErrorAndBacksOff) {
  Recorded recorded;
  auto outcome = map(threw("api said 503"), recorded);
  EXPECT_EQ(outcome.row.outcome, Finish::failed);
  EXPECT_EQ(recorded.asked_attempt, 2);
  EXPECT_EQ(outcome.row.delay_ms, 2000);
  EXPECT_EQ(error_of(outcome.row, "error"), "api said 503");
  EXPECT_EQ(error_of(outcome.row, "type"), "std::runtime_error");
  EXPECT_EQ(outcome.row.error.value()["attempt"], 2);
  EXPECT_EQ(outcome.event, EventCategory::failed);
  EXPECT_EQ(outcome.event_error, "api said 503");
}

TEST(resource_outcome_test, RetryAndTimeoutMessages) {
  Recorded recorded;
  auto retried = map(returned(delta::retry("rate limited")), recorded);
  EXPECT_EQ(error_of(retried.row, "error"), "rate limited");
  EXPECT_EQ(error_of(retried.row, "type"), "retry");
  auto end = returned(delta::retry("partial"));
  end.flags.timed_out = true;
  auto timed_out = map(std::move(end), recorded);
  EXPECT_EQ(error_of(timed_out.row, "error"), "timed out after 100 ms: partial");
  EXPECT_EQ(error_of(timed_out.row, "type"), "timeout");
}

TEST(resource_outcome_test, AFailingBackoffFallsBackToOneSecond) {
  Recorded recorded;
  auto outcome = map(threw("boom"), recorded, true);
  EXPECT_EQ(outcome.row.delay_ms, 1000);
  EXPECT_EQ(recorded.failure, "backoff broke");
}

TEST(resource_outcome_test, AnUnparseableObjectIsAFailedAttempt) {
  Recorded recorded;
  auto outcome = delta::resources::failed_outcome(
      claim(), 1, std::nullopt, {"the stored object does not parse as user: x", "parse"},
      backoff(recorded));
  EXPECT_EQ(outcome.row.outcome, Finish::failed);
  EXPECT_EQ(error_of(outcome.row, "type"), "parse");
  EXPECT_EQ(outcome.event, EventCategory::failed);
}

}  // namespace
