// Worker processes that a test spawns: started with a pipe on their stdout, read line by
// line, stopped with SIGTERM or killed with SIGKILL.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <sys/types.h>

namespace delta::testing {

// One running worker program. The destructor SIGKILLs and reaps it if it still runs, so
// no test leaves a process behind, whatever assertion failed (and fails the test if it had
// ended by itself with a failure, see kill_hard). Not thread-safe.
class WorkerProcess {
 public:
  // Spawns `program --client-id <client_id> --parent-pid <this process> <args...>` with
  // this process's environment, its stdout on a pipe and its stderr on ours; throws
  // std::system_error when it cannot be spawned.
  WorkerProcess(const std::string& program, std::string client_id,
                const std::vector<std::string>& args);
  ~WorkerProcess();
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  const std::string& client_id() const noexcept { return client_id_; }
  long pid() const noexcept { return static_cast<long>(pid_); }

  // Whether the process has printed the line `line` (now or earlier), waiting up to
  // `timeout` for it; false at once once its stdout is closed without it.
  bool wait_for_line(const std::string& line, std::chrono::milliseconds timeout);

  // The crash case: SIGKILL, then reap. Does nothing once the process is reaped. A process
  // that already ended by itself with a failure (a non-zero exit code, a signal) fails the
  // test instead (ADD_FAILURE).
  void kill_hard();

  // SIGTERM (a graceful client.stop()); returns the exit code once the process has
  // exited, or -1 if it did not exit normally within `timeout` (it is then killed).
  int terminate(std::chrono::milliseconds timeout);

 private:
  int exit_code() const;

  std::string client_id_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string pending_;             // output after the last newline
  std::vector<std::string> lines_;  // every complete line printed so far
  bool reaped_ = false;
  int status_ = 0;
};

}  // namespace delta::testing
