// delta ui: the web dashboard (tools/delta/ui/), when built with cpp-httplib.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "cli.hpp"

#ifdef DELTA_HAVE_UI
#include <pthread.h>

#include <delta/migrate.hpp>

#include "ui/server.hpp"
#endif

namespace delta_cli {

namespace {

struct UiArgs {
  std::string listen = "127.0.0.1:8080";
  bool read_only = false;
  std::string token;
  int refresh_seconds = 5;
  int page_size = 50;
  int statement_timeout_ms = 5000;
};

#ifdef DELTA_HAVE_UI
// "HOST:PORT" ("[::1]:8080" for an IPv6 address); UsageError otherwise.
std::pair<std::string, int> parse_listen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? std::string() : listen.substr(0, colon);
  const std::string port_text =
      colon == std::string::npos ? std::string() : listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  int port = -1;
  try {
    std::size_t used = 0;
    port = std::stoi(port_text, &used);
    if (used != port_text.size()) port = -1;
  } catch (const std::exception&) {
    port = -1;
  }
  if (host.empty() || port < 0 || port > 65535) {
    throw UsageError(
        fmt::format("--listen: \"{}\" is not HOST:PORT (a port from 0 to 65535)", listen));
  }
  return {host, port};
}

int serve(const GlobalOptions& globals, const UiArgs& args) {
  const auto [host, port] = parse_listen(args.listen);
  const bool loopback = host == "localhost" || host == "::1" || host.starts_with("127.");
  if (!loopback && args.token.empty()) {
    fmt::print(stderr,
               "delta ui: warning: listening on {} without --token: anyone who can reach it can "
               "read{} the state of the database\n",
               args.listen, args.read_only ? "" : " and change");
  }
  auto pool =
      delta::pg::Pool::create(globals.database_url, {.max_connections = 4,
                                                     .acquire_timeout = std::chrono::seconds(5),
                                                     .application_name = "delta-ui"});
  delta::check_schema(*pool, globals.schema);
  auto admin = std::make_shared<delta::Admin>(
      std::move(pool), delta::AdminOptions{.schema = globals.schema,
                                           .statement_timeout = std::chrono::milliseconds(
                                               args.statement_timeout_ms)});

  // SIGINT and SIGTERM stop the server; they are blocked here, before its threads start,
  // and awaited on a thread of their own.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  delta_ui::Server server(admin, {.host = host,
                                  .port = port,
                                  .read_only = args.read_only,
                                  .access_token = args.token,
                                  .refresh_seconds = args.refresh_seconds,
                                  .page_size = args.page_size,
                                  .schema = globals.schema});
  const int bound = server.bind();
  const auto shown_host = host.find(':') == std::string::npos ? host : "[" + host + "]";
  fmt::print("delta ui: serving http://{}:{}/ (schema {}{})\n", shown_host, bound, globals.schema,
             args.read_only ? ", read-only" : "");
  std::fflush(stdout);
  std::jthread stopper([&server, signals] {
    int signal = 0;
    sigwait(&signals, &signal);
    server.stop();
  });
  server.run();
  // run() may have ended without a signal (it could not serve): wake the waiting thread.
  pthread_kill(stopper.native_handle(), SIGTERM);
  return kExitOk;
}
#endif

}  // namespace

void add_ui_command(CLI::App& app, Cli& cli) {
  auto args = std::make_shared<UiArgs>();
  auto* command =
      add_command(app, "ui", "Serve the web dashboard (overview, resources, jobs, actions)");
  command->add_option("--listen", args->listen, "HOST:PORT to listen on (port 0: any free one)")
      ->capture_default_str();
  command->add_flag("--read-only", args->read_only, "No actions: show only");
  command
      ->add_option("--token", args->token,
                   "Require this access token (bearer header or login form) for every page")
      ->envname("DELTA_UI_TOKEN");
  command
      ->add_option("--refresh", args->refresh_seconds, "Seconds between page refreshes (0: none)")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600));
  command->add_option("--page-size", args->page_size, "Rows per list page (1 to 1000)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  command
      ->add_option("--statement-timeout", args->statement_timeout_ms,
                   "Milliseconds a read or one batch of an action may take")
      ->capture_default_str()
      ->check(CLI::Range(1, 600000));
  on_run(command, cli, [&cli, args]() -> int {
#ifdef DELTA_HAVE_UI
    return serve(cli.globals, *args);
#else
    (void)cli;
    throw UsageError("this delta was built without the dashboard (it needs cpp-httplib: "
                     "Debian's libcpp-httplib-dev)");
#endif
  });
}

}  // namespace delta_cli
