// The job queue's pure logic, without a database: retry backoff, insert validation,
// worker registration, job results, uniqueness keys and the public value types.
//
// Suites are named after the executable so `ctest -R jobs_test` selects them.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <delta/errors.hpp>
#include <delta/jobs.hpp>
#include <delta/time.hpp>

#include "common/wake_chain.hpp"
#include "jobs/store.hpp"
#include "jobs/validate_insert.hpp"
#include "support/gate.hpp"
#include "support/pg_test.hpp"

namespace {

using delta::ConfigError;
using delta::Timestamp;
using delta::ValidationError;
using delta::jobs::JobInsert;
using delta::jobs::JobResult;
using delta::jobs::JobRow;
using delta::jobs::JobState;
using delta::jobs::UniqueOpts;
using namespace std::chrono_literals;

struct SendEmail {
  std::string to;
  int retries = 0;
  static constexpr std::string_view kind = "send_email";
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(SendEmail, to, retries)

// A worker whose kind is chosen at run time (Worker<T> takes it from T::kind).
class NamedWorker : public delta::jobs::WorkerBase {
 public:
  explicit NamedWorker(std::string kind) : kind_(std::move(kind)) {}
  std::string_view kind() const noexcept override { return kind_; }
  JobResult run(delta::jobs::JobContext&, const JobRow&) override {
    return delta::jobs::complete();
  }

 private:
  std::string kind_;
};

JobRow row_at_attempt(int attempt) {
  JobRow row;
  row.attempt = attempt;
  return row;
}

std::int64_t delay_ms(delta::jobs::RetryPolicy& policy, int attempt) {
  return policy.next_retry(row_at_attempt(attempt)).count();
}

// A valid job to break one field of at a time.
JobInsert valid_job() {
  JobInsert job;
  job.kind = "send_email";
  job.args = {{"to", "a@b.c"}};
  job.opts.queue = "mail";
  job.opts.priority = 2;
  job.opts.max_attempts = 5;
  job.opts.tags = {"customer-42", "welcome_mail"};
  job.opts.metadata = {{"source", "signup"}};
  return job;
}

// The field named by the ValidationError `job` raises, or "" when it is valid.
std::string invalid_field(const JobInsert& job, const std::string& where = {}) {
  try {
    delta::jobs::validate_insert(job, where);
  } catch (const ValidationError& e) {
    EXPECT_FALSE(std::string(e.what()).empty());
    return e.field();
  }
  return {};
}

// ---- retry backoff -----------------------------------------------------------------------

TEST(jobs_test, BackoffWithoutJitterIsAttemptToTheFourthSeconds) {
  auto policy = delta::jobs::exponential_backoff(std::chrono::hours(24 * 7), [] { return 0.0; });
  EXPECT_EQ(delay_ms(*policy, 1), 1'000);
  EXPECT_EQ(delay_ms(*policy, 2), 16'000);
  EXPECT_EQ(delay_ms(*policy, 3), 81'000);
  EXPECT_EQ(delay_ms(*policy, 4), 256'000);
  EXPECT_EQ(delay_ms(*policy, 5), 625'000);
  EXPECT_EQ(delay_ms(*policy, 10), 10'000'000);
  EXPECT_EQ(delay_ms(*policy, 25), 390'625'000);  // ~4.5 days, under the 7-day cap
}

TEST(jobs_test, BackoffJitterStaysWithinTenPercent) {
  auto low = delta::jobs::exponential_backoff(std::chrono::hours(24 * 7), [] { return -1.0; });
  auto high = delta::jobs::exponential_backoff(std::chrono::hours(24 * 7), [] { return 1.0; });
  for (int attempt = 1; attempt <= 8; ++attempt) {
    const double base = static_cast<double>(attempt) * attempt * attempt * attempt * 1000.0;
    EXPECT_NEAR(static_cast<double>(delay_ms(*low, attempt)), base * 0.9, 1.0) << attempt;
    EXPECT_NEAR(static_cast<double>(delay_ms(*high, attempt)), base * 1.1, 1.0) << attempt;
  }
}

TEST(jobs_test, BackoffDefaultJitterIsRandomWithinBounds) {
  auto policy = delta::jobs::exponential_backoff();
  std::int64_t lowest = INT64_MAX;
  std::int64_t highest = 0;
  for (int draw = 0; draw < 1000; ++draw) {
    const auto delay = delay_ms(*policy, 2);
    lowest = std::min(lowest, delay);
    highest = std::max(highest, delay);
  }
  EXPECT_GE(lowest, 14'400);
  EXPECT_LE(highest, 17'600);
  EXPECT_LT(lowest, highest) << "1000 draws all gave the same delay: no jitter";
}

TEST(jobs_test, BackoffIsCappedAtMaxDelay) {
  auto capped = delta::jobs::exponential_backoff(std::chrono::minutes(1), [] { return 1.0; });
  EXPECT_EQ(delay_ms(*capped, 1), 1'100);
  EXPECT_EQ(delay_ms(*capped, 2), 17'600);
  EXPECT_EQ(delay_ms(*capped, 3), 60'000);  // 89.1 s, capped
  EXPECT_EQ(delay_ms(*capped, 25), 60'000);

  // The default cap is 7 days: attempt 30 (30^4 s = 9.4 days) hits it even with -10%.
  auto by_default = delta::jobs::exponential_backoff();
  EXPECT_EQ(delay_ms(*by_default, 30),
            std::chrono::milliseconds(std::chrono::hours(24 * 7)).count());
}

// ---- insert validation ------------------------------------------------------------------

TEST(jobs_test, ValidJobPasses) {
  EXPECT_EQ(invalid_field(valid_job()), "");

  auto edge = valid_job();
  edge.kind = std::string(64, 'k');
  edge.opts.queue = "q1-b_2";
  edge.opts.priority = 4;
  edge.opts.max_attempts = 32767;
  edge.opts.tags = {std::string(255, 't'), "a-b"};
  edge.opts.metadata = nlohmann::json::object();
  edge.opts.unique = {.by_args = true,
                      .by_period = 0s,
                      .by_state = {JobState::available, JobState::scheduled, JobState::running,
                                   JobState::retryable}};
  EXPECT_EQ(invalid_field(edge), "");
}

TEST(jobs_test, RejectsBadKind) {
  for (const std::string& kind :
       std::vector<std::string>{"", "SendEmail", "send email", "send__email", "_send", "send-",
                                "send.email", std::string(65, 'k')}) {
    auto job = valid_job();
    job.kind = kind;
    EXPECT_EQ(invalid_field(job), "kind") << '"' << kind << '"';
  }
}

TEST(jobs_test, RejectsBadQueue) {
  for (const std::string& queue : std::vector<std::string>{
           "", "Mail", "mail queue", "mail--x", "-mail", "mail_", std::string(65, 'q')}) {
    auto job = valid_job();
    job.opts.queue = queue;
    EXPECT_EQ(invalid_field(job), "queue") << '"' << queue << '"';
  }
  auto longest = valid_job();
  longest.opts.queue = std::string(64, 'q');
  EXPECT_EQ(invalid_field(longest), "");
}

TEST(jobs_test, RejectsPriorityOutsideOneToFour) {
  for (int priority : {0, 5, -1}) {
    auto job = valid_job();
    job.opts.priority = priority;
    EXPECT_EQ(invalid_field(job), "priority") << priority;
  }
  for (int priority : {1, 4}) {
    auto job = valid_job();
    job.opts.priority = priority;
    EXPECT_EQ(invalid_field(job), "") << priority;
  }
}

TEST(jobs_test, RejectsMaxAttemptsOutOfRange) {
  for (int max_attempts : {0, -3, 32768}) {
    auto job = valid_job();
    job.opts.max_attempts = max_attempts;
    EXPECT_EQ(invalid_field(job), "max_attempts") << max_attempts;
  }
}

TEST(jobs_test, RejectsBadTagsNamingTheirIndex) {
  for (const std::string& tag :
       std::vector<std::string>{"ab", "-abc", "abc-", "has space", "semi;colon", ""}) {
    auto job = valid_job();
    job.opts.tags = {"fine", tag};
    EXPECT_EQ(invalid_field(job), "tags[1]") << '"' << tag << '"';
  }
  auto too_long = valid_job();
  too_long.opts.tags = {std::string(256, 't')};
  EXPECT_EQ(invalid_field(too_long), "tags[0]");
}

TEST(jobs_test, RejectsMetadataThatIsNotAnObject) {
  for (const auto& metadata : {nlohmann::json::array({1, 2}), nlohmann::json("text"),
                               nlohmann::json(nullptr), nlohmann::json(3)}) {
    auto job = valid_job();
    job.opts.metadata = metadata;
    EXPECT_EQ(invalid_field(job), "metadata") << metadata.dump();
  }
}

TEST(jobs_test, RejectsUniqueByStateMissingARequiredState) {
  const std::vector<JobState> required = {JobState::available, JobState::scheduled,
                                          JobState::running, JobState::retryable};
  for (std::size_t left_out = 0; left_out < required.size(); ++left_out) {
    auto job = valid_job();
    for (std::size_t state_idx = 0; state_idx < required.size(); ++state_idx) {
      if (state_idx != left_out) job.opts.unique.by_state.push_back(required[state_idx]);
    }
    job.opts.unique.by_state.push_back(JobState::completed);
    try {
      delta::jobs::validate_insert(job);
      ADD_FAILURE() << "by_state without " << delta::jobs::to_string(required[left_out]);
    } catch (const ValidationError& e) {
      EXPECT_EQ(e.field(), "unique.by_state");
      EXPECT_NE(std::string(e.what()).find(delta::jobs::to_string(required[left_out])),
                std::string::npos)
          << e.what();
    }
  }
}

TEST(jobs_test, RejectsNegativeUniquePeriod) {
  auto job = valid_job();
  job.opts.unique.by_period = -1s;
  EXPECT_EQ(invalid_field(job), "unique.by_period");
}

// Strings in args and metadata are stored as jsonb, so they must be UTF-8; bad bytes are
// bad input (ValidationError), not an exception from deep inside the JSON library.
TEST(jobs_test, RejectsArgsAndMetadataThatAreNotUtf8) {
  auto args = valid_job();
  args.args = {{"to", "caf\xe9"}};
  EXPECT_EQ(invalid_field(args), "args");

  auto metadata = valid_job();
  metadata.opts.metadata = {{"note", "\xff\xfe"}};
  EXPECT_EQ(invalid_field(metadata), "metadata");
}

TEST(jobs_test, ValidationFieldCarriesThePrefix) {
  auto job = valid_job();
  job.opts.priority = 9;
  EXPECT_EQ(invalid_field(job, "jobs[3]"), "jobs[3].priority");
}

// ---- workers ----------------------------------------------------------------------------

TEST(jobs_test, WorkersRejectDuplicateKinds) {
  delta::jobs::Workers workers;
  workers.add(std::make_shared<NamedWorker>("send_email"));
  EXPECT_THROW(workers.add(std::make_shared<NamedWorker>("send_email")), ConfigError);
  EXPECT_EQ(workers.kinds(), std::vector<std::string>{"send_email"});
}

TEST(jobs_test, WorkersRejectInvalidKindsAndNull) {
  delta::jobs::Workers workers;
  for (const std::string& kind :
       std::vector<std::string>{"", "Send", "send email", "send_", std::string(65, 'k')}) {
    try {
      workers.add(std::make_shared<NamedWorker>(kind));
      ADD_FAILURE() << "accepted kind \"" << kind << '"';
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.problems().size(), 1u);
    }
  }
  EXPECT_THROW(workers.add(nullptr), ConfigError);
  EXPECT_TRUE(workers.empty());
}

TEST(jobs_test, WorkersFindByKind) {
  delta::jobs::Workers workers;
  auto mail = std::make_shared<NamedWorker>("send_email");
  workers.add(mail).add(std::make_shared<NamedWorker>("resize-image"));
  ASSERT_NE(workers.find("send_email"), nullptr);
  EXPECT_EQ(workers.find("send_email")->get(), mail.get());
  EXPECT_EQ(workers.find("nope"), nullptr);
  EXPECT_EQ(workers.kinds(), (std::vector<std::string>{"send_email", "resize-image"}));
}

// ---- results and value types ------------------------------------------------------------

TEST(jobs_test, JobResultFactories) {
  const JobResult done = delta::jobs::complete();
  EXPECT_EQ(done.outcome(), JobResult::Outcome::complete);
  EXPECT_EQ(done.message(), "");

  const JobResult again = delta::jobs::retry("smtp timeout");
  EXPECT_EQ(again.outcome(), JobResult::Outcome::retry);
  EXPECT_EQ(again.message(), "smtp timeout");

  const JobResult stop = delta::jobs::cancel("address bounced");
  EXPECT_EQ(stop.outcome(), JobResult::Outcome::cancel);
  EXPECT_EQ(stop.message(), "address bounced");

  const JobResult later = delta::jobs::snooze(90s);
  EXPECT_EQ(later.outcome(), JobResult::Outcome::snooze);
  EXPECT_EQ(later.snooze_for(), 90'000ms);
}

TEST(jobs_test, JobStateNamesRoundTrip) {
  for (auto state :
       {JobState::available, JobState::scheduled, JobState::running, JobState::retryable,
        JobState::completed, JobState::cancelled, JobState::discarded}) {
    EXPECT_EQ(delta::jobs::job_state_from_string(delta::jobs::to_string(state)), state);
  }
  EXPECT_EQ(delta::jobs::to_string(JobState::retryable), "retryable");
  EXPECT_THROW(delta::jobs::job_state_from_string("finished"), ValidationError);
}

TEST(jobs_test, MakeInsertTakesKindAndArgs) {
  auto job = delta::jobs::make_insert(SendEmail{"a@b.c", 2}, {.queue = "mail", .priority = 3});
  EXPECT_EQ(job.kind, "send_email");
  EXPECT_EQ(job.args, (nlohmann::json{{"to", "a@b.c"}, {"retries", 2}}));
  EXPECT_EQ(job.opts.queue, "mail");
  EXPECT_EQ(job.opts.priority, 3);
}

TEST(jobs_test, PeriodicJobNamesAndConstructor) {
  auto unnamed = delta::jobs::every(5min, [] { return SendEmail{"x@y.z"}; },
                                    {.run_on_start = true, .insert = {.queue = "mail"}});
  EXPECT_EQ(unnamed.name, "send_email@300000");
  EXPECT_EQ(unnamed.interval, 5min);
  EXPECT_TRUE(unnamed.run_on_start);
  const JobInsert made = unnamed.make();
  EXPECT_EQ(made.kind, "send_email");
  EXPECT_EQ(made.args["to"], "x@y.z");
  EXPECT_EQ(made.opts.queue, "mail");

  auto named = delta::jobs::every(1min, [] { return SendEmail{}; }, {.name = "digest"});
  EXPECT_EQ(named.name, "digest");
  EXPECT_FALSE(named.run_on_start);
}

// ---- uniqueness keys --------------------------------------------------------------------

JobInsert unique_job(nlohmann::json args, UniqueOpts unique, std::string queue = "default") {
  JobInsert job;
  job.kind = "send_email";
  job.args = std::move(args);
  job.opts.queue = std::move(queue);
  job.opts.unique = std::move(unique);
  return job;
}

Timestamp at_seconds(std::int64_t seconds) {
  return Timestamp(std::chrono::seconds(seconds));
}

TEST(jobs_test, UniqueKeyIsEmptyForNonUniqueJobs) {
  EXPECT_EQ(delta::jobs::unique_key_source(unique_job({{"to", "a"}}, {}), at_seconds(0)), "");
}

TEST(jobs_test, UniqueKeyByArgs) {
  const UniqueOpts by_args{.by_args = true};
  const auto now = at_seconds(1'000);
  const auto key_a = delta::jobs::unique_key_source(unique_job({{"to", "a"}}, by_args), now);
  const auto key_b = delta::jobs::unique_key_source(unique_job({{"to", "b"}}, by_args), now);
  EXPECT_FALSE(key_a.empty());
  EXPECT_NE(key_a, key_b);
  EXPECT_EQ(key_a, delta::jobs::unique_key_source(unique_job({{"to", "a"}}, by_args), now));
  // Canonical JSON: member order does not matter.
  nlohmann::json forward = nlohmann::json::object();
  forward["a"] = 1;
  forward["b"] = 2;
  nlohmann::json backward = nlohmann::json::object();
  backward["b"] = 2;
  backward["a"] = 1;
  EXPECT_EQ(delta::jobs::unique_key_source(unique_job(forward, by_args), now),
            delta::jobs::unique_key_source(unique_job(backward, by_args), now));
  // Queue is not part of the key unless asked for.
  EXPECT_EQ(key_a,
            delta::jobs::unique_key_source(unique_job({{"to", "a"}}, by_args, "other"), now));
  // The kind always is.
  auto other_kind = unique_job({{"to", "a"}}, by_args);
  other_kind.kind = "send_sms";
  EXPECT_NE(key_a, delta::jobs::unique_key_source(other_kind, now));
}

TEST(jobs_test, UniqueKeyByQueueIgnoresArgs) {
  const UniqueOpts by_queue{.by_queue = true};
  const auto now = at_seconds(1'000);
  const auto mail =
      delta::jobs::unique_key_source(unique_job({{"to", "a"}}, by_queue, "mail"), now);
  EXPECT_EQ(mail, delta::jobs::unique_key_source(unique_job({{"to", "b"}}, by_queue, "mail"), now));
  EXPECT_NE(mail, delta::jobs::unique_key_source(unique_job({{"to", "a"}}, by_queue, "sms"), now));
}

TEST(jobs_test, UniqueKeyByPeriodBucketsTime) {
  const UniqueOpts by_period{.by_period = 15min};
  const auto key_at = [&](std::int64_t seconds) {
    return delta::jobs::unique_key_source(unique_job({}, by_period), at_seconds(seconds));
  };
  const std::int64_t start = 900 * 1000;  // a period boundary
  EXPECT_EQ(key_at(start), key_at(start + 899));
  EXPECT_NE(key_at(start + 899), key_at(start + 900));
  EXPECT_NE(key_at(start - 1), key_at(start));

  // scheduled_at, when set, decides the period instead of the clock.
  auto scheduled = unique_job({}, by_period);
  scheduled.opts.scheduled_at = at_seconds(start + 10);
  EXPECT_EQ(delta::jobs::unique_key_source(scheduled, at_seconds(start - 5'000)), key_at(start));
}

TEST(jobs_test, UniqueStatesMask) {
  // Default: every state but cancelled and discarded (bit N = Nth JobState).
  EXPECT_EQ(delta::jobs::unique_states_mask({}), 0b0011111);
  EXPECT_EQ(delta::jobs::unique_states_mask({.by_state = {JobState::available, JobState::scheduled,
                                                          JobState::running, JobState::retryable}}),
            0b0001111);
  EXPECT_EQ(delta::jobs::unique_states_mask(
                {.by_state = {JobState::available, JobState::scheduled, JobState::running,
                              JobState::retryable, JobState::completed, JobState::cancelled,
                              JobState::discarded}}),
            0b1111111);
}

TEST(jobs_test, UniqueOptsEnabled) {
  EXPECT_FALSE(UniqueOpts{}.enabled());
  EXPECT_TRUE(UniqueOpts{.by_args = true}.enabled());
  EXPECT_TRUE(UniqueOpts{.by_queue = true}.enabled());
  EXPECT_TRUE(UniqueOpts{.by_period = 1s}.enabled());
  EXPECT_TRUE(UniqueOpts{.by_state = {JobState::available}}.enabled());
}

}  // namespace

TEST(jobs_test, WakeChainWakesOneSleeperAtATime) {
  delta::internal::WakeChain chain;
  EXPECT_FALSE(chain.should_wake()) << "nobody sleeps";
  chain.sleeping();
  chain.sleeping();
  EXPECT_TRUE(chain.should_wake());
  EXPECT_FALSE(chain.should_wake()) << "one is already on its way";
  chain.woke();
  EXPECT_TRUE(chain.should_wake()) << "the woken one may wake the next";
  chain.woke();
  EXPECT_FALSE(chain.should_wake()) << "nobody left sleeping";
}

// Workers that wait the way the runners do: a batch of items that hold their workers reaches
// every idle worker through the chain, and every item of a large batch is taken exactly
// once.
TEST(jobs_test, WakeChainReachesEveryIdleWorker) {
  std::mutex mutex;
  std::condition_variable cv;
  delta::internal::WakeChain chain;
  std::deque<int> items;
  bool exit = false;
  int asleep = 0;  // guarded by mutex: workers in chain.wait()
  std::atomic<int> running{0}, done{0};
  std::atomic<int> notifies{0};
  std::atomic<bool> hold{false};  // items wait for the gate
  delta::testing::Gate gate;
  auto worker = [&] {
    std::unique_lock lock(mutex);
    for (;;) {
      while (items.empty() && !exit) {
        ++asleep;
        chain.wait(cv, lock);
        --asleep;
      }
      if (items.empty()) return;
      items.pop_front();
      const bool next = !items.empty() && chain.should_wake();
      lock.unlock();
      if (next) {
        ++notifies;
        cv.notify_one();
      }
      ++running;
      if (hold) gate.wait({}, false);
      --running;
      ++done;
      lock.lock();
    }
  };
  auto add = [&](int n) {
    bool wake = false;
    {
      std::lock_guard lock(mutex);
      for (int i = 0; i < n; ++i)
        items.push_back(i);
      wake = chain.should_wake();
    }
    if (wake) {
      ++notifies;
      cv.notify_one();
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back(worker);
  ASSERT_TRUE(delta::testing::eventually([&] {
    std::lock_guard lock(mutex);
    return asleep == 8;
  })) << "the workers did not all go to sleep";

  hold = true;  // items that hold their worker: all eight must end up running together
  add(8);
  EXPECT_TRUE(delta::testing::eventually([&] { return running.load() == 8; }))
      << "the chain stopped before it reached every idle worker: " << running.load() << " of 8";
  gate.open();
  ASSERT_TRUE(delta::testing::eventually([&] { return done.load() == 8; }));
  {
    // Every worker back in chain.wait() before the next batch, as in the first.
    ASSERT_TRUE(delta::testing::eventually([&] {
      std::lock_guard lock(mutex);
      return asleep == 8;
    }));
  }

  hold = false;  // short items: all taken, and far fewer wake-ups than items
  notifies = 0;
  add(10000);
  EXPECT_TRUE(delta::testing::eventually([&] { return done.load() == 10008; }))
      << done.load() << " of 10008 done";
  EXPECT_LT(notifies.load(), 100) << "about one wake-up per sleeping worker, not per item";
  {
    std::lock_guard lock(mutex);
    exit = true;
  }
  cv.notify_all();
  for (auto& t : threads)
    t.join();
}
