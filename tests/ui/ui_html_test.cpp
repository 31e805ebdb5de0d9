// The dashboard without a database: escaping, links, the SVG charts, the CSRF and login
// checks, the filters' parsing, and that pages render user data as text and leave every
// action out when read-only.
#include <regex>

#include <gtest/gtest.h>

#include "ui/html.hpp"
#include "ui/pages.hpp"
#include "ui/query.hpp"
#include "ui/session.hpp"

namespace {

using namespace delta_ui;

std::size_t count_of(const std::string& text, const std::string& part) {
  std::size_t count = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1))
    ++count;
  return count;
}

TEST(ui_html_test, EscapingLeavesNoMarkupInHostileText) {
  EXPECT_EQ(html::escape("<img src=x onerror=alert(1)>"), "&lt;img src=x onerror=alert(1)&gt;");
  EXPECT_EQ(html::escape(R"(" onmouseover='x' a&b)"), "&quot; onmouseover=&#39;x&#39; a&amp;b");
  EXPECT_EQ(html::escape("</script><script>alert(1)</script>"),
            "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;");
  EXPECT_EQ(html::escape("plain ü 日本"), "plain ü 日本");
  EXPECT_EQ(html::escape(""), "");
  for (const char* hostile : {"<", ">", "\"", "'"}) {
    EXPECT_EQ(html::escape(std::string("a") + hostile + "b").find(hostile), std::string::npos);
  }
}

TEST(ui_html_test, LinksEncodeEveryReservedCharacter) {
  EXPECT_EQ(html::url_encode("a b&c=d/é<"), "a%20b%26c%3Dd%2F%C3%A9%3C");
  EXPECT_EQ(html::url_encode("Az09-_.~"), "Az09-_.~");
  EXPECT_EQ(html::link("/resources", {{"kind", "user"}, {"state", ""}, {"id", "a&b"}}),
            "/resources?kind=user&id=a%26b");
  EXPECT_EQ(html::link("/resources", {{"kind", ""}}), "/resources");
}

TEST(ui_html_test, TheAxisTopIsOneTwoOrFiveTimesAPowerOfTen) {
  EXPECT_EQ(html::nice_ceiling(0), 1);
  EXPECT_EQ(html::nice_ceiling(1), 1);
  EXPECT_EQ(html::nice_ceiling(3), 5);
  EXPECT_EQ(html::nice_ceiling(7), 10);
  EXPECT_EQ(html::nice_ceiling(11), 20);
  EXPECT_EQ(html::nice_ceiling(200), 200);
  EXPECT_EQ(html::nice_ceiling(201), 500);
  EXPECT_EQ(html::nice_ceiling(123456), 200000);
}

TEST(ui_html_test, TheBarChartDrawsABarPerNonZeroValueToScale) {
  html::BarChart chart;
  chart.title = "t <x>";
  chart.width = 144;   // a plot 96 wide: 24 per slot
  chart.height = 140;  // a plot 100 high
  chart.slots = {"12:00", "12:01", "12:02", "12:03"};
  chart.axis_ticks = {"12:00", "", "", "12:03"};
  chart.series = {{"synced", "#2e7d32", {10, 0, 5, 20}}, {"failed", "#c62828", {0, 2, 0}}};
  const auto svg = html::bar_chart(chart);
  EXPECT_TRUE(svg.starts_with("<svg"));
  EXPECT_TRUE(svg.ends_with("</svg>"));
  EXPECT_NE(svg.find(R"(aria-label="t &lt;x&gt;")"), std::string::npos);
  EXPECT_EQ(count_of(svg, "<rect class=\"bar\""), 4u);  // 10, 5, 20 synced; 2 failed
  EXPECT_NE(svg.find("synced (35)"), std::string::npos);
  EXPECT_NE(svg.find("failed (2)"), std::string::npos);
  EXPECT_NE(svg.find(">20</text>"), std::string::npos);  // the axis' top
  // 20 of 20 fills the plot (100 high, from y 22), 10 half of it, 2 a tenth.
  EXPECT_NE(
      svg.find(R"(y="22.0" width="11.5" height="100.0" fill="#2e7d32"><title>12:03: 20 synced)"),
      std::string::npos)
      << svg;
  EXPECT_NE(svg.find(R"(height="50.0" fill="#2e7d32"><title>12:00: 10 synced)"), std::string::npos);
  EXPECT_NE(svg.find(R"(height="10.0" fill="#c62828"><title>12:01: 2 failed)"), std::string::npos);
  EXPECT_EQ(count_of(svg, "text-anchor=\"middle\""), 2u);  // the two ticks
}

TEST(ui_html_test, AnEmptyChartHasItsAxisAndNoBar) {
  html::BarChart chart;
  chart.slots = {"a", "b"};
  chart.series = {{"synced", "#000", {0, 0}}};
  const auto svg = html::bar_chart(chart);
  EXPECT_EQ(count_of(svg, "class=\"bar\""), 0u);
  EXPECT_NE(svg.find(">1</text>"), std::string::npos);
  EXPECT_NE(svg.find("synced (0)"), std::string::npos);
}

TEST(ui_html_test, AStackedBarSplitsItsWidthByValue) {
  const auto svg =
      html::stacked_bar({{"synced", "#0f0", 3}, {"failed", "#f00", 1}, {"x", "#00f", 0}}, 200, 10);
  EXPECT_NE(svg.find(R"(x="0.00" y="0" width="150.00" height="10" fill="#0f0"><title>synced: 3)"),
            std::string::npos)
      << svg;
  EXPECT_NE(svg.find(R"(x="150.00" y="0" width="50.00")"), std::string::npos);
  EXPECT_EQ(svg.find("<title>x:"), std::string::npos);
}

TEST(ui_html_test, ACsrfTokenIsValidForItsOwnSessionOnly) {
  const Sessions sessions("key-one");
  const auto token = sessions.csrf_token("session-a");
  EXPECT_EQ(token.size(), 64u);
  EXPECT_TRUE(sessions.csrf_valid("session-a", token));
  EXPECT_FALSE(sessions.csrf_valid("session-b", token));
  EXPECT_FALSE(sessions.csrf_valid("session-a", token.substr(0, 63)));
  EXPECT_FALSE(sessions.csrf_valid("session-a", ""));
  EXPECT_FALSE(sessions.csrf_valid("", sessions.csrf_token("")));
  auto altered = token;
  altered[10] = altered[10] == 'a' ? 'b' : 'a';
  EXPECT_FALSE(sessions.csrf_valid("session-a", altered));
  // Another server (another key) does not accept it.
  EXPECT_FALSE(Sessions("key-two").csrf_valid("session-a", token));
  EXPECT_NE(random_hex(), random_hex());
  EXPECT_EQ(random_hex().size(), 64u);
}

TEST(ui_html_test, WithAnAccessTokenOnlyItOrTheLoginCookieAuthorizes) {
  const Sessions open("k");
  EXPECT_TRUE(open.authorized("", ""));
  const Sessions locked("k", "s3cret");
  EXPECT_FALSE(locked.authorized("", ""));
  EXPECT_TRUE(locked.authorized("Bearer s3cret", ""));
  EXPECT_FALSE(locked.authorized("Bearer s3cre", ""));
  EXPECT_FALSE(locked.authorized("Basic s3cret", ""));
  EXPECT_FALSE(locked.token_valid(""));
  const auto cookie = std::string(kLoginCookie) + "=" + locked.login_cookie_value();
  EXPECT_TRUE(locked.authorized("", "a=b; " + cookie + "; c=d"));
  EXPECT_FALSE(locked.authorized("", std::string(kLoginCookie) + "=x"));
  EXPECT_FALSE(Sessions("other", "s3cret").authorized("", cookie));
}

TEST(ui_html_test, CookiesOriginsHostsAndRedirects) {
  EXPECT_EQ(cookie_value("a=1; delta_session=abc ; b=2", "delta_session"), "abc");
  EXPECT_EQ(cookie_value("xdelta_session=abc", "delta_session"), "");
  EXPECT_EQ(set_cookie("n", "v"), "n=v; Path=/; HttpOnly; SameSite=Strict");
  EXPECT_EQ(set_cookie("n", "", 0), "n=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");

  EXPECT_EQ(cross_site_problem("", "", "127.0.0.1:8080"), "");
  EXPECT_EQ(cross_site_problem("http://127.0.0.1:8080", "same-origin", "127.0.0.1:8080"), "");
  EXPECT_NE(cross_site_problem("http://evil.example", "", "127.0.0.1:8080"), "");
  EXPECT_NE(cross_site_problem("http://127.0.0.1:9090", "", "127.0.0.1:8080"), "");
  EXPECT_NE(cross_site_problem("", "cross-site", "127.0.0.1:8080"), "");
  EXPECT_NE(cross_site_problem("", "same-site", "127.0.0.1:8080"), "");

  for (const char* host : {"localhost", "localhost:8080", "127.0.0.1:1", "[::1]:80", "[::1]"})
    EXPECT_TRUE(loopback_host(host)) << host;
  for (const char* host : {"evil.example", "127.0.0.1.evil.example:80", "", "[::2]:80", "[::1]x"})
    EXPECT_FALSE(loopback_host(host)) << host;

  EXPECT_EQ(local_target("/resources?kind=a"), "/resources?kind=a");
  for (const char* target :
       {"//evil.example/", "https://evil.example/", "/\\evil", "", "x", "/a\r\nSet-Cookie: x=y"})
    EXPECT_EQ(local_target(target), "/") << target;
}

TEST(ui_html_test, FiltersParseLikeTheCommandsOptionsAndBadOnesSayWhy) {
  const Fields fields{{"kind", "user, order"}, {"kind", "invoice"}, {"state", "degraded"},
                      {"limit", "20"},         {"order", "oldest"}, {"id_prefix", "bob"}};
  const auto query = parse_resource_query(fields, 50);
  EXPECT_EQ(query.kinds, (std::vector<std::string>{"user", "order", "invoice"}));
  EXPECT_EQ(query.limit, 20);
  EXPECT_TRUE(query.oldest_first);
  EXPECT_TRUE(query.filtered());
  EXPECT_EQ(query.filter().states,
            std::vector<delta::ResourceState>{delta::ResourceState::degraded});
  EXPECT_EQ(
      html::link("/resources", query.params()),
      "/resources?kind=user%2Corder%2Cinvoice&state=degraded&id_prefix=bob&limit=20&order=oldest");
  EXPECT_EQ(parse_resource_query({}, 50).limit, 50);
  EXPECT_FALSE(parse_resource_query({}, 50).filtered());

  const auto problem = [](const Fields& bad) {
    try {
      parse_resource_query(bad, 50);
    } catch (const BadRequest& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(problem({{"state", "bogus"}}),
            "state: \"bogus\" is not a resource state (one of scheduled, pending, synced, "
            "failed, degraded, expired, deleted)");
  EXPECT_EQ(problem({{"limit", "0"}}), "limit: \"0\" is not a whole number from 1 to 1000");
  EXPECT_EQ(problem({{"limit", "12x"}}), "limit: \"12x\" is not a whole number from 1 to 1000");
  EXPECT_EQ(problem({{"order", "up"}}), "order: \"up\" is neither newest nor oldest");
  EXPECT_EQ(problem({{"colour", "red"}}), "unknown field \"colour\"");
  EXPECT_EQ(problem({{"cursor", "1"}, {"cursor", "2"}}), "cursor: given more than once");
  EXPECT_THROW(parse_job_query({{"state", "synced"}}, 50), BadRequest);
  EXPECT_EQ(parse_job_query({{"state", "discarded"}}, 50).filter().states,
            std::vector<delta::jobs::JobState>{delta::jobs::JobState::discarded});
}

delta::ResourceRow hostile_row() {
  delta::ResourceRow row;
  row.id = 7;
  row.kind = "thing";
  row.object_id = "<img src=x onerror=alert(1)>";
  row.namespace_name = "default";
  row.state = delta::ResourceState::degraded;
  row.object = {{"name", "<script>alert(2)</script>"}};
  row.metadata = nlohmann::json::object();
  row.tags = {"<b>tag</b>"};
  row.errors = {
      {.attempt = 1, .at = delta::now(), .error = "<svg onload=alert(3)>", .type = "retry"}};
  return row;
}

TEST(ui_html_test, PagesShowUserDataAsTextOnly) {
  PageContext ctx;
  ctx.self = "/resource?kind=thing&id=%3Cimg";
  ctx.csrf_token = "tok";
  ctx.notice = "<i>done</i>";
  ctx.now = delta::now();
  const auto row = hostile_row();
  for (const auto& page :
       {resource_page(ctx, row), resources_page(ctx, {}, {.rows = {row}, .next_cursor = "7"}, 1)}) {
    EXPECT_EQ(page.find("<img"), std::string::npos);
    EXPECT_EQ(page.find("<script>alert"), std::string::npos);
    EXPECT_EQ(page.find("<svg onload"), std::string::npos);
    EXPECT_EQ(page.find("<b>tag"), std::string::npos);
    EXPECT_EQ(page.find("<i>done"), std::string::npos);
    // One script only: the dashboard's own, from this server.
    EXPECT_EQ(count_of(page, "<script"), 1u);
    EXPECT_NE(page.find(R"(<script src="/static/ui.js" defer></script>)"), std::string::npos);
  }
  EXPECT_NE(resource_page(ctx, row).find("&lt;svg onload=alert(3)&gt;"), std::string::npos);
}

TEST(ui_html_test, ActionsCarryTheTokenAndAreLeftOutWhenReadOnly) {
  PageContext ctx;
  ctx.csrf_token = "0123abcd";
  ctx.self = "/resources";
  ctx.now = delta::now();
  const auto row = hostile_row();
  const auto page = resource_page(ctx, row);
  EXPECT_GE(count_of(page, "<form method=\"post\""), 2u);  // retry, delete
  EXPECT_EQ(count_of(page, "<form method=\"post\""),
            count_of(page, R"(<input type="hidden" name="csrf" value="0123abcd">)"));
  ctx.read_only = true;
  for (const auto& read_only_page :
       {resource_page(ctx, row), resources_page(ctx, {}, {.rows = {row}, .next_cursor = {}}, 1),
        controllers_page(ctx, {{.kind = "thing"}}), queues_page(ctx, {{.name = "q"}})}) {
    EXPECT_EQ(read_only_page.find("method=\"post\""), std::string::npos);
    EXPECT_EQ(read_only_page.find("csrf"), std::string::npos);
    EXPECT_EQ(read_only_page.find("<button type=\"submit\" class=\"act"), std::string::npos);
  }
}

}  // namespace
