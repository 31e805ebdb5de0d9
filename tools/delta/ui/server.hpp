// The dashboard's HTTP server (cpp-httplib): routes, sessions and the reads and actions
// through delta::Admin. Rendering is pages.hpp's; who may do what is session.hpp's.
//
//   delta_ui::Server server(admin, {.host = "127.0.0.1", .port = 8080});
//   const int port = server.bind();   // then point a browser at it
//   server.run();                     // until stop(), from another thread
#pragma once

#include <memory>
#include <string>

#include <delta/admin.hpp>

namespace delta_ui {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;             // 0: any free port (bind() says which)
  bool read_only = false;      // no action buttons; every POST but log in/out is 403
  std::string access_token{};  // empty: no login
  int refresh_seconds = 5;     // how often pages refresh themselves; 0: never
  int page_size = 50;          // rows per list page unless the URL says (1 to 1000)
  std::string schema = "delta";
};

class Server {
 public:
  // `admin` must outlive the server. Throws std::invalid_argument for a bad option.
  Server(std::shared_ptr<delta::Admin> admin, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listening socket; the port bound. Throws std::runtime_error when it cannot.
  int bind();
  // Serves requests until stop(); each on a thread of the server's pool. A request that
  // fails (the database is down, a bad filter) gets an error page; the server goes on.
  void run();
  // Makes run() return once the requests being served are answered. Thread-safe.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace delta_ui
