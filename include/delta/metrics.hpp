// What a client counts while it runs: counters, gauges and histograms, read as a snapshot.
//
//   for (const auto& family : client.metrics()) { ... }
//
// The names and labels follow controller-runtime's (docs/observability.md lists them all):
// e.g. delta_reconcile_total{kind,namespace,result}, delta_jobs_total{queue,kind,result}.
// A snapshot is cheap (no database query) and safe to take from any thread at any time.
// The optional delta::prometheus library renders it in Prometheus's text format and
// serves it over HTTP with health endpoints.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <delta/export.hpp>

DELTA_PUBLIC_BEGIN

namespace delta {

enum class MetricType { counter, gauge, histogram };

// One series of a family: its label values and what it holds now.
struct MetricSample {
  // (label name, value) in the family's label order.
  std::vector<std::pair<std::string, std::string>> labels{};
  double value = 0;  // counter, gauge
  // Histogram: how many observations were <= each of MetricFamily::buckets (cumulative,
  // one per bound; the +Inf bucket is `count`), their sum and their count.
  std::vector<std::uint64_t> bucket_counts{};
  double sum = 0;
  std::uint64_t count = 0;
};

struct MetricFamily {
  std::string name{};
  std::string help{};
  MetricType type = MetricType::counter;
  std::vector<std::string> label_names{};
  std::vector<double> buckets{};  // histogram: the upper bounds, increasing
  std::vector<MetricSample> samples{};
};

std::string_view to_string(MetricType type) noexcept;

}  // namespace delta

DELTA_PUBLIC_END
