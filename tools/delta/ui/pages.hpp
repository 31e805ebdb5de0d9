// The dashboard's pages, as HTML, from what delta::Admin read. Pure functions of their
// arguments (the time is passed in): the HTTP server (server.hpp) reads, these render.
// Everything taken from the database is escaped (html::escape); actions are forms that
// POST with the session's CSRF token, left out entirely on a read-only dashboard.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <delta/admin.hpp>
#include <delta/jobs.hpp>
#include <delta/resource.hpp>
#include <delta/time.hpp>

#include "ui/html.hpp"
#include "ui/query.hpp"

namespace delta_ui {

// What every page needs besides its data.
struct PageContext {
  std::string self;        // this page's path and query (no notice): refresh and "back"
  std::string csrf_token;  // of the browser's session
  bool read_only = false;
  bool logged_in = false;   // with a login cookie: offer to log out
  std::string notice;       // what the last action did, shown once
  int refresh_seconds = 5;  // 0: no refresh
  delta::Timestamp now{};
  std::string schema;
};

// The overview: what status(), kind_lag() and throughput() read.
struct Overview {
  delta::Status status;
  std::vector<delta::KindLag> kind_lag;
  std::vector<delta::ThroughputMinute> throughput;
};

std::string overview_page(const PageContext& ctx, const Overview& overview);

// `matching`: how many resources the filter selects (the bulk buttons say it).
std::string resources_page(const PageContext& ctx, const ResourceQuery& query,
                           const delta::Listing<delta::ResourceRow>& listing,
                           std::int64_t matching);
std::string resource_page(const PageContext& ctx, const delta::ResourceRow& row);

std::string controllers_page(const PageContext& ctx,
                             const std::vector<delta::ControllerInfo>& controllers);
std::string queues_page(const PageContext& ctx, const std::vector<delta::QueueInfo>& queues);
std::string jobs_page(const PageContext& ctx, const JobQuery& query,
                      const delta::Listing<delta::jobs::JobRow>& listing);
std::string job_page(const PageContext& ctx, const delta::jobs::JobRow& row);

// A page for a request that failed: `status` (400, 404, 503...), a title, the message.
std::string error_page(const PageContext& ctx, int status, std::string_view title,
                       std::string_view message);
// A page with a title and a message only, outside the dashboard's frame (404, 405).
std::string message_page(std::string_view title, std::string_view message);
// The login form (an access token is required); `problem` says why the last try failed.
std::string login_page(std::string_view next, std::string_view problem);

// The resources throughput chart and the jobs one of an overview (bar_chart of the
// series, a slot per minute labelled HH:MM UTC, ticks every ten minutes).
std::string resource_throughput_chart(const std::vector<delta::ThroughputMinute>& minutes);
std::string job_throughput_chart(const std::vector<delta::ThroughputMinute>& minutes);

// The color a state is drawn in.
std::string_view state_color(delta::ResourceState state);

}  // namespace delta_ui
