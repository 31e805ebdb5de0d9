#include <delta/attempt.hpp>
#include <delta/errors.hpp>

namespace delta {

Client& detail::RunContext::client() const {
  if (client_ == nullptr) throw Error("this context has no client");
  return *client_;
}

void detail::RunContext::log(LogLevel level, std::string_view message,
                             std::initializer_list<LogField> fields) const {
  if (!logger_.enabled(level)) return;
  std::vector<LogField> all(fields);
  if (scope_.append != nullptr) scope_.append(scope_.what, all);
  logger_.log(level, message, all);
}

}  // namespace delta
