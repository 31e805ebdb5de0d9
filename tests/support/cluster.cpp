#include "support/cluster.hpp"

#include <array>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace delta::testing {

namespace {

namespace fs = std::filesystem;

// The directory of initdb and pg_ctl: `pg_config --bindir`, else Debian's path for 15.
std::string find_bindir() {
  if (std::FILE* pipe = ::popen("pg_config --bindir 2>/dev/null", "r")) {
    std::array<char, 512> buffer{};
    std::string out;
    while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr)
      out += buffer.data();
    ::pclose(pipe);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' '))
      out.pop_back();
    if (!out.empty() && fs::exists(fs::path(out) / "pg_ctl")) return out;
  }
  const std::string fallback = "/usr/lib/postgresql/15/bin";
  if (fs::exists(fs::path(fallback) / "pg_ctl")) return fallback;
  throw std::runtime_error("no PostgreSQL server programs: neither pg_config --bindir nor " +
                           fallback + " has pg_ctl");
}

// A TCP port nobody listens on now. The server listens on its unix socket only, so the
// port only names the socket file (in a directory of its own): a race for it is harmless.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const int error = errno;
    ::close(fd);
    throw std::system_error(error, std::generic_category(), "bind");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

std::string tail_of(const fs::path& path, std::size_t bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::stringstream text;
  text << in.rdbuf();
  const std::string all = text.str();
  return all.size() <= bytes ? all : all.substr(all.size() - bytes);
}

const char* mode_argument(Cluster::Stop mode) {
  return mode == Cluster::Stop::fast ? "fast" : "immediate";
}

}  // namespace

const char* name_of(Cluster::Stop mode) {
  return mode == Cluster::Stop::fast ? "restart" : "crash";
}

Cluster::Cluster() : bindir_(find_bindir()), port_(free_port()) {
  std::string dir_template = (fs::temp_directory_path() / "delta_cluster_XXXXXX").string();
  if (::mkdtemp(dir_template.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "mkdtemp");
  }
  dir_ = dir_template;
  data_dir_ = dir_ + "/data";
  socket_dir_ = dir_ + "/socket";
  try {
    fs::create_directory(socket_dir_);
    if (::geteuid() == 0) {
      const passwd* owner = ::getpwnam("postgres");
      if (owner == nullptr) {
        throw std::runtime_error(
            "running as root, and there is no user \"postgres\" to run PostgreSQL as");
      }
      drop_privileges_ = true;
      uid_ = owner->pw_uid;
      gid_ = owner->pw_gid;
      for (const auto& path : {dir_, socket_dir_}) {
        if (::chown(path.c_str(), uid_, gid_) != 0) {
          throw std::system_error(errno, std::generic_category(), "chown " + path);
        }
      }
    }
    run("initdb", {"--pgdata", data_dir_, "--username", "postgres", "--auth", "trust", "--encoding",
                   "UTF8", "--locale", "C", "--no-sync", "--no-instructions"});
    std::ofstream conf(data_dir_ + "/postgresql.conf", std::ios::app);
    conf << fmt::format(
        "\n# delta::testing::Cluster\n"
        "port = {}\n"
        "listen_addresses = ''\n"
        "unix_socket_directories = '{}'\n"
        // A crash of the server (not of the machine) loses nothing the kernel holds:
        // fsync off keeps every commit. synchronous_commit stays on: a commit confirmed
        // to a client is in the WAL before the client hears of it.
        "fsync = off\n"
        "max_connections = 200\n"
        "shared_buffers = 32MB\n"
        "log_min_messages = warning\n",
        port_, socket_dir_);
    conf.close();
    if (!conf) throw std::runtime_error("cannot write " + data_dir_ + "/postgresql.conf");
    conninfo_ = fmt::format(
        "host={} port={} user=postgres dbname=postgres sslmode=disable gssencmode=disable",
        socket_dir_, port_);
    start();
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
    throw;
  }
}

Cluster::~Cluster() {
  if (running_) {
    try {
      stop(Stop::immediate);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "stopping the test cluster in %s: %s\n", dir_.c_str(), e.what());
    }
  }
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

void Cluster::start() {
  run("pg_ctl",
      {"start", "--pgdata", data_dir_, "--wait", "--timeout", "60", "--log", dir_ + "/server.log"});
  running_ = true;
}

void Cluster::stop(Stop mode) {
  run("pg_ctl",
      {"stop", "--pgdata", data_dir_, "--wait", "--timeout", "60", "--mode", mode_argument(mode)});
  running_ = false;
}

void Cluster::restart(Stop mode) {
  running_ = false;
  run("pg_ctl", {"restart", "--pgdata", data_dir_, "--wait", "--timeout", "60", "--mode",
                 mode_argument(mode), "--log", dir_ + "/server.log"});
  running_ = true;
}

std::string Cluster::server_log(std::size_t bytes) const {
  return tail_of(fs::path(dir_) / "server.log", bytes);
}

void Cluster::run(const std::string& name, const std::vector<std::string>& args) const {
  const std::string program = bindir_ + "/" + name;
  const std::string log_path = dir_ + "/commands.log";
  std::vector<std::string> strings{program};
  strings.insert(strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : strings)
    argv.push_back(arg.data());
  argv.push_back(nullptr);

  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::system_error(errno, std::generic_category(), "open " + log_path);
  const auto log_start = static_cast<std::size_t>(::lseek(log_fd, 0, SEEK_END));
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int error = errno;
    ::close(log_fd);
    throw std::system_error(error, std::generic_category(), "fork");
  }
  if (pid == 0) {
    // The child: only async-signal-safe calls until exec.
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    if (drop_privileges_ &&
        (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::setuid(uid_) != 0)) {
      ::_exit(126);
    }
    // Its working directory must be one the (unprivileged) owner can read.
    if (::chdir(dir_.c_str()) != 0) ::_exit(126);
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "waitpid");
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  std::string output = tail_of(log_path, std::string::npos);
  if (output.size() > log_start) output.erase(0, log_start);
  throw std::runtime_error(fmt::format("{} {} failed (status {}):\n{}\nserver log:\n{}", name,
                                       args.empty() ? "" : args.front(), status, output,
                                       server_log()));
}

}  // namespace delta::testing
