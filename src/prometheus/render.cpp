// render(): delta's metric snapshot handed to prometheus-cpp's text serializer.
#include <limits>

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <delta/prometheus.hpp>

namespace delta::prometheus {

namespace {

::prometheus::MetricType type_of(MetricType type) {
  switch (type) {
    case MetricType::counter:
      return ::prometheus::MetricType::Counter;
    case MetricType::gauge:
      return ::prometheus::MetricType::Gauge;
    case MetricType::histogram:
      return ::prometheus::MetricType::Histogram;
  }
  return ::prometheus::MetricType::Untyped;
}

::prometheus::ClientMetric metric_of(const MetricFamily& family, const MetricSample& sample) {
  ::prometheus::ClientMetric metric;
  for (const auto& [name, value] : sample.labels)
    metric.label.push_back({name, value});
  switch (family.type) {
    case MetricType::counter:
      metric.counter.value = sample.value;
      break;
    case MetricType::gauge:
      metric.gauge.value = sample.value;
      break;
    case MetricType::histogram:
      metric.histogram.sample_count = sample.count;
      metric.histogram.sample_sum = sample.sum;
      for (std::size_t i = 0; i < family.buckets.size() && i < sample.bucket_counts.size(); ++i)
        metric.histogram.bucket.push_back({sample.bucket_counts[i], family.buckets[i]});
      metric.histogram.bucket.push_back({sample.count, std::numeric_limits<double>::infinity()});
      break;
  }
  return metric;
}

}  // namespace

std::string render(const std::vector<MetricFamily>& families) {
  std::vector<::prometheus::MetricFamily> converted;
  converted.reserve(families.size());
  for (const auto& family : families) {
    ::prometheus::MetricFamily out;
    out.name = family.name;
    out.help = family.help;
    out.type = type_of(family.type);
    for (const auto& sample : family.samples)
      out.metric.push_back(metric_of(family, sample));
    converted.push_back(std::move(out));
  }
  return ::prometheus::TextSerializer().Serialize(converted);
}

}  // namespace delta::prometheus
