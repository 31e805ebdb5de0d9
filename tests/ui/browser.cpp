#include "ui/browser.hpp"

#include <cerrno>
#include <fstream>
#include <stdexcept>
#include <system_error>
#include <thread>

#include <fcntl.h>
#include <fmt/format.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace delta::testing {

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kChromium = "/usr/bin/chromium";
constexpr const char* kChromedriver = "/usr/bin/chromedriver";
constexpr const char* kElementKey = "element-6066-11e4-a52e-4f735466cecf";

std::string decode_base64(const std::string& text) {
  std::string out(text.size() / 4 * 3 + 3, '\0');
  const int size = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                   reinterpret_cast<const unsigned char*>(text.data()),
                                   static_cast<int>(text.size()));
  if (size < 0) throw std::runtime_error("not base64");
  std::size_t padding = 0;
  for (auto c = text.rbegin(); c != text.rend() && *c == '='; ++c)
    ++padding;
  out.resize(static_cast<std::size_t>(size) - padding);
  return out;
}

// The reference in a WebDriver element object ({"element-6066-...": "<id>"}).
std::string element_id(const nlohmann::json& element) {
  if (element.is_object() && element.contains(kElementKey)) return element[kElementKey];
  throw std::runtime_error("WebDriver answered no element: " + element.dump());
}

}  // namespace

ChildProcess::ChildProcess(const std::vector<std::string>& argv_in,
                           const std::vector<std::string>& env) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe2");
  std::vector<std::string> args = argv_in;
  std::vector<char*> argv;
  for (auto& arg : args)
    argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** entry = environ; *entry != nullptr; ++entry)
    env_strings.emplace_back(*entry);
  env_strings.insert(env_strings.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (auto& entry : env_strings)
    envp.push_back(entry.data());
  envp.push_back(nullptr);

  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw std::system_error(errno, std::generic_category(), "fork");
  }
  if (pid_ == 0) {
    // Dies with the test, whatever ends it (a crash, a timeout's SIGKILL).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(fds[1], STDOUT_FILENO);
    ::execve(args[0].c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  stdout_fd_ = fds[0];
}

ChildProcess::~ChildProcess() {
  terminate(std::chrono::seconds(2));
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

std::optional<std::string> ChildProcess::line_containing(std::string_view text,
                                                         std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    for (const auto& line : lines_) {
      if (line.find(text) != std::string::npos) return line;
    }
    if (stdout_fd_ < 0) return std::nullopt;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd fd{stdout_fd_, POLLIN, 0};
    if (::poll(&fd, 1, static_cast<int>(left.count())) <= 0) continue;
    char buffer[4096];
    const auto got = ::read(stdout_fd_, buffer, sizeof buffer);
    if (got <= 0) {
      ::close(stdout_fd_);
      stdout_fd_ = -1;
      continue;
    }
    pending_.append(buffer, static_cast<std::size_t>(got));
    for (auto newline = pending_.find('\n'); newline != std::string::npos;
         newline = pending_.find('\n')) {
      lines_.push_back(pending_.substr(0, newline));
      pending_.erase(0, newline + 1);
    }
  }
}

bool ChildProcess::running() {
  if (reaped_) return false;
  if (::waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
  return !reaped_;
}

int ChildProcess::terminate(std::chrono::milliseconds timeout) {
  if (running()) {
    ::kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + timeout;
    while (running() && Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (running()) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status_, 0);
      reaped_ = true;
      return -1;
    }
  }
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), size) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    ::close(fd);
    throw std::system_error(errno, std::generic_category(), "bind");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

std::optional<std::string> browser_missing() {
  for (const char* program : {kChromium, kChromedriver}) {
    if (::access(program, X_OK) != 0) {
      return fmt::format("{} is not installed (Debian: chromium chromium-driver)", program);
    }
  }
  return std::nullopt;
}

Browser::Browser() {
  port_ = free_port();
  driver_.emplace(std::vector<std::string>{kChromedriver, fmt::format("--port={}", port_)});
  httplib::Client status("127.0.0.1", port_);
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  for (;;) {
    if (auto res = status.Get("/status"); res && res->status == 200) {
      const auto answer = nlohmann::json::parse(res->body, nullptr, false);
      if (answer.is_object() &&
          answer.value("value", nlohmann::json::object()).value("ready", false))
        break;
    }
    if (Clock::now() > deadline) throw std::runtime_error("chromedriver did not become ready");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const nlohmann::json capabilities = {
      {"capabilities",
       {{"alwaysMatch",
         {{"browserName", "chrome"},
          {"goog:chromeOptions",
           {{"binary", kChromium},
            {"args",
             {"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1400,1000", "--no-first-run", "--disable-extensions"}}}}}}}}};
  session_ = call("POST", "/session", capabilities).at("sessionId").get<std::string>();
}

Browser::~Browser() {
  try {
    if (!session_.empty()) call("DELETE", "/session/" + session_);
  } catch (const std::exception&) {
    // The driver is killed below in any case.
  }
}

nlohmann::json Browser::call(const std::string& method, const std::string& path,
                             const nlohmann::json& body) {
  httplib::Client client("127.0.0.1", port_);
  client.set_read_timeout(60, 0);
  httplib::Result res{nullptr, httplib::Error::Unknown};
  if (method == "GET") {
    res = client.Get(path.c_str());
  } else if (method == "DELETE") {
    res = client.Delete(path.c_str());
  } else {
    res = client.Post(path.c_str(), body.is_null() ? std::string("{}") : body.dump(),
                      "application/json");
  }
  if (!res) throw std::runtime_error(fmt::format("WebDriver {} {}: no answer", method, path));
  auto answer = nlohmann::json::parse(res->body, nullptr, false);
  if (!answer.is_object() || !answer.contains("value")) {
    throw std::runtime_error(
        fmt::format("WebDriver {} {}: {} {}", method, path, res->status, res->body));
  }
  if (res->status != 200) {
    throw std::runtime_error(fmt::format("WebDriver {} {}: {} {}", method, path, res->status,
                                         answer["value"].value("message", res->body)));
  }
  return answer["value"];
}

void Browser::go(const std::string& url) {
  call("POST", "/session/" + session_ + "/url", {{"url", url}});
}

std::string Browser::url() {
  return call("GET", "/session/" + session_ + "/url").get<std::string>();
}

std::string Browser::source() {
  return call("GET", "/session/" + session_ + "/source").get<std::string>();
}

nlohmann::json Browser::run(const std::string& script) {
  return call("POST", "/session/" + session_ + "/execute/sync",
              {{"script", script}, {"args", nlohmann::json::array()}});
}

std::string Browser::find(const std::string& css) {
  return element_id(call("POST", "/session/" + session_ + "/element",
                         {{"using", "css selector"}, {"value", css}}));
}

std::vector<std::string> Browser::find_all(const std::string& css) {
  std::vector<std::string> out;
  for (const auto& element : call("POST", "/session/" + session_ + "/elements",
                                  {{"using", "css selector"}, {"value", css}}))
    out.push_back(element_id(element));
  return out;
}

void Browser::click(const std::string& element) {
  call("POST", "/session/" + session_ + "/element/" + element + "/click", nlohmann::json::object());
}

void Browser::type(const std::string& element, const std::string& text) {
  call("POST", "/session/" + session_ + "/element/" + element + "/value", {{"text", text}});
}

std::string Browser::text(const std::string& element) {
  return call("GET", "/session/" + session_ + "/element/" + element + "/text").get<std::string>();
}

std::string Browser::accept_dialog() {
  const auto text = call("GET", "/session/" + session_ + "/alert/text").get<std::string>();
  call("POST", "/session/" + session_ + "/alert/accept", nlohmann::json::object());
  return text;
}

void Browser::screenshot(const std::string& path) {
  const auto png =
      decode_base64(call("GET", "/session/" + session_ + "/screenshot").get<std::string>());
  std::ofstream(path, std::ios::binary) << png;
}

}  // namespace delta::testing
