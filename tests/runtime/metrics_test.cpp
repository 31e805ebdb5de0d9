// The metrics registry without a database: counting from many threads, histogram buckets,
// label handling, collectors and the order of a snapshot.
#include "runtime/metrics.hpp"

#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/invariant.hpp"

namespace {

using delta::MetricFamily;
using delta::MetricType;
using delta::runtime::Metrics;

const MetricFamily* find(const std::vector<MetricFamily>& families, std::string_view name) {
  for (const auto& family : families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

TEST(metrics_test, CountersFromManyThreadsAddUpExactly) {
  Metrics metrics;
  auto& counter = metrics.counter("delta_test_total", "help", {"kind"}, {"a"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100000; ++i)
        counter.add();
    });
  }
  for (auto& thread : threads)
    thread.join();
  EXPECT_EQ(counter.value(), 800000u);
  const auto snapshot = metrics.snapshot();
  const auto* family = find(snapshot, "delta_test_total");
  ASSERT_NE(family, nullptr);
  EXPECT_EQ(family->type, MetricType::counter);
  ASSERT_EQ(family->samples.size(), 1u);
  EXPECT_EQ(family->samples[0].value, 800000);
  EXPECT_EQ(family->samples[0].labels,
            (std::vector<std::pair<std::string, std::string>>{{"kind", "a"}}));
}

TEST(metrics_test, TheSameLabelsAreTheSameSeries) {
  Metrics metrics;
  auto& a = metrics.counter("delta_x_total", "help", {"kind", "result"}, {"a", "ok"});
  auto& again = metrics.counter("delta_x_total", "help", {"kind", "result"}, {"a", "ok"});
  auto& b = metrics.counter("delta_x_total", "help", {"kind", "result"}, {"b", "ok"});
  EXPECT_EQ(&a, &again);
  EXPECT_NE(&a, &b);
  a.add(2);
  b.add(5);
  const auto snapshot = metrics.snapshot();
  const auto* family = find(snapshot, "delta_x_total");
  ASSERT_NE(family, nullptr);
  ASSERT_EQ(family->samples.size(), 2u);
  EXPECT_EQ(family->samples[0].labels[0].second, "a") << "series sorted by label values";
  EXPECT_EQ(family->samples[0].value, 2);
  EXPECT_EQ(family->samples[1].value, 5);
}

TEST(metrics_test, AFamilyRegisteredAgainDifferentlyIsABug) {
  Metrics metrics;
  metrics.counter("delta_y_total", "help", {"kind"}, {"a"});
  EXPECT_THROW(metrics.gauge("delta_y_total", "help", {"kind"}, {"a"}),
               delta::internal::InvariantError);
  EXPECT_THROW(metrics.counter("delta_y_total", "help", {"queue"}, {"a"}),
               delta::internal::InvariantError);
  EXPECT_THROW(metrics.counter("delta_y_total", "help", {"kind"}, {}),
               delta::internal::InvariantError);
}

TEST(metrics_test, HistogramBucketsAreCumulativeAndInclusive) {
  Metrics metrics;
  const std::vector<double> bounds{1, 2, 4};
  auto& histogram = metrics.histogram("delta_h", "help", bounds, {});
  for (double value : {0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 100.0})
    histogram.observe(value);
  const auto snapshot = metrics.snapshot();
  const auto* family = find(snapshot, "delta_h");
  ASSERT_NE(family, nullptr);
  EXPECT_EQ(family->type, MetricType::histogram);
  EXPECT_EQ(family->buckets, bounds);
  ASSERT_EQ(family->samples.size(), 1u);
  const auto& sample = family->samples[0];
  // le=1: 0.5, 1.0; le=2: + 1.5, 2.0; le=4: + 3.0, 4.0; +Inf: + 100.
  EXPECT_EQ(sample.bucket_counts, (std::vector<std::uint64_t>{2, 4, 6}));
  EXPECT_EQ(sample.count, 7u);
  EXPECT_DOUBLE_EQ(sample.sum, 112.0);
}

TEST(metrics_test, GaugesGoUpAndDown) {
  Metrics metrics;
  auto& gauge = metrics.gauge("delta_g", "help", {});
  gauge.add(3);
  gauge.add(-1);
  EXPECT_EQ(gauge.value(), 2);
  gauge.set(-7.5);
  const auto snapshot = metrics.snapshot();
  ASSERT_NE(find(snapshot, "delta_g"), nullptr);
  EXPECT_EQ(find(snapshot, "delta_g")->samples.at(0).value, -7.5);
}

TEST(metrics_test, CollectorsAddFamiliesAndTheSnapshotIsSortedByName) {
  Metrics metrics;
  metrics.counter("delta_b_total", "help", {});
  int calls = 0;
  metrics.add_collector([&](std::vector<MetricFamily>& out) {
    ++calls;
    out.push_back(
        {.name = "delta_a", .help = "h", .type = MetricType::gauge, .samples = {{.value = 1}}});
  });
  const auto snapshot = metrics.snapshot();
  EXPECT_EQ(calls, 1);
  ASSERT_EQ(snapshot.size(), 2u);
  EXPECT_EQ(snapshot[0].name, "delta_a");
  EXPECT_EQ(snapshot[1].name, "delta_b_total");
  metrics.snapshot();
  EXPECT_EQ(calls, 2) << "collected on every snapshot";
}

}  // namespace
