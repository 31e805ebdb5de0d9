#include "support/processes.hpp"

#include <algorithm>
#include <cerrno>
#include <string>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/pg_test.hpp"

extern char** environ;

namespace delta::testing {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

WorkerProcess::WorkerProcess(const std::string& program, std::string client_id,
                             const std::vector<std::string>& args)
    : client_id_(std::move(client_id)) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw std::system_error(errno, std::generic_category(), "pipe2");
  }
  std::vector<std::string> arg_strings{program, "--client-id", client_id_, "--parent-pid",
                                       std::to_string(::getpid())};
  arg_strings.insert(arg_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : arg_strings)
    argv.push_back(arg.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  const int rc = ::posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    throw std::system_error(rc, std::generic_category(), "posix_spawn " + program);
  }
  stdout_fd_ = fds[0];
}

WorkerProcess::~WorkerProcess() {
  kill_hard();
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

bool WorkerProcess::wait_for_line(const std::string& line, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (std::find(lines_.begin(), lines_.end(), line) != lines_.end()) return true;
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 || stdout_fd_ < 0) return false;
    pollfd pfd{stdout_fd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    char buffer[4096];
    const ssize_t n = ::read(stdout_fd_, buffer, sizeof buffer);
    if (n <= 0) {  // end of file: the process has exited
      if (n < 0 && errno == EINTR) continue;
      ::close(stdout_fd_);
      stdout_fd_ = -1;
      continue;
    }
    pending_.append(buffer, static_cast<std::size_t>(n));
    for (auto newline = pending_.find('\n'); newline != std::string::npos;
         newline = pending_.find('\n')) {
      lines_.push_back(pending_.substr(0, newline));
      pending_.erase(0, newline + 1);
    }
  }
}

void WorkerProcess::kill_hard() {
  if (reaped_ || pid_ <= 0) return;
  // A worker that ended by itself before it was killed failed: a sanitizer report (which
  // the sanitizer presets end with exit code 86), an exception, a crash. That fails the
  // test, which would otherwise not look at the worker again.
  if (::waitpid(pid_, &status_, WNOHANG) == pid_) {
    reaped_ = true;
    if (!WIFEXITED(status_) || WEXITSTATUS(status_) != 0) {
      ADD_FAILURE() << "worker " << client_id_ << " (pid " << pid_ << ") ended by itself "
                    << (WIFEXITED(status_)
                            ? "with exit code " + std::to_string(WEXITSTATUS(status_))
                            : "on signal " + std::to_string(WTERMSIG(status_)))
                    << " before it was killed; its stderr is above";
    }
    return;
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status_, 0);
  reaped_ = true;
}

int WorkerProcess::terminate(milliseconds timeout) {
  if (reaped_) return exit_code();
  ::kill(pid_, SIGTERM);
  const bool exited = eventually(
      [&] {
        if (::waitpid(pid_, &status_, WNOHANG) != pid_) return false;
        reaped_ = true;
        return true;
      },
      timeout);
  if (!exited) {
    kill_hard();
    return -1;
  }
  return exit_code();
}

int WorkerProcess::exit_code() const {
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
}

}  // namespace delta::testing
