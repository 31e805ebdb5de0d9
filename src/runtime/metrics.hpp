// The metrics registry of one client process. Families are created, and their series
// found, under a lock when an engine starts (or, for a label value first seen at run
// time, once per value); the hot paths then hold a reference to their series and count
// with one relaxed atomic operation, without a lock. snapshot() reads every series and
// asks the collectors for the values computed on demand (pool, leader, work in flight).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <delta/metrics.hpp>

namespace delta::runtime {

class Counter {
 public:
  void add(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double value) noexcept { value_.store(value, std::memory_order_relaxed); }
  void add(double delta) noexcept { value_.fetch_add(delta, std::memory_order_relaxed); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(const std::vector<double>& bounds);
  void observe(double value) noexcept;
  // Cumulative counts per bound, the sum and the count (a concurrent observe() may be
  // seen in some of them and not yet in others).
  void read(MetricSample& sample) const;

 private:
  const std::vector<double>& bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // per bound, then +Inf
  std::atomic<double> sum_{0};
};

// Label values in the order of the family's label names.
using LabelValues = std::vector<std::string>;

// Bucket bounds (seconds) for durations from a millisecond to a minute.
const std::vector<double>& duration_buckets();
// Bucket bounds for batch sizes, 1 to 1,024 in powers of two.
const std::vector<double>& size_buckets();

class Metrics {
 public:
  // The series of family `name` with `label_values`, created on first use; a family is
  // created by its first call, later calls must give the same help, labels and bounds.
  Counter& counter(std::string_view name, std::string_view help,
                   std::initializer_list<std::string_view> label_names,
                   const LabelValues& label_values = {});
  Gauge& gauge(std::string_view name, std::string_view help,
               std::initializer_list<std::string_view> label_names,
               const LabelValues& label_values = {});
  Histogram& histogram(std::string_view name, std::string_view help,
                       const std::vector<double>& bounds,
                       std::initializer_list<std::string_view> label_names,
                       const LabelValues& label_values = {});

  // Adds families computed at snapshot time (called without the registry's lock, from
  // the thread taking the snapshot; must be thread-safe and must not block for long).
  void add_collector(std::function<void(std::vector<MetricFamily>&)> collector);

  // Every family, sorted by name, each series sorted by its label values.
  std::vector<MetricFamily> snapshot() const;

 private:
  struct Series {
    LabelValues labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    std::string help;
    MetricType type = MetricType::counter;
    std::vector<std::string> label_names;
    std::vector<double> bounds;
    std::map<LabelValues, Series> series;
  };
  Series& series(std::string_view name, std::string_view help, MetricType type,
                 std::initializer_list<std::string_view> label_names,
                 const LabelValues& label_values, const std::vector<double>* bounds);

  mutable std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;                      // guarded by mutex_
  std::vector<std::function<void(std::vector<MetricFamily>&)>> collectors_;  // guarded
};

}  // namespace delta::runtime
