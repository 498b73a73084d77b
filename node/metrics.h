// Counters, histograms and throughput windows for /stats and /metrics, and the one writer of
// the Prometheus text every /metrics family goes through (PrometheusWriter).
//
// Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): every family has # HELP and
// # TYPE lines, label values are escaped (\\, \", \n), histograms have cumulative _bucket
// series ending in le="+Inf" plus _sum and _count. Output is accepted by
// `promtool check metrics`.
//
// Thread-safe: counters and histogram buckets are relaxed atomics; label maps are guarded by a
// shared mutex taken exclusively only when a new label set first appears. Label cardinality is
// bounded per family (kMaxSeries): later label sets are folded into one whose values are all
// "_other".
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shoal::node {

inline constexpr std::size_t kMaxSeries = 512;

// The labels of one sample, in the order added: name="value" pairs whose values are escaped
// (a backslash, a double quote and a newline become \\, \" and \n). Names are written as given
// (callers pass valid Prometheus label names).
class Labels {
 public:
  Labels() = default;
  Labels(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs);
  // names[i]="values[i]" for every i; both vectors have the same length.
  Labels(const std::vector<std::string>& names, const std::vector<std::string>& values);
  // Appends name="value".
  Labels& add(std::string_view name, std::string_view value);
  // "{a=\"x\",b=\"y\"}", or "" when there are no labels.
  std::string text() const;

 private:
  std::string pairs_;  // a="x",b="y"
};

// Appends Prometheus text to a string: a family's # HELP and # TYPE lines once, then its samples,
// one line each: NAME[SUFFIX][{LABELS}] VALUE. Values: whole numbers below 1e15 in magnitude in
// full ("1234"), others with 9 significant digits ("0.0125", "1.5e+20"), "+Inf", "-Inf", "NaN".
// Not thread-safe; one writer per output string.
class PrometheusWriter {
 public:
  explicit PrometheusWriter(std::string* out) : out_(out) {}

  // Starts a family: "# HELP NAME HELP" and "# TYPE NAME TYPE" (TYPE: counter, gauge or
  // histogram). A family may have no samples.
  void family(std::string_view name, std::string_view help, std::string_view type);
  // One sample of the family started last; `suffix` extends its name ("_bucket", "_sum").
  void sample(const Labels& labels, double value, std::string_view suffix = {});
  // A gauge family with one unlabelled sample.
  void gauge(std::string_view name, std::string_view help, double value);
  // A counter family with one unlabelled sample.
  void counter(std::string_view name, std::string_view help, double value);

 private:
  std::string* out_;
  std::string name_;
};

// A family of counters with a fixed list of label names.
class CounterFamily {
 public:
  CounterFamily(std::string name, std::string help, std::vector<std::string> label_names);
  // Adds `n` to the series with these label values (one per label name, in order).
  void add(const std::vector<std::string>& label_values, std::uint64_t n = 1);
  std::uint64_t value(const std::vector<std::string>& label_values) const;
  std::uint64_t total() const;
  // Every series' label values and count, in label order.
  std::vector<std::pair<std::vector<std::string>, std::uint64_t>> snapshot() const;
  // The family: HELP, TYPE and every series (in label order).
  void write(PrometheusWriter& out) const;

 private:
  std::atomic<std::uint64_t>* series(const std::vector<std::string>& values);
  std::string name_, help_;
  std::vector<std::string> label_names_;
  mutable std::shared_mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<std::atomic<std::uint64_t>>> series_;
};

// A family of histograms over fixed upper bounds (seconds), with labels.
class HistogramFamily {
 public:
  HistogramFamily(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> bounds);
  void observe(const std::vector<std::string>& label_values, double value);
  // The family: HELP, TYPE and every series (in label order).
  void write(PrometheusWriter& out) const;

 private:
  struct Series {
    explicit Series(std::size_t n) : buckets(n + 1) {}
    std::vector<std::atomic<std::uint64_t>> buckets;  // last one is +Inf
    std::atomic<std::uint64_t> count{0};
    std::atomic<double> sum{0};
  };
  Series* series(const std::vector<std::string>& values);
  std::string name_, help_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;
  mutable std::shared_mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Series>> series_;
};

// Bytes over the last 10 seconds, in one-second buckets; add() from any thread.
class ThroughputWindow {
 public:
  static constexpr int kSeconds = 10;
  void add(std::uint64_t bytes);
  // Average bits per second over the last kSeconds full seconds plus the current one.
  double bits_per_second() const;
  std::uint64_t total_bytes() const { return total_.load(std::memory_order_relaxed); }

 private:
  static std::int64_t now_second();
  struct Slot {
    std::atomic<std::int64_t> second{0};
    std::atomic<std::uint64_t> bytes{0};
  };
  std::array<Slot, kSeconds + 1> slots_;
  std::atomic<std::uint64_t> total_{0};
};

// Default latency bounds in seconds (1 ms .. 60 s).
std::vector<double> latency_bounds();

}  // namespace shoal::node
