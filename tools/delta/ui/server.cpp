#include "ui/server.hpp"

#include <functional>
#include <set>
#include <stdexcept>

#include <fmt/format.h>
#include <httplib.h>

#include <delta/errors.hpp>

#include "output.hpp"
#include "ui/assets.hpp"
#include "ui/pages.hpp"
#include "ui/query.hpp"
#include "ui/session.hpp"

namespace delta_ui {

namespace {

constexpr std::string_view kNoticeField = "notice";
constexpr std::size_t kSessionIdLength = 64;

const std::vector<std::string> kFormFields{"csrf", "back"};

bool loopback_address(const std::string& host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

bool hex_id(std::string_view id) {
  return id.size() == kSessionIdLength && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// The request's fields without those of the form frame and the notice.
Fields fields_of(const httplib::Request& req, const std::vector<std::string>& leave_out) {
  Fields fields;
  for (const auto& [name, value] : req.params) {
    if (name == kNoticeField) continue;
    if (std::find(leave_out.begin(), leave_out.end(), name) != leave_out.end()) continue;
    fields.emplace(name, value);
  }
  return fields;
}

// This page's address without the notice: where it refreshes from and comes back to.
std::string self_of(const httplib::Request& req) {
  html::Params params;
  for (const auto& [name, value] : req.params) {
    if (name != kNoticeField) params.emplace_back(name, value);
  }
  return html::link(req.path, params);
}

std::string required(const Fields& fields, const std::string& name) {
  auto value = single(fields, name);
  if (value.empty()) throw BadRequest(fmt::format("{}: missing", name));
  return value;
}

// What an action tells the page it returns to.
using Action = std::function<std::string(const Fields& fields)>;
using Render = std::function<std::string(const httplib::Request& req, const PageContext& ctx)>;

}  // namespace

struct Server::Impl {
  std::shared_ptr<delta::Admin> admin;
  ServerOptions options;
  Sessions sessions;
  httplib::Server http;
  bool loopback_only = false;
  std::set<std::string> get_paths;
  std::set<std::string> post_paths;

  Impl(std::shared_ptr<delta::Admin> admin_in, ServerOptions options_in)
      : admin(std::move(admin_in)),
        options(std::move(options_in)),
        sessions(random_hex(), options.access_token),
        loopback_only(loopback_address(options.host)) {}

  // ---- the frame of every request ----

  void send_html(httplib::Response& res, int status, const std::string& body) {
    res.status = status;
    res.set_content(body, "text/html; charset=utf-8");
  }

  // The session id of the browser, a new one (and its cookie) when it has none.
  std::string session_of(const httplib::Request& req, httplib::Response& res) {
    auto id = cookie_value(req.get_header_value("Cookie"), kSessionCookie);
    if (!hex_id(id)) {
      id = random_hex();
      res.set_header("Set-Cookie", set_cookie(kSessionCookie, id));
    }
    return id;
  }

  PageContext context(const httplib::Request& req, const std::string& session_id) {
    PageContext ctx;
    ctx.self = self_of(req);
    ctx.csrf_token = sessions.csrf_token(session_id);
    ctx.read_only = options.read_only;
    ctx.logged_in = sessions.login_required() &&
                    !cookie_value(req.get_header_value("Cookie"), kLoginCookie).empty();
    ctx.notice = req.get_param_value(std::string(kNoticeField).c_str());
    ctx.refresh_seconds = options.refresh_seconds;
    ctx.now = delta::now();
    ctx.schema = options.schema;
    return ctx;
  }

  // Whether the request may go on; answers it when not (a name other than loopback's on a
  // loopback server, no access token).
  bool admitted(const httplib::Request& req, httplib::Response& res) {
    if (loopback_only && !loopback_host(req.get_header_value("Host"))) {
      send_html(
          res, 421,
          message_page("421 Misdirected request", "This dashboard answers on localhost only."));
      return false;
    }
    if (sessions.authorized(req.get_header_value("Authorization"),
                            req.get_header_value("Cookie"))) {
      return true;
    }
    res.set_header("WWW-Authenticate", "Bearer realm=\"delta\"");
    send_html(res, 401,
              login_page(req.method == "GET" ? self_of(req) : std::string("/"),
                         "An access token is needed to see this dashboard."));
    return false;
  }

  // Runs `body`, turning what it throws into an error page: the server never stops on
  // one request's failure.
  void guarded(httplib::Response& res, const PageContext& ctx, const std::function<void()>& body) {
    try {
      body();
    } catch (const BadRequest& e) {
      send_html(res, 400, error_page(ctx, 400, "Bad request", e.what()));
    } catch (const delta::ValidationError& e) {
      send_html(res, 400, error_page(ctx, 400, "Bad request", e.what()));
    } catch (const delta::NotFound& e) {
      send_html(res, 404, error_page(ctx, 404, "Not found", e.what()));
    } catch (const delta::DatabaseError& e) {
      send_html(res, 503,
                error_page(ctx, 503, "Database unavailable",
                           fmt::format("The database did not answer: {}", e.what())));
    } catch (const std::exception& e) {
      send_html(res, 500, error_page(ctx, 500, "Error", e.what()));
    }
  }

  void page(const std::string& path, Render render) {
    get_paths.insert(path);
    http.Get(path, [this, render = std::move(render)](const httplib::Request& req,
                                                      httplib::Response& res) {
      if (!admitted(req, res)) return;
      const auto ctx = context(req, session_of(req, res));
      guarded(res, ctx, [&] { send_html(res, 200, render(req, ctx)); });
    });
  }

  void action(const std::string& path, Action act) {
    post_paths.insert(path);
    http.Post(
        path, [this, act = std::move(act)](const httplib::Request& req, httplib::Response& res) {
          if (!admitted(req, res)) return;
          const auto session_id = session_of(req, res);
          auto ctx = context(req, session_id);
          ctx.self = "/";
          if (options.read_only) {
            send_html(res, 403, error_page(ctx, 403, "Forbidden", "This dashboard is read-only."));
            return;
          }
          if (auto problem = cross_site_problem(req.get_header_value("Origin"),
                                                req.get_header_value("Sec-Fetch-Site"),
                                                req.get_header_value("Host"));
              !problem.empty()) {
            send_html(res, 403, error_page(ctx, 403, "Forbidden", problem));
            return;
          }
          if (!sessions.csrf_valid(session_id, req.get_param_value("csrf"))) {
            send_html(res, 403,
                      error_page(ctx, 403, "Forbidden",
                                 "The form's token is missing or not this session's: reload the "
                                 "page and try again."));
            return;
          }
          guarded(res, ctx, [&] {
            const auto back = local_target(req.get_param_value("back"));
            const auto notice = act(fields_of(req, kFormFields));
            const auto glue = back.find('?') == std::string::npos ? '?' : '&';
            res.set_redirect(
                fmt::format("{}{}{}={}", back, glue, kNoticeField, html::url_encode(notice)), 303);
          });
        });
  }

  // ---- reads ----

  std::string overview(const PageContext& ctx) {
    Overview data;
    data.status = admin->status();
    data.kind_lag = admin->kind_lag();
    data.throughput = admin->throughput(std::chrono::minutes(60));
    return overview_page(ctx, data);
  }

  std::string resources(const httplib::Request& req, const PageContext& ctx) {
    const auto query = parse_resource_query(fields_of(req, {}), options.page_size);
    const auto filter = query.filter();
    const auto listing = admin->list_resources(filter, query.page());
    const auto matching = admin->count_resources(filter).front().count;
    return resources_page(ctx, query, listing, matching);
  }

  std::string resource(const httplib::Request& req, const PageContext& ctx) {
    const auto fields = fields_of(req, {});
    for (const auto& [name, value] : fields) {
      if (name != "kind" && name != "id")
        throw BadRequest(fmt::format("unknown field \"{}\"", name));
    }
    return resource_page(ctx,
                         admin->get_resource(required(fields, "kind"), required(fields, "id")));
  }

  std::string jobs(const httplib::Request& req, const PageContext& ctx) {
    const auto query = parse_job_query(fields_of(req, {}), options.page_size);
    return jobs_page(ctx, query, admin->list_jobs(query.filter(), query.page()));
  }

  std::string job(const httplib::Request& req, const PageContext& ctx) {
    const auto fields = fields_of(req, {});
    for (const auto& [name, value] : fields) {
      if (name != "id") throw BadRequest(fmt::format("unknown field \"{}\"", name));
    }
    return job_page(ctx, admin->get_job(positive_id(fields, "id")));
  }

  // ---- actions ----

  using ResourceRun = delta::BulkResult (delta::Admin::*)(const delta::ResourceFilter&,
                                                          const delta::BulkOptions&);

  // One resource (kind and id) or those a filter selects; deleting needs a filter.
  Action resource_action(std::string done, ResourceRun run, bool needs_filter) {
    return [this, done = std::move(done), run, needs_filter](const Fields& fields) {
      delta::ResourceFilter filter;
      if (fields.count("id") != 0) {
        const auto kind = required(fields, "kind");
        const auto id = required(fields, "id");
        if (fields.size() != 2) throw BadRequest("give either kind and id, or a filter");
        admin->get_resource(kind, id);  // NotFound: 404
        filter.kinds = {kind};
        filter.object_ids = {id};
      } else {
        const auto query = parse_resource_query(fields, options.page_size);
        if (needs_filter && !query.filtered()) {
          throw BadRequest(
              "deleting needs a filter (a kind, a state, ...): it would delete "
              "every resource");
        }
        filter = query.filter();
      }
      const auto result = ((*admin).*run)(filter, {});
      return fmt::format(fmt::runtime(done), delta_cli::count_of(result.changed, "resource"));
    };
  }

  using JobRun = delta::BulkResult (delta::Admin::*)(const delta::JobFilter&,
                                                     const delta::BulkOptions&);

  Action job_action(std::string done, JobRun run) {
    return [this, done = std::move(done), run](const Fields& fields) {
      const auto id = positive_id(fields, "id");
      admin->get_job(id);  // NotFound: 404
      const auto result = ((*admin).*run)(delta::JobFilter{.ids = {id}}, {});
      return result.changed == 0 ? fmt::format("job {} was left as it was", id)
                                 : fmt::format(fmt::runtime(done), id);
    };
  }

  void routes() {
    http.Get("/static/ui.css", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(kStylesheet), "text/css; charset=utf-8");
    });
    http.Get("/static/ui.js", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(kScript), "text/javascript; charset=utf-8");
    });
    get_paths.insert({"/static/ui.css", "/static/ui.js", "/login"});
    post_paths.insert({"/login", "/logout"});
    http.Get("/login", [this](const httplib::Request& req, httplib::Response& res) {
      send_html(res, 200, login_page(local_target(req.get_param_value("next")), ""));
    });
    http.Post("/login", [this](const httplib::Request& req, httplib::Response& res) {
      const auto next = local_target(req.get_param_value("next"));
      if (auto problem = cross_site_problem(req.get_header_value("Origin"),
                                            req.get_header_value("Sec-Fetch-Site"),
                                            req.get_header_value("Host"));
          !problem.empty()) {
        send_html(res, 403, login_page(next, problem));
        return;
      }
      if (!sessions.login_required()) {
        res.set_redirect(next, 303);
        return;
      }
      if (!sessions.token_valid(req.get_param_value("token"))) {
        send_html(res, 401, login_page(next, "That is not the access token."));
        return;
      }
      res.set_header("Set-Cookie", set_cookie(kLoginCookie, sessions.login_cookie_value()));
      res.set_redirect(next, 303);
    });
    http.Post("/logout", [this](const httplib::Request& req, httplib::Response& res) {
      const auto session_id = cookie_value(req.get_header_value("Cookie"), kSessionCookie);
      if (!sessions.csrf_valid(session_id, req.get_param_value("csrf"))) {
        send_html(res, 403, login_page("/", "The form's token is missing or stale."));
        return;
      }
      res.set_header("Set-Cookie", set_cookie(kLoginCookie, "", 0));
      res.set_redirect("/login", 303);
    });

    page("/", [this](const httplib::Request&, const PageContext& ctx) { return overview(ctx); });
    page("/resources", [this](const auto& req, const auto& ctx) { return resources(req, ctx); });
    page("/resource", [this](const auto& req, const auto& ctx) { return resource(req, ctx); });
    page("/controllers", [this](const auto&, const auto& ctx) {
      return controllers_page(ctx, admin->list_controllers());
    });
    page("/queues",
         [this](const auto&, const auto& ctx) { return queues_page(ctx, admin->list_queues()); });
    page("/jobs", [this](const auto& req, const auto& ctx) { return jobs(req, ctx); });
    page("/job", [this](const auto& req, const auto& ctx) { return job(req, ctx); });

    action("/resources/retry",
           resource_action("retried {}", &delta::Admin::retry_resources, false));
    action("/resources/invalidate",
           resource_action("invalidated {}", &delta::Admin::invalidate_resources, false));
    action("/resources/schedule-now",
           resource_action("scheduled {} now", &delta::Admin::schedule_resources_now, false));
    action("/resources/delete",
           resource_action("deleted {}", &delta::Admin::delete_resources, true));
    action("/controllers/inform", [this](const Fields& fields) {
      const auto kind = required(fields, "kind");
      const auto result = admin->schedule_inform(kind, single(fields, "process_existing") == "1");
      return result.unique_skipped_as_duplicate
                 ? fmt::format("an informer run of {} was already waiting", kind)
                 : fmt::format("scheduled an informer run of {}", kind);
    });
    for (const bool pause : {true, false}) {
      action(pause ? "/controllers/pause" : "/controllers/resume",
             [this, pause](const Fields& fields) {
               const auto kind = required(fields, "kind");
               pause ? admin->pause_kind(kind) : admin->resume_kind(kind);
               return fmt::format("{} kind {}", pause ? "paused" : "resumed", kind);
             });
      action(pause ? "/queues/pause" : "/queues/resume", [this, pause](const Fields& fields) {
        const auto queue = required(fields, "queue");
        pause ? admin->pause_queue(queue) : admin->resume_queue(queue);
        return fmt::format("{} queue {}", pause ? "paused" : "resumed", queue);
      });
    }
    action("/jobs/retry", job_action("job {} will run again", &delta::Admin::retry_jobs));
    action("/jobs/cancel", job_action("cancelled job {}", &delta::Admin::cancel_jobs));

    // Anything else: 405 for a path known under another method, else 404.
    const auto other = [this](const std::set<std::string>& known_here) {
      return [this, &known_here](const httplib::Request& req, httplib::Response& res) {
        const bool get = get_paths.count(req.path) != 0;
        const bool post = post_paths.count(req.path) != 0;
        if ((get || post) && known_here.count(req.path) == 0) {
          res.set_header("Allow", get && post ? "GET, POST" : get ? "GET, HEAD" : "POST");
          send_html(res, 405,
                    message_page("405 Method not allowed",
                                 fmt::format("{} is not allowed on {}.", req.method, req.path)));
          return;
        }
        send_html(res, 404, message_page("404 Not found", "There is no such page."));
      };
    };
    static const std::set<std::string> kNone;
    http.Get(".*", other(get_paths));
    http.Post(".*", other(post_paths));
    http.Put(".*", other(kNone));
    http.Delete(".*", other(kNone));
    http.Patch(".*", other(kNone));
    http.Options(".*", other(kNone));
  }
};

Server::Server(std::shared_ptr<delta::Admin> admin, ServerOptions options) {
  if (!admin) throw std::invalid_argument("the dashboard needs an Admin");
  if (options.port < 0 || options.port > 65535)
    throw std::invalid_argument(fmt::format("port {} is not 0 to 65535", options.port));
  if (options.page_size < 1 || options.page_size > 1000)
    throw std::invalid_argument("the page size must be 1 to 1000");
  if (options.refresh_seconds < 0)
    throw std::invalid_argument("the refresh interval must not be negative");
  impl_ = std::make_unique<Impl>(std::move(admin), std::move(options));
  auto& http = impl_->http;
  http.set_default_headers({
      {"Content-Security-Policy",
       "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Referrer-Policy", "same-origin"},  // no-referrer would make forms send "Origin: null"
      {"Cache-Control", "no-store"},
  });
  http.set_payload_max_length(64 * 1024);
  http.set_read_timeout(10, 0);
  http.set_write_timeout(10, 0);
  // A response that failed without a page of ours (a request httplib could not parse).
  http.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        res.set_content(fmt::format("<!DOCTYPE html><title>{0}</title><p>HTTP {0}</p>", res.status),
                        "text/html; charset=utf-8");
        return httplib::Server::HandlerResponse::Handled;
      }));
  http.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        res.status = 500;
        res.set_content("<!DOCTYPE html><title>500</title><p>Internal error</p>",
                        "text/html; charset=utf-8");
      });
  impl_->routes();
}

Server::~Server() = default;

int Server::bind() {
  auto& options = impl_->options;
  const int port = options.port == 0
                       ? impl_->http.bind_to_any_port(options.host)
                       : (impl_->http.bind_to_port(options.host, options.port) ? options.port : -1);
  if (port < 0) {
    throw std::runtime_error(
        fmt::format("cannot listen on {}:{} (in use, or not an address of this machine)",
                    options.host, options.port));
  }
  return port;
}

void Server::run() {
  impl_->http.listen_after_bind();
}

void Server::stop() {
  impl_->http.stop();
}

}  // namespace delta_ui
