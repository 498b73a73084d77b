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

std::string label_text(const std::vector<std::string>& names,
                       const std::vector<std::string>& values, const std::string& extra = "") {
  std::string s;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (!s.empty()) s += ',';
    s += names[i] + "=\"" + escape_label(values[i]) + "\"";
  }
  if (!extra.empty()) {
    if (!s.empty()) s += ',';
    s += extra;
  }
  return s.empty() ? s : "{" + s + "}";
}

void write_header(std::string* out, const std::string& name, const std::string& help,
                  const char* type) {
  *out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

std::string escape_label(const std::string& v) {
  std::string s;
  s.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      s += "\\\\";
    else if (c == '"')
      s += "\\\"";
    else if (c == '\n')
      s += "\\n";
    else
      s += c;
  }
  return s;
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

std::uint64_t CounterFamily::total() const {
  std::shared_lock lock(mu_);
  std::uint64_t t = 0;
  for (auto& [k, v] : series_) t += v->load(std::memory_order_relaxed);
  return t;
}

void CounterFamily::write(std::string* out) const {
  write_header(out, name_, help_, "counter");
  std::shared_lock lock(mu_);
  for (auto& [values, v] : series_) {
    *out += name_ + label_text(label_names_, values) + " " +
            format_number(static_cast<double>(v->load(std::memory_order_relaxed))) + "\n";
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

void HistogramFamily::write(std::string* out) const {
  write_header(out, name_, help_, "histogram");
  std::shared_lock lock(mu_);
  for (auto& [values, s] : series_) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
      cumulative += s->buckets[i].load(std::memory_order_relaxed);
      std::string le = i < bounds_.size() ? format_number(bounds_[i]) : "+Inf";
      *out += name_ + "_bucket" + label_text(label_names_, values, "le=\"" + le + "\"") + " " +
              format_number(static_cast<double>(cumulative)) + "\n";
    }
    *out += name_ + "_sum" + label_text(label_names_, values) + " " +
            format_number(s->sum.load(std::memory_order_relaxed)) + "\n";
    *out += name_ + "_count" + label_text(label_names_, values) + " " +
            format_number(static_cast<double>(s->count.load(std::memory_order_relaxed))) + "\n";
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

void write_gauge(std::string* out, const std::string& name, const std::string& help, double v) {
  write_header(out, name, help, "gauge");
  *out += name + " " + format_number(v) + "\n";
}

void write_counter(std::string* out, const std::string& name, const std::string& help, double v) {
  write_header(out, name, help, "counter");
  *out += name + " " + format_number(v) + "\n";
}

std::vector<double> latency_bounds() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

}  // namespace shoal::node
