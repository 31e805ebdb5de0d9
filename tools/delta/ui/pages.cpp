#include "ui/pages.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "output.hpp"

namespace delta_ui {

namespace {

using delta_cli::ago;
using delta_cli::human_duration;
using delta_cli::rfc3339;
using delta_cli::with_commas;
using html::escape;

constexpr std::array kResourceStates{delta::ResourceState::scheduled, delta::ResourceState::pending,
                                     delta::ResourceState::synced,    delta::ResourceState::failed,
                                     delta::ResourceState::degraded,  delta::ResourceState::expired,
                                     delta::ResourceState::deleted};
constexpr std::array kJobStates{delta::jobs::JobState::available, delta::jobs::JobState::scheduled,
                                delta::jobs::JobState::running,   delta::jobs::JobState::retryable,
                                delta::jobs::JobState::completed, delta::jobs::JobState::cancelled,
                                delta::jobs::JobState::discarded};

constexpr std::string_view kSyncedColor = "#2e7d32";
constexpr std::string_view kFailedColor = "#c62828";

std::string time_cell(const std::optional<delta::Timestamp>& time, delta::Timestamp now) {
  if (!time) return "-";
  return fmt::format(R"(<time datetime="{0}" title="{0}">{1}</time>)", rfc3339(*time),
                     escape(ago(time, now)));
}

std::string duration_cell(const std::optional<std::chrono::milliseconds>& duration) {
  return escape(human_duration(duration));
}

std::string badge(std::string_view state) {
  return fmt::format(R"(<span class="state state-{0}">{0}</span>)", escape(state));
}

std::string json_block(const nlohmann::json& value) {
  return fmt::format(R"(<pre class="json">{}</pre>)",
                     escape(value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace)));
}

// A form that POSTs `fields` to `action`, with the CSRF token and the way back; nothing on
// a read-only dashboard. `confirm`: the question the browser asks first.
std::string action_form(const PageContext& ctx, std::string_view action, const html::Params& fields,
                        std::string_view label, std::string_view confirm = {},
                        bool danger = false) {
  if (ctx.read_only) return {};
  std::string out = fmt::format(
      R"(<form method="post" action="{}" class="action"><input type="hidden" name="csrf" )"
      R"(value="{}"><input type="hidden" name="back" value="{}">)",
      escape(action), escape(ctx.csrf_token), escape(ctx.self));
  for (const auto& [name, value] : fields) {
    if (value.empty()) continue;
    out +=
        fmt::format(R"(<input type="hidden" name="{}" value="{}">)", escape(name), escape(value));
  }
  out += fmt::format(
      R"(<button type="submit" class="act{}"{}>{}</button></form>)", danger ? " danger" : "",
      confirm.empty() ? std::string() : fmt::format(R"( data-confirm="{}")", escape(confirm)),
      escape(label));
  return out;
}

std::string errors_table(const std::vector<delta::AttemptError>& errors, delta::Timestamp now) {
  if (errors.empty()) return "<p class=\"muted\">No errors recorded.</p>";
  std::string out =
      "<table class=\"errors\"><thead><tr><th>Attempt</th><th>When</th><th>Type</th>"
      "<th>Error</th></tr></thead><tbody>";
  // Newest first: the last attempt is what an operator looks for.
  for (auto error = errors.rbegin(); error != errors.rend(); ++error) {
    out += fmt::format(
        "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td><pre>{}</pre>"
        "</td></tr>",
        error->attempt, time_cell(error->at, now), escape(error->type), escape(error->error));
  }
  return out + "</tbody></table>";
}

std::string definition(std::string_view term, std::string_view value_html) {
  return fmt::format("<tr><th>{}</th><td>{}</td></tr>", escape(term), value_html);
}

std::string resource_link(std::string_view kind, std::string_view object_id,
                          std::string_view text) {
  return fmt::format(R"(<a href="{}">{}</a>)",
                     escape(html::link("/resource", {{"kind", std::string(kind)},
                                                     {"id", std::string(object_id)}})),
                     escape(text));
}

std::string hh_mm(delta::Timestamp time) {
  return rfc3339(time).substr(11, 5);
}

std::string throughput_chart(const std::vector<delta::ThroughputMinute>& minutes,
                             std::string_view title, html::Series first, html::Series second,
                             std::int64_t delta::ThroughputMinute::*first_field,
                             std::int64_t delta::ThroughputMinute::*second_field) {
  html::BarChart chart;
  chart.title = std::string(title);
  for (std::size_t minute_idx = 0; minute_idx < minutes.size(); ++minute_idx) {
    const auto& minute = minutes[minute_idx];
    first.values.push_back(minute.*first_field);
    second.values.push_back(minute.*second_field);
    chart.slots.push_back(hh_mm(minute.minute) + " UTC");
    const bool tick = (minutes.size() - 1 - minute_idx) % 10 == 0;
    chart.axis_ticks.push_back(tick ? hh_mm(minute.minute) : std::string());
  }
  chart.series = {std::move(first), std::move(second)};
  return html::bar_chart(chart);
}

// The state filter as checkboxes, checked for those `selected`.
template <class States>
std::string state_boxes(const States& states, const std::vector<std::string>& selected) {
  std::string out = "<fieldset class=\"states\"><legend>State</legend>";
  for (auto state : states) {
    const std::string name(to_string(state));
    const bool checked = std::find(selected.begin(), selected.end(), name) != selected.end();
    out += fmt::format(R"(<label><input type="checkbox" name="state" value="{0}"{1}> {0}</label>)",
                       escape(name), checked ? " checked" : "");
  }
  return out + "</fieldset>";
}

std::string text_input(std::string_view name, std::string_view label, std::string_view value,
                       std::string_view placeholder) {
  return fmt::format(
      R"(<label>{} <input type="text" name="{}" value="{}" placeholder="{}"></label>)",
      escape(label), escape(name), escape(value), escape(placeholder));
}

// The end of a list's filter form: the order, the page size kept, the buttons.
std::string filter_form_end(const PageQuery& query, std::string_view path) {
  return fmt::format(
      R"(<label>Order <select name="order"><option value="newest"{}>newest first</option>)"
      R"(<option value="oldest"{}>oldest first</option></select></label>)"
      R"(<input type="hidden" name="limit" value="{}">)"
      R"(<button type="submit">Filter</button> <a href="{}">Clear</a></form>)",
      query.oldest_first ? "" : " selected", query.oldest_first ? " selected" : "", query.limit,
      path);
}

std::string joined(const std::vector<std::string>& items) {
  return fmt::format("{}", fmt::join(items, ","));
}

std::string next_page_link(std::string_view path, const html::Params& params,
                           const std::string& next_cursor) {
  if (next_cursor.empty()) return "<p class=\"muted\">Last page.</p>";
  auto with_cursor = params;
  with_cursor.emplace_back("cursor", next_cursor);
  return fmt::format(
      R"(<p class="pager"><a href="{}" rel="next" id="next-page">Next page →</a></p>)",
      escape(html::link(path, with_cursor)));
}

std::string job_state_counts(const std::vector<delta::JobStateCount>& states) {
  std::string out;
  for (const auto& count : states) {
    out += fmt::format("{} {} ", badge(to_string(count.state)), with_commas(count.count));
  }
  return out.empty() ? "-" : out;
}

std::string page(const PageContext& ctx, std::string_view active, std::string_view title,
                 std::string_view body) {
  std::string nav;
  for (const auto& [path, label] :
       std::vector<std::pair<std::string_view, std::string_view>>{{"/", "Overview"},
                                                                  {"/resources", "Resources"},
                                                                  {"/controllers", "Controllers"},
                                                                  {"/queues", "Queues"},
                                                                  {"/jobs", "Jobs"}}) {
    nav += fmt::format(R"(<a href="{}"{}>{}</a>)", path,
                       path == active ? R"( class="active" aria-current="page")" : "", label);
  }
  std::string right = fmt::format(R"(<span class="muted">schema {}</span>)", escape(ctx.schema));
  if (ctx.read_only) right += R"( <span class="badge">read-only</span>)";
  if (ctx.refresh_seconds > 0) {
    right += fmt::format(
        R"( <label class="muted"><input type="checkbox" id="auto-refresh" checked> refresh every {} s</label>)",
        ctx.refresh_seconds);
  }
  if (ctx.logged_in) {
    right += fmt::format(
        R"( <form method="post" action="/logout" class="action"><input type="hidden" name="csrf" value="{}"><button type="submit" class="link">Log out</button></form>)",
        escape(ctx.csrf_token));
  }
  const std::string notice =
      ctx.notice.empty()
          ? std::string()
          : fmt::format(R"(<p class="notice" id="notice">{}</p>)", escape(ctx.notice));
  return fmt::format(
      R"(<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">)"
      R"(<meta name="viewport" content="width=device-width, initial-scale=1">)"
      R"(<title>{0} · delta</title><link rel="stylesheet" href="/static/ui.css">)"
      R"(<script src="/static/ui.js" defer></script></head>)"
      R"(<body data-refresh="{1}" data-self="{2}"><header><strong class="brand">delta</strong>)"
      R"(<nav>{3}</nav><div class="right">{4}</div></header>)"
      R"(<main id="content"><h1>{0}</h1>{5}{6}<p class="muted updated">Read {7}.</p></main>)"
      R"(</body></html>)",
      escape(title), ctx.refresh_seconds, escape(ctx.self), nav, right, notice, body,
      rfc3339(ctx.now));
}

}  // namespace

std::string_view state_color(delta::ResourceState state) {
  switch (state) {
    case delta::ResourceState::scheduled:
      return "#1565c0";
    case delta::ResourceState::pending:
      return "#6a1b9a";
    case delta::ResourceState::synced:
      return kSyncedColor;
    case delta::ResourceState::failed:
      return "#ef6c00";
    case delta::ResourceState::degraded:
      return kFailedColor;
    case delta::ResourceState::expired:
      return "#9e9d24";
    case delta::ResourceState::deleted:
      return "#757575";
    case delta::ResourceState::unknown:
      break;
  }
  return "#bdbdbd";
}

std::string resource_throughput_chart(const std::vector<delta::ThroughputMinute>& minutes) {
  return throughput_chart(minutes, "Resources synced and failed per minute",
                          {"synced", std::string(kSyncedColor), {}},
                          {"failed", std::string(kFailedColor), {}},
                          &delta::ThroughputMinute::synced, &delta::ThroughputMinute::failed);
}

std::string job_throughput_chart(const std::vector<delta::ThroughputMinute>& minutes) {
  return throughput_chart(
      minutes, "Jobs completed and failed per minute", {"completed", std::string(kSyncedColor), {}},
      {"failed", std::string(kFailedColor), {}}, &delta::ThroughputMinute::jobs_completed,
      &delta::ThroughputMinute::jobs_failed);
}

std::string overview_page(const PageContext& ctx, const Overview& overview) {
  const auto& status = overview.status;
  std::string body;
  // The headline numbers.
  std::int64_t resources = 0;
  for (const auto& count : status.resources)
    resources += count.count;
  body += "<section class=\"cards\">";
  const auto card = [&](std::string_view label, std::string_view value_html, std::string_view id) {
    body += fmt::format(
        R"(<div class="card" id="{}"><span class="label">{}</span><span class="value">{}</span></div>)",
        id, escape(label), value_html);
  };
  card("Resources", escape(with_commas(resources)), "card-resources");
  card("Resource lag", duration_cell(status.resource_lag), "card-resource-lag");
  card("Job lag", duration_cell(status.job_lag), "card-job-lag");
  card("Live clients", escape(std::to_string(status.clients.size())), "card-clients");
  card("Leader", status.leader ? escape(*status.leader) : "none", "card-leader");
  card("Schema",
       escape(fmt::format("v{} of {}", status.schema_version, status.latest_schema_version)),
       "card-schema");
  body += "</section>";

  // Resources per kind x state.
  std::map<std::string, std::map<delta::ResourceState, std::int64_t>> by_kind;
  for (const auto& count : status.resources) {
    if (count.kind && count.state) by_kind[*count.kind][*count.state] += count.count;
  }
  body += "<h2>Resources by kind and state</h2>";
  if (by_kind.empty()) {
    body += "<p class=\"muted\">No resources.</p>";
  } else {
    body += "<table id=\"resource-counts\"><thead><tr><th>Kind</th>";
    for (auto state : kResourceStates)
      body += fmt::format("<th class=\"num\">{}</th>", badge(to_string(state)));
    body += "<th class=\"num\">Total</th><th></th></tr></thead><tbody>";
    for (const auto& [kind, states] : by_kind) {
      std::int64_t total = 0;
      std::vector<html::Segment> segments;
      body += fmt::format(R"(<tr data-kind="{0}"><td><a href="{1}">{0}</a></td>)", escape(kind),
                          escape(html::link("/resources", {{"kind", kind}})));
      for (auto state : kResourceStates) {
        const auto found = states.find(state);
        const std::int64_t count = found == states.end() ? 0 : found->second;
        total += count;
        segments.push_back({std::string(to_string(state)), std::string(state_color(state)), count});
        body +=
            count == 0
                ? fmt::format(R"(<td class="num zero" data-state="{}">0</td>)", to_string(state))
                : fmt::format(
                      R"(<td class="num" data-state="{}"><a href="{}">{}</a></td>)",
                      to_string(state),
                      escape(html::link("/resources", {{"kind", kind},
                                                       {"state", std::string(to_string(state))}})),
                      with_commas(count));
      }
      body += fmt::format(R"(<td class="num" data-state="total">{}</td><td>{}</td></tr>)",
                          with_commas(total), html::stacked_bar(segments));
    }
    body += "</tbody></table>";
  }

  // Throughput.
  body += "<h2>Throughput, last hour</h2>";
  body += "<div class=\"charts\"><figure>" + resource_throughput_chart(overview.throughput) +
          "<figcaption>Synced: resources whose last sync fell in that minute and that are "
          "synced now. Failed: resources failed or degraded now whose last attempt fell in "
          "that minute. delta keeps no history, so a resource synced twice counts once, at "
          "its last sync.</figcaption></figure>";
  body += "<figure>" + job_throughput_chart(overview.throughput) +
          "<figcaption>Completed: jobs completed in that minute. Failed: jobs discarded in "
          "that minute, and retryable jobs whose last attempt fell in it. Finished jobs count "
          "until the cleaner removes them.</figcaption></figure></div>";

  // Lag.
  body +=
      "<h2>Lag</h2><div class=\"columns\"><table id=\"kind-lag\"><thead><tr><th>Kind</th>"
      "<th class=\"num\">Oldest due, waiting</th></tr></thead><tbody>";
  for (const auto& lag : overview.kind_lag) {
    body += fmt::format(R"(<tr><td>{}</td><td class="num">{}</td></tr>)", escape(lag.kind),
                        duration_cell(lag.lag));
  }
  if (overview.kind_lag.empty())
    body += "<tr><td colspan=\"2\" class=\"muted\">No kinds.</td></tr>";
  body +=
      "</tbody></table><table id=\"queue-lag\"><thead><tr><th>Queue</th>"
      "<th class=\"num\">Oldest available, waiting</th><th>Jobs</th></tr></thead><tbody>";
  for (const auto& queue : status.queues) {
    body +=
        fmt::format(R"(<tr><td><a href="{}">{}</a>{}</td><td class="num">{}</td><td>{}</td></tr>)",
                    escape(html::link("/jobs", {{"queue", queue.name}})), escape(queue.name),
                    queue.paused_at ? R"( <span class="badge">paused</span>)" : "",
                    duration_cell(queue.oldest_available_age), job_state_counts(queue.states));
  }
  if (status.queues.empty()) body += "<tr><td colspan=\"3\" class=\"muted\">No queues.</td></tr>";
  body += "</tbody></table></div>";

  // Clients.
  body += "<h2>Live clients</h2>";
  if (status.clients.empty()) {
    body += "<p class=\"muted\">No live client: nothing is working the resources or jobs.</p>";
  } else {
    body +=
        "<table id=\"clients\"><thead><tr><th>Client</th><th>Host</th><th class=\"num\">PID</th>"
        "<th>Started</th><th>Heartbeat</th><th class=\"num\">Resources held</th>"
        "<th class=\"num\">Jobs held</th><th>Serves</th></tr></thead><tbody>";
    for (const auto& client : status.clients) {
      body += fmt::format(
          R"(<tr><td>{}{}</td><td>{}</td><td class="num">{}</td><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td><code>{}</code></td></tr>)",
          escape(client.id), client.leader ? R"( <span class="badge leader">leader</span>)" : "",
          escape(client.hostname), client.pid, time_cell(client.started_at, ctx.now),
          time_cell(client.heartbeat_at, ctx.now), with_commas(client.resources_held),
          with_commas(client.jobs_held),
          escape(client.metadata.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
    }
    body += "</tbody></table>";
  }
  return page(ctx, "/", "Overview", body);
}

std::string resources_page(const PageContext& ctx, const ResourceQuery& query,
                           const delta::Listing<delta::ResourceRow>& listing,
                           std::int64_t matching) {
  std::string body;
  body += R"(<form method="get" action="/resources" class="filter" id="filter">)";
  body += text_input("kind", "Kind", joined(query.kinds), "user,order");
  body += text_input("namespace", "Namespace", joined(query.namespaces), "default");
  body += text_input("id_prefix", "Id prefix", query.id_prefix, "");
  body += text_input("tag", "Any tag", joined(query.tags_any), "");
  body += text_input("all_tags", "All tags", joined(query.tags_all), "");
  body += state_boxes(kResourceStates, query.states);
  body += filter_form_end(query, "/resources");

  body += fmt::format(R"(<p id="matching">{} match{}.</p>)", with_commas(matching),
                      matching == 1 ? "es" : "");
  // The bulk actions on everything the filter selects (not only this page).
  if (!ctx.read_only && matching > 0) {
    const auto fields = query.filter_params();
    const auto what =
        fmt::format("{} matching resource{}", with_commas(matching), matching == 1 ? "" : "s");
    body += "<div class=\"bulk\">";
    body += action_form(ctx, "/resources/retry", fields, "Retry failed/degraded of " + what,
                        "Retry the failed and degraded ones of " + what + "?");
    body += action_form(ctx, "/resources/invalidate", fields, "Invalidate synced of " + what,
                        "Invalidate the synced ones of " + what + "?");
    body += action_form(ctx, "/resources/schedule-now", fields, "Schedule now",
                        "Make the waiting ones of " + what + " due now?");
    if (query.filtered()) {
      body += action_form(ctx, "/resources/delete", fields, "Delete " + what,
                          "Delete " + what + "? Their controllers are not called.", true);
    }
    body += "</div>";
  }

  if (listing.rows.empty()) {
    body += "<p class=\"muted\">No resources on this page.</p>";
  } else {
    body +=
        "<table id=\"resources\"><thead><tr><th>Kind</th><th>Object id</th><th>Namespace</th>"
        "<th>State</th><th class=\"num\">Gen</th><th class=\"num\">Attempt</th>"
        "<th>Last attempt</th><th>Synced</th><th>Next run</th><th>Last error</th>"
        "<th></th></tr></thead><tbody>";
    for (const auto& row : listing.rows) {
      const html::Params one{{"kind", row.kind}, {"id", row.object_id}};
      std::string actions;
      if (row.state == delta::ResourceState::failed || row.state == delta::ResourceState::degraded)
        actions += action_form(ctx, "/resources/retry", one, "Retry");
      if (row.state == delta::ResourceState::synced)
        actions += action_form(ctx, "/resources/invalidate", one, "Invalidate");
      const bool runnable = row.state == delta::ResourceState::scheduled ||
                            row.state == delta::ResourceState::failed ||
                            row.state == delta::ResourceState::expired;
      body += fmt::format(
          R"(<tr class="resource" data-id="{}"><td>{}</td><td class="id">{}</td><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">{}/{}</td><td>{}</td><td>{}</td><td>{}</td><td class="error">{}</td><td class="actions">{}</td></tr>)",
          row.id, escape(row.kind), resource_link(row.kind, row.object_id, row.object_id),
          escape(row.namespace_name), badge(to_string(row.state)), row.generation, row.attempt,
          row.max_attempts, time_cell(row.attempted_at, ctx.now), time_cell(row.synced_at, ctx.now),
          runnable ? time_cell(row.run_at, ctx.now) : std::string("-"),
          row.errors.empty() ? std::string("-") : escape(row.errors.back().error), actions);
    }
    body += "</tbody></table>";
  }
  body += next_page_link("/resources", query.params(), listing.next_cursor);
  return page(ctx, "/resources", "Resources", body);
}

std::string resource_page(const PageContext& ctx, const delta::ResourceRow& row) {
  const html::Params one{{"kind", row.kind}, {"id", row.object_id}};
  std::string body = "<div class=\"bulk\">";
  if (row.state == delta::ResourceState::failed || row.state == delta::ResourceState::degraded)
    body += action_form(ctx, "/resources/retry", one, "Retry");
  if (row.state == delta::ResourceState::synced)
    body += action_form(ctx, "/resources/invalidate", one, "Invalidate");
  if (row.state != delta::ResourceState::deleted) {
    body += action_form(ctx, "/resources/delete", one, "Delete",
                        "Delete this resource? Its controller is not called.", true);
  }
  body += "</div><table class=\"details\" id=\"details\"><tbody>";
  body += definition("Kind", escape(row.kind));
  body += definition("Object id", "<span class=\"id\">" + escape(row.object_id) + "</span>");
  body += definition("Namespace", escape(row.namespace_name));
  body += definition("State", badge(to_string(row.state)));
  body += definition("Generation", std::to_string(row.generation));
  body += definition("Attempts", fmt::format("{} of {}", row.attempt, row.max_attempts));
  body += definition("Run at", time_cell(row.run_at, ctx.now));
  body += definition("Last attempt", time_cell(row.attempted_at, ctx.now));
  body += definition("Synced", time_cell(row.synced_at, ctx.now));
  body += definition("Created", time_cell(row.created_at, ctx.now));
  body += definition("Updated", time_cell(row.updated_at, ctx.now));
  body += definition("Object created", time_cell(row.external_created_at, ctx.now));
  body += definition("Deleted", time_cell(row.deleted_at, ctx.now));
  body += definition("Lease", row.lease_owner ? escape(*row.lease_owner) + ", until " +
                                                    time_cell(row.lease_expires_at, ctx.now)
                                              : std::string("-"));
  std::string tags;
  for (const auto& tag : row.tags)
    tags += fmt::format(R"(<a class="tag" href="{}">{}</a> )",
                        escape(html::link("/resources", {{"tag", tag}})), escape(tag));
  body += definition("Tags", tags.empty() ? "-" : tags);
  body += definition("Row id", std::to_string(row.id));
  body += "</tbody></table>";
  body += "<h2>Object</h2>" + json_block(row.object);
  body += "<h2>Metadata</h2>" + json_block(row.metadata);
  body +=
      fmt::format("<h2>Errors ({})</h2>", row.errors.size()) + errors_table(row.errors, ctx.now);
  return page(ctx, "/resources", fmt::format("{} {}", row.kind, row.object_id), body);
}

std::string controllers_page(const PageContext& ctx,
                             const std::vector<delta::ControllerInfo>& controllers) {
  std::string body;
  if (controllers.empty()) {
    body += "<p class=\"muted\">No controller has been registered by any client.</p>";
    return page(ctx, "/controllers", "Controllers", body);
  }
  body +=
      "<table id=\"controllers\"><thead><tr><th>Kind</th><th>Resources</th><th>Clients</th>"
      "<th>Interval</th><th>Cursor</th><th>Last run</th><th>Last result</th><th>Next run</th>"
      "<th></th></tr></thead><tbody>";
  for (const auto& controller : controllers) {
    const html::Params kind{{"kind", controller.kind}};
    std::string states;
    for (const auto& count : controller.states) {
      if (count.state)
        states += fmt::format("{} {} ", badge(to_string(*count.state)), with_commas(count.count));
    }
    std::string last_run = "-";
    if (controller.last_inform_started_at) {
      last_run = "started " + time_cell(controller.last_inform_started_at, ctx.now);
      if (controller.last_inform_finished_at &&
          *controller.last_inform_finished_at >= *controller.last_inform_started_at) {
        last_run += ", finished " + time_cell(controller.last_inform_finished_at, ctx.now);
      } else {
        last_run += ", running";
      }
    }
    std::string result = "-";
    if (controller.last_inform_error) {
      result = "<span class=\"error\">" + escape(*controller.last_inform_error) + "</span>";
    } else if (controller.last_inform_counts) {
      const auto& counts = *controller.last_inform_counts;
      result =
          escape(fmt::format("{} emitted: {} new, {} changed, {} unchanged, {} stale, {} "
                             "deleted skipped",
                             counts.emitted, counts.inserted, counts.changed, counts.unchanged,
                             counts.stale, counts.skipped_deleted));
    }
    std::string actions = action_form(ctx, "/controllers/inform", kind, "Inform now");
    actions += controller.paused_at
                   ? action_form(ctx, "/controllers/resume", kind, "Resume")
                   : action_form(ctx, "/controllers/pause", kind, "Pause",
                                 "Pause " + controller.kind +
                                     "? No process claims or informs it until resumed.");
    body += fmt::format(
        R"(<tr data-kind="{0}"><td><a href="{1}">{0}</a>{2}</td><td>{3}</td><td class="num">{4}</td><td>{5}</td><td>{6}</td><td>{7}</td><td>{8}</td><td>{9}</td><td class="actions">{10}</td></tr>)",
        escape(controller.kind), escape(html::link("/resources", kind)),
        controller.paused_at ? R"( <span class="badge paused">paused</span>)" : "",
        states.empty() ? "-" : states, controller.clients,
        controller.inform_interval ? duration_cell(controller.inform_interval) : "no periodic runs",
        controller.cursor ? time_cell(controller.cursor, ctx.now) : std::string("-"), last_run,
        result, time_cell(controller.next_inform_at, ctx.now), actions);
  }
  body += "</tbody></table>";
  return page(ctx, "/controllers", "Controllers", body);
}

std::string queues_page(const PageContext& ctx, const std::vector<delta::QueueInfo>& queues) {
  std::string body;
  if (queues.empty()) {
    body += "<p class=\"muted\">No queues.</p>";
    return page(ctx, "/queues", "Queues", body);
  }
  body +=
      "<table id=\"queues\"><thead><tr><th>Queue</th><th>Jobs</th>"
      "<th class=\"num\">Oldest available, waiting</th><th></th></tr></thead><tbody>";
  for (const auto& queue : queues) {
    const html::Params fields{{"queue", queue.name}};
    const auto actions = queue.paused_at ? action_form(ctx, "/queues/resume", fields, "Resume")
                                         : action_form(ctx, "/queues/pause", fields, "Pause",
                                                       "Pause queue " + queue.name + "?");
    body += fmt::format(
        R"(<tr data-queue="{0}"><td><a href="{1}">{0}</a>{2}</td><td>{3}</td><td class="num">{4}</td><td class="actions">{5}</td></tr>)",
        escape(queue.name), escape(html::link("/jobs", fields)),
        queue.paused_at ? R"( <span class="badge paused">paused</span>)" : "",
        job_state_counts(queue.states), duration_cell(queue.oldest_available_age), actions);
  }
  body += "</tbody></table>";
  return page(ctx, "/queues", "Queues", body);
}

std::string jobs_page(const PageContext& ctx, const JobQuery& query,
                      const delta::Listing<delta::jobs::JobRow>& listing) {
  std::string body = R"(<form method="get" action="/jobs" class="filter" id="filter">)";
  body += text_input("queue", "Queue", joined(query.queues), "default");
  body += text_input("kind", "Kind", joined(query.kinds), "send_email");
  body += state_boxes(kJobStates, query.states);
  body += filter_form_end(query, "/jobs");
  if (listing.rows.empty()) {
    body += "<p class=\"muted\">No jobs on this page.</p>";
  } else {
    body +=
        "<table id=\"jobs\"><thead><tr><th class=\"num\">Id</th><th>Kind</th><th>Queue</th>"
        "<th>State</th><th class=\"num\">Attempt</th><th>Scheduled</th><th>Last attempt</th>"
        "<th>Finished</th><th>Last error</th><th></th></tr></thead><tbody>";
    for (const auto& row : listing.rows) {
      const html::Params id{{"id", std::to_string(row.id)}};
      std::string actions;
      if (row.state != delta::jobs::JobState::running &&
          row.state != delta::jobs::JobState::available)
        actions += action_form(ctx, "/jobs/retry", id, "Retry");
      if (!row.finalized_at) actions += action_form(ctx, "/jobs/cancel", id, "Cancel");
      body += fmt::format(
          R"(<tr class="job" data-id="{0}"><td class="num"><a href="{1}">{0}</a></td><td>{2}</td><td>{3}</td><td>{4}</td><td class="num">{5}/{6}</td><td>{7}</td><td>{8}</td><td>{9}</td><td class="error">{10}</td><td class="actions">{11}</td></tr>)",
          row.id, escape(html::link("/job", id)), escape(row.kind), escape(row.queue),
          badge(to_string(row.state)), row.attempt, row.max_attempts,
          time_cell(row.scheduled_at, ctx.now), time_cell(row.attempted_at, ctx.now),
          time_cell(row.finalized_at, ctx.now),
          row.errors.empty() ? std::string("-") : escape(row.errors.back().error), actions);
    }
    body += "</tbody></table>";
  }
  body += next_page_link("/jobs", query.params(), listing.next_cursor);
  return page(ctx, "/jobs", "Jobs", body);
}

std::string job_page(const PageContext& ctx, const delta::jobs::JobRow& row) {
  const html::Params id{{"id", std::to_string(row.id)}};
  std::string body = "<div class=\"bulk\">";
  if (row.state != delta::jobs::JobState::running && row.state != delta::jobs::JobState::available)
    body += action_form(ctx, "/jobs/retry", id, "Retry");
  if (!row.finalized_at) body += action_form(ctx, "/jobs/cancel", id, "Cancel", "Cancel this job?");
  body += "</div><table class=\"details\" id=\"details\"><tbody>";
  body += definition("Id", std::to_string(row.id));
  body += definition("Kind", escape(row.kind));
  body += definition("Queue", escape(row.queue));
  body += definition("State", badge(to_string(row.state)));
  body += definition("Priority", std::to_string(row.priority));
  body += definition("Attempts", fmt::format("{} of {}", row.attempt, row.max_attempts));
  body += definition("Scheduled", time_cell(row.scheduled_at, ctx.now));
  body += definition("Last attempt", time_cell(row.attempted_at, ctx.now));
  body += definition("Last run by", row.attempted_by ? escape(*row.attempted_by) : "-");
  body += definition("Created", time_cell(row.created_at, ctx.now));
  body += definition("Finished", time_cell(row.finalized_at, ctx.now));
  std::string tags;
  for (const auto& tag : row.tags)
    tags += "<span class=\"tag\">" + escape(tag) + "</span> ";
  body += definition("Tags", tags.empty() ? "-" : tags);
  body += "</tbody></table>";
  body += "<h2>Arguments</h2>" + json_block(row.args);
  body += "<h2>Metadata</h2>" + json_block(row.metadata);
  body +=
      fmt::format("<h2>Errors ({})</h2>", row.errors.size()) + errors_table(row.errors, ctx.now);
  return page(ctx, "/jobs", fmt::format("Job {}", row.id), body);
}

std::string error_page(const PageContext& ctx, int status, std::string_view title,
                       std::string_view message) {
  return page(
      ctx, "", fmt::format("{} {}", status, title),
      fmt::format(R"(<p class="problem" id="problem">{}</p><p><a href="/">Overview</a></p>)",
                  escape(message)));
}

std::string message_page(std::string_view title, std::string_view message) {
  return fmt::format(
      R"(<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{0} · delta</title>)"
      R"(<link rel="stylesheet" href="/static/ui.css"></head><body><main class="login"><h1>{0}</h1>)"
      R"(<p class="problem" id="problem">{1}</p><p><a href="/">Overview</a></p></main></body></html>)",
      escape(title), escape(message));
}

std::string login_page(std::string_view next, std::string_view problem) {
  return fmt::format(
      R"(<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Log in · delta</title>)"
      R"(<link rel="stylesheet" href="/static/ui.css"></head><body><main class="login"><h1>delta</h1>)"
      R"({}<form method="post" action="/login" id="login"><input type="hidden" name="next" value="{}">)"
      R"(<label>Access token <input type="password" name="token" autocomplete="current-password" autofocus></label>)"
      R"( <button type="submit">Log in</button></form></main></body></html>)",
      problem.empty() ? std::string()
                      : fmt::format(R"(<p class="problem" id="problem">{}</p>)", escape(problem)),
      escape(next));
}

}  // namespace delta_ui
