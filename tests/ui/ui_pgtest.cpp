// `delta ui` against a seeded database: started as an operator starts it, driven by
// headless Chromium (WebDriver) where what matters is what a browser shows and does, and
// by a plain HTTP client where what matters is what the server refuses. The browser tests
// are skipped only when chromium or chromedriver is not installed.
#include <filesystem>
#include <functional>
#include <map>
#include <regex>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include "cli/cli_fixture.hpp"
#include "ui/browser.hpp"
#include "ui/html.hpp"

#ifndef DELTA_CLI_PATH
#error "DELTA_CLI_PATH must name the delta binary (see tests/CMakeLists.txt)"
#endif
#ifndef DELTA_UI_ARTIFACTS
#error "DELTA_UI_ARTIFACTS must name the folder for screenshots (see tests/CMakeLists.txt)"
#endif

namespace delta::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kXssId = "<img src=x onerror=alert(1)>";
constexpr const char* kXssFlagId = "<img src=x onerror=window.__xss=1>";

// A running `delta ui` on a port of its own.
struct Ui {
  std::unique_ptr<ChildProcess> process;
  std::string url;  // http://127.0.0.1:PORT (no trailing slash)
  int port = 0;
};

class UiTest : public CliAdminTest {
 protected:
  void TearDown() override {
    browser_.reset();  // before the schema goes
    CliAdminTest::TearDown();
  }

  // delta ui --listen 127.0.0.1:0 --schema <this test's> `args`, once it says where it
  // serves.
  Ui start_ui(std::vector<std::string> args = {}, const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv{DELTA_CLI_PATH, "ui",       "--listen",
                                  "127.0.0.1:0",  "--schema", schema_name()};
    argv.insert(argv.end(), args.begin(), args.end());
    Ui ui;
    ui.process = std::make_unique<ChildProcess>(argv, env);
    const auto line = ui.process->line_containing("serving http://", 20s);
    if (!line) throw std::runtime_error("delta ui did not start");
    std::smatch match;
    const std::regex address(R"(http://127\.0\.0\.1:(\d+)/)");
    if (!std::regex_search(*line, match, address)) throw std::runtime_error(*line);
    ui.port = std::stoi(match[1]);
    ui.url = fmt::format("http://127.0.0.1:{}", ui.port);
    return ui;
  }

  // Realistic data: users, orders and invoices in every state, syncs and failures spread
  // over the last hour, errors on the failed ones, finished and waiting jobs.
  void seed() {
    pool().exec(sql(R"(
      INSERT INTO {s}.delta_resource
        (kind, object_id, namespace, state, object, hash, generation, attempt, tags,
         attempted_at, synced_at, run_at, errors)
      SELECT (ARRAY['user', 'order', 'invoice'])[n % 3 + 1],
             (ARRAY['user', 'order', 'invoice'])[n % 3 + 1] || '-' || lpad(n::text, 5, '0'),
             CASE WHEN n % 4 = 0 THEN 'billing' ELSE 'default' END,
             (CASE WHEN n % 23 = 0 THEN 'degraded' WHEN n % 11 = 0 THEN 'failed'
                   WHEN n % 13 = 0 THEN 'scheduled' WHEN n % 17 = 0 THEN 'expired'
                   WHEN n % 29 = 0 THEN 'deleted' ELSE 'synced' END)::{s}.resource_state,
             jsonb_build_object('n', n, 'email', 'person' || n || '@example.com'), '\x00',
             1 + n % 3, CASE WHEN n % 23 = 0 THEN 10 WHEN n % 11 = 0 THEN 2 ELSE 1 END,
             CASE WHEN n % 5 = 0 THEN '{{vip}}'::text[] ELSE '{{}}' END,
             now() - (n % 60) * interval '1 minute' - interval '5 seconds',
             CASE WHEN n % 23 <> 0 AND n % 11 <> 0
                  THEN now() - (n % 60) * interval '1 minute' - (n % 7) * interval '1 second'
             END,
             CASE WHEN n % 11 = 0 AND n % 23 <> 0 THEN now() + interval '10 minutes'
                  ELSE now() - (n % 5) * interval '1 minute' END,
             CASE WHEN n % 23 = 0 OR n % 11 = 0 THEN ARRAY[jsonb_build_object(
                    'attempt', 1, 'at', now() - interval '2 minutes', 'type', 'retry',
                    'error', 'upstream answered 503 Service Unavailable')] ELSE '{{}}' END
      FROM generate_series(1, 600) n)"));
    pool().exec(sql(R"(
      INSERT INTO {s}.delta_job (kind, queue, state, attempt, attempted_at, scheduled_at,
                                 finalized_at)
      SELECT (ARRAY['send_email', 'charge_card'])[n % 2 + 1],
             (ARRAY['default', 'mail'])[n % 2 + 1],
             (CASE WHEN n % 9 = 0 THEN 'discarded' WHEN n % 5 = 0 THEN 'available'
                   ELSE 'completed' END)::{s}.job_state,
             1, now() - (n % 60) * interval '1 minute',
             now() - (n % 60) * interval '1 minute',
             CASE WHEN n % 5 <> 0 OR n % 9 = 0 THEN now() - (n % 60) * interval '1 minute' END
      FROM generate_series(1, 240) n)"));
  }

  // Degraded resources of kind "thing", "deg-1".."deg-<count>".
  void seed_degraded(int count) {
    pool().exec(sql(fmt::format(R"(
      INSERT INTO {{s}}.delta_resource (kind, object_id, state, object, hash, attempt, errors)
      SELECT 'thing', 'deg-' || n, 'degraded', '{{{{}}}}', '\x00', 10,
             ARRAY[jsonb_build_object('attempt', 10, 'at', now(), 'type', 'retry',
                                      'error', 'gave up')]
      FROM generate_series(1, {}) n)",
                                count)));
  }

  void insert_resource(const std::string& id, const std::string& state,
                       const std::string& error = "boom") {
    pool().exec(sql(R"(
      INSERT INTO {s}.delta_resource (kind, object_id, state, object, hash, errors)
      VALUES ('thing', $1, $2::text::{s}.resource_state, '{{}}', '\x00',
              ARRAY[jsonb_build_object('attempt', 1, 'at', now(), 'type', 'retry',
                                       'error', $3::text)]))"),
                id, state, error);
  }

  std::string state_of(const std::string& id) {
    return pool()
        .exec(sql("SELECT state::text FROM {s}.delta_resource WHERE kind = 'thing' AND "
                  "object_id = $1"),
              id)
        .one()
        .get<std::string>(0);
  }

  Browser& browser() { return *browser_; }
  // Whether an element matching `css` shows up within a few seconds (after a click that
  // loads another page, which WebDriver does not always wait for).
  bool shows(const std::string& css) {
    return eventually([&] { return settled([&] { return !browser().find_all(css).empty(); }); },
                      10s, 50ms);
  }
  // Whether the text of the first `css` comes to contain `text`.
  bool shows_text(const std::string& css, const std::string& text) {
    return eventually(
        [&] {
          return settled([&] {
            const auto found = browser().find_all(css);
            return !found.empty() && browser().text(found.front()).find(text) != std::string::npos;
          });
        },
        10s, 50ms);
  }
  // `check()`, or false when the page it looked at was replaced meanwhile (a navigation
  // still under way: the element found is stale by the time its text is read).
  static bool settled(const std::function<bool()>& check) {
    try {
      return check();
    } catch (const std::runtime_error& e) {
      if (std::string_view(e.what()).find("stale element") != std::string_view::npos) return false;
      throw;
    }
  }

  static std::string artifact(const std::string& name) {
    std::filesystem::create_directories(DELTA_UI_ARTIFACTS);
    return std::string(DELTA_UI_ARTIFACTS) + "/" + name;
  }

  std::unique_ptr<Browser> browser_;
};

using ui_pgtest = UiTest;

// The browser tests' start: skipped (with the reason) when chromium or chromedriver is not
// installed, else a headless Chromium session of the test's own.
#define START_BROWSER()                                             \
  do {                                                              \
    if (auto missing = browser_missing()) GTEST_SKIP() << *missing; \
    browser_ = std::make_unique<Browser>();                         \
  } while (false)

// The session cookie and CSRF token a GET of `path` hands out.
struct Session {
  std::string cookie;
  std::string csrf;
};

Session session_of(httplib::Client& client, const std::string& path) {
  const auto res = client.Get(path.c_str());
  if (!res || res->status != 200) throw std::runtime_error("GET " + path + " failed");
  Session session;
  const auto set_cookie = res->get_header_value("Set-Cookie");
  session.cookie = set_cookie.substr(0, set_cookie.find(';'));
  std::smatch match;
  if (std::regex_search(res->body, match, std::regex(R"re(name="csrf" value="([0-9a-f]+)")re")))
    session.csrf = match[1];
  return session;
}

TEST_F(ui_pgtest, OverviewCountsEqualTheDatabaseAndItsChartsTheThroughput) {
  START_BROWSER();
  seed();
  start(config());  // a live client, and so a leader
  auto ui = start_ui();
  ASSERT_TRUE(eventually([&] {
    return scalar(
               "SELECT count(*) FROM {s}.delta_leader "
               "WHERE expires_at > now()") == 1;
  }));
  browser().go(ui.url + "/");
  // Every cell of the kind x state table, as the page shows it.
  const auto shown = browser().run(R"(
    const out = {};
    for (const row of document.querySelectorAll('#resource-counts tbody tr')) {
      for (const cell of row.querySelectorAll('td[data-state]'))
        out[row.dataset.kind + '/' + cell.dataset.state] = cell.textContent.replace(/,/g, '');
    }
    return out;)");
  std::map<std::string, std::string> expected;
  std::map<std::string, std::int64_t> totals;
  for (const auto& kind : {"user", "order", "invoice"}) {
    for (const auto& state :
         {"scheduled", "pending", "synced", "failed", "degraded", "expired", "deleted"})
      expected[fmt::format("{}/{}", kind, state)] = "0";
  }
  for (const auto& row : pool().exec(sql("SELECT kind, state::text, count(*) FROM "
                                         "{s}.delta_resource GROUP BY 1, 2"))) {
    const auto kind = row.get<std::string>(0);
    expected[kind + "/" + row.get<std::string>(1)] = std::to_string(row.get<std::int64_t>(2));
    totals[kind] += row.get<std::int64_t>(2);
  }
  for (const auto& [kind, total] : totals)
    expected[kind + "/total"] = std::to_string(total);
  using Cells = std::map<std::string, std::string>;
  EXPECT_EQ(shown.get<Cells>(), expected);

  // The charts' legends carry the totals of the hour, which SQL counts the same way.
  const auto synced = scalar(
      "SELECT count(*) FROM {s}.delta_resource WHERE state = 'synced' AND synced_at >= "
      "date_trunc('minute', now()) - interval '59 minutes'");
  const auto failed = scalar(
      "SELECT count(*) FROM {s}.delta_resource WHERE state IN ('failed', 'degraded') AND "
      "attempted_at >= date_trunc('minute', now()) - interval '59 minutes'");
  ASSERT_GT(synced, 0);
  ASSERT_GT(failed, 0);
  const auto legends =
      browser().run("return [...document.querySelectorAll('svg.chart')].map(s => s.textContent);");
  ASSERT_EQ(legends.size(), 2u);
  EXPECT_NE(legends[0].get<std::string>().find(fmt::format("synced ({})", synced)),
            std::string::npos)
      << legends[0];
  EXPECT_NE(legends[0].get<std::string>().find(fmt::format("failed ({})", failed)),
            std::string::npos)
      << legends[0];
  EXPECT_GT(
      browser().run("return document.querySelectorAll('svg.chart rect.bar').length;").get<int>(),
      60);

  // Live clients and the leader.
  const auto leader =
      pool().exec(sql("SELECT leader_id FROM {s}.delta_leader")).one().get<std::string>(0);
  EXPECT_EQ(browser().text(browser().find("#card-clients .value")), "1");
  EXPECT_EQ(browser().text(browser().find("#card-leader .value")), leader);
  browser().screenshot(artifact("overview.png"));
}

TEST_F(ui_pgtest, TheResourceListShowsTheDegradedOnesPageByPage) {
  START_BROWSER();
  seed_degraded(7);
  insert_resource("ok-1", "synced");
  auto ui = start_ui();
  browser().go(ui.url + "/resources?state=degraded&limit=3");
  std::set<std::string> seen;
  std::vector<std::size_t> page_sizes;
  for (int page = 0; page < 5; ++page) {
    const auto ids = browser().run(
        "return [...document.querySelectorAll('#resources tr.resource td.id')]"
        ".map(td => td.textContent);");
    page_sizes.push_back(ids.size());
    for (const auto& id : ids)
      EXPECT_TRUE(seen.insert(id.get<std::string>()).second) << "twice: " << id;
    const auto next = browser().find_all("#next-page");
    if (next.empty()) break;
    browser().click(next.front());
  }
  EXPECT_EQ(page_sizes, (std::vector<std::size_t>{3, 3, 1}));
  const auto in_db = column("SELECT object_id FROM {s}.delta_resource WHERE state = 'degraded'");
  EXPECT_EQ(seen, std::set<std::string>(in_db.begin(), in_db.end()));
  EXPECT_NE(browser().source().find("Last page."), std::string::npos);
}

TEST_F(ui_pgtest, RetryClickedOnThePageSchedulesTheResourceInTheDatabase) {
  START_BROWSER();
  seed_degraded(4);
  auto ui = start_ui();
  // One resource, from its own page.
  browser().go(ui.url + "/resource?kind=thing&id=deg-1");
  EXPECT_NE(browser().text(browser().find("#details")).find("10 of 10"), std::string::npos);
  browser().screenshot(artifact("resource.png"));
  browser().click(browser().find("form[action='/resources/retry'] button"));
  ASSERT_TRUE(shows("#notice")) << browser().url();
  EXPECT_EQ(browser().text(browser().find("#notice")), "retried 1 resource");
  EXPECT_EQ(state_of("deg-1"), "scheduled");
  EXPECT_EQ(scalar("SELECT attempt FROM {s}.delta_resource WHERE object_id = 'deg-1'"), 0);
  // The notice is not kept in the address, so a reload shows the page, not the action.
  EXPECT_EQ(browser().url(), ui.url + "/resource?id=deg-1&kind=thing");  // fields by name
  EXPECT_EQ(state_of("deg-2"), "degraded");

  // The filtered set, after the browser's confirmation.
  browser().go(ui.url + "/resources?kind=thing&state=degraded");
  EXPECT_EQ(browser().text(browser().find("#matching")), "3 match.");
  browser().click(browser().find(".bulk form[action='/resources/retry'] button"));
  EXPECT_NE(browser().accept_dialog().find("3 matching resources"), std::string::npos);
  ASSERT_TRUE(shows("#notice"));
  EXPECT_EQ(browser().text(browser().find("#notice")), "retried 3 resources");
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_resource WHERE state = 'degraded'"), 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_resource WHERE state = 'scheduled'"), 4);
}

TEST_F(ui_pgtest, AHostileIdAndErrorRenderAsTextAndRunNothing) {
  START_BROWSER();
  insert_resource(kXssId, "degraded", "<script>window.__xss2 = 1</script>");
  insert_resource(kXssFlagId, "failed", "<img src=y onerror=window.__xss3=1>");
  auto ui = start_ui();
  for (const auto& path : {std::string("/resources"), std::string("/"),
                           "/resource?kind=thing&id=" + delta_ui::html::url_encode(kXssFlagId)}) {
    SCOPED_TRACE(path);
    browser().go(ui.url + path);
    const auto page = browser().run(R"(
      return {images: document.images.length,
              scripts: document.scripts.length,
              ran: window.__xss !== undefined || window.__xss2 !== undefined ||
                   window.__xss3 !== undefined,
              text: document.body.textContent};)");
    EXPECT_EQ(page["images"], 0);
    EXPECT_EQ(page["scripts"], 1);  // /static/ui.js only
    EXPECT_EQ(page["ran"], false);
    if (path != "/") {
      EXPECT_NE(page["text"].get<std::string>().find(kXssFlagId), std::string::npos);
    }
  }
  // The ids are text in their cells, exactly.
  browser().go(ui.url + "/resources");
  const auto ids = browser().run(
      "return [...document.querySelectorAll('td.id')].map(td => td.textContent).sort();");
  EXPECT_EQ(ids, nlohmann::json::array({kXssId, kXssFlagId}));
  browser().go(ui.url + "/resource?kind=thing&id=" + delta_ui::html::url_encode(kXssId));
  EXPECT_EQ(browser().text(browser().find("h1")), std::string("thing ") + kXssId);
  EXPECT_NE(
      browser().text(browser().find("table.errors")).find("<script>window.__xss2 = 1</script>"),
      std::string::npos);
}

TEST_F(ui_pgtest, PagesRefreshThemselvesAndKeepTheFilter) {
  START_BROWSER();
  seed_degraded(2);
  auto ui = start_ui({"--refresh", "1"});
  const auto address = ui.url + "/resources?kind=thing&state=degraded";
  browser().go(address);
  const auto rows = [&] {
    return browser()
        .run("return document.querySelectorAll('#resources tr.resource').length;")
        .get<int>();
  };
  ASSERT_EQ(rows(), 2);
  insert_resource("late", "degraded");
  insert_resource("other-state", "synced");
  EXPECT_TRUE(eventually([&] { return rows() == 3; }, 10s, 100ms));
  EXPECT_EQ(browser().url(), address);
  EXPECT_EQ(browser().run("return document.querySelector('input[name=kind]').value;"), "thing");
  EXPECT_EQ(browser().run("return [...document.querySelectorAll('input[name=state]:checked')]"
                          ".map(e => e.value);"),
            nlohmann::json::array({"degraded"}));
}

TEST_F(ui_pgtest, ReadOnlyShowsNoActionAndRefusesPosts) {
  START_BROWSER();
  seed_degraded(1);
  insert_job("send_email", "default");
  pool().exec(sql("INSERT INTO {s}.delta_controller (kind) VALUES ('thing')"));
  auto ui = start_ui({"--read-only"});
  for (const auto& path : {"/", "/resources", "/resource?kind=thing&id=deg-1", "/controllers",
                           "/queues", "/jobs", "/job?id=1"}) {
    SCOPED_TRACE(path);
    browser().go(ui.url + path);
    EXPECT_EQ(browser().run("return document.querySelectorAll('form[method=post], button.act')"
                            ".length;"),
              0);
    EXPECT_EQ(browser().run("return document.querySelectorAll('h1').length;"), 1);
  }
  httplib::Client client("127.0.0.1", ui.port);
  const auto session = session_of(client, "/resources");
  const auto res =
      client.Post("/resources/retry", {{"Cookie", session.cookie}},
                  "kind=thing&id=deg-1&csrf=" + session.csrf, "application/x-www-form-urlencoded");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  EXPECT_NE(res->body.find("read-only"), std::string::npos);
  EXPECT_EQ(state_of("deg-1"), "degraded");
}

TEST_F(ui_pgtest, WithATokenEveryPageNeedsItAndTheLoginFormGivesIt) {
  START_BROWSER();
  seed_degraded(1);
  auto ui = start_ui({}, {"DELTA_UI_TOKEN=s3cret-token"});
  browser().go(ui.url + "/resources?state=degraded");
  EXPECT_TRUE(browser().find_all("#resources").empty());
  browser().type(browser().find("input[name=token]"), "wrong");
  browser().click(browser().find("#login button"));
  EXPECT_TRUE(shows_text("#problem", "not the access token"));
  browser().type(browser().find("input[name=token]"), "s3cret-token");
  browser().click(browser().find("#login button"));
  // Back where it was going, with its filter.
  ASSERT_TRUE(shows("#resources"));
  EXPECT_EQ(browser().url(), ui.url + "/resources?state=degraded");
  EXPECT_EQ(browser().find_all("#resources tr.resource").size(), 1u);
  // The login cookie is not readable by scripts.
  EXPECT_EQ(browser().run("return document.cookie;"), "");
}

// ---- what the server refuses, with a plain HTTP client --------------------------------------

TEST_F(ui_pgtest, APostWithoutItsSessionsTokenOrFromAnotherSiteIsRefused) {
  seed_degraded(1);
  auto ui = start_ui();
  httplib::Client client("127.0.0.1", ui.port);
  const auto session = session_of(client, "/resources");
  ASSERT_FALSE(session.cookie.empty());
  ASSERT_EQ(session.csrf.size(), 64u);
  const auto post = [&](const httplib::Headers& headers, const std::string& body) {
    auto res = client.Post("/resources/retry", headers, body, "application/x-www-form-urlencoded");
    return res ? res->status : -1;
  };
  const std::string one = "kind=thing&id=deg-1";
  EXPECT_EQ(post({}, one), 403);                            // no session, no token
  EXPECT_EQ(post({{"Cookie", session.cookie}}, one), 403);  // no token
  EXPECT_EQ(post({{"Cookie", session.cookie}}, one + "&csrf=" + std::string(64, 'a')), 403);
  EXPECT_EQ(
      post({{"Cookie", "delta_session=" + std::string(64, 'b')}}, one + "&csrf=" + session.csrf),
      403);  // another session's
  EXPECT_EQ(post({{"Cookie", session.cookie}, {"Origin", "http://evil.example"}},
                 one + "&csrf=" + session.csrf),
            403);
  EXPECT_EQ(post({{"Cookie", session.cookie}, {"Sec-Fetch-Site", "cross-site"}},
                 one + "&csrf=" + session.csrf),
            403);
  EXPECT_EQ(state_of("deg-1"), "degraded");
  // The same request with its session's token (and its own origin) goes through.
  EXPECT_EQ(
      post({{"Cookie", session.cookie}, {"Origin", ui.url}, {"Sec-Fetch-Site", "same-origin"}},
           one + "&csrf=" + session.csrf + "&back=/resources"),
      303);
  EXPECT_EQ(state_of("deg-1"), "scheduled");
}

TEST_F(ui_pgtest, WithATokenNoPageIsServedWithoutIt) {
  auto ui = start_ui({"--token", "t0ken"});
  httplib::Client client("127.0.0.1", ui.port);
  for (const auto* path : {"/", "/resources", "/resource?kind=thing&id=x", "/controllers",
                           "/queues", "/jobs", "/job?id=1"}) {
    SCOPED_TRACE(path);
    const auto bare = client.Get(path);
    ASSERT_TRUE(bare);
    EXPECT_EQ(bare->status, 401);
    EXPECT_EQ(bare->body.find("<table"), std::string::npos);
    const auto wrong = client.Get(path, {{"Authorization", "Bearer t0ke"}});
    EXPECT_EQ(wrong->status, 401);
    const auto right = client.Get(path, {{"Authorization", "Bearer t0ken"}});
    EXPECT_NE(right->status, 401);
  }
  const auto post =
      client.Post("/resources/retry", "kind=thing&id=x", "application/x-www-form-urlencoded");
  EXPECT_EQ(post->status, 401);
}

TEST_F(ui_pgtest, BadInputUnknownPathsAndDatabaseErrorsGetPagesAndTheServerGoesOn) {
  insert_resource("a", "synced");
  auto ui = start_ui();
  httplib::Client client("127.0.0.1", ui.port);
  const auto get = [&](const std::string& path) { return client.Get(path.c_str()); };
  auto res = get("/resources?state=bogus");
  EXPECT_EQ(res->status, 400);
  EXPECT_NE(res->body.find("&quot;bogus&quot; is not a resource state"), std::string::npos);
  EXPECT_EQ(get("/resources?limit=0")->status, 400);
  EXPECT_EQ(get("/resources?kind=Not%20A%20Kind")->status, 400);
  EXPECT_EQ(get("/resources?colour=red")->status, 400);
  EXPECT_EQ(get("/resources?cursor=nope")->status, 400);
  EXPECT_EQ(get("/job?id=-3")->status, 400);
  EXPECT_EQ(get("/job?id=999999")->status, 404);
  EXPECT_EQ(get("/resource?kind=thing&id=missing")->status, 404);
  EXPECT_EQ(get("/no/such/page")->status, 404);
  EXPECT_EQ(client.Delete("/resources")->status, 405);
  EXPECT_EQ(client.Put("/", "", "text/plain")->status, 405);
  EXPECT_EQ(get("/resources/retry")->status, 405);
  // Security headers on every answer, error pages too.
  for (const auto* path : {"/", "/nothing"}) {
    res = get(path);
    EXPECT_NE(res->get_header_value("Content-Security-Policy").find("frame-ancestors 'none'"),
              std::string::npos);
    EXPECT_EQ(res->get_header_value("Content-Security-Policy").find("http"), std::string::npos);
    EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff");
  }
  // A name other than loopback's is refused (a page elsewhere resolving its name here).
  EXPECT_EQ(client.Get("/", {{"Host", "evil.example"}})->status, 421);

  // The table gone: an error page, then pages again once it is back.
  pool().exec(sql("ALTER TABLE {s}.delta_resource RENAME TO delta_resource_away"));
  res = get("/resources");
  EXPECT_EQ(res->status, 503);
  EXPECT_NE(res->body.find("The database did not answer"), std::string::npos);
  pool().exec(sql("ALTER TABLE {s}.delta_resource_away RENAME TO delta_resource"));
  EXPECT_EQ(get("/resources")->status, 200);
  EXPECT_TRUE(ui.process->running());
}

}  // namespace
}  // namespace delta::testing
