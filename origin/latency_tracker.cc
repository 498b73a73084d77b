// DecayingSketch and LatencyTracker; see latency_tracker.h for the structure and its error bound.
#include "origin/latency_tracker.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace shoal::origin {
namespace {

constexpr double kGamma =
    (1 + DecayingSketch::kRelativeError) / (1 - DecayingSketch::kRelativeError);
constexpr double kMaxImportWeight = 1e12;

std::optional<LatencyEstimate> make_estimate(std::optional<double> micros, double samples,
                                             bool with_peers) {
  if (!micros) return std::nullopt;
  return LatencyEstimate{std::chrono::microseconds(std::llround(*micros)), samples, with_peers};
}

double log_gamma() {
  static const double value = std::log(kGamma);
  return value;
}

}  // namespace

// --- DecayingSketch ---

DecayingSketch::DecayingSketch() : bins_(kBins, 0.0) {}

std::size_t DecayingSketch::bin_of(double micros) {
  const double v = std::clamp(micros, kMinMicros, kMaxMicros);
  const double index = std::ceil(std::log(v) / log_gamma());
  return std::min(static_cast<std::size_t>(std::max(index, 0.0)), kBins - 1);
}

double DecayingSketch::value_of(std::size_t bin) {
  return 2 * std::pow(kGamma, static_cast<double>(bin)) / (kGamma + 1);
}

void DecayingSketch::add(double micros, double weight) {
  if (std::isnan(micros) || !(weight > 0)) return;
  bins_[bin_of(micros)] += weight;
  total_ += weight;
}

void DecayingSketch::scale(double factor) {
  if (factor >= 1) return;
  if (factor <= 0) {
    std::fill(bins_.begin(), bins_.end(), 0.0);
    total_ = 0;
    return;
  }
  for (double& w : bins_) w *= factor;
  total_ *= factor;
}

void DecayingSketch::merge(const DecayingSketch& other) {
  for (std::size_t i = 0; i < kBins; ++i) bins_[i] += other.bins_[i];
  total_ += other.total_;
}

std::optional<double> DecayingSketch::quantile(double q) const {
  if (!(total_ > 0)) return std::nullopt;
  const double rank = std::clamp(q, 0.0, 1.0) * total_;
  double seen = 0;
  std::size_t last = 0;
  for (std::size_t i = 0; i < kBins; ++i) {
    if (bins_[i] <= 0) continue;
    seen += bins_[i];
    last = i;
    if (seen >= rank) return value_of(i);
  }
  return value_of(last);  // rounding left `seen` a hair below `total_`
}

SketchSummary DecayingSketch::summary() const {
  SketchSummary s;
  for (std::size_t i = 0; i < kBins; ++i) {
    if (bins_[i] >= kMinExportWeight) {
      s.bins.emplace_back(static_cast<std::uint16_t>(i), static_cast<float>(bins_[i]));
    }
  }
  return s;
}

std::optional<DecayingSketch> DecayingSketch::from_summary(const SketchSummary& s,
                                                           std::string* error) {
  DecayingSketch sketch;
  int previous = -1;
  for (const auto& [bin, weight] : s.bins) {
    if (bin >= kBins || static_cast<int>(bin) <= previous) {
      *error = "bin index " + std::to_string(bin) + " out of order or >= " + std::to_string(kBins);
      return std::nullopt;
    }
    if (!std::isfinite(weight) || weight < 0 || weight > kMaxImportWeight) {
      *error = "bin " + std::to_string(bin) + " has weight " + std::to_string(weight);
      return std::nullopt;
    }
    previous = bin;
    sketch.bins_[bin] = weight;
    sketch.total_ += weight;
  }
  return sketch;
}

// --- LatencyTracker ---

std::optional<std::string> LatencyOptions::validate() const {
  if (step.count() <= 0) return std::string("latency: step must be > 0 ms");
  if (half_life < step) return std::string("latency: half_life must be >= step");
  if (max_buckets == 0) return std::string("latency: max_buckets must be > 0");
  if (max_peers == 0) return std::string("latency: max_peers must be > 0");
  if (!(min_local_samples >= 0)) return std::string("latency: min_local_samples must be >= 0");
  return std::nullopt;
}

LatencyTracker::LatencyTracker(LatencyOptions opts, SteadyTime epoch)
    : opts_(opts), epoch_(epoch) {}

std::int64_t LatencyTracker::step_of(SteadyTime t) const {
  const auto since = t - epoch_;
  const std::int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(since).count();
  const std::int64_t step = opts_.step.count();
  return ms >= 0 ? ms / step : -((-ms + step - 1) / step);
}

// Brings an entry's weights to `step`: factor 2^(-k * step / half_life) for k new steps.
void LatencyTracker::decay(Entry& e, std::int64_t step) const {
  if (step <= e.step) return;
  const double steps = static_cast<double>(step - e.step);
  const double per_step =
      static_cast<double>(opts_.step.count()) / static_cast<double>(opts_.half_life.count());
  const double factor = std::exp2(-steps * per_step);
  e.first_byte.scale(factor);
  e.page.scale(factor);
  e.step = step;
}

LatencyTracker::Entry& LatencyTracker::local_entry(const std::string& bucket, SteadyTime now) {
  auto it = local_.find(bucket);
  if (it == local_.end()) {
    if (local_.size() >= opts_.max_buckets) {
      auto oldest = std::min_element(
          local_.begin(), local_.end(),
          [](const auto& a, const auto& b) { return a.second.last_used < b.second.last_used; });
      local_.erase(oldest);
    }
    it = local_.emplace(bucket, Entry{}).first;
    it->second.step = step_of(now);
  }
  it->second.last_used = now;
  return it->second;
}

void LatencyTracker::record(const std::string& bucket, std::chrono::microseconds first_byte,
                            std::chrono::microseconds page, SteadyTime now) {
  std::lock_guard lock(mu_);
  Entry& e = local_entry(bucket, now);
  decay(e, step_of(now));
  e.first_byte.add(static_cast<double>(first_byte.count()));
  e.page.add(static_cast<double>(page.count()));
}

std::optional<LatencyEstimate> LatencyTracker::estimate(const std::string& bucket, LatencyKind kind,
                                                        double q, SteadyTime now) const {
  std::lock_guard lock(mu_);
  const std::int64_t step = step_of(now);
  const DecayingSketch* local = nullptr;
  if (auto it = local_.find(bucket); it != local_.end()) {
    decay(it->second, step);
    local = &it->second.get(kind);
  }
  if (local != nullptr && local->weight() >= opts_.min_local_samples) {
    return make_estimate(local->quantile(q), local->weight(), false);
  }
  DecayingSketch merged;
  if (local != nullptr) merged.merge(*local);
  bool with_peers = false;
  for (auto& [peer, buckets] : peers_) {
    auto it = buckets.find(bucket);
    if (it == buckets.end()) continue;
    decay(it->second, step);
    with_peers = with_peers || it->second.get(kind).weight() > 0;
    merged.merge(it->second.get(kind));
  }
  return make_estimate(merged.quantile(q), merged.weight(), with_peers);
}

double LatencyTracker::local_samples(const std::string& bucket, SteadyTime now) const {
  std::lock_guard lock(mu_);
  auto it = local_.find(bucket);
  if (it == local_.end()) return 0;
  decay(it->second, step_of(now));
  return it->second.page.weight();
}

std::vector<std::string> LatencyTracker::buckets() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, entry] : local_) out.push_back(name);
  return out;
}

std::vector<std::string> LatencyTracker::peer_buckets() const {
  std::lock_guard lock(mu_);
  std::set<std::string> names;
  for (const auto& [peer, buckets] : peers_) {
    for (const auto& [name, entry] : buckets) names.insert(name);
  }
  return {names.begin(), names.end()};
}

std::optional<LatencyEstimate> LatencyTracker::peer_estimate(const std::string& bucket,
                                                             LatencyKind kind, double q,
                                                             SteadyTime now) const {
  std::lock_guard lock(mu_);
  const std::int64_t step = step_of(now);
  DecayingSketch merged;
  for (auto& [peer, buckets] : peers_) {
    auto it = buckets.find(bucket);
    if (it == buckets.end()) continue;
    decay(it->second, step);
    merged.merge(it->second.get(kind));
  }
  return make_estimate(merged.quantile(q), merged.weight(), true);
}

LatencySummary LatencyTracker::export_summary(SteadyTime now) const {
  std::lock_guard lock(mu_);
  const std::int64_t step = step_of(now);
  LatencySummary out;
  for (auto& [name, entry] : local_) {
    decay(entry, step);
    if (entry.page.weight() < DecayingSketch::kMinExportWeight) continue;
    out.buckets.push_back({name, entry.first_byte.summary(), entry.page.summary()});
  }
  return out;
}

std::optional<std::string> LatencyTracker::merge_peer_summary(const std::string& peer,
                                                              const LatencySummary& summary,
                                                              SteadyTime now) {
  if (peer.empty()) return std::string("empty peer id");
  if (summary.buckets.size() > opts_.max_buckets) {
    return "more than " + std::to_string(opts_.max_buckets) + " buckets";
  }
  PeerBuckets parsed;
  const std::int64_t step = step_of(now);
  for (const BucketLatencySummary& b : summary.buckets) {
    if (b.bucket.empty()) return std::string("empty bucket name");
    std::string error;
    auto first_byte = DecayingSketch::from_summary(b.first_byte, &error);
    auto page = first_byte ? DecayingSketch::from_summary(b.page, &error) : std::nullopt;
    if (!page) return "bucket " + b.bucket + ": " + error;
    Entry e{*first_byte, *page, step, now};
    if (!parsed.emplace(b.bucket, std::move(e)).second) return "bucket " + b.bucket + " twice";
  }
  std::lock_guard lock(mu_);
  if (!peers_.contains(peer) && peers_.size() >= opts_.max_peers) {
    auto stalest =
        std::min_element(peer_updated_.begin(), peer_updated_.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; });
    peers_.erase(stalest->first);
    peer_updated_.erase(stalest);
  }
  peers_[peer] = std::move(parsed);
  peer_updated_[peer] = now;
  return std::nullopt;
}

void LatencyTracker::forget_peer(const std::string& peer) {
  std::lock_guard lock(mu_);
  peers_.erase(peer);
  peer_updated_.erase(peer);
}

}  // namespace shoal::origin
