// delta's benchmark harness: measures PostgreSQL's own limits with pgbench and delta's
// scenarios in the same run, against the same cluster, and reports every delta figure as
// a ratio of its baseline (machines are noisy; ratios travel better than absolutes).
//
//   bench/run            # builds Release, starts a throwaway cluster, runs everything
//   bench/run --quick    # smaller and single runs: a smoke test, not a measurement
//
// Reads the database from DATABASE_URL, else libpq's PG* variables. Writes a table to
// stdout and JSON to --out (default bench/results/latest.json).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <spawn.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <delta/delta.hpp>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  bool quick = false;
  std::string out = "bench/results/latest.json";
  std::string filter;
  bool baselines = true;  // --no-baselines: delta's scenarios only, without ratios
  std::int64_t seed = 0;  // --seed N: only leave N scheduled resources in delta_bench
};

struct Figure {
  std::string scenario;
  std::string unit;
  std::vector<double> runs;
  std::string baseline;  // scenario name of the baseline, empty for baselines
  double median() const {
    auto sorted = runs;
    std::sort(sorted.begin(), sorted.end());
    return sorted.empty() ? 0 : sorted[sorted.size() / 2];
  }
  double min() const { return runs.empty() ? 0 : *std::min_element(runs.begin(), runs.end()); }
  double max() const { return runs.empty() ? 0 : *std::max_element(runs.begin(), runs.end()); }
};

std::string database_url() {
  const char* url = std::getenv("DATABASE_URL");
  return url != nullptr ? url : "";
}

std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted.push_back(c);
    }
  }
  return quoted + "'";
}

// Runs `pgbench -n <options> -f <script>` against the database (from /tmp, where a
// per-transaction log goes) and returns its output; throws when pgbench fails.
std::string run_pgbench(const std::string& script, const std::string& options) {
  const std::string path = fmt::format("/tmp/delta_bench_{}.sql", ::getpid());
  {
    std::ofstream file(path);
    file << script;
  }
  std::string command = fmt::format("cd /tmp && pgbench -n {} -f {} {} 2>&1", options, path,
                                    shell_quote(database_url()));
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run pgbench");
  std::string output;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr)
    output += buffer;
  int status = ::pclose(pipe);
  std::remove(path.c_str());
  if (status != 0) throw std::runtime_error("pgbench failed:\n" + output);
  return output;
}

// Runs pgbench with `script` and returns its tps (excluding connection time).
double pgbench_tps(const std::string& script, int clients, int seconds) {
  const std::string output =
      run_pgbench(script, fmt::format("-c {} -j {} -T {}", clients, std::min(clients, 2), seconds));
  auto pos = output.find("tps = ");
  if (pos == std::string::npos) throw std::runtime_error("pgbench printed no tps:\n" + output);
  return std::stod(output.substr(pos + 6));
}

// Runs pgbench with `script` on one client at `rate` transactions per second for `seconds`
// and returns each transaction's latency in milliseconds from its actual start, as delta's
// latency is measured from its call (pgbench's per-transaction log).
std::vector<double> pgbench_latencies(const std::string& script, int rate, int seconds) {
  const std::string prefix = fmt::format("/tmp/delta_bench_lat_{}", ::getpid());
  const std::string output = run_pgbench(
      script, fmt::format("-c 1 -R {} -T {} -l --log-prefix={}", rate, seconds, prefix));
  // The log is <prefix>.<pid>: "client transaction time_us script epoch epoch_us lag_us".
  // With --rate, time_us runs from the transaction's scheduled start and lag_us is how
  // late it actually started (the schedule lag): the transaction itself took the
  // difference.
  std::vector<double> ms;
  std::string malformed;
  for (const auto& entry : std::filesystem::directory_iterator("/tmp")) {
    const auto name = entry.path().string();
    if (name.rfind(prefix + ".", 0) != 0) continue;
    std::ifstream log(name);
    std::string line;
    while (std::getline(log, line)) {
      std::istringstream fields(line);
      long client = 0, transaction = 0, time_us = 0, script_no = 0, epoch = 0, epoch_us = 0,
           lag_us = 0;
      if (!(fields >> client >> transaction >> time_us >> script_no >> epoch >> epoch_us >>
            lag_us) ||
          lag_us > time_us) {
        if (malformed.empty()) malformed = line;
        continue;
      }
      ms.push_back(static_cast<double>(time_us - lag_us) / 1000.0);
    }
    std::filesystem::remove(entry.path());
  }
  if (!malformed.empty()) {
    throw std::runtime_error("pgbench's latency log has a line without its schedule lag: " +
                             malformed);
  }
  if (ms.empty()) throw std::runtime_error("pgbench wrote no latency log:\n" + output);
  return ms;
}

// The p-th quantile (0..1) of `values`.
double quantile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<std::size_t>(p * values.size()))];
}

template <class F>
double timed_rate(double count, F&& body) {
  auto start = Clock::now();
  body();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return count / seconds;
}

struct Noop {
  std::int64_t n = 0;
  static constexpr std::string_view kind = "bench_noop";
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Noop, n)

class NoopWorker : public delta::jobs::Worker<Noop> {
 public:
  delta::jobs::JobResult work(delta::jobs::JobContext&, const delta::jobs::Job<Noop>&) override {
    ++ran;
    return delta::jobs::complete();
  }
  std::atomic<std::int64_t> ran{0};
};

// A resource for the sync scenarios.
struct Item {
  std::string key;
  std::int64_t n = 0;
  std::int64_t at_us = 0;
  static constexpr std::string_view kind = "bench_item";
  std::string id() const { return key; }
  std::optional<delta::Timestamp> created_at() const {
    return delta::Timestamp(std::chrono::microseconds(at_us));
  }
  static delta::ObjectSettings settings() {
    delta::ObjectSettings settings{.parallelism = item_parallelism(),
                                   .inform_interval = std::chrono::milliseconds(-1)};
    if (limited_ref()) {
      // Far above what a run achieves: every claim takes the limited path, nothing is
      // held back.
      settings.max_concurrency = 1'000'000;
      settings.rate_limit = delta::RateLimit{1'000'000, std::chrono::seconds(1)};
    }
    return settings;
  }
  static int& item_parallelism_ref() {
    static int value = 10;
    return value;
  }
  static bool& limited_ref() {
    static bool value = false;
    return value;
  }
  static int item_parallelism() { return item_parallelism_ref(); }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Item, key, n, at_us)

Item make_item(std::int64_t i) {
  return Item{fmt::format("item-{:08}", i), i, 1'000'000 + i};
}

// No-op work; the informer lists `informer_total` items.
class ItemController : public delta::Controller<Item> {
 public:
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<Item>&) override {
    ++worked;
    return delta::synced();
  }
  void inform(delta::InformContext&, const delta::InformOptions&,
              delta::InformSink<Item>& out) override {
    for (std::int64_t i = 0; i < informer_total; ++i) {
      if (!out.emit(make_item(i))) return;
    }
    informed = true;
  }
  std::atomic<std::int64_t> worked{0};
  std::int64_t informer_total = 0;
  std::atomic<bool> informed{false};
};

std::int64_t count_state(delta::pg::Pool& pool, const std::string& schema,
                         const std::string& state) {
  return pool
      .exec(fmt::format("SELECT count(*) FROM {}.delta_resource WHERE state = '{}'", schema, state))
      .one()
      .get<std::int64_t>(0);
}

// Whether any resource still waits for work or is being worked. Cheap enough to poll
// while processes sync: each half reads the head of a partial index (the ORDER BY makes
// the planner use it; as plain EXISTS over the state, statistics from seeding made it a
// sequential scan past every synced row, 2-3 ms per poll per process by the end).
bool work_left(delta::pg::Pool& pool, const std::string& schema) {
  return pool
      .exec(fmt::format("SELECT (SELECT id FROM {0}.delta_resource WHERE kind = $1 "
                        "AND state IN ('scheduled', 'failed', 'expired') "
                        "ORDER BY kind, run_at, id LIMIT 1) IS NOT NULL "
                        "OR (SELECT id FROM {0}.delta_resource WHERE state = 'pending' "
                        "ORDER BY lease_expires_at LIMIT 1) IS NOT NULL",
                        schema),
            std::string(Item::kind))
      .one()
      .get<bool>(0);
}

// Resources synced per second of syncing, from the database's own clock: the first
// claim (its transaction's start) to the last outcome. Unlike a wall clock around the
// whole scenario it leaves out starting and stopping processes.
double synced_window_rate(delta::pg::Pool& pool, const std::string& schema, std::int64_t count) {
  auto row = pool.exec(fmt::format("SELECT extract(epoch FROM max(synced_at) - min(attempted_at)) "
                                   "FROM {}.delta_resource WHERE state = 'synced'",
                                   schema))
                 .one();
  const double seconds = row.get<double>(0);
  return seconds > 0 ? static_cast<double>(count) / seconds : 0;
}

// Waits until `done()` reaches `target`; throws when it does not move for 60 s.
template <class F>
void wait_for_count(std::int64_t target, F&& done) {
  std::int64_t last = -1;
  auto stall = Clock::now() + std::chrono::seconds(60);
  for (;;) {
    auto now_done = done();
    if (now_done >= target) return;
    if (now_done != last) {
      last = now_done;
      stall = Clock::now() + std::chrono::seconds(60);
    } else if (Clock::now() > stall) {
      throw std::runtime_error(fmt::format("stalled at {} of {}", now_done, target));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

long peak_rss_kb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

// Runs this program again with `args`; returns the pid.
pid_t spawn_self(const std::vector<std::string>& args) {
  std::vector<std::string> all{"/proc/self/exe"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : all)
    argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (::posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), environ) != 0) {
    throw std::runtime_error("posix_spawn failed");
  }
  return pid;
}

void wait_child(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error(fmt::format("child process {} failed", pid));
  }
}

// Child mode: works the items of `schema` at `parallelism` until `count` are synced in the
// database (by any process). With `rss`, prints the peak RSS (kB) after 10% and at the end.
int sync_child(const std::string& schema, std::int64_t count, int parallelism, bool rss) {
  Item::item_parallelism_ref() = parallelism;
  auto pool = delta::pg::Pool::create(database_url(), {.max_connections = 8});
  delta::Config config;
  config.schema = schema;
  config.logger = delta::stderr_logger(delta::LogLevel::warn);
  auto controller = std::make_shared<ItemController>();
  config.controllers.add(controller);
  config.namespaces["default"] = {.max_workers = parallelism};
  delta::Client client(pool, config);
  client.start();
  long early_rss = 0;
  for (;;) {
    if (rss && early_rss == 0 && count_state(*pool, schema, "synced") >= count / 10) {
      early_rss = peak_rss_kb();
    }
    if (!work_left(*pool, schema)) break;
    // The figure comes from the database's timestamps, so polling slowly costs nothing
    // but a later exit, and keeps the poll's queries out of the measured database's way
    // (the first half of the poll still passes the index entries of claimed rows that
    // vacuum has not removed yet: ~2 ms by the end of 100,000).
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  client.stop(std::chrono::seconds(5));
  if (auto synced = count_state(*pool, schema, "synced"); synced != count) {
    std::cerr << "sync child: " << synced << " of " << count << " resources synced\n";
    return 1;
  }
  if (rss) std::cout << early_rss << ' ' << peak_rss_kb() << std::endl;
  return 0;
}

class Bench {
 public:
  explicit Bench(Options options) : options_(std::move(options)) {
    pool_ = delta::pg::Pool::create(database_url(), {.max_connections = 24});
    runs_ = options_.quick ? 1 : 3;
    seconds_ = options_.quick ? 2 : 5;
  }

  // For profiling one phase: `--seed N` leaves N scheduled resources in schema
  // delta_bench, and `--sync-child delta_bench N P` then syncs them in a process of its own.
  void seed_only(std::int64_t count) { seeded_schema(count); }

  void run() {
    if (options_.baselines) baselines();
    resources();
    if (wanted("latency")) {
      latency(options_.quick ? 20 : 200, std::chrono::milliseconds(200));
      latency(options_.quick ? 50 : 200, std::chrono::milliseconds(20));
    }
    if (wanted("behind a backlog")) behind_backlog();
    scale();
    jobs();
    report();
  }

 private:
  bool wanted(const std::string& name) const {
    return options_.filter.empty() || name.find(options_.filter) != std::string::npos;
  }

  Figure& figure(const std::string& name, const std::string& unit, const std::string& baseline) {
    auto& f = figures_[name];
    f.scenario = name;
    f.unit = unit;
    f.baseline = baseline;
    order_.push_back(name);
    return f;
  }

  // Fails the scenario (throws: delta_bench exits with 1) unless `count_sql` -- a count(*)
  // -- finds `expected` rows: what the scenario claims to have written is in the database.
  void check_rows(const std::string& scenario, const std::string& count_sql,
                  std::int64_t expected) {
    const auto found = pool_->exec(count_sql).one().get<std::int64_t>(0);
    if (found != expected) {
      throw std::runtime_error(fmt::format("{}: {} rows in the database where it wrote {} ({})",
                                           scenario, found, expected, count_sql));
    }
  }

  void baselines() {
    pool_->exec("DROP TABLE IF EXISTS bench_insert, bench_update, bench_claim, bench_unnest");
    pool_->exec("CREATE TABLE bench_insert (id bigserial PRIMARY KEY, payload text NOT NULL)");
    pool_->exec("CREATE TABLE bench_update (id integer PRIMARY KEY, n bigint NOT NULL)");
    pool_->exec("INSERT INTO bench_update SELECT g, 0 FROM generate_series(1, 100000) g");
    pool_->exec("CREATE TABLE bench_unnest (id bigserial PRIMARY KEY, a bigint, b text)");
    const std::string insert = "INSERT INTO bench_insert (payload) VALUES ('x');\n";
    const std::string update =
        "\\set id random(1, 100000)\nUPDATE bench_update SET n = n + 1 WHERE id = :id;\n";
    for (int clients : {1, 16}) {
      auto name = fmt::format("pgbench insert 1 row, {} clients", clients);
      auto& f = figure(name, "tx/s", "");
      for (int i = 0; i < runs_; ++i)
        f.runs.push_back(pgbench_tps(insert, clients, seconds_));
      progress(f);
    }
    for (int clients : {1, 16}) {
      auto name = fmt::format("pgbench update 1 row by pk, {} clients", clients);
      auto& f = figure(name, "tx/s", "");
      for (int i = 0; i < runs_; ++i)
        f.runs.push_back(pgbench_tps(update, clients, seconds_));
      progress(f);
    }
    {
      auto& f = figure("pgbench batched claim of 100, 4 clients", "rows/s", "");
      for (int i = 0; i < runs_; ++i) {
        pool_->exec("DROP TABLE IF EXISTS bench_claim");
        pool_->exec(
            "CREATE TABLE bench_claim (id bigserial PRIMARY KEY, state integer NOT NULL, "
            "run_at timestamptz NOT NULL DEFAULT now())");
        pool_->exec("CREATE INDEX ON bench_claim (run_at, id) WHERE state = 0");
        pool_->exec("INSERT INTO bench_claim (state) SELECT 0 FROM generate_series(1, $1)",
                    std::int64_t{seconds_ * 150000});
        pool_->exec("VACUUM ANALYZE bench_claim");
        const std::string claim =
            "UPDATE bench_claim SET state = 1 WHERE id IN (SELECT id FROM bench_claim WHERE "
            "state = 0 ORDER BY run_at, id LIMIT 100 FOR UPDATE SKIP LOCKED) RETURNING id;\n";
        f.runs.push_back(pgbench_tps(claim, 4, seconds_) * 100);
      }
      progress(f);
    }
    // Idle commit latency: one client inserting one row at a time, every 200 ms and every
    // 20 ms -- what a single commit costs when nothing else runs (the floor under
    // inform->work latency, which needs two: the inform's and the claim's).
    for (int every_ms : {200, 20}) {
      auto& p50 =
          figure(fmt::format("pgbench insert 1 row latency p50, every {} ms", every_ms), "ms", "");
      auto& p99 =
          figure(fmt::format("pgbench insert 1 row latency p99, every {} ms", every_ms), "ms", "");
      const int seconds = options_.quick ? 2 : (every_ms == 200 ? 20 : 4);
      for (int i = 0; i < runs_; ++i) {
        settle();
        auto ms = pgbench_latencies(insert, 1000 / every_ms, seconds);
        p50.runs.push_back(quantile(ms, 0.50));
        p99.runs.push_back(quantile(ms, 0.99));
      }
      progress(p50);
      progress(p99);
    }
    {
      std::string a = "{", b = "{";
      for (int i = 0; i < 1000; ++i) {
        a += fmt::format("{}{}", i ? "," : "", i);
        b += fmt::format("{}object-{:06}", i ? "," : "", i);
      }
      a += "}";
      b += "}";
      const std::string script = fmt::format(
          "INSERT INTO bench_unnest (a, b) SELECT * FROM unnest('{}'::bigint[], '{}'::text[]);\n",
          a, b);
      auto& f = figure("pgbench insert 1000 rows via unnest, 1 client", "rows/s", "");
      for (int i = 0; i < runs_; ++i)
        f.runs.push_back(pgbench_tps(script, 1, seconds_) * 1000);
      progress(f);
    }
  }

  std::string fresh_schema() {
    pool_->exec("DROP SCHEMA IF EXISTS delta_bench CASCADE");
    delta::migrate(*pool_, {.schema = "delta_bench"});
    return "delta_bench";
  }

  delta::Config base_config(const std::string& schema) {
    delta::Config config;
    config.schema = schema;
    config.logger = delta::stderr_logger(delta::LogLevel::warn);
    return config;
  }

  void jobs() {
    const std::int64_t many = options_.quick ? 20000 : 100000;
    // The target's scenario: one call with every job (one transaction). Calls of 5,000
    // show what the per-call overhead (statement start, commit) costs.
    for (const std::int64_t per_call : {many, std::int64_t{5000}}) {
      const std::string name =
          per_call == many ? fmt::format("jobs insert_many {}, one call", many)
                           : fmt::format("jobs insert_many {} (calls of {})", many, per_call);
      if (!wanted(name)) continue;
      auto& f = figure(name, "jobs/s", "pgbench insert 1000 rows via unnest, 1 client");
      for (int run = 0; run < runs_; ++run) {
        auto schema = fresh_schema();
        delta::Client client(pool_, base_config(schema));
        std::vector<Noop> args(static_cast<std::size_t>(per_call));
        f.runs.push_back(timed_rate(static_cast<double>(many), [&] {
          for (std::int64_t done = 0; done < many; done += per_call) {
            client.jobs().insert_many(std::span<const Noop>(args));
          }
        }));
        check_rows(name,
                   "SELECT count(*) FROM delta_bench.delta_job WHERE kind = 'bench_noop' AND "
                   "state = 'available' AND attempt = 0",
                   many);
      }
      progress(f);
    }
    if (wanted("jobs insert")) {
      const int threads = 16;
      const std::int64_t total = options_.quick ? 4000 : 20000;
      auto& f = figure(fmt::format("jobs insert, 1 per call, {} threads", threads), "jobs/s",
                       "pgbench insert 1 row, 16 clients");
      for (int run = 0; run < runs_; ++run) {
        auto schema = fresh_schema();
        delta::Client client(pool_, base_config(schema));
        f.runs.push_back(timed_rate(static_cast<double>(total), [&] {
          std::vector<std::thread> workers;
          std::atomic<std::int64_t> next{0};
          for (int t = 0; t < threads; ++t) {
            workers.emplace_back([&] {
              while (next.fetch_add(1) < total)
                client.jobs().insert(Noop{});
            });
          }
          for (auto& w : workers)
            w.join();
        }));
        check_rows(f.scenario,
                   "SELECT count(*) FROM delta_bench.delta_job WHERE kind = 'bench_noop' AND "
                   "state = 'available' AND attempt = 0",
                   total);
      }
      progress(f);
    }
    if (wanted("jobs drain")) {
      // 100 workers, and 400 like the sync peak's best parallelism: the fetch takes at
      // most the free slots, so more workers mean bigger batches per statement.
      const std::vector<int> levels =
          options_.quick ? std::vector<int>{100} : std::vector<int>{100, 400};
      for (int max_workers : levels) {
        auto& f = figure(
            fmt::format("jobs drain {} no-op jobs, 1 process, max_workers {}", many, max_workers),
            "jobs/s", "pgbench batched claim of 100, 4 clients");
        for (int run = 0; run < runs_; ++run)
          f.runs.push_back(drain_rate(many, max_workers));
        progress(f);
      }
    }
  }

  // Inserts `count` no-op jobs into a fresh schema, then drains them with one client of
  // `max_workers` workers; jobs/s from starting the client to the last completion
  // committed. Fails only when nothing moves for 60 s.
  double drain_rate(std::int64_t count, int max_workers) {
    auto schema = fresh_schema();
    {
      delta::Client inserter(pool_, base_config(schema));
      std::vector<Noop> args(5000);
      for (std::int64_t done = 0; done < count; done += 5000)
        inserter.jobs().insert_many(std::span<const Noop>(args));
    }
    pool_->exec("VACUUM ANALYZE delta_bench.delta_job");
    auto config = base_config(schema);
    auto worker = std::make_shared<NoopWorker>();
    config.workers.add(worker);
    config.queues["default"] = {.max_workers = max_workers};
    delta::Client client(pool_, config);
    const double rate = timed_rate(static_cast<double>(count), [&] {
      client.start();
      // Cheap in-process progress first, then the committed count from the database.
      wait_for_count(count, [&] { return worker->ran.load(); });
      wait_for_count(count, [&] {
        return pool_->exec("SELECT count(*) FROM delta_bench.delta_job WHERE state = 'completed'")
            .one()
            .get<std::int64_t>(0);
      });
    });
    client.stop(std::chrono::seconds(5));
    return rate;
  }

  // Counts the items of delta_bench stored as new objects: scheduled, generation 1, never
  // attempted.
  static std::string new_items_sql() {
    return fmt::format(
        "SELECT count(*) FROM delta_bench.delta_resource WHERE kind = '{}' AND "
        "state = 'scheduled' AND generation = 1 AND attempt = 0",
        Item::kind);
  }

  // Informs `count` items into a fresh schema (batches of 5,000; into namespace `ns`, or
  // the default one) and analyzes the table.
  std::string seeded_schema(std::int64_t count, const std::string& ns = {}) {
    auto schema = fresh_schema();
    auto config = base_config(schema);
    config.controllers.add(std::make_shared<ItemController>());
    delta::Client client(pool_, config);
    std::vector<Item> batch;
    for (std::int64_t done = 0; done < count;) {
      batch.clear();
      for (std::int64_t i = 0; i < 5000 && done < count; ++i, ++done)
        batch.push_back(make_item(done));
      client.inform_many(batch, {.namespace_name = ns});
    }
    pool_->exec(fmt::format("VACUUM ANALYZE {}.delta_resource", schema));
    return schema;
  }

  // Syncs the seeded items in this process at `parallelism`; returns resources/s.
  double sync_rate(const std::string& schema, std::int64_t count, int parallelism) {
    Item::item_parallelism_ref() = parallelism;
    auto config = base_config(schema);
    auto controller = std::make_shared<ItemController>();
    config.controllers.add(controller);
    config.namespaces["default"] = {.max_workers = parallelism};
    delta::Client client(pool_, config);
    client.start();
    wait_for_count(count, [&] { return controller->worked.load(); });
    wait_for_count(count, [&] { return count_state(*pool_, schema, "synced"); });
    client.stop(std::chrono::seconds(5));
    // Measured like the two-process scenario: from the first claim to the last outcome.
    return synced_window_rate(*pool_, schema, count);
  }

  void resources() {
    const std::int64_t many = options_.quick ? 20000 : 200000;
    const std::int64_t sync_count = options_.quick ? 20000 : 100000;
    if (wanted("inform,")) {
      const int threads = 16;
      const std::int64_t total = options_.quick ? 4000 : 20000;
      auto& f = figure(fmt::format("inform, 1 object per call, {} threads", threads), "objects/s",
                       "pgbench insert 1 row, 16 clients");
      for (int run = 0; run < runs_; ++run) {
        auto schema = fresh_schema();
        auto config = base_config(schema);
        config.controllers.add(std::make_shared<ItemController>());
        delta::Client client(pool_, config);
        f.runs.push_back(timed_rate(static_cast<double>(total), [&] {
          std::vector<std::thread> workers;
          std::atomic<std::int64_t> next{0};
          for (int t = 0; t < threads; ++t) {
            workers.emplace_back([&] {
              for (auto i = next.fetch_add(1); i < total; i = next.fetch_add(1))
                client.inform(make_item(i));
            });
          }
          for (auto& w : workers)
            w.join();
        }));
        check_rows(f.scenario, new_items_sql(), total);
      }
      progress(f);
    }
    // One caller, then two at once (disjoint ids): one caller's calls run one after
    // another, each ending in a commit; two callers keep both cores busy.
    for (const std::size_t callers : {std::size_t{1}, std::size_t{2}}) {
      if (!wanted("inform_many") || (callers == 2 && options_.quick)) continue;
      auto& f = figure(fmt::format("inform_many {} new objects (calls of 1,000){}", many,
                                   callers == 1 ? "" : ", 2 threads"),
                       "objects/s", "pgbench insert 1000 rows via unnest, 1 client");
      for (int run = 0; run < runs_; ++run) {
        auto schema = fresh_schema();
        auto config = base_config(schema);
        config.controllers.add(std::make_shared<ItemController>());
        delta::Client client(pool_, config);
        std::vector<std::vector<Item>> batches;
        for (std::int64_t done = 0; done < many; done += 1000) {
          auto& batch = batches.emplace_back();
          for (std::int64_t i = done; i < done + 1000; ++i)
            batch.push_back(make_item(i));
        }
        f.runs.push_back(timed_rate(static_cast<double>(many), [&] {
          std::vector<std::thread> threads;
          for (std::size_t first = 0; first < callers; ++first) {
            threads.emplace_back([&, first] {
              for (std::size_t b = first; b < batches.size(); b += callers)
                client.inform_many(batches[b]);
            });
          }
          for (auto& thread : threads)
            thread.join();
        }));
        check_rows(f.scenario, new_items_sql(), many);
      }
      progress(f);
    }
    if (wanted("informer")) {
      auto& f = figure(fmt::format("informer run writing {} objects", many), "objects/s",
                       "pgbench insert 1000 rows via unnest, 1 client");
      for (int run = 0; run < runs_; ++run) {
        auto schema = fresh_schema();
        auto config = base_config(schema);
        auto controller = std::make_shared<ItemController>();
        controller->informer_total = many;
        config.controllers.add(controller);
        config.logger = delta::null_logger();
        delta::Client client(pool_, config);
        client.start();
        f.runs.push_back(timed_rate(static_cast<double>(many), [&] {
          client.schedule_inform({.kind = std::string(Item::kind)});
          wait_for_count(1, [&] {
            auto last = client.last_inform_run(Item::kind);
            return static_cast<std::int64_t>(last.has_value());
          });
        }));
        auto last = client.last_inform_run(Item::kind);
        if (!last || !last->succeeded || last->inserted != static_cast<std::size_t>(many)) {
          throw std::runtime_error("informer run did not write every object");
        }
        client.stop(std::chrono::seconds(5));
      }
      progress(f);
    }
    if (wanted("sync")) {
      auto& f = figure(fmt::format("sync {} resources, no-op work, parallelism 10", sync_count),
                       "resources/s", "pgbench batched claim of 100, 4 clients");
      for (int run = 0; run < runs_; ++run) {
        auto schema = seeded_schema(sync_count);
        f.runs.push_back(sync_rate(schema, sync_count, 10));
      }
      progress(f);
      // The same with flow limits in force, far above the rate: what the limited claim
      // costs (docs/flow-control.md).
      auto& limited =
          figure(fmt::format("sync {} resources, limits in force, parallelism 10", sync_count),
                 "resources/s", f.scenario);
      for (int run = 0; run < runs_; ++run) {
        auto schema = seeded_schema(sync_count);
        Item::limited_ref() = true;
        limited.runs.push_back(sync_rate(schema, sync_count, 10));
        Item::limited_ref() = false;
      }
      progress(limited);
      std::vector<int> levels =
          options_.quick ? std::vector<int>{100} : std::vector<int>{50, 100, 200, 400};
      int best_level = levels.front();
      double best = 0;
      for (int level : levels) {
        auto schema = seeded_schema(sync_count);
        double rate = sync_rate(schema, sync_count, level);
        std::cerr << fmt::format("    parallelism {:>4}: {:.0f} resources/s\n", level, rate);
        if (rate > best) {
          best = rate;
          best_level = level;
        }
      }
      auto& peak =
          figure(fmt::format("sync {} resources, peak (parallelism {})", sync_count, best_level),
                 "resources/s", "pgbench batched claim of 100, 4 clients");
      for (int run = 0; run < runs_; ++run) {
        auto schema = seeded_schema(sync_count);
        peak.runs.push_back(sync_rate(schema, sync_count, best_level));
      }
      progress(peak);
    }
  }

  // Flow control's orderings (docs/flow-control.md): how long work informed behind a big
  // backlog waits for its start. Priority: `backlog` expired resources (background) being
  // re-worked at parallelism 10, then 100 new objects. Fairness: `backlog` due in
  // namespace big, then 200 informed into small, with fairness on and off.
  void behind_backlog() {
    const std::int64_t backlog = options_.quick ? 20000 : 50000;
    auto& fresh50 = figure(
        fmt::format("100 new objects behind {} expired, inform->work p50", backlog), "ms", "");
    auto& fresh99 = figure(
        fmt::format("100 new objects behind {} expired, inform->work p99", backlog), "ms", "");
    for (int run = 0; run < runs_; ++run) {
      auto schema = seeded_schema(backlog);
      pool_->exec(
          fmt::format("UPDATE {}.delta_resource SET state = 'expired', priority = 1, attempt = 0, "
                      "run_at = now()",
                      schema));
      pool_->exec(fmt::format("VACUUM ANALYZE {}.delta_resource", schema));
      auto ms = waits_behind(schema, "default", "default", 100, true, 1000);
      fresh50.runs.push_back(quantile(ms, 0.50));
      fresh99.runs.push_back(quantile(ms, 0.99));
    }
    progress(fresh50);
    progress(fresh99);
    // small alone (its no-backlog figure), then behind big's backlog, fair and unfair.
    for (const std::string mode : {"alone", "fair", "unfair"}) {
      const bool fair = mode != "unfair";
      const std::int64_t big = mode == "alone" ? 0 : (options_.quick ? 20000 : 100000);
      const std::string behind =
          big == 0 ? std::string("with big empty") : fmt::format("behind {} of big, {}", big, mode);
      auto& p50 =
          figure(fmt::format("200 informs into small {}, inform->work p50", behind), "ms", "");
      auto& p99 =
          figure(fmt::format("200 informs into small {}, inform->work p99", behind), "ms", "");
      for (int run = 0; run < runs_; ++run) {
        auto schema = seeded_schema(big, "big");
        auto ms = waits_behind(schema, "big", "small", 200, fair, big == 0 ? 0 : 1000);
        p50.runs.push_back(quantile(ms, 0.50));
        p99.runs.push_back(quantile(ms, 0.99));
      }
      progress(p50);
      progress(p99);
    }
  }

  // Starts a client working `schema`'s backlog in namespace `busy` at parallelism 10; once
  // `warmup` of it are worked, informs `count` new objects into namespace `ns` and returns,
  // per object, the milliseconds from that inform to its work starting, and logs how much
  // of the backlog was still due when the last of them started.
  std::vector<double> waits_behind(const std::string& schema, const std::string& busy,
                                   const std::string& ns, int count, bool fair,
                                   std::int64_t warmup) {
    struct Probe : delta::Controller<Item> {
      delta::WorkResult work(delta::WorkContext&, const delta::Resource<Item>& r) override {
        auto now = Clock::now();
        ++worked;
        if (r.object.n >= kNewBase) {
          std::lock_guard lock(mutex);
          seen[r.object.key] = now;
        }
        return delta::synced();
      }
      std::atomic<std::int64_t> worked{0};
      std::mutex mutex;
      std::map<std::string, Clock::time_point> seen;
    };
    Item::item_parallelism_ref() = 10;
    auto probe = std::make_shared<Probe>();
    auto config = base_config(schema);
    config.controllers.add(probe);
    config.namespaces[busy] = {.max_workers = 10};
    config.namespaces[ns] = {.max_workers = 10};
    config.fair_namespaces = fair;
    delta::Client client(pool_, config);
    client.start();
    if (warmup > 0) wait_for_count(warmup, [&] { return probe->worked.load(); });
    std::vector<Item> fresh;
    for (int i = 0; i < count; ++i)
      fresh.push_back(make_item(kNewBase + i));
    const auto informed = Clock::now();
    client.inform_many(fresh, {.namespace_name = ns});
    wait_for_count(count, [&] {
      std::lock_guard lock(probe->mutex);
      return static_cast<std::int64_t>(probe->seen.size());
    });
    const std::int64_t left =
        count_state(*pool_, schema, "expired") + count_state(*pool_, schema, "scheduled");
    client.stop(std::chrono::seconds(5));
    std::cerr << fmt::format("    {} new in {} behind {} ({}): {} of the backlog left\n", count, ns,
                             busy, fair ? "fair" : "unfair", left);
    std::vector<double> ms;
    std::lock_guard lock(probe->mutex);
    for (const auto& item : fresh)
      ms.push_back(
          std::chrono::duration<double, std::milli>(probe->seen.at(item.key) - informed).count());
    return ms;
  }
  static constexpr std::int64_t kNewBase = 900'000'000;

  // Before each idle-latency run, delta's and pgbench's alike: a CHECKPOINT writes back
  // what the scenarios before it left dirty, so that the run measures commits on an idle
  // cluster rather than against the write-back of the last bulk load (in a full run the
  // latency scenario follows ~3 million row writes of the sync scenarios; inform calls reached
  // 30-209 ms at p99 while the same commit's p50 was 1.4 ms). Needs superuser or the
  // pg_checkpoint role; without them the runs go ahead as they are.
  void settle() {
    try {
      pool_->exec("CHECKPOINT");
    } catch (const std::exception& e) {
      if (!settle_warned_) {
        std::cerr << "  (no CHECKPOINT before latency runs: " << e.what() << ")\n";
        settle_warned_ = true;
      }
    }
  }

  void latency(std::int64_t samples, std::chrono::milliseconds every) {
    auto& p50 = figure(fmt::format("inform->work latency p50, every {} ms", every.count()), "ms",
                       fmt::format("pgbench insert 1 row latency p50, every {} ms", every.count()));
    auto& p99 = figure(fmt::format("inform->work latency p99, every {} ms", every.count()), "ms",
                       fmt::format("pgbench insert 1 row latency p99, every {} ms", every.count()));
    for (int run = 0; run < runs_; ++run) {
      settle();
      auto ms = latency_run(samples, every);
      p50.runs.push_back(quantile(ms, 0.50));
      p99.runs.push_back(quantile(ms, 0.99));
    }
    progress(p50);
    progress(p99);
  }

  // Informs one object every `every` from an inform-only client and returns, per object,
  // the milliseconds from calling inform() to its work starting in another client.
  std::vector<double> latency_run(std::int64_t samples, std::chrono::milliseconds every) {
    auto schema = fresh_schema();
    auto config = base_config(schema);
    struct Probe : delta::Controller<Item> {
      delta::WorkResult work(delta::WorkContext&, const delta::Resource<Item>& r) override {
        auto now = Clock::now();
        std::lock_guard lock(mutex);
        seen[r.object.key] = now;
        return delta::synced();
      }
      std::mutex mutex;
      std::map<std::string, Clock::time_point> seen;
    };
    Item::item_parallelism_ref() = 10;
    auto probe = std::make_shared<Probe>();
    config.controllers.add(probe);
    config.namespaces["default"] = {.max_workers = 10};
    delta::Client worker(pool_, config);
    worker.start();
    // A second, inform-only client: the wake-up crosses the database (NOTIFY), as it does
    // between processes.
    auto inform_config = base_config(schema);
    inform_config.controllers.add(std::make_shared<ItemController>());
    delta::Client informer(pool_, inform_config);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    struct Sent {
      std::string key;
      Clock::time_point before;  // inform() called
      Clock::time_point after;   // inform() returned: committed
    };
    std::vector<Sent> sent;
    auto next = Clock::now();
    for (std::int64_t i = 0; i < samples; ++i) {
      std::this_thread::sleep_until(next);
      next += every;
      auto item = make_item(i);
      auto before = Clock::now();
      informer.inform(item);
      sent.push_back({item.key, before, Clock::now()});
    }
    wait_for_count(samples, [&] {
      std::lock_guard lock(probe->mutex);
      return static_cast<std::int64_t>(probe->seen.size());
    });
    worker.stop(std::chrono::seconds(5));
    std::vector<double> ms, call, after;
    for (auto& s : sent) {
      const auto seen = probe->seen.at(s.key);
      ms.push_back(std::chrono::duration<double, std::milli>(seen - s.before).count());
      call.push_back(std::chrono::duration<double, std::milli>(s.after - s.before).count());
      after.push_back(std::chrono::duration<double, std::milli>(seen - s.after).count());
    }
    // Where the time goes: the inform call itself (statement and durable commit), then
    // from its return to the work starting (NOTIFY, claim, hand-offs).
    std::cerr << fmt::format(
        "    every {} ms: inform call p50 {:.2f} ms (p99 {:.2f}), from its return to work p50 "
        "{:.2f} ms (p99 {:.2f})\n",
        every.count(), quantile(call, 0.5), quantile(call, 0.99), quantile(after, 0.5),
        quantile(after, 0.99));
    return ms;
  }

  void scale() {
    const std::int64_t count = options_.quick ? 20000 : 100000;
    const int parallelism = 100;
    if (wanted("sync 2 processes")) {
      // One child process against two, at the same parallelism per process, in alternating
      // runs (drift of this machine hits both alike). Parallelism 10 leaves the database
      // room, so a second process should add throughput; at 100 one process already keeps
      // the two cores nearly busy, so the second can only share them.
      const std::vector<int> levels =
          options_.quick ? std::vector<int>{parallelism} : std::vector<int>{10, parallelism};
      for (int level : levels) {
        auto& one =
            figure(fmt::format("sync {} resources, 1 child process, parallelism {}", count, level),
                   "resources/s", "pgbench batched claim of 100, 4 clients");
        auto& two =
            figure(fmt::format("sync {} resources, 2 processes, parallelism {} each", count, level),
                   "resources/s", one.scenario);
        for (int run = 0; run < runs_; ++run) {
          for (int processes : {1, 2}) {
            auto schema = seeded_schema(count);
            const double wall = timed_rate(static_cast<double>(count), [&] {
              auto args = std::vector<std::string>{"--sync-child", schema, std::to_string(count),
                                                   std::to_string(level)};
              std::vector<pid_t> children;
              for (int i = 0; i < processes; ++i)
                children.push_back(spawn_self(args));
              for (auto child : children)
                wait_child(child);
            });
            const double window = synced_window_rate(*pool_, schema, count);
            std::cerr << fmt::format(
                "    {} process(es), parallelism {}: {:.0f} resources/s from the first claim to "
                "the last outcome, {:.0f}/s including starting and stopping them\n",
                processes, level, window, wall);
            (processes == 1 ? one : two).runs.push_back(window);
          }
        }
        progress(one);
        progress(two);
      }
    }
    if (wanted("rss") && !options_.quick) {
      const std::int64_t million = 1000000;
      auto schema = seeded_schema(million);
      auto pipe_name = "/tmp/delta_bench_rss.txt";
      auto command = fmt::format("/proc/{}/exe --rss-child {} {} {} > {}", ::getpid(), schema,
                                 million, parallelism, pipe_name);
      if (std::system(command.c_str()) != 0) throw std::runtime_error("rss child failed");
      long early = 0, peak = 0;
      std::ifstream(pipe_name) >> early >> peak;
      auto& f = figure("peak RSS syncing 1,000,000 resources (MB)", "MB", "");
      f.runs.push_back(static_cast<double>(peak) / 1024.0);
      progress(f);
      auto& e = figure("peak RSS after the first 100,000 of them (MB)", "MB", "");
      e.runs.push_back(static_cast<double>(early) / 1024.0);
      progress(e);
    }
  }

  // Small figures (latencies in ms) keep one decimal.
  static std::string number(double value) {
    return value < 100 ? fmt::format("{:.1f}", value) : fmt::format("{:.0f}", value);
  }

  void progress(const Figure& f) {
    std::cerr << fmt::format("  {:<60} {:>12} {}\n", f.scenario, number(f.median()), f.unit);
  }

  void report() {
    utsname machine{};
    ::uname(&machine);
    auto version = pool_->exec("SHOW server_version").one().get<std::string>(0);
    auto sync = pool_->exec("SHOW synchronous_commit").one().get<std::string>(0);
    auto fsync = pool_->exec("SHOW fsync").one().get<std::string>(0);
    nlohmann::json out = {
        {"machine", {{"cores", std::thread::hardware_concurrency()}, {"kernel", machine.release}}},
        {"postgres", {{"version", version}, {"synchronous_commit", sync}, {"fsync", fsync}}},
        {"quick", options_.quick},
        {"runs", runs_},
        {"results", nlohmann::json::array()}};
    std::cout << fmt::format(
        "\nPostgreSQL {} (fsync {}, synchronous_commit {}), {} cores, {} run(s) "
        "per scenario\n",
        version, fsync, sync, std::thread::hardware_concurrency(), runs_);
    std::cout << fmt::format("\n{:<62} {:>12} {:>8} {:>20} {:>8}\n", "scenario", "median", "unit",
                             "min - max", "ratio");
    for (const auto& name : order_) {
      const Figure& f = figures_.at(name);
      double ratio = 0;
      double base = 0;
      if (!f.baseline.empty() && figures_.contains(f.baseline)) {
        base = figures_.at(f.baseline).median();
        ratio = base > 0 ? f.median() / base : 0;
      }
      std::cout << fmt::format("{:<62} {:>12} {:>8} {:>9} - {:<9} {:>8}\n", f.scenario,
                               number(f.median()), f.unit, number(f.min()), number(f.max()),
                               f.baseline.empty() ? "baseline" : fmt::format("{:.2f}x", ratio));
      nlohmann::json entry = {{"scenario", f.scenario}, {"unit", f.unit}, {"median", f.median()},
                              {"min", f.min()},         {"max", f.max()}, {"runs", f.runs}};
      if (!f.baseline.empty()) {
        entry["baseline"] = f.baseline;
        entry["baseline_value"] = base;
        entry["ratio"] = ratio;
      }
      out["results"].push_back(entry);
    }
    std::ofstream(options_.out) << out.dump(2) << '\n';
    std::cout << "\nwritten to " << options_.out << '\n';
  }

  Options options_;
  std::shared_ptr<delta::pg::Pool> pool_;
  int runs_ = 3;
  int seconds_ = 5;
  bool settle_warned_ = false;
  std::map<std::string, Figure> figures_;
  std::vector<std::string> order_;
};

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--quick") {
      options.quick = true;
    } else if (arg == "--out" && i + 1 < argc) {
      options.out = argv[++i];
    } else if ((arg == "--sync-child" || arg == "--rss-child") && i + 3 < argc) {
      try {
        return sync_child(argv[i + 1], std::stoll(argv[i + 2]), std::stoi(argv[i + 3]),
                          arg == "--rss-child");
      } catch (const std::exception& e) {
        std::cerr << "delta_bench child: " << e.what() << '\n';
        return 1;
      }
    } else if (arg == "--seed" && i + 1 < argc) {
      try {
        options.seed = std::stoll(argv[++i]);
      } catch (const std::exception&) {
        options.seed = 0;
      }
      if (options.seed <= 0) {
        std::cerr << "delta_bench: --seed needs a positive count\n";
        return 2;
      }
    } else if (arg == "--filter" && i + 1 < argc) {
      options.filter = argv[++i];
    } else if (arg == "--no-baselines") {
      options.baselines = false;
    } else {
      std::cerr << "usage: delta_bench [--quick] [--out FILE] [--filter TEXT] [--no-baselines]\n"
                   "       delta_bench --seed N   (then --sync-child delta_bench N P)\n";
      return 2;
    }
  }
  try {
    if (options.seed > 0) {
      Bench(options).seed_only(options.seed);
      return 0;
    }
    Bench(options).run();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "delta_bench: " << e.what() << '\n';
    return 1;
  }
}
