#include "ui/session.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace delta_ui {

namespace {

std::string hex(const unsigned char* bytes, std::size_t size) {
  std::string out;
  out.reserve(size * 2);
  for (std::size_t byte_idx = 0; byte_idx < size; ++byte_idx)
    out += fmt::format("{:02x}", bytes[byte_idx]);
  return out;
}

std::string hmac(std::string_view key, std::string_view message) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest.data(),
           &size) == nullptr) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return hex(digest.data(), size);
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  return text;
}

}  // namespace

std::string random_hex() {
  std::array<unsigned char, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw std::runtime_error("no random bytes from OpenSSL");
  }
  return hex(bytes.data(), bytes.size());
}

Sessions::Sessions(std::string key, std::string access_token)
    : key_(std::move(key)), access_token_(std::move(access_token)) {}

std::string Sessions::csrf_token(std::string_view session_id) const {
  return hmac(key_, fmt::format("csrf:{}", session_id));
}

bool Sessions::csrf_valid(std::string_view session_id, std::string_view token) const {
  if (session_id.empty() || token.empty()) return false;
  return equal_constant_time(csrf_token(session_id), token);
}

bool Sessions::token_valid(std::string_view offered) const {
  if (access_token_.empty() || offered.empty()) return false;
  // Compared as HMACs so that the comparison takes the same time whatever the lengths.
  return equal_constant_time(hmac(key_, offered), hmac(key_, access_token_));
}

std::string Sessions::login_cookie_value() const {
  return hmac(key_, fmt::format("login:{}", hmac(key_, access_token_)));
}

bool Sessions::authorized(std::string_view authorization_header,
                          std::string_view cookie_header) const {
  if (!login_required()) return true;
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization_header.starts_with(kBearer) &&
      token_valid(trim(authorization_header.substr(kBearer.size())))) {
    return true;
  }
  const auto cookie = cookie_value(cookie_header, kLoginCookie);
  return !cookie.empty() && equal_constant_time(cookie, login_cookie_value());
}

std::string cookie_value(std::string_view cookie_header, std::string_view name) {
  while (!cookie_header.empty()) {
    const auto end = cookie_header.find(';');
    auto pair = trim(cookie_header.substr(0, end));
    const auto equals = pair.find('=');
    if (equals != std::string_view::npos && trim(pair.substr(0, equals)) == name) {
      return std::string(trim(pair.substr(equals + 1)));
    }
    if (end == std::string_view::npos) break;
    cookie_header.remove_prefix(end + 1);
  }
  return {};
}

std::string set_cookie(std::string_view name, std::string_view value, std::optional<int> max_age) {
  auto out = fmt::format("{}={}; Path=/; HttpOnly; SameSite=Strict", name, value);
  if (max_age) out += fmt::format("; Max-Age={}", *max_age);
  return out;
}

std::string cross_site_problem(std::string_view origin, std::string_view sec_fetch_site,
                               std::string_view host) {
  if (!origin.empty() && origin != fmt::format("http://{}", host)) {
    return fmt::format("the request came from another site ({})", origin);
  }
  if (!sec_fetch_site.empty() && sec_fetch_site != "same-origin" && sec_fetch_site != "none") {
    return fmt::format("the request came from another site (Sec-Fetch-Site: {})", sec_fetch_site);
  }
  return {};
}

bool loopback_host(std::string_view host) {
  std::string_view name = host;
  if (name.starts_with("[")) {
    const auto close = name.find(']');
    if (close == std::string_view::npos) return false;
    const auto rest = name.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(":")) return false;
    name = name.substr(0, close + 1);
  } else if (const auto colon = name.find(':'); colon != std::string_view::npos) {
    name = name.substr(0, colon);
  }
  return name == "localhost" || name == "127.0.0.1" || name == "[::1]";
}

std::string local_target(std::string_view target) {
  const bool local = target.starts_with("/") && !target.starts_with("//") &&
                     target.find('\\') == std::string_view::npos &&
                     std::none_of(target.begin(), target.end(), [](char c) {
                       return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
                     });
  return local ? std::string(target) : std::string("/");
}

}  // namespace delta_ui
