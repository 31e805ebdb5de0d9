// delta::prometheus — a client's metrics in Prometheus's text format, and a small HTTP
// server for them with health endpoints. An optional library (CMake target
// delta::prometheus, built when prometheus-cpp and cpp-httplib are found); the core
// library does not need it.
//
//   delta::prometheus::Server server(client, {.listen = "127.0.0.1:9464"});
//   // GET /metrics  the text format (version 0.0.4)
//   // GET /healthz  200 while the client runs (Health::alive), else 503
//   // GET /readyz   200 while it reaches the database (Health::ready), else 503 and why
//
// Or mount the text in a server of your own:
//
//   std::string body = delta::prometheus::render(client.metrics());
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <delta/client.hpp>
#include <delta/export.hpp>
#include <delta/metrics.hpp>

DELTA_PUBLIC_BEGIN

namespace delta::prometheus {

// `families` in the Prometheus text exposition format (version 0.0.4), rendered by
// prometheus-cpp: HELP and TYPE lines, label values escaped, histograms with cumulative
// `_bucket{le=...}` series ending in le="+Inf", `_sum` and `_count`.
std::string render(const std::vector<MetricFamily>& families);

// The content type of render()'s text.
inline constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

struct ServerOptions {
  // host:port to listen on (default 127.0.0.1:9464: this machine only). Port 0 picks a
  // free port (see Server::port()). "0.0.0.0:9464" serves every interface.
  std::string listen = "127.0.0.1:9464";
  // Set: GET /metrics requires the header "Authorization: Bearer <token>" (401 without
  // it); the health endpoints stay open for the orchestrator's probes.
  std::string bearer_token{};
};

// Serves /metrics, /healthz and /readyz of `client` on a thread of its own; only GET
// (and HEAD) are served, anything else is 405, an unknown path 404. `client` must outlive
// the server.
class Server {
 public:
  // Binds and starts serving. Throws ConfigError for a listen address that is not
  // host:port, Error when the address cannot be bound (in use, not local).
  explicit Server(const Client& client, ServerOptions options = {});
  // Stops serving.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The port it listens on (the one picked when ServerOptions::listen asked for port 0).
  int port() const noexcept;
  // Stops serving and joins its thread; idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace delta::prometheus

DELTA_PUBLIC_END
