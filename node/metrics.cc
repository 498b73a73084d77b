#include "node/metrics.h"

#include <cmath>
#include <cstdio>
#include <mutex>

namespace shoal::node {
namespace {

std::string format_number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.9g", v);
  }
  return buf;
}

// `v` with a backslash, a double quote and a newline escaped.
std::string escape_label(std::string_view v) {
  std::string s;
  s.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\':
        s += "\\\\";
        break;
      case '"':
        s += "\\\"";
        break;
      case '\n':
        s += "\\n";
        break;
      default:
        s += c;
    }
  }
  return s;
}

}  // namespace

Labels::Labels(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs) {
  for (const auto& [name, value] : pairs) add(name, value);
}

Labels::Labels(const std::vector<std::string>& names, const std::vector<std::string>& values) {
  for (std::size_t i = 0; i < names.size(); ++i) add(names[i], values[i]);
}

Labels& Labels::add(std::string_view name, std::string_view value) {
  if (!pairs_.empty()) pairs_ += ',';
  pairs_ += name;
  pairs_ += "=\"";
  pairs_ += escape_label(value);
  pairs_ += '"';
  return *this;
}

std::string Labels::text() const {
  return pairs_.empty() ? pairs_ : "{" + pairs_ + "}";
}

void PrometheusWriter::family(std::string_view name, std::string_view help, std::string_view type) {
  name_ = name;
  *out_ += "# HELP " + name_ + " ";
  *out_ += help;
  *out_ += "\n# TYPE " + name_ + " ";
  *out_ += type;
  *out_ += '\n';
}

void PrometheusWriter::sample(const Labels& labels, double value, std::string_view suffix) {
  *out_ += name_;
  *out_ += suffix;
  *out_ += labels.text() + " " + format_number(value) + "\n";
}

void PrometheusWriter::gauge(std::string_view name, std::string_view help, double value) {
  family(name, help, "gauge");
  sample({}, value);
}

void PrometheusWriter::counter(std::string_view name, std::string_view help, double value) {
  family(name, help, "counter");
  sample({}, value);
}

CounterFamily::CounterFamily(std::string name, std::string help,
                             std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}

std::atomic<std::uint64_t>* CounterFamily::series(const std::vector<std::string>& values) {
  {
    std::shared_lock lock(mu_);
    auto it = series_.find(values);
    if (it != series_.end()) return it->second.get();
  }
  std::unique_lock lock(mu_);
  auto it = series_.find(values);
  if (it != series_.end()) return it->second.get();
  if (series_.size() >= kMaxSeries) {
    std::vector<std::string> other(label_names_.size(), "_other");
    auto& slot = series_[other];
    if (!slot) slot = std::make_unique<std::atomic<std::uint64_t>>(0);
    return slot.get();
  }
  auto& slot = series_[values];
  slot = std::make_unique<std::atomic<std::uint64_t>>(0);
  return slot.get();
}

void CounterFamily::add(const std::vector<std::string>& values, std::uint64_t n) {
  series(values)->fetch_add(n, std::memory_order_relaxed);
}

std::uint64_t CounterFamily::value(const std::vector<std::string>& values) const {
  std::shared_lock lock(mu_);
  auto it = series_.find(values);
  return it == series_.end() ? 0 : it->second->load(std::memory_order_relaxed);
}

std::vector<std::pair<std::vector<std::string>, std::uint64_t>> CounterFamily::snapshot() const {
  std::shared_lock lock(mu_);
  std::vector<std::pair<std::vector<std::string>, std::uint64_t>> out;
  for (const auto& [labels, v] : series_) out.emplace_back(labels, v->load());
  return out;
}

std::uint64_t CounterFamily::total() const {
  std::shared_lock lock(mu_);
  std::uint64_t t = 0;
  for (auto& [k, v] : series_) t += v->load(std::memory_order_relaxed);
  return t;
}

void CounterFamily::write(PrometheusWriter& out) const {
  out.family(name_, help_, "counter");
  std::shared_lock lock(mu_);
  for (auto& [values, v] : series_) {
    out.sample(Labels(label_names_, values),
               static_cast<double>(v->load(std::memory_order_relaxed)));
  }
}

HistogramFamily::HistogramFamily(std::string name, std::string help,
                                 std::vector<std::string> label_names, std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {}

HistogramFamily::Series* HistogramFamily::series(const std::vector<std::string>& values) {
  {
    std::shared_lock lock(mu_);
    auto it = series_.find(values);
    if (it != series_.end()) return it->second.get();
  }
  std::unique_lock lock(mu_);
  auto key = series_.size() >= kMaxSeries && !series_.count(values)
                 ? std::vector<std::string>(label_names_.size(), "_other")
                 : values;
  auto& slot = series_[key];
  if (!slot) slot = std::make_unique<Series>(bounds_.size());
  return slot.get();
}

void HistogramFamily::observe(const std::vector<std::string>& values, double v) {
  Series* s = series(values);
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  s->buckets[i].fetch_add(1, std::memory_order_relaxed);
  s->count.fetch_add(1, std::memory_order_relaxed);
  double cur = s->sum.load(std::memory_order_relaxed);
  while (!s->sum.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}

void HistogramFamily::write(PrometheusWriter& out) const {
  out.family(name_, help_, "histogram");
  std::shared_lock lock(mu_);
  for (auto& [values, s] : series_) {
    const Labels labels(label_names_, values);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
      cumulative += s->buckets[i].load(std::memory_order_relaxed);
      const std::string le = i < bounds_.size() ? format_number(bounds_[i]) : "+Inf";
      out.sample(Labels(labels).add("le", le), static_cast<double>(cumulative), "_bucket");
    }
    out.sample(labels, s->sum.load(std::memory_order_relaxed), "_sum");
    out.sample(labels, static_cast<double>(s->count.load(std::memory_order_relaxed)), "_count");
  }
}

std::int64_t ThroughputWindow::now_second() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void ThroughputWindow::add(std::uint64_t bytes) {
  total_.fetch_add(bytes, std::memory_order_relaxed);
  const std::int64_t now = now_second();
  Slot& s = slots_[static_cast<std::size_t>(now) % slots_.size()];
  std::int64_t seen = s.second.load(std::memory_order_acquire);
  if (seen != now && s.second.compare_exchange_strong(seen, now, std::memory_order_acq_rel)) {
    s.bytes.store(0, std::memory_order_relaxed);
  }
  s.bytes.fetch_add(bytes, std::memory_order_relaxed);
}

double ThroughputWindow::bits_per_second() const {
  const std::int64_t now = now_second();
  std::uint64_t sum = 0;
  for (const Slot& s : slots_) {
    const std::int64_t sec = s.second.load(std::memory_order_acquire);
    if (sec > now - static_cast<std::int64_t>(slots_.size()) && sec <= now) {
      sum += s.bytes.load(std::memory_order_relaxed);
    }
  }
  return static_cast<double>(sum) * 8.0 / static_cast<double>(kSeconds);
}

std::vector<double> latency_bounds() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

}  // namespace shoal::node
