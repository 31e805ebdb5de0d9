// jobs::attempt_outcome: every way an attempt ends, and the row and event it comes to.
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "jobs/outcome.hpp"

namespace {

using namespace std::chrono_literals;
using delta::jobs::AttemptEnd;
using delta::jobs::JobEventKind;
using delta::jobs::JobRow;
using delta::jobs::JobState;

JobRow job_at(int attempt, int max_attempts = 5) {
  JobRow job;
  job.id = 42;
  job.kind = "send_email";
  job.attempt = attempt;
  job.max_attempts = max_attempts;
  return job;
}

AttemptEnd returned(delta::jobs::JobResult result) {
  AttemptEnd end;
  end.result = std::move(result);
  end.timeout = 250ms;
  return end;
}

AttemptEnd threw(std::string message) {
  AttemptEnd end;
  end.failure = {std::move(message), "std::runtime_error"};
  end.timeout = 250ms;
  return end;
}

struct Mapped {
  delta::jobs::JobOutcome outcome;
  int delay_calls = 0;
  std::string delay_failure;
};

Mapped map(const JobRow& job, AttemptEnd end, bool delay_throws = false) {
  Mapped mapped;
  mapped.outcome = delta::jobs::attempt_outcome(
      job, "client-1", delta::Timestamp{}, std::move(end),
      [&] {
        ++mapped.delay_calls;
        if (delay_throws) throw std::runtime_error("policy broke");
        return std::chrono::milliseconds(1500);
      },
      [&](const std::string& message) { mapped.delay_failure = message; });
  return mapped;
}

std::string error_of(const delta::jobs::Completion& completion, const char* field) {
  return completion.error ? (*completion.error)[field].get<std::string>() : "";
}

TEST(job_outcome_test, CompleteIsCompletedWithoutError) {
  auto [outcome, delay_calls, _] = map(job_at(1), returned(delta::jobs::complete()));
  EXPECT_EQ(outcome.completion.id, 42);
  EXPECT_EQ(outcome.completion.attempt, 1) << "the fence: the attempt that ran";
  EXPECT_EQ(outcome.completion.attempted_by, "client-1");
  EXPECT_EQ(outcome.completion.state, JobState::completed);
  EXPECT_FALSE(outcome.completion.error);
  EXPECT_EQ(outcome.event, JobEventKind::completed);
  EXPECT_EQ(delay_calls, 0);
}

TEST(job_outcome_test, SnoozeGivesTheAttemptBack) {
  auto later = map(job_at(2), returned(delta::jobs::snooze(3s))).outcome;
  EXPECT_EQ(later.completion.state, JobState::scheduled);
  EXPECT_EQ(later.completion.delay_ms, 3000);
  EXPECT_TRUE(later.completion.give_back_attempt);
  EXPECT_EQ(later.event, JobEventKind::snoozed);
  auto now = map(job_at(2), returned(delta::jobs::snooze(0ms))).outcome;
  EXPECT_EQ(now.completion.state, JobState::available) << "a zero snooze is available at once";
  auto negative = map(job_at(2), returned(delta::jobs::snooze(-5s))).outcome;
  EXPECT_EQ(negative.completion.delay_ms, 0);
}

TEST(job_outcome_test, CancelRecordsItsReason) {
  auto outcome = map(job_at(1), returned(delta::jobs::cancel("unsubscribed"))).outcome;
  EXPECT_EQ(outcome.completion.state, JobState::cancelled);
  EXPECT_EQ(error_of(outcome.completion, "error"), "unsubscribed");
  EXPECT_EQ(error_of(outcome.completion, "type"), "cancel");
  EXPECT_EQ(outcome.event, JobEventKind::cancelled);
  EXPECT_EQ(outcome.event_error, "unsubscribed");
}

TEST(job_outcome_test, AnOperatorCancelWinsOverWhatTheWorkerThrew) {
  auto end = threw("interrupted");
  end.flags.cancelled = true;
  auto outcome = map(job_at(1), std::move(end)).outcome;
  EXPECT_EQ(outcome.completion.state, JobState::cancelled);
  EXPECT_EQ(error_of(outcome.completion, "error"), "cancelled while running");
}

TEST(job_outcome_test, ShutdownReleasesWithoutAnEventUnlessItTimedOut) {
  auto end = threw("stopped");
  end.flags.shutdown = true;
  auto released = map(job_at(3), std::move(end)).outcome;
  EXPECT_EQ(released.completion.state, JobState::available);
  EXPECT_TRUE(released.completion.give_back_attempt);
  EXPECT_FALSE(released.event);
  EXPECT_FALSE(released.completion.error);

  auto late = threw("stopped");
  late.flags.shutdown = true;
  late.flags.timed_out = true;
  auto timed_out = map(job_at(3), std::move(late)).outcome;
  EXPECT_EQ(timed_out.completion.state, JobState::retryable) << "a timeout is a failed attempt";
}

TEST(job_outcome_test, AThrowIsRetriedAfterThePolicysDelay) {
  auto mapped = map(job_at(2), threw("smtp down"));
  EXPECT_EQ(mapped.outcome.completion.state, JobState::retryable);
  EXPECT_EQ(mapped.outcome.completion.delay_ms, 1500);
  EXPECT_EQ(mapped.delay_calls, 1);
  EXPECT_EQ(error_of(mapped.outcome.completion, "error"), "smtp down");
  EXPECT_EQ(error_of(mapped.outcome.completion, "type"), "std::runtime_error");
  EXPECT_EQ(mapped.outcome.completion.error.value()["attempt"], 2);
  EXPECT_EQ(mapped.outcome.event, JobEventKind::failed);
  EXPECT_EQ(mapped.outcome.event_error, "smtp down");
}

TEST(job_outcome_test, RetryRecordsItsMessageAndATimeoutSaysSo) {
  auto retried = map(job_at(1), returned(delta::jobs::retry("try later"))).outcome;
  EXPECT_EQ(error_of(retried.completion, "error"), "try later");
  EXPECT_EQ(error_of(retried.completion, "type"), "retry");

  auto end = threw("deadline exceeded");
  end.flags.timed_out = true;
  auto timed_out = map(job_at(1), std::move(end)).outcome;
  EXPECT_EQ(error_of(timed_out.completion, "error"), "timed out after 250 ms: deadline exceeded");
  EXPECT_EQ(error_of(timed_out.completion, "type"), "timeout");
}

TEST(job_outcome_test, TheLastAttemptIsDiscardedWithoutAskingForADelay) {
  auto mapped = map(job_at(5, 5), threw("still down"));
  EXPECT_EQ(mapped.outcome.completion.state, JobState::discarded);
  EXPECT_EQ(mapped.outcome.event, JobEventKind::discarded);
  EXPECT_EQ(mapped.delay_calls, 0);
}

TEST(job_outcome_test, AFailingRetryPolicyFallsBackToOneSecond) {
  auto mapped = map(job_at(1), threw("boom"), true);
  EXPECT_EQ(mapped.outcome.completion.state, JobState::retryable);
  EXPECT_EQ(mapped.outcome.completion.delay_ms, 1000);
  EXPECT_EQ(mapped.delay_failure, "policy broke");
}

TEST(job_outcome_test, ErrorTextIsMadeStorable) {
  auto outcome = map(job_at(1), threw(std::string("bad \xff byte\0", 11))).outcome;
  const std::string stored = error_of(outcome.completion, "error");
  EXPECT_EQ(stored.find('\0'), std::string::npos);
  EXPECT_NE(stored.find("\xef\xbf\xbd"), std::string::npos) << "invalid UTF-8 replaced";
}

}  // namespace
