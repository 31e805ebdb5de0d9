// Who may use the dashboard and how a form proves it came from the dashboard itself.
//
// A browser gets a session cookie (random, HttpOnly, SameSite=Strict) with its first page.
// Every form carries the session's CSRF token, an HMAC of the session id under a key made
// when the server starts; a POST is accepted only with the token of its own session, and
// only when the browser's Origin and Sec-Fetch-Site headers (where sent) say it came from
// this site. With an access token set, every request needs it: as "Authorization: Bearer
// <token>", or the login cookie that the login form sets.
//
// Pure functions over the request's headers and fields: nothing here does I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace delta_ui {

inline constexpr std::string_view kSessionCookie = "delta_session";
inline constexpr std::string_view kLoginCookie = "delta_login";

// 32 random bytes as hex, from OpenSSL's generator; throws std::runtime_error if it fails.
std::string random_hex();

class Sessions {
 public:
  // `key` signs the tokens (random_hex() unless a test chooses); `access_token` empty: no
  // login needed.
  explicit Sessions(std::string key, std::string access_token = {});

  // The CSRF token of session `session_id`.
  std::string csrf_token(std::string_view session_id) const;
  // Whether `token` is the CSRF token of `session_id` (constant time; false for an empty
  // session or token).
  bool csrf_valid(std::string_view session_id, std::string_view token) const;

  bool login_required() const noexcept { return !access_token_.empty(); }
  // Whether `offered` is the access token (constant time).
  bool token_valid(std::string_view offered) const;
  // The value of the login cookie: proof of a login under this server's key.
  std::string login_cookie_value() const;
  // Whether a request with these headers may see pages: no token needed, a valid bearer
  // token, or the login cookie.
  bool authorized(std::string_view authorization_header, std::string_view cookie_header) const;

 private:
  std::string key_;
  std::string access_token_;
};

// The value of cookie `name` in a Cookie header; empty when absent.
std::string cookie_value(std::string_view cookie_header, std::string_view name);

// A Set-Cookie value: HttpOnly, SameSite=Strict, Path=/; `max_age` 0 clears it.
std::string set_cookie(std::string_view name, std::string_view value,
                       std::optional<int> max_age = std::nullopt);

// Why a POST with these headers is not from this site (empty: it may be): an Origin other
// than http://<host>, or a Sec-Fetch-Site other than same-origin or none.
std::string cross_site_problem(std::string_view origin, std::string_view sec_fetch_site,
                               std::string_view host);

// Whether `host` (a Host header) names the loopback interface: localhost, 127.0.0.1 or
// [::1], with or without a port. When the server listens on loopback only, other names
// are refused, so that a web page cannot reach it through a name it controls.
bool loopback_host(std::string_view host);

// `target` if it is a path of this site ("/resources?kind=a"), else "/": a redirect never
// leads elsewhere ("//evil", "https://...", "\\", control characters).
std::string local_target(std::string_view target);

}  // namespace delta_ui
