#include "common/invariant.hpp"

#include <fmt/format.h>

namespace delta::internal {

std::string invariant_message(std::string_view what, SourceLocation where) {
  std::string_view file = where.file_name;
  if (auto src = file.rfind("/src/"); src != std::string_view::npos) file.remove_prefix(src + 1);
  return fmt::format("internal error (a bug in delta) at {}:{}: {}", file, where.line, what);
}

}  // namespace delta::internal
