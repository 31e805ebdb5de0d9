// A login role of the test's own, so that a test can refuse a client the database
// (NOLOGIN, its connections terminated) and let it back in; dropped at the end.
#pragma once

#include <string>

#include <delta/pg.hpp>

namespace delta::testing {

class Role {
 public:
  // Creates the role `<prefix>_<pid>` (a superuser, with a password) through `admin`.
  Role(pg::Pool& admin, const std::string& prefix);
  ~Role();
  Role(const Role&) = delete;
  Role& operator=(const Role&) = delete;

  const std::string& name() const noexcept { return name_; }
  // Connection parameters that log in as this role (appended to libpq's defaults).
  std::string url() const;
  // Refuses new logins and terminates the role's connections.
  void refuse();
  void allow();

 private:
  void terminate();
  pg::Pool& admin_;
  const std::string name_;
};

}  // namespace delta::testing
