#include "cli/cli_run.hpp"

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef DELTA_CLI_PATH
#error "DELTA_CLI_PATH must name the delta binary (see tests/CMakeLists.txt)"
#endif

extern char** environ;

namespace delta::testing {

namespace {

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (auto& text : strings)
    pointers.push_back(text.data());
  pointers.push_back(nullptr);
  return pointers;
}

std::vector<std::string> argv_of(const std::vector<std::string>& args) {
  std::vector<std::string> argv{DELTA_CLI_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// Appends what `fd` has to `into`; false at end of file (or an error, EIO on a closed pty).
bool drain(int fd, std::string& into) {
  std::array<char, 4096> buffer{};
  const ssize_t n = ::read(fd, buffer.data(), buffer.size());
  if (n > 0) {
    into.append(buffer.data(), static_cast<std::size_t>(n));
    return true;
  }
  return n < 0 && errno == EINTR;
}

int exit_code_of(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

CliRun run_delta(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  CliRun run;
  std::array<int, 2> out_pipe{};
  std::array<int, 2> err_pipe{};
  if (::pipe(out_pipe.data()) != 0 || ::pipe(err_pipe.data()) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return run;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]})
    posix_spawn_file_actions_addclose(&actions, fd);

  auto argv = argv_of(args);
  std::vector<std::string> envp;
  for (char** entry = environ; *entry != nullptr; ++entry)
    envp.emplace_back(*entry);
  envp.insert(envp.end(), env.begin(), env.end());
  auto argv_pointers = c_strings(argv);
  auto env_pointers = c_strings(envp);

  pid_t pid = 0;
  const int spawned = ::posix_spawn(&pid, DELTA_CLI_PATH, &actions, nullptr, argv_pointers.data(),
                                    env_pointers.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (spawned != 0) {
    ADD_FAILURE() << "posix_spawn " << DELTA_CLI_PATH << ": " << std::strerror(spawned);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return run;
  }
  std::array<pollfd, 2> fds{{{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}}};
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (std::size_t fd_idx = 0; fd_idx < fds.size(); ++fd_idx) {
      auto& fd = fds[fd_idx];
      if (fd.fd < 0 || fd.revents == 0) continue;
      if (!drain(fd.fd, fd_idx == 0 ? run.out : run.err)) {
        ::close(fd.fd);
        fd.fd = -1;
      }
    }
  }
  run.exit_code = exit_code_of(pid);
  return run;
}

CliRun run_delta_in_terminal(const std::vector<std::string>& args, const std::string& prompt,
                             const std::string& answer) {
  CliRun run;
  auto argv = argv_of(args);
  auto argv_pointers = c_strings(argv);
  int terminal = -1;
  const pid_t pid = ::forkpty(&terminal, nullptr, nullptr, nullptr);
  if (pid < 0) {
    ADD_FAILURE() << "forkpty: " << std::strerror(errno);
    return run;
  }
  if (pid == 0) {
    ::execv(DELTA_CLI_PATH, argv_pointers.data());
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool answered = false;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!answered && left.count() <= 0) {
      ADD_FAILURE() << "no prompt \"" << prompt << "\" within 30 s; printed: " << run.out;
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd fd{terminal, POLLIN, 0};
    const int ready = ::poll(&fd, 1, answered ? -1 : static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    if (!drain(terminal, run.out)) break;  // EIO: the command exited, the pty closed
    if (!answered && run.out.find(prompt) != std::string::npos) {
      const std::string line = answer + "\n";
      if (::write(terminal, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
        ADD_FAILURE() << "writing the answer: " << std::strerror(errno);
      }
      answered = true;
    }
  }
  ::close(terminal);
  run.exit_code = exit_code_of(pid);
  return run;
}

}  // namespace delta::testing
