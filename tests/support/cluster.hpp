// A throwaway PostgreSQL cluster owned by one test: initdb into a directory of its own, a
// server listening on a unix socket in that directory only, and the means to stop,
// restart and crash it while clients use it. The fault tests use it so that they never
// touch the shared cluster of the rest of the suite.
//
//   Cluster cluster;                         // initdb + start
//   auto pool = delta::pg::Pool::create(cluster.conninfo());
//   cluster.restart(Cluster::Stop::immediate);  // a crash: recovery at the next start
//
// When the test runs as root (CI), initdb and the server refuse to run; every PostgreSQL
// program is then run as the user `postgres` (Debian's package creates it): the child
// process drops its groups, gid and uid before exec, and the directory is chowned to that
// user. No sudo, runuser or setpriv is needed, and nothing of the environment changes.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace delta::testing {

class Cluster {
 public:
  // How the server stops (pg_ctl -m): `fast` ends every session with 57P01 and writes a
  // checkpoint; `immediate` kills every server process at once, as a crash would, so the
  // next start runs crash recovery.
  enum class Stop { fast, immediate };

  // Creates the cluster in a new temporary directory (fsync off, superuser "postgres",
  // trust authentication) and starts it; throws std::runtime_error, with the programs'
  // output, when it cannot.
  Cluster();
  // Stops the server (immediate) if it runs and removes the directory; never throws.
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Starts the server and waits until it accepts connections (after crash recovery, if
  // any). Throws std::runtime_error when it does not within a minute.
  void start();
  // Stops the server with `mode` and waits until it is gone. Throws std::runtime_error.
  void stop(Stop mode = Stop::fast);
  // pg_ctl restart -m <mode>: stop, then start, waiting for both.
  void restart(Stop mode);
  // stop(Stop::immediate).
  void crash() { stop(Stop::immediate); }
  bool running() const noexcept { return running_; }

  // A libpq connection string for the cluster's database "postgres" as "postgres"; it
  // names host and port, so the PG* environment of the shared cluster does not apply.
  const std::string& conninfo() const noexcept { return conninfo_; }
  // The last `bytes` of the server's log, for failure messages.
  std::string server_log(std::size_t bytes = 4000) const;
  const std::string& directory() const noexcept { return dir_; }

 private:
  // Runs PostgreSQL program `name` (from the server's bindir) with `args`, as the cluster's
  // owner, its output appended to the command log; throws when it does not exit with 0.
  void run(const std::string& name, const std::vector<std::string>& args) const;

  std::string dir_;
  std::string bindir_;
  std::string data_dir_;
  std::string socket_dir_;
  int port_ = 0;
  std::string conninfo_;
  bool running_ = false;
  // When running as root: the user the PostgreSQL programs run as.
  bool drop_privileges_ = false;
  unsigned uid_ = 0;
  unsigned gid_ = 0;
};

// "restart" or "crash", for test names.
const char* name_of(Cluster::Stop mode);

}  // namespace delta::testing
