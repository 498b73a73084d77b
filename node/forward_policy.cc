#include "node/forward_policy.h"

#include <algorithm>
#include <cmath>

namespace shoal::node {

using std::chrono::microseconds;
using std::chrono::milliseconds;

std::optional<std::string> ForwardDeadlineConfig::validate() const {
  constexpr milliseconds kMax{60000};
  if (floor < milliseconds{1}) {
    return "--forward-deadline-min-ms: must be >= 1, got " + std::to_string(floor.count());
  }
  if (ceiling < floor || ceiling > kMax) {
    return "--forward-deadline-max-ms: must be in [--forward-deadline-min-ms, 60000], got " +
           std::to_string(ceiling.count());
  }
  if (stall < milliseconds{10} || stall > kMax) {
    return "--forward-stall-ms: must be in [10, 60000], got " + std::to_string(stall.count());
  }
  if (!(quantile > 0 && quantile <= 1)) return "forward deadline quantile: must be in (0, 1]";
  return std::nullopt;
}

milliseconds first_byte_deadline(std::vector<microseconds> samples,
                                 const ForwardDeadlineConfig& config) {
  if (samples.size() < ForwardPolicy::kMinSamples) return config.ceiling;
  // Nearest rank: the smallest sample with at least `quantile` of the samples at or below it.
  const auto rank =
      static_cast<std::size_t>(std::ceil(config.quantile * static_cast<double>(samples.size())));
  const std::size_t k = std::clamp<std::size_t>(rank, 1, samples.size()) - 1;
  std::nth_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(k),
                   samples.end());
  // Rounded up to whole milliseconds: a 300 us quantile is a 1 ms deadline, not 0.
  const auto q = std::chrono::ceil<milliseconds>(samples[k]);
  return std::clamp(q, config.floor, config.ceiling);
}

std::vector<std::size_t> rank_alive_first(const std::vector<RankedMember>& ranked) {
  std::vector<std::size_t> out;
  out.reserve(ranked.size());
  for (const RankedMember& m : ranked) {
    if (!m.suspect) out.push_back(m.index);
  }
  for (const RankedMember& m : ranked) {
    if (m.suspect) out.push_back(m.index);
  }
  return out;
}

void ForwardPolicy::record(const std::string& peer, microseconds latency) {
  std::lock_guard lock(mu_);
  Peer& p = peers_[peer];
  p.slow_until = {};
  auto& l = p.latencies;
  l.push_back(latency);
  if (l.size() > kWindow) l.pop_front();
}

milliseconds ForwardPolicy::deadline(const std::string& peer) const {
  std::vector<microseconds> samples;
  {
    std::lock_guard lock(mu_);
    auto it = peers_.find(peer);
    if (it != peers_.end())
      samples.assign(it->second.latencies.begin(), it->second.latencies.end());
  }
  return first_byte_deadline(std::move(samples), config_);
}

bool ForwardPolicy::slow(const std::string& peer) const {
  std::lock_guard lock(mu_);
  auto it = peers_.find(peer);
  return it != peers_.end() && std::chrono::steady_clock::now() < it->second.slow_until;
}

void ForwardPolicy::count_timeout(const std::string& peer) {
  std::lock_guard lock(mu_);
  ++peers_[peer].counts.timeouts;
}

void ForwardPolicy::mark_slow(const std::string& peer) {
  std::lock_guard lock(mu_);
  peers_[peer].slow_until = std::chrono::steady_clock::now() + kSlowFor;
}

void ForwardPolicy::count_hedge(const std::string& peer) {
  std::lock_guard lock(mu_);
  ++peers_[peer].counts.hedges;
}

void ForwardPolicy::count_resume(const std::string& peer) {
  std::lock_guard lock(mu_);
  ++peers_[peer].counts.resumes;
}

std::map<std::string, ForwardPeerCounts> ForwardPolicy::counts() const {
  std::map<std::string, ForwardPeerCounts> out;
  for (const auto& [id, p] : [this] {
         std::lock_guard lock(mu_);
         return peers_;
       }()) {
    ForwardPeerCounts c = p.counts;
    c.deadline = first_byte_deadline({p.latencies.begin(), p.latencies.end()}, config_);
    out.emplace(id, c);
  }
  return out;
}

}  // namespace shoal::node
