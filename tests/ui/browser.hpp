// What the dashboard's browser tests drive: a child process read line by line (`delta ui`,
// chromedriver), and headless Chromium through chromedriver's WebDriver protocol (W3C),
// spoken with cpp-httplib's client.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <sys/types.h>

namespace delta::testing {

// A program started with its standard output on a pipe (its standard error is ours).
// The destructor sends SIGTERM, then SIGKILL after two seconds, and reaps it.
class ChildProcess {
 public:
  // Throws std::system_error when it cannot be spawned. `env` (NAME=value) is added to this
  // process's environment.
  explicit ChildProcess(const std::vector<std::string>& argv,
                        const std::vector<std::string>& env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The first line it printed (now or earlier) that contains `text`, waiting up to
  // `timeout`; nullopt once it closed its output without one, or on the timeout.
  std::optional<std::string> line_containing(std::string_view text,
                                             std::chrono::milliseconds timeout);
  // Whether it still runs.
  bool running();
  // SIGTERM, then its exit code (-1: not within `timeout`, then killed; or a signal).
  int terminate(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  std::string pending_;
  std::vector<std::string> lines_;
};

// A TCP port nobody listens on now on 127.0.0.1 (bound, read, closed).
int free_port();

// Why the browser tests cannot run here ("/usr/bin/chromium is not installed"), or nullopt.
std::optional<std::string> browser_missing();

// One headless Chromium session. Every call throws std::runtime_error with WebDriver's
// message when the browser refuses it.
class Browser {
 public:
  Browser();  // starts chromedriver on a free port and a session in it
  ~Browser();
  Browser(const Browser&) = delete;
  Browser& operator=(const Browser&) = delete;

  void go(const std::string& url);
  std::string url();
  std::string source();
  // The value `script` (a function body) returns, run in the page.
  nlohmann::json run(const std::string& script);
  // Element references (CSS selectors); find throws when there is none.
  std::string find(const std::string& css);
  std::vector<std::string> find_all(const std::string& css);
  void click(const std::string& element);
  void type(const std::string& element, const std::string& text);
  std::string text(const std::string& element);
  // The text of the alert or confirm open now, accepted.
  std::string accept_dialog();
  // A PNG of the viewport at `path`.
  void screenshot(const std::string& path);

 private:
  nlohmann::json call(const std::string& method, const std::string& path,
                      const nlohmann::json& body = nullptr);

  std::optional<ChildProcess> driver_;
  int port_ = 0;
  std::string session_;
};

}  // namespace delta::testing
