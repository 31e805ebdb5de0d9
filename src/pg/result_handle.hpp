// The libpq result behind delta::pg::Result.
#pragma once

#include <libpq-fe.h>

#include <delta/pg.hpp>

namespace delta::pg {

struct ResultHandle {
  explicit ResultHandle(PGresult* r) : result(r) {}
  ~ResultHandle() { PQclear(result); }
  ResultHandle(const ResultHandle&) = delete;
  ResultHandle& operator=(const ResultHandle&) = delete;
  PGresult* result;
};

}  // namespace delta::pg
