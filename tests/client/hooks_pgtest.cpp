// Hooks (Config::hooks) and structured records against a live PostgreSQL: a hook that
// records spans sees every work attempt, informer run and job attempt with its outcome,
// on the thread that runs it, nested and in order; a throwing hook changes nothing but a
// counter; records logged from user code carry the fields of what runs; a running
// informer reports its progress in the log, the metrics and the hooks.
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <delta/delta.hpp>

#include "support/maintenance_config.hpp"
#include "support/metric_value.hpp"
#include "support/pg_test.hpp"

namespace {

using delta::testing::eventually;
using delta::testing::metric_value;
using delta::testing::ScratchSchema;
using namespace std::chrono_literals;

// Set by the informer test: the informer waits for the test to look at the metrics.
struct Rendezvous {
  std::mutex mutex;
  std::condition_variable cv;
  bool progress_seen = false;
  bool checked = false;
  void wait_checked() {
    std::unique_lock lock(mutex);
    cv.wait_for(lock, 10s, [&] { return checked; });
  }
  void set(bool Rendezvous::*flag) {
    {
      std::lock_guard lock(mutex);
      this->*flag = true;
    }
    cv.notify_all();
  }
  bool get(bool Rendezvous::*flag) {
    std::lock_guard lock(mutex);
    return this->*flag;
  }
};
Rendezvous* rendezvous = nullptr;

struct Item {
  std::string key;
  std::string mode;  // "", "fail", "remove"
  static constexpr std::string_view kind = "item";
  std::string id() const { return key; }
  static delta::ObjectSettings settings() { return {.parallelism = 3}; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Item, key, mode)

class ItemController : public delta::Controller<Item> {
 public:
  delta::WorkResult work(delta::WorkContext& ctx, const delta::Resource<Item>& resource) override {
    ctx.log(delta::LogLevel::info, "working", {{"step", "reconcile"}});
    if (resource.object.mode == "fail") return delta::retry("upstream said no");
    if (resource.object.mode == "remove") return delta::remove("gone upstream");
    return delta::synced();
  }
  void inform(delta::InformContext& ctx, const delta::InformOptions&,
              delta::InformSink<Item>& sink) override {
    ctx.log(delta::LogLevel::info, "listing");
    int after_progress = 0;
    for (int i = 0; i < 100000 && !ctx.stop_requested(); ++i) {
      sink.emit(Item{"listed-" + std::to_string(i), ""});
      if (rendezvous != nullptr && rendezvous->get(&Rendezvous::progress_seen)) {
        if (after_progress == 0) rendezvous->wait_checked();
        if (++after_progress >= 3) break;
      }
      std::this_thread::sleep_for(1ms);  // a slow upstream
    }
  }
};

struct Ping {
  int n = 0;
  static constexpr std::string_view kind = "ping";
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Ping, n)

class PingWorker : public delta::jobs::Worker<Ping> {
 public:
  delta::jobs::JobResult work(delta::jobs::JobContext& ctx,
                              const delta::jobs::Job<Ping>& job) override {
    ctx.log(delta::LogLevel::info, "pinging");
    return job.args.n < 0 ? delta::jobs::cancel("negative") : delta::jobs::complete();
  }
};

// One call of a hook, in the order of a global sequence.
struct Call {
  std::string hook{};  // which recorder
  std::string what{};  // "work_started", ...
  std::string name{};  // object id, job kind or informer kind
  std::int64_t generation = 0;
  int attempt = 0;
  std::string result{};
  std::string error{};
  std::int64_t emitted = 0;
  std::chrono::nanoseconds duration{0};
  std::thread::id thread{};
  long sequence = 0;
  bool nested = true;  // finished matched the innermost open span of its thread
};

std::atomic<long> sequence{0};

class SpanRecorder : public delta::Hooks {
 public:
  explicit SpanRecorder(std::string name) : name_(std::move(name)) {}

  void work_started(const delta::WorkSpan& span) override {
    open(&span, {.what = "work_started",
                 .name = std::string(span.object_id),
                 .generation = span.generation,
                 .attempt = span.attempt});
    EXPECT_EQ(span.kind, "item");
    EXPECT_EQ(span.namespace_name, "default");
    EXPECT_GT(span.resource_id, 0);
  }
  void work_finished(const delta::WorkSpan& span, const delta::SpanEnd& end) override {
    close(&span, {.what = "work_finished",
                  .name = std::string(span.object_id),
                  .generation = span.generation,
                  .attempt = span.attempt,
                  .result = std::string(end.result),
                  .error = std::string(end.error),
                  .duration = end.duration});
  }
  void inform_started(const delta::InformSpan& span) override {
    open(&span, {.what = "inform_started", .name = std::string(span.kind)});
  }
  void inform_progress(const delta::InformSpan& span,
                       const delta::InformProgress& progress) override {
    record(
        {.what = "inform_progress", .name = std::string(span.kind), .emitted = progress.emitted});
    if (rendezvous != nullptr) rendezvous->set(&Rendezvous::progress_seen);
  }
  void inform_finished(const delta::InformSpan& span, const delta::SpanEnd& end) override {
    close(&span, {.what = "inform_finished",
                  .name = std::string(span.kind),
                  .result = std::string(end.result),
                  .error = std::string(end.error),
                  .duration = end.duration});
  }
  void job_started(const delta::JobSpan& span) override {
    open(&span, {.what = "job_started", .name = std::string(span.kind), .attempt = span.attempt});
    EXPECT_GT(span.job_id, 0);
  }
  void job_finished(const delta::JobSpan& span, const delta::SpanEnd& end) override {
    close(&span, {.what = "job_finished",
                  .name = std::string(span.kind),
                  .attempt = span.attempt,
                  .result = std::string(end.result),
                  .error = std::string(end.error),
                  .duration = end.duration});
  }

  std::vector<Call> calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }

 private:
  void record(Call call) {
    call.hook = name_;
    call.thread = std::this_thread::get_id();
    call.sequence = ++sequence;
    std::lock_guard lock(mutex_);
    calls_.push_back(std::move(call));
  }
  void open(const void* span, Call call) {
    stack().push_back(span);
    record(std::move(call));
  }
  void close(const void* span, Call call) {
    auto& open = stack();
    call.nested = !open.empty() && open.back() == span;
    if (!open.empty()) open.pop_back();
    record(std::move(call));
  }
  // The spans open on this thread (what a tracer keeps to parent the user's own spans).
  std::vector<const void*>& stack() {
    thread_local std::map<const SpanRecorder*, std::vector<const void*>> stacks;
    return stacks[this];
  }

  std::string name_;
  mutable std::mutex mutex_;
  std::vector<Call> calls_;
};

class ThrowingHook : public delta::Hooks {
 public:
  void work_started(const delta::WorkSpan&) override { throw std::runtime_error("hook broke"); }
  void work_finished(const delta::WorkSpan&, const delta::SpanEnd&) override {
    throw std::runtime_error("hook broke again");
  }
  void job_started(const delta::JobSpan&) override { throw 42; }
};

// Every record the client logs, copied.
class Records {
 public:
  delta::Logger logger() {
    return [this](const delta::LogRecord& record) {
      std::map<std::string, std::string> fields;
      for (const auto& field : record.fields)
        fields.emplace(field.key, field.value.to_string());
      std::lock_guard lock(mutex_);
      records_.push_back({std::string(record.message), std::move(fields)});
    };
  }
  struct Entry {
    std::string message;
    std::map<std::string, std::string> fields;
  };
  // The records whose message holds `part`.
  std::vector<Entry> with_message(std::string_view part) const {
    std::lock_guard lock(mutex_);
    std::vector<Entry> found;
    for (const auto& entry : records_) {
      if (entry.message.find(part) != std::string::npos) found.push_back(entry);
    }
    return found;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Entry> records_;
};

std::vector<Call> of(const std::vector<Call>& calls, std::string_view what,
                     std::string_view name = {}) {
  std::vector<Call> found;
  for (const auto& call : calls) {
    if (call.what == what && (name.empty() || call.name == name)) found.push_back(call);
  }
  return found;
}

TEST(hooks_pgtest, HooksSeeEveryWorkAttemptWithItsOutcomeAndUserRecordsCarryItsFields) {
  constexpr int kSynced = 20, kFailing = 3;
  ScratchSchema schema("hooks", delta::testing::SchemaStart::migrated);
  auto first = std::make_shared<SpanRecorder>("first");
  auto second = std::make_shared<SpanRecorder>("second");
  Records records;
  auto config = delta::testing::maintenance_config(schema.name());
  config.logger = records.logger();
  config.hooks = {first, std::make_shared<ThrowingHook>(), second};
  config.controllers.add(std::make_shared<ItemController>());
  config.namespaces["default"] = {.max_workers = 3};
  config.resource_backoff = [](int) { return 10ms; };
  delta::Client client(schema.shared_pool(), config);
  client.start();

  for (int i = 0; i < kSynced; ++i)
    client.inform(Item{"ok-" + std::to_string(i), ""});
  for (int i = 0; i < kFailing; ++i)
    client.inform(Item{"bad-" + std::to_string(i), "fail"}, {.max_attempts = 2});
  client.inform(Item{"gone", "remove"});
  ASSERT_TRUE(eventually([&] {
    return schema.count("delta_resource WHERE state = 'synced'") == kSynced &&
           schema.count("delta_resource WHERE state = 'degraded'") == kFailing &&
           schema.count("delta_resource WHERE state = 'deleted'") == 1;
  }));
  // The finished call follows the worker's hand-over to the completer; all are in once
  // the second recorder (the first to finish) and then the first have them all.
  const std::size_t attempts = kSynced + 2 * kFailing + 1;
  ASSERT_TRUE(eventually([&] { return of(first->calls(), "work_finished").size() == attempts; }));
  client.stop(5s);

  for (const auto& recorder : {first, second}) {
    const auto calls = recorder->calls();
    ASSERT_EQ(of(calls, "work_started").size(), attempts);
    ASSERT_EQ(of(calls, "work_finished").size(), attempts);
    for (const auto& call : calls) {
      EXPECT_TRUE(call.nested) << call.what << " " << call.name;
    }
    for (int i = 0; i < kSynced; ++i) {
      const auto ended = of(calls, "work_finished", "ok-" + std::to_string(i));
      ASSERT_EQ(ended.size(), 1U);
      EXPECT_EQ(ended[0].result, "synced");
      EXPECT_EQ(ended[0].error, "");
      EXPECT_EQ(ended[0].generation, 1);
      EXPECT_EQ(ended[0].attempt, 1);
    }
    for (int i = 0; i < kFailing; ++i) {
      const auto ended = of(calls, "work_finished", "bad-" + std::to_string(i));
      ASSERT_EQ(ended.size(), 2U);
      EXPECT_EQ(ended[0].attempt, 1);
      EXPECT_EQ(ended[0].result, "retry");
      EXPECT_EQ(ended[0].error, "upstream said no");
      EXPECT_EQ(ended[1].attempt, 2);
      EXPECT_EQ(ended[1].result, "degraded");
    }
    const auto removed = of(calls, "work_finished", "gone");
    ASSERT_EQ(removed.size(), 1U);
    EXPECT_EQ(removed[0].result, "removed");
    EXPECT_EQ(removed[0].error, "");  // a removal's reason is no error
  }

  // Per span: both hooks on the worker's thread; started in order, finished in reverse.
  const auto a = first->calls(), b = second->calls();
  for (int i = 0; i < kSynced; ++i) {
    const auto name = "ok-" + std::to_string(i);
    const auto a_start = of(a, "work_started", name).at(0),
               a_end = of(a, "work_finished", name).at(0);
    const auto b_start = of(b, "work_started", name).at(0),
               b_end = of(b, "work_finished", name).at(0);
    EXPECT_EQ(a_start.thread, a_end.thread);
    EXPECT_EQ(a_start.thread, b_start.thread);
    EXPECT_LT(a_start.sequence, b_start.sequence);
    EXPECT_LT(b_start.sequence, b_end.sequence);
    EXPECT_LT(b_end.sequence, a_end.sequence);
    EXPECT_EQ(a_end.duration, b_end.duration);
    EXPECT_GT(a_end.duration.count(), 0);
  }

  // The throwing hook was counted twice per attempt, and logged (not once per attempt).
  EXPECT_EQ(metric_value(client.metrics(), "delta_hook_errors_total"), 2.0 * attempts);
  const auto hook_logs = records.with_message("a hook threw");
  EXPECT_GE(hook_logs.size(), 1U);
  EXPECT_LT(hook_logs.size(), attempts);

  // What work logged carries the fields of the resource.
  const auto working = records.with_message("working");
  ASSERT_EQ(working.size(), attempts);
  bool saw_second_attempt = false;
  for (const auto& entry : working) {
    EXPECT_EQ(entry.fields.at("step"), "reconcile");
    EXPECT_EQ(entry.fields.at("kind"), "item");
    EXPECT_EQ(entry.fields.at("namespace"), "default");
    EXPECT_EQ(entry.fields.at("generation"), "1");
    EXPECT_TRUE(entry.fields.count("object_id"));
    if (entry.fields.at("object_id") == "bad-0" && entry.fields.at("attempt") == "2") {
      saw_second_attempt = true;
    }
  }
  EXPECT_TRUE(saw_second_attempt);
}

TEST(hooks_pgtest, JobsAreSpansAndTheirRecordsCarryTheJobsFields) {
  ScratchSchema schema("hooks_jobs", delta::testing::SchemaStart::migrated);
  auto recorder = std::make_shared<SpanRecorder>("jobs");
  Records records;
  auto config = delta::testing::maintenance_config(schema.name());
  config.logger = records.logger();
  config.hooks = {std::make_shared<ThrowingHook>(), recorder};
  config.workers.add(std::make_shared<PingWorker>());
  config.queues["default"] = {.max_workers = 2};
  delta::Client client(schema.shared_pool(), config);
  client.start();
  constexpr int kJobs = 10;
  for (int i = 0; i < kJobs; ++i)
    client.jobs().insert(Ping{i});
  const auto cancelled = client.jobs().insert(Ping{-1}).job.id;
  ASSERT_TRUE(
      eventually([&] { return of(recorder->calls(), "job_finished").size() == kJobs + 1; }));
  client.stop(5s);

  const auto calls = recorder->calls();
  EXPECT_EQ(of(calls, "job_started", "ping").size(), kJobs + 1U);
  int completed = 0;
  for (const auto& call : of(calls, "job_finished", "ping")) {
    EXPECT_TRUE(call.nested);
    EXPECT_EQ(call.attempt, 1);
    if (call.result == "completed") {
      ++completed;
      EXPECT_EQ(call.error, "");
    } else {
      EXPECT_EQ(call.result, "cancelled");
      EXPECT_EQ(call.error, "negative");
    }
  }
  EXPECT_EQ(completed, kJobs);
  // A throw that is not a std::exception is caught as well.
  EXPECT_EQ(metric_value(client.metrics(), "delta_hook_errors_total"), kJobs + 1.0);

  const auto pinging = records.with_message("pinging");
  ASSERT_EQ(pinging.size(), kJobs + 1U);
  bool saw_cancelled = false;
  for (const auto& entry : pinging) {
    EXPECT_EQ(entry.fields.at("queue"), "default");
    EXPECT_EQ(entry.fields.at("kind"), "ping");
    EXPECT_EQ(entry.fields.at("attempt"), "1");
    saw_cancelled = saw_cancelled || entry.fields.at("job_id") == std::to_string(cancelled);
  }
  EXPECT_TRUE(saw_cancelled);
}

TEST(hooks_pgtest, AnInformerRunIsASpanInsideItsJobAndReportsProgressWhileItRuns) {
  ScratchSchema schema("hooks_inform", delta::testing::SchemaStart::migrated);
  Rendezvous meet;
  rendezvous = &meet;
  auto recorder = std::make_shared<SpanRecorder>("inform");
  Records records;
  auto config = delta::testing::maintenance_config(schema.name());
  config.logger = records.logger();
  config.hooks = {recorder};
  config.inform_progress_interval = 20ms;
  config.controllers.add(std::make_shared<ItemController>());
  delta::Client client(schema.shared_pool(), config);
  client.start();
  client.schedule_inform({.kind = "item"});

  // While the run waits for the test: it is running, and the metrics say how far it got.
  ASSERT_TRUE(eventually([&] { return meet.get(&Rendezvous::progress_seen); }));
  const auto during = client.metrics();
  EXPECT_EQ(metric_value(during, "delta_informer_running", {{"kind", "item"}}), 1);
  const double so_far = metric_value(during, "delta_informer_run_objects", {{"kind", "item"}});
  EXPECT_GE(so_far, 1);
  const auto progress_logs = records.with_message("emitted so far");
  ASSERT_FALSE(progress_logs.empty());
  EXPECT_EQ(progress_logs.front().fields.at("kind"), "item");
  EXPECT_GE(std::stoll(progress_logs.front().fields.at("emitted")), 1);
  EXPECT_TRUE(progress_logs.front().fields.count("written"));
  meet.set(&Rendezvous::checked);

  ASSERT_TRUE(eventually([&] { return client.last_inform_run("item").has_value(); }));
  const auto run = *client.last_inform_run("item");
  ASSERT_TRUE(run.succeeded) << run.error;
  const auto after = client.metrics();
  EXPECT_EQ(metric_value(after, "delta_informer_running", {{"kind", "item"}}), 0);
  EXPECT_EQ(metric_value(after, "delta_informer_run_objects", {{"kind", "item"}}),
            static_cast<double>(run.emitted));
  EXPECT_GT(static_cast<double>(run.emitted), so_far);
  ASSERT_TRUE(eventually([&] { return of(recorder->calls(), "job_finished").size() == 1; }));
  client.stop(5s);
  rendezvous = nullptr;

  // job_started < inform_started < progress... < inform_finished < job_finished, on one thread.
  const auto calls = recorder->calls();
  const auto job_start = of(calls, "job_started").at(0), job_end = of(calls, "job_finished").at(0);
  const auto start = of(calls, "inform_started").at(0), end = of(calls, "inform_finished").at(0);
  const auto progress = of(calls, "inform_progress");
  EXPECT_EQ(job_start.name, "delta.inform:item");
  EXPECT_EQ(start.name, "item");
  EXPECT_EQ(end.result, "success");
  EXPECT_EQ(job_end.result, "completed");
  EXPECT_TRUE(end.nested);
  EXPECT_TRUE(job_end.nested);
  EXPECT_LT(job_start.sequence, start.sequence);
  EXPECT_LT(end.sequence, job_end.sequence);
  EXPECT_EQ(start.thread, end.thread);
  EXPECT_EQ(start.thread, job_start.thread);
  ASSERT_FALSE(progress.empty());
  std::int64_t last = 0;
  for (const auto& call : progress) {
    EXPECT_GT(call.sequence, start.sequence);
    EXPECT_LT(call.sequence, end.sequence);
    EXPECT_GE(call.emitted, last);  // never backwards
    EXPECT_LT(call.emitted, static_cast<std::int64_t>(run.emitted));
    last = call.emitted;
  }
  // The run's own record at the end has its counts as fields; the informer's own record
  // has the kind.
  const auto listing = records.with_message("listing");  // the informer's own
  ASSERT_EQ(listing.size(), 1U);
  EXPECT_EQ(listing[0].fields.at("kind"), "item");
  bool ended_logged = false;
  for (const auto& entry : records.with_message("batches")) {
    ended_logged = true;
    EXPECT_EQ(entry.fields.at("emitted"), std::to_string(run.emitted));
    EXPECT_EQ(entry.fields.at("inserted"), std::to_string(run.inserted));
  }
  EXPECT_TRUE(ended_logged);
}

TEST(hooks_pgtest, ANullHookAndANegativeProgressIntervalAreConfigErrors) {
  ScratchSchema schema("hooks_config", delta::testing::SchemaStart::migrated);
  auto config = delta::testing::maintenance_config(schema.name());
  config.hooks = {std::make_shared<SpanRecorder>("fine"), nullptr};
  config.inform_progress_interval = -1ms;
  try {
    delta::Client client(schema.shared_pool(), config);
    FAIL() << "a null hook was accepted";
  } catch (const delta::ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("hooks[1] is null"), std::string::npos) << what;
    EXPECT_NE(what.find("inform_progress_interval"), std::string::npos) << what;
  }
  config.hooks.pop_back();
  config.inform_progress_interval = 0ms;  // off
  EXPECT_NO_THROW(delta::Client(schema.shared_pool(), config));
}

}  // namespace
