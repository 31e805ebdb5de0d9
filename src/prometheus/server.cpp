// Server: /metrics, /healthz and /readyz of one client over cpp-httplib, on a thread of
// its own with a small worker pool.
#include <charconv>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>
#include <sys/socket.h>

#include <delta/errors.hpp>
#include <delta/prometheus.hpp>

namespace delta::prometheus {

namespace {

constexpr std::size_t kServerThreads = 2;

struct Address {
  std::string host;
  int port = 0;
};

// "host:port" (an IPv6 host in brackets: "[::1]:9464"); throws ConfigError.
Address parse_listen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) {
    throw ConfigError(fmt::format("listen address '{}' is not host:port", listen));
  }
  Address address;
  address.host = listen.substr(0, colon);
  if (address.host.size() > 2 && address.host.front() == '[' && address.host.back() == ']') {
    address.host = address.host.substr(1, address.host.size() - 2);
  }
  const std::string port = listen.substr(colon + 1);
  const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), address.port);
  if (error != std::errc() || end != port.data() + port.size() || address.port < 0 ||
      address.port > 65535) {
    throw ConfigError(fmt::format("listen address '{}': the port must be 0 .. 65535", listen));
  }
  return address;
}

void plain(httplib::Response& response, int status, const std::string& body) {
  response.status = status;
  response.set_content(body, "text/plain; charset=utf-8");
}

}  // namespace

struct Server::Impl {
  httplib::Server http;
  std::thread thread;
  int port = 0;
};

Server::Server(const Client& client, ServerOptions options) : impl_(std::make_unique<Impl>()) {
  const Address address = parse_listen(options.listen);
  auto& http = impl_->http;
  http.new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
  // SO_REUSEADDR (a restarted process can bind at once) but not SO_REUSEPORT, which
  // cpp-httplib sets by default: a second server on a port in use must fail, not share it.
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  http.set_read_timeout(std::chrono::seconds(5));
  http.set_write_timeout(std::chrono::seconds(5));
  http.set_pre_routing_handler([](const httplib::Request& request, httplib::Response& response) {
    if (request.method == "GET" || request.method == "HEAD") {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    response.set_header("Allow", "GET, HEAD");
    plain(response, 405, "only GET and HEAD are served\n");
    return httplib::Server::HandlerResponse::Handled;
  });
  http.Get("/metrics", [&client, token = options.bearer_token](const httplib::Request& request,
                                                               httplib::Response& response) {
    if (!token.empty() && request.get_header_value("Authorization") != "Bearer " + token) {
      response.set_header("WWW-Authenticate", "Bearer");
      plain(response, 401, "a bearer token is required\n");
      return;
    }
    response.set_content(render(client.metrics()), kContentType);
  });
  // A probe: 200 while `passes` says so of the client's health, else 503 and why.
  auto probe = [&http, &client](const char* path, bool Health::*passes) {
    http.Get(path, [&client, passes](const httplib::Request&, httplib::Response& response) {
      const Health health = client.health();
      if (health.*passes) {
        plain(response, 200, "ok\n");
      } else {
        plain(response, 503, health.reason + "\n");
      }
    });
  };
  probe("/healthz", &Health::alive);
  probe("/readyz", &Health::ready);
  http.set_error_handler([](const httplib::Request&, httplib::Response& response) {
    if (response.status == 404)
      plain(response, 404, "not found: try /metrics, /healthz, /readyz\n");
  });

  impl_->port = address.port == 0
                    ? http.bind_to_any_port(address.host)
                    : (http.bind_to_port(address.host, address.port) ? address.port : -1);
  if (impl_->port < 0) {
    throw Error(
        fmt::format("cannot listen on {}: the address is in use or not local", options.listen));
  }
  impl_->thread = std::thread([this] { impl_->http.listen_after_bind(); });
  // Serving before the constructor returns: a stop() before the thread's loop started
  // would otherwise be missed (cpp-httplib's stop() acts only on a running server).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!impl_->http.is_running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

Server::~Server() {
  stop();
}

int Server::port() const noexcept {
  return impl_->port;
}

void Server::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->http.stop();
  impl_->thread.join();
}

}  // namespace delta::prometheus
