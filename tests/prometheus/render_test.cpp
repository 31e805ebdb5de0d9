// render(): delta's snapshot in the text format, checked by a strict reader of the format
// (tests/prometheus/exposition.hpp), and the reader itself on text it must refuse.
#include <gtest/gtest.h>

#include <delta/prometheus.hpp>

#include "prometheus/exposition.hpp"

namespace {

using delta::MetricFamily;
using delta::MetricType;
using delta::testing::parse_exposition;

std::vector<MetricFamily> sample_families() {
  return {
      {.name = "delta_reconcile_total",
       .help = "Attempts.",
       .type = MetricType::counter,
       .label_names = {"kind", "result"},
       .samples = {{.labels = {{"kind", "user"}, {"result", "synced"}}, .value = 12},
                   {.labels = {{"kind", "quote\"back\\slash\nline"}, {"result", "retry"}},
                    .value = 3}}},
      {.name = "delta_is_leader",
       .help = "Leader.",
       .type = MetricType::gauge,
       .samples = {{.value = 1}}},
      {.name = "delta_reconcile_duration_seconds",
       .help = "How long.",
       .type = MetricType::histogram,
       .label_names = {"kind"},
       .buckets = {0.1, 1, 10},
       .samples =
           {{.labels = {{"kind", "user"}}, .bucket_counts = {2, 5, 6}, .sum = 9.5, .count = 7}}},
  };
}

TEST(render_test, TheTextPassesAStrictReaderAndSaysWhatTheSnapshotSays) {
  const std::string text = delta::prometheus::render(sample_families());
  const auto parsed = parse_exposition(text);
  ASSERT_EQ(parsed.error, "") << text;
  EXPECT_EQ(parsed.families.at("delta_reconcile_total").type, "counter");
  EXPECT_EQ(parsed.families.at("delta_reconcile_total").help, "Attempts.");
  EXPECT_EQ(parsed.value("delta_reconcile_total", "delta_reconcile_total",
                         {{"kind", "user"}, {"result", "synced"}}),
            12);
  // Label values are escaped and come back as they were.
  EXPECT_EQ(parsed.value("delta_reconcile_total", "delta_reconcile_total",
                         {{"kind", "quote\"back\\slash\nline"}}),
            3)
      << text;
  EXPECT_EQ(parsed.value("delta_is_leader", "delta_is_leader"), 1);
  const std::string h = "delta_reconcile_duration_seconds";
  EXPECT_EQ(parsed.value(h, h + "_bucket", {{"le", "0.1"}}), 2) << text;
  EXPECT_EQ(parsed.value(h, h + "_bucket", {{"le", "10"}}), 6) << text;
  EXPECT_EQ(parsed.value(h, h + "_bucket", {{"le", "+Inf"}}), 7) << text;
  EXPECT_EQ(parsed.value(h, h + "_count"), 7);
  EXPECT_EQ(parsed.value(h, h + "_sum"), 9.5);
  int inf_buckets = 0;
  for (const auto& sample : parsed.families.at(h).samples)
    inf_buckets += sample.labels.count("le") && sample.labels.at("le") == "+Inf";
  EXPECT_EQ(inf_buckets, 1) << "exactly one +Inf bucket: " << text;
}

TEST(render_test, NoFamiliesIsAnEmptyText) {
  const auto parsed = parse_exposition(delta::prometheus::render({}));
  EXPECT_EQ(parsed.error, "");
  EXPECT_TRUE(parsed.families.empty());
}

TEST(render_test, TheReaderRefusesBrokenText) {
  const char* broken[] = {
      "x 1\n",                                            // no TYPE
      "# TYPE x counter\nx -1\n",                         // negative counter
      "# TYPE x counter\nx{a=\"b} 1\n",                   // unterminated
      "# TYPE x counter\nx{a=\"\\q\"} 1\n",               // bad escape
      "# TYPE x gauge\nx one\n",                          // bad value
      "# TYPE x gauge\n# TYPE y gauge\nx 1\ny 1\nx 2\n",  // not together
      "# TYPE x gauge\nx 1",                              // no final newline
      "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 0\n",
      "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\nh_sum 0\n",  // no +Inf
      "# TYPE 1x gauge\n",                                               // bad name
  };
  for (const char* text : broken)
    EXPECT_NE(parse_exposition(text).error, "") << text;
}

}  // namespace
