#include "runtime/metrics.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "common/invariant.hpp"

namespace delta {

std::string_view to_string(MetricType type) noexcept {
  switch (type) {
    case MetricType::counter:
      return "counter";
    case MetricType::gauge:
      return "gauge";
    case MetricType::histogram:
      return "histogram";
  }
  return "unknown";
}

}  // namespace delta

namespace delta::runtime {

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds), buckets_(new std::atomic<std::uint64_t>[bounds.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i)
    buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double value) noexcept {
  const auto bucket = static_cast<std::size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

void Histogram::read(MetricSample& sample) const {
  sample.bucket_counts.clear();
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    sample.bucket_counts.push_back(cumulative);
  }
  sample.count = cumulative + buckets_[bounds_.size()].load(std::memory_order_relaxed);
  sample.sum = sum_.load(std::memory_order_relaxed);
}

const std::vector<double>& duration_buckets() {
  static const std::vector<double> bounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                          0.5,   1,      2.5,   5,    10,    30,   60};
  return bounds;
}

const std::vector<double>& size_buckets() {
  static const std::vector<double> bounds{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
  return bounds;
}

Metrics::Series& Metrics::series(std::string_view name, std::string_view help, MetricType type,
                                 std::initializer_list<std::string_view> label_names,
                                 const LabelValues& label_values,
                                 const std::vector<double>* bounds) {
  if (label_names.size() != label_values.size()) {
    internal::check_invariant(false, fmt::format("metric {}: {} label names for {} values", name,
                                                 label_names.size(), label_values.size()));
  }
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end()) {
    Family family;
    family.help = std::string(help);
    family.type = type;
    family.label_names.assign(label_names.begin(), label_names.end());
    if (bounds) family.bounds = *bounds;
    it = families_.emplace(std::string(name), std::move(family)).first;
  }
  Family& family = it->second;
  if (family.type != type || !std::equal(family.label_names.begin(), family.label_names.end(),
                                         label_names.begin(), label_names.end())) {
    internal::check_invariant(
        false, fmt::format("metric {} registered twice with different types or labels", name));
  }
  auto [found, inserted] = family.series.try_emplace(label_values);
  Series& series = found->second;
  if (inserted) {
    series.labels = label_values;
    switch (type) {
      case MetricType::counter:
        series.counter = std::make_unique<Counter>();
        break;
      case MetricType::gauge:
        series.gauge = std::make_unique<Gauge>();
        break;
      case MetricType::histogram:
        series.histogram = std::make_unique<Histogram>(family.bounds);
        break;
    }
  }
  return series;
}

Counter& Metrics::counter(std::string_view name, std::string_view help,
                          std::initializer_list<std::string_view> label_names,
                          const LabelValues& label_values) {
  return *series(name, help, MetricType::counter, label_names, label_values, nullptr).counter;
}

Gauge& Metrics::gauge(std::string_view name, std::string_view help,
                      std::initializer_list<std::string_view> label_names,
                      const LabelValues& label_values) {
  return *series(name, help, MetricType::gauge, label_names, label_values, nullptr).gauge;
}

Histogram& Metrics::histogram(std::string_view name, std::string_view help,
                              const std::vector<double>& bounds,
                              std::initializer_list<std::string_view> label_names,
                              const LabelValues& label_values) {
  return *series(name, help, MetricType::histogram, label_names, label_values, &bounds).histogram;
}

void Metrics::add_collector(std::function<void(std::vector<MetricFamily>&)> collector) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(collector));
}

std::vector<MetricFamily> Metrics::snapshot() const {
  std::vector<MetricFamily> out;
  std::vector<std::function<void(std::vector<MetricFamily>&)>> collectors;
  {
    std::lock_guard lock(mutex_);
    collectors = collectors_;
    for (const auto& [name, family] : families_) {
      MetricFamily snapshot{.name = name,
                            .help = family.help,
                            .type = family.type,
                            .label_names = family.label_names,
                            .buckets = family.bounds};
      for (const auto& [values, series] : family.series) {
        MetricSample sample;
        for (std::size_t i = 0; i < values.size(); ++i)
          sample.labels.emplace_back(family.label_names[i], values[i]);
        if (series.counter) sample.value = static_cast<double>(series.counter->value());
        if (series.gauge) sample.value = series.gauge->value();
        if (series.histogram) series.histogram->read(sample);
        snapshot.samples.push_back(std::move(sample));
      }
      out.push_back(std::move(snapshot));
    }
  }
  for (const auto& collect : collectors)
    collect(out);
  std::sort(out.begin(), out.end(),
            [](const MetricFamily& a, const MetricFamily& b) { return a.name < b.name; });
  return out;
}

}  // namespace delta::runtime
