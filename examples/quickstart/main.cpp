// delta quickstart: keep a copy of a CRM's users in step, and watch delta do the work.
//
// Read it top to bottom:
//   1. User, the object: a plain struct with a kind, an id and a JSON form.
//   2. UserController: its informer lists users from the CRM, its worker copies one user
//      into our "directory".
//   3. run(): migrate, start a Client, then run the informer round after round. Between
//      rounds some users change, some sign up and some leave; the informer's cursor makes
//      each run list only what changed, delta works exactly the users that need it,
//      retries the failures, and deletes the users who left.
//
// The database comes from DATABASE_URL, else libpq's PG* variables. The demo keeps its
// tables in a schema of its own, "quickstart", which it drops first, so it can run again
// and again. It exits 0 when every user ended synced (or deleted) and the directory
// matches the CRM, and 1 otherwise.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <delta/delta.hpp>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kSchema = "quickstart";

// ---- 1. The object ----------------------------------------------------------------------

// A user as the CRM reports it. delta stores it as JSON (the macro below), one resource
// row per (kind, id).
struct User {
  std::string email;
  std::string name;
  std::string plan;
  std::int64_t updated_at = 0;  // the CRM's last-modified time (ms)

  static constexpr std::string_view kind = "user";  // required: the resource kind
  std::string id() const { return email; }          // required: unique within the kind

  // Optional: is this copy newer (> 0), the same (0) or older (< 0) than the stored one?
  // delta ignores an older copy ("stale") instead of overwriting newer data with it.
  int compare(const User& stored) const {
    if (updated_at == stored.updated_at) return 0;
    return updated_at > stored.updated_at ? 1 : -1;
  }
  // Optional: the informer's cursor. After a run, delta remembers the newest value it
  // wrote and passes it to the next run as `after`.
  std::optional<delta::Timestamp> created_at() const {
    return delta::Timestamp(std::chrono::milliseconds(updated_at));
  }
  // Optional: work up to 8 users at once in this process (default 1). The informer runs
  // when this demo asks (schedule_inform); a real service would rather set an
  // inform_interval (say 5 min) and let delta's leader schedule the runs.
  static delta::ObjectSettings settings() {
    return {.parallelism = 8, .inform_interval = std::chrono::milliseconds(-1)};
  }

  bool operator==(const User&) const = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(User, email, name, plan, updated_at)

// ---- The outside world ------------------------------------------------------------------

// A simulated CRM: a few thousand users generated from a fixed seed, so every run tells
// the same story. Workers read it concurrently, hence the mutex.
class Crm {
 public:
  Crm(int users, unsigned seed) : random_(seed) {
    std::lock_guard lock(mutex_);
    for (int i = 0; i < users; ++i) {
      clock_ += 1000;  // they signed up one second apart
      add_user();
    }
  }

  // Every user modified at or after `since` (ms), as the CRM's list API would return them.
  std::vector<User> list(std::int64_t since = 0) const {
    std::lock_guard lock(mutex_);
    std::vector<User> users;
    for (const auto& entry : users_)
      if (entry.second.updated_at >= since) users.push_back(entry.second);
    return users;
  }
  std::optional<User> find(const std::string& email) const {
    std::lock_guard lock(mutex_);
    auto it = users_.find(email);
    if (it == users_.end()) return std::nullopt;
    return it->second;
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return users_.size();
  }

  // What happened in the CRM between two rounds.
  struct Activity {
    std::vector<User> before_change;  // the changed users as they were before
    std::vector<User> signed_up;
    std::vector<User> left;
  };
  // A minute passes: `changes` users switch plans, `signups` arrive, `departures` leave.
  Activity tick(int changes, int signups, int departures) {
    std::lock_guard lock(mutex_);
    clock_ += 60'000;
    std::vector<std::string> emails;
    for (const auto& entry : users_)
      emails.push_back(entry.first);
    std::shuffle(emails.begin(), emails.end(), random_);
    Activity activity;
    for (int i = 0; i < departures; ++i) {
      activity.left.push_back(users_.at(emails[i]));
      users_.erase(emails[i]);
    }
    for (int i = departures; i < departures + changes; ++i) {
      User& user = users_.at(emails[i]);
      activity.before_change.push_back(user);
      user.plan = user.plan == "free" ? "pro" : user.plan == "pro" ? "team" : "free";
      user.updated_at = clock_;
    }
    for (int i = 0; i < signups; ++i)
      activity.signed_up.push_back(add_user());
    return activity;
  }

 private:
  User add_user() {  // with mutex_ held
    static const char* const kFirst[] = {"Ada", "Alan",  "Barbara",  "Edsger",  "Grace",
                                         "Ken", "Linus", "Margaret", "Niklaus", "Radia"};
    static const char* const kLast[] = {"Hopper",  "Knuth",    "Liskov", "Lovelace", "Perlman",
                                        "Ritchie", "Thompson", "Turing", "Wirth",    "Hamilton"};
    static const char* const kPlans[] = {"free", "free", "pro", "team"};
    auto pick = [&](std::size_t n) {
      return std::uniform_int_distribution<std::size_t>(0, n - 1)(random_);
    };
    char email[32];
    std::snprintf(email, sizeof email, "user%05d@example.com", next_id_++);
    User user{email, std::string(kFirst[pick(10)]) + " " + kLast[pick(10)], kPlans[pick(4)],
              clock_};
    users_[user.email] = user;
    return user;
  }

  mutable std::mutex mutex_;
  std::map<std::string, User> users_;       // guarded by mutex_
  std::mt19937 random_;                     // guarded by mutex_
  int next_id_ = 1;                         // guarded by mutex_
  std::int64_t clock_ = 1'767'225'600'000;  // guarded by mutex_; 2026-01-01, in ms
};

// Where the worker copies users to. It stands in for whatever you keep in step with the
// CRM: a mailing list, a search index, a table of your own.
class Directory {
 public:
  void put(const User& user) {
    std::lock_guard lock(mutex_);
    users_[user.email] = user;
  }
  void erase(const std::string& email) {
    std::lock_guard lock(mutex_);
    users_.erase(email);
  }
  std::map<std::string, User> users() const {
    std::lock_guard lock(mutex_);
    return users_;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, User> users_;  // guarded by mutex_
};

// ---- 2. The controller ------------------------------------------------------------------

class UserController : public delta::Controller<User> {
 public:
  UserController(const Crm& crm, Directory& directory) : crm_(crm), directory_(directory) {}

  // The informer: lists users from the CRM. delta writes what it emits in batches, with
  // the same rules as client.inform(): new users are scheduled, changed ones scheduled
  // again, unchanged ones left alone. `options.after` is the cursor (the newest
  // created_at() of the last run); listing from it, not after it, re-lists the users at
  // the boundary, which costs nothing: they are unchanged.
  void inform(delta::InformContext& ctx, const delta::InformOptions& options,
              delta::InformSink<User>& out) override {
    std::int64_t since = 0;
    if (options.after) {
      since =
          std::chrono::duration_cast<std::chrono::milliseconds>(options.after->time_since_epoch())
              .count();
    }
    for (const User& user : crm_.list(since)) {
      if (!out.emit(user)) return;  // the run was cancelled (timeout or stop)
    }
    ctx.log(delta::LogLevel::debug,
            "listed the CRM's users modified since " + std::to_string(since));
  }

  // The worker: reconciles one user. delta calls it on its worker threads, up to
  // settings().parallelism at once, so it must be thread-safe. No database transaction
  // is open while it runs.

  delta::WorkResult work(delta::WorkContext& /*ctx*/, const delta::Resource<User>& user) override {
    std::this_thread::sleep_for(300us);  // the round trip to the other system

    // About one attempt in 25 fails. The error is recorded on the resource, which is
    // retried after Config::resource_backoff (or degraded after max_attempts failures).
    if (unlucky(user.row)) return delta::retry("CRM timeout");

    // Gone from the CRM: take it out of the directory; delta soft-deletes the resource.
    if (!crm_.find(user.object.email)) {
      directory_.erase(user.object.email);
      return delta::remove("user left");
    }
    directory_.put(user.object);
    return delta::synced();
  }

 private:
  // Deterministic, so every run fails the same attempts.
  static bool unlucky(const delta::ResourceRow& row) {
    const std::string key =
        row.object_id + '/' + std::to_string(row.generation) + '/' + std::to_string(row.attempt);
    return std::hash<std::string>{}(key) % 25 == 0;
  }

  const Crm& crm_;
  Directory& directory_;
};

// ---- Watching it work -------------------------------------------------------------------

// Work outcomes, counted from client events.
struct Tally {
  std::atomic<int> synced{0};
  std::atomic<int> failed{0};
  std::atomic<int> deleted{0};
  std::atomic<int> degraded{0};
};

// Resources per state, read straight from delta's table: everything delta knows is in
// Postgres, so any process (or psql) can look.
std::map<std::string, std::int64_t> count_states(delta::pg::Pool& pool) {
  std::map<std::string, std::int64_t> counts;
  auto rows =
      pool.exec("SELECT state, count(*) FROM " + kSchema + ".delta_resource GROUP BY state");
  for (auto row : rows)
    counts[row.get<std::string>(0)] = row.get<std::int64_t>(1);
  return counts;
}

std::string describe(const std::map<std::string, std::int64_t>& counts) {
  static const char* const kOrder[] = {"scheduled", "pending", "failed",  "expired",
                                       "synced",    "deleted", "degraded"};
  std::string text;
  for (const char* state : kOrder) {
    auto it = counts.find(state);
    if (it == counts.end()) continue;
    text += std::string(text.empty() ? "" : "  ") + state + " " + std::to_string(it->second);
  }
  return text;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Waits until no resource is waiting for work (scheduled, pending, failed or expired),
// printing the states about every half second. False if `deadline` passes first.
bool wait_until_settled(delta::pg::Pool& pool, const Tally& tally, Clock::time_point deadline) {
  const auto start = Clock::now();
  auto next_line = start + 500ms;
  for (;;) {
    auto counts = count_states(pool);
    const bool settled =
        counts["scheduled"] + counts["pending"] + counts["failed"] + counts["expired"] == 0;
    std::erase_if(counts, [](const auto& entry) { return entry.second == 0; });
    const auto now = Clock::now();
    if (settled || now >= next_line || now >= deadline) {
      std::printf("  %5.1f s  %-58s events: %d synced, %d failed, %d deleted\n",
                  seconds_since(start), describe(counts).c_str(), tally.synced.load(),
                  tally.failed.load(), tally.deleted.load());
      next_line += 500ms;
    }
    if (settled) return true;
    if (now >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
}

// Triggers a run of the user informer and waits for it to finish; its summary, or nothing
// if `deadline` passed first.
std::optional<delta::InformRun> run_informer(delta::Client& client, Clock::time_point deadline) {
  const std::optional<delta::InformRun> before = client.last_inform_run(User::kind);
  // One inform job per kind at a time: while the previous one is still being recorded as
  // completed, the request is skipped as a duplicate; ask again.
  while (client.schedule_inform({.kind = std::string(User::kind)}).unique_skipped_as_duplicate) {
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(10ms);
  }
  while (Clock::now() < deadline) {
    std::optional<delta::InformRun> run = client.last_inform_run(User::kind);
    if (run && (!before || run->started_at > before->started_at)) return run;
    std::this_thread::sleep_for(10ms);
  }
  return std::nullopt;
}

// "12:00:01.234" (UTC).
std::string time_of_day(delta::Timestamp at) {
  const auto whole = std::chrono::floor<std::chrono::seconds>(at);
  const std::time_t time = std::chrono::system_clock::to_time_t(whole);
  std::tm parts{};
  gmtime_r(&time, &parts);
  char text[32];
  std::snprintf(
      text, sizeof text, "%02d:%02d:%02d.%03d", parts.tm_hour, parts.tm_min, parts.tm_sec,
      static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(at - whole).count()));
  return text;
}

void print_resource(const delta::ResourceRow& row) {
  std::printf("  %s: %s, generation %lld, attempt %d of %d, plan %s\n", row.object_id.c_str(),
              std::string(delta::to_string(row.state)).c_str(),
              static_cast<long long>(row.generation), row.attempt, row.max_attempts,
              row.object.value("plan", "").c_str());
  if (row.synced_at) std::printf("    synced at  %s\n", time_of_day(*row.synced_at).c_str());
  if (row.deleted_at) std::printf("    deleted at %s\n", time_of_day(*row.deleted_at).c_str());
  for (const auto& error : row.errors) {
    std::printf("    error: attempt %d at %s: %s (%s)\n", error.attempt,
                time_of_day(error.at).c_str(), error.error.c_str(), error.type.c_str());
  }
}

// ---- 3. The program ---------------------------------------------------------------------

int run() {
  const auto started = Clock::now();
  const auto deadline = started + 60s;
  std::vector<std::string> problems;

  const char* url = std::getenv("DATABASE_URL");
  auto pool = delta::pg::Pool::create(url != nullptr ? url : "", {.max_connections = 16});

  // Start from scratch in a schema of our own, and create delta's tables in it.
  pool->exec("DROP SCHEMA IF EXISTS " + kSchema + " CASCADE");
  auto migrated = delta::migrate(*pool, {.schema = kSchema});
  std::printf("schema \"%s\": delta's tables at version %d\n", kSchema.c_str(),
              migrated.version_after);

  Crm crm(3000, 42);
  Directory directory;

  // One client: it informs, and works users in the "default" namespace.
  delta::Config config;
  config.schema = kSchema;
  config.controllers.add(std::make_shared<UserController>(crm, directory));
  config.namespaces["default"] = {.max_workers = 8};
  // Retry failed users soon (the default waits attempt^4 seconds: 1 s, 16 s, 81 s, ...).
  config.resource_backoff = [](int attempt) { return 200ms * attempt; };
  config.logger = delta::stderr_logger(delta::LogLevel::warn);
  delta::Client client(pool, config);

  // Every work outcome is published as an event once it is committed; count them on a
  // thread of our own. A subscription is a bounded buffer: a slow reader loses events
  // (counted by dropped()), it never slows the workers down.
  Tally tally;
  auto events = client.subscribe();
  std::jthread listener([&](std::stop_token stop) {
    for (;;) {
      auto event = events.next(100ms);
      if (!event) {
        if (events.closed() || stop.stop_requested()) return;  // client.stop() closes it
        continue;
      }
      switch (event->category) {
        case delta::EventCategory::synced:
          ++tally.synced;
          break;
        case delta::EventCategory::failed:
          ++tally.failed;
          break;
        case delta::EventCategory::deleted:
          ++tally.deleted;
          break;
        case delta::EventCategory::degraded:
          ++tally.degraded;
          break;
      }
    }
  });

  client.start();

  // Run the informer, round after round. schedule_inform() inserts an inform job, which
  // this client runs at once (any client with a UserController could). The run reports
  // what it listed: new users (inserted), users that differ from the stored copy
  // (changed: work scheduled) and the same ones (unchanged: nothing written).
  struct Round {
    int changes, signups, departures;
  };
  const Round rounds[] = {{0, 0, 0}, {150, 25, 20}, {200, 40, 30}};
  std::vector<User> departed;
  std::optional<User> outdated;
  bool settled = true;
  for (std::size_t round = 0; round < std::size(rounds) && settled; ++round) {
    Crm::Activity activity;
    if (round == 0) {
      std::printf("\nround 1: the CRM lists %zu users\n", crm.size());
    } else {
      const Round& r = rounds[round];
      activity = crm.tick(r.changes, r.signups, r.departures);
      std::printf("\nround %zu: in the CRM %d users changed plan, %d signed up, %d left\n",
                  round + 1, r.changes, r.signups, r.departures);
    }
    const std::optional<delta::InformRun> run = run_informer(client, deadline);
    if (!run || !run->succeeded) {
      problems.push_back("round " + std::to_string(round + 1) + ": the informer run failed" +
                         (run ? ": " + run->error : std::string()));
      break;
    }
    std::printf(
        "  informer run: listed %zu users in %zu batch(es): %zu inserted, %zu changed, %zu "
        "unchanged\n",
        run->emitted, run->batches, run->inserted, run->changed, run->unchanged);
    const std::size_t expect_inserted = round == 0 ? crm.size() : activity.signed_up.size();
    if (run->inserted != expect_inserted || run->changed != activity.before_change.size()) {
      problems.push_back("round " + std::to_string(round + 1) +
                         ": the informer did not report what changed in the CRM");
    }

    // Users who left are not in the listing any more. Ask delta to look at them again:
    // invalidate() turns a synced resource into an expired one, which is worked again;
    // its worker finds the user gone and returns delta::remove().
    for (const User& user : activity.left) {
      try {
        client.invalidate(user);
      } catch (const delta::Error& e) {
        problems.push_back("invalidate " + user.email + ": " + e.what());
      }
      departed.push_back(user);
    }
    if (!activity.left.empty()) {
      std::printf("  invalidate() the %zu users who left: their workers will delete them\n",
                  activity.left.size());
    }
    if (!activity.before_change.empty()) outdated = activity.before_change.front();

    settled = wait_until_settled(*pool, tally, deadline);
  }

  // compare() at work: an old copy of a user arriving late does not overwrite the newer one.
  if (settled && outdated) {
    std::printf("\nan older copy of %s arrives late:\n", outdated->email.c_str());
    auto late = client.inform(*outdated);
    auto current = client.inform(*crm.find(outdated->email));
    std::printf("  inform(old copy): %s; inform(current copy): %s\n",
                std::string(delta::to_string(late.status)).c_str(),
                std::string(delta::to_string(current.status)).c_str());
    if (late.status != delta::InformStatus::stale ||
        current.status != delta::InformStatus::unchanged) {
      problems.emplace_back("compare() was not honoured");
    }
  }
  if (!settled) problems.emplace_back("the work did not settle within 60 s");

  // Stop: no more claims; running work gets up to 5 s to finish. Ends event delivery.
  client.stop(5s);
  listener.join();

  // ---- Summary ----
  const auto counts = count_states(*pool);
  std::printf(
      "\nresources by state (SELECT state, count(*) FROM %s.delta_resource GROUP BY "
      "state):\n",
      kSchema.c_str());
  std::printf("  %-10s %6s\n", "state", "count");
  for (const auto& [state, count] : counts)
    std::printf("  %-10s %6lld\n", state.c_str(), static_cast<long long>(count));
  std::printf("events: %d synced, %d failed, %d deleted, %d degraded (%llu dropped)\n",
              tally.synced.load(), tally.failed.load(), tally.deleted.load(), tally.degraded.load(),
              static_cast<unsigned long long>(events.dropped()));

  // A user that failed before it synced: its attempts' errors are kept on the resource.
  auto retried = pool->exec("SELECT object_id FROM " + kSchema +
                            ".delta_resource WHERE state = 'synced' AND cardinality(errors) > 0 "
                            "ORDER BY cardinality(errors) DESC, object_id LIMIT 1");
  if (!retried.empty()) {
    std::printf("\na user that failed, was retried, and synced:\n");
    print_resource(client.get<User>(retried[0].get<std::string>(0)).row);
  }
  if (!departed.empty()) {
    std::printf("a user who left the CRM:\n");
    print_resource(client.get<User>(departed.front().email).row);
  }

  // Did delta keep the directory in step with the CRM?
  auto count_of = [&](const std::string& state) {
    auto it = counts.find(state);
    return it == counts.end() ? 0 : static_cast<std::size_t>(it->second);
  };
  if (count_of("synced") != crm.size() || count_of("deleted") != departed.size()) {
    problems.push_back("expected " + std::to_string(crm.size()) + " synced and " +
                       std::to_string(departed.size()) + " deleted users");
  }
  std::map<std::string, User> in_crm;
  for (const User& user : crm.list())
    in_crm[user.email] = user;
  if (directory.users() != in_crm) problems.emplace_back("the directory differs from the CRM");

  std::printf("\n");
  for (const auto& problem : problems)
    std::printf("PROBLEM: %s\n", problem.c_str());
  std::printf("%s: %zu users in the CRM, %zu in the directory, %zu deleted, in %.1f s\n",
              problems.empty() ? "OK" : "FAILED", in_crm.size(), directory.users().size(),
              departed.size(), seconds_since(started));
  return problems.empty() ? 0 : 1;
}

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines as they come, even in a pipe
  try {
    return run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "quickstart: %s\n", e.what());
    return 1;
  }
}
