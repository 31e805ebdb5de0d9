#include "support/worker_proc.hpp"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

namespace delta::testing {

namespace {

// The signals serve() waits for.
sigset_t stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  return signals;
}

LogLevel parse_level(const std::string& name) {
  if (name == "debug") return LogLevel::debug;
  if (name == "info") return LogLevel::info;
  if (name == "warn") return LogLevel::warn;
  if (name == "error") return LogLevel::error;
  throw std::invalid_argument("unknown log level " + name);
}

}  // namespace

int worker_main(int argc, char** argv, std::string_view program, CLI::App& app,
                WorkerOptions& options, const std::function<int()>& run) {
  // Die with the test that spawned us, even if it crashes before its teardown.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);

  pid_t parent_pid = 0;
  app.add_option("--schema", options.schema, "delta schema (migrated)")->required();
  app.add_option("--client-id", options.client_id, "delta client id")->required();
  app.add_option("--stop-grace-ms", options.stop_grace_ms, "grace given to client.stop()");
  app.add_option("--log-level", options.log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  app.add_option("--database-url", options.database_url, "libpq connection string (DATABASE_URL)");
  app.add_option("--parent-pid", parent_pid, "exit at once if this is not our parent");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (parent_pid != 0 && ::getppid() != parent_pid) return 3;  // the parent died already
  // No thread runs yet: the environment may still change.
  if (!options.database_url.empty()) ::setenv("DATABASE_URL", options.database_url.c_str(), 1);

  const sigset_t signals = stop_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  try {
    return run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%.*s (%s): %s\n", static_cast<int>(program.size()), program.data(),
                 options.client_id.c_str(), e.what());
    return 2;
  }
}

Config worker_config(const WorkerOptions& options) {
  Config config;
  config.schema = options.schema;
  config.id = options.client_id;
  const std::string prefix = fmt::format("[{} pid {}] ", options.client_id, ::getpid());
  config.logger = [prefix, inner = stderr_logger(parse_level(options.log_level))](
                      LogLevel level, std::string_view message) {
    inner(level, prefix + std::string(message));
  };
  return config;
}

int serve(std::shared_ptr<pg::Pool> pool, const Config& config, const WorkerOptions& options) {
  Client client(std::move(pool), config);
  client.start();
  print_line("ready");
  const sigset_t signals = stop_signals();
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  client.stop(std::chrono::milliseconds(options.stop_grace_ms));
  print_line("stopped");
  return 0;
}

void print_line(const std::string& line) {
  std::fputs((line + "\n").c_str(), stdout);
  std::fflush(stdout);
}

}  // namespace delta::testing
