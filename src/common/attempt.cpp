#include <delta/attempt.hpp>
#include <delta/errors.hpp>

namespace delta {

Client& detail::RunContext::client() const {
  if (client_ == nullptr) throw Error("this context has no client");
  return *client_;
}

}  // namespace delta
