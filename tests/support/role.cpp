#include "support/role.hpp"

#include <unistd.h>

namespace delta::testing {

Role::Role(pg::Pool& admin, const std::string& prefix)
    : admin_(admin), name_(prefix + "_" + std::to_string(::getpid())) {
  admin_.exec("DROP ROLE IF EXISTS " + name_);
  admin_.exec("CREATE ROLE " + name_ + " LOGIN SUPERUSER PASSWORD 'role-pw'");
}

Role::~Role() {
  try {
    refuse();
    admin_.exec("DROP ROLE IF EXISTS " + name_);
  } catch (...) {
    // The next run drops it first.
  }
}

std::string Role::url() const {
  return "user=" + name_ + " password=role-pw";
}

void Role::refuse() {
  admin_.exec("ALTER ROLE " + name_ + " NOLOGIN");
  terminate();
}

void Role::allow() {
  admin_.exec("ALTER ROLE " + name_ + " LOGIN");
}

void Role::terminate() {
  admin_.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", name_);
}

}  // namespace delta::testing
