// The frame the worker programs share: their common command-line options, dying with the
// test that spawned them, the lines they print, and serving until SIGTERM or SIGINT.
//
// Lines a worker program prints on stdout (each flushed at once):
//   ready                 the client has started
//   stopped               client.stop() has returned (graceful exit follows)
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <CLI/CLI.hpp>

#include <delta/client.hpp>
#include <delta/log.hpp>
#include <delta/pg.hpp>

namespace delta::testing {

// The options every worker program takes.
struct WorkerOptions {
  std::string schema;
  std::string client_id;
  int stop_grace_ms = 5000;
  std::string log_level = "warn";
  // The database (a libpq connection string); empty: the PG* environment. worker_main
  // puts it in DATABASE_URL, so that make_pool() connects there.
  std::string database_url;
};

// Runs a worker program: arranges to be SIGKILLed when the spawning test dies, adds
// --schema, --client-id, --stop-grace-ms, --log-level, --database-url and --parent-pid to
// `app` (its own
// options already added) and parses the command line into `options` (CLI11's exit code
// on a bad one), returns 3 at once when --parent-pid is not this process's parent (the
// test died already), blocks SIGTERM and SIGINT (before any thread starts, so that every
// thread inherits the mask) and returns what `run` returns; an exception from `run` is
// printed to stderr with `program` and the client id, and the exit code is 2.
int worker_main(int argc, char** argv, std::string_view program, CLI::App& app,
                WorkerOptions& options, const std::function<int()>& run);

// A configuration with `options`' schema and client id, logging to stderr at its log level
// with every line prefixed by "[<client id> pid <pid>] ".
Config worker_config(const WorkerOptions& options);

// Starts a client on `pool` with `config`, prints "ready", waits for SIGTERM or SIGINT
// (blocked by worker_main), stops the client with options.stop_grace_ms of grace and
// prints "stopped"; returns 0. Throws what the client's constructor and start() throw.
int serve(std::shared_ptr<pg::Pool> pool, const Config& config, const WorkerOptions& options);

// Writes `line` and a newline to stdout, flushed at once.
void print_line(const std::string& line);

// Sleeps up to `duration`; returns early (false) when `ctx` (a job's or a resource's
// context) is asked to stop.
template <class Context>
bool sleep_unless_stopped(const Context& ctx, std::chrono::microseconds duration) {
  const auto until = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < until) {
    if (ctx.stop_requested()) return false;
    std::this_thread::sleep_for(
        std::min<std::chrono::microseconds>(std::chrono::milliseconds(5), duration));
  }
  return true;
}

}  // namespace delta::testing
