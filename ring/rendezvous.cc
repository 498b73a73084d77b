#include "ring/rendezvous.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <unordered_set>
#include <utility>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace shoal::ring {
namespace {

bool valid_weight(double w) {
  return w == 0 || (w >= kMinWeight && w <= kMaxWeight);
}

std::string weight_error(const Member& m) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "' has an invalid weight %g (want 0 or %g <= weight <= %g)",
                m.weight, kMinWeight, kMaxWeight);
  return "member '" + m.id + buf;
}

// The ranking order on (score, index) pairs of one ring, whose members are sorted by id, so the
// smaller index is the smaller id.
bool ranks_before(const std::pair<double, std::size_t>& a,
                  const std::pair<double, std::size_t>& b) {
  if (a.first != b.first) return a.first > b.first;
  return a.second < b.second;
}

// The u of (key, member) defined in rendezvous.h.
double member_unit(std::uint64_t key_hash, std::uint64_t member_hash) {
  std::array<unsigned char, 8> key{};
  for (std::size_t i = 0; i < key.size(); ++i) {
    key[i] = static_cast<unsigned char>(key_hash >> (8 * i));
  }
  return unit_interval(XXH3_64bits_withSeed(key.data(), key.size(), member_hash));
}

double score_of(double u, double weight) {
  const double ln_u = std::log(u);
  return weight > 0 ? weight / -ln_u : ln_u;
}

// False only when a member with `weight` and unit value `u` certainly scores below `best`, so
// owner() can skip its logarithm. Uses -ln(u) >= 1 - u, hence weight / -ln(u) <= weight / (1 - u),
// with a 1e-9 relative margin that dwarfs the rounding of log, division and this test (a few
// 1e-16: every quantity is a normal double because weights are 0 or >= kMinWeight); and
// ln(u) < 0 < best for weight 0.
bool may_beat(double u, double weight, double best) {
  if (best <= 0) return true;
  if (weight == 0) return false;
  return weight * (1 + 1e-9) >= best * (1 - u);
}

}  // namespace

std::uint64_t node_hash(std::string_view id) {
  return XXH3_64bits(id.data(), id.size());
}

double unit_interval(std::uint64_t x) {
  return (static_cast<double>(x >> 12) + 0.5) * 0x1p-52;
}

double hrw_score(std::uint64_t key_hash, std::uint64_t member_hash, double weight) {
  return score_of(member_unit(key_hash, member_hash), weight);
}

bool outranks(double score_a, std::string_view id_a, double score_b, std::string_view id_b) {
  if (score_a != score_b) return score_a > score_b;
  return id_a < id_b;
}

std::optional<std::string> Ring::validate(const std::vector<Member>& members) {
  std::unordered_set<std::string_view> seen;
  for (const Member& m : members) {
    if (m.id.empty()) return "empty member id";
    if (!seen.insert(m.id).second) return "duplicate member id '" + m.id + "'";
    if (!valid_weight(m.weight)) return weight_error(m);
  }
  return std::nullopt;
}

std::optional<Ring> Ring::make(std::vector<Member> members, std::string* error) {
  if (auto reason = validate(members)) {
    if (error != nullptr) *error = std::move(*reason);
    return std::nullopt;
  }
  for (Member& m : members) {
    if (m.weight == 0) m.weight = 0.0;  // -0.0 becomes 0.0
  }
  std::sort(members.begin(), members.end(),
            [](const Member& a, const Member& b) { return a.id < b.id; });
  return Ring(std::move(members));
}

Ring::Ring(std::vector<Member> sorted_valid_members) : members_(std::move(sorted_valid_members)) {
  slots_.reserve(members_.size());
  for (const Member& m : members_) {
    slots_.push_back({node_hash(m.id), m.weight});
    weight_sum_ += m.weight;
  }
}

std::optional<std::size_t> Ring::find(std::string_view id) const {
  auto it = std::lower_bound(members_.begin(), members_.end(), id,
                             [](const Member& m, std::string_view v) { return m.id < v; });
  if (it == members_.end() || it->id != id) return std::nullopt;
  return static_cast<std::size_t>(it - members_.begin());
}

const Member* Ring::owner(std::uint64_t key_hash) const {
  if (slots_.empty()) return nullptr;
  std::size_t best = 0;
  double best_score = score(key_hash, 0);
  for (std::size_t i = 1; i < slots_.size(); ++i) {
    const double u = member_unit(key_hash, slots_[i].hash);
    if (!may_beat(u, slots_[i].weight, best_score)) continue;
    const double s = score_of(u, slots_[i].weight);
    // Strictly greater: on equal scores the smaller index (the smaller id) keeps the key.
    if (s > best_score) {
      best = i;
      best_score = s;
    }
  }
  return &members_[best];
}

std::vector<std::size_t> Ring::rank(std::uint64_t key_hash, std::size_t n) const {
  std::vector<std::pair<double, std::size_t>> scored;
  scored.reserve(slots_.size());
  for (std::size_t i = 0; i < slots_.size(); ++i) scored.emplace_back(score(key_hash, i), i);
  n = std::min(n, scored.size());
  std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(n), scored.end(),
                    ranks_before);
  std::vector<std::size_t> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = scored[i].second;
  return out;
}

double Ring::score(std::uint64_t key_hash, std::size_t i) const {
  return hrw_score(key_hash, slots_[i].hash, slots_[i].weight);
}

double Ring::share(std::size_t i) const {
  if (weight_sum_ > 0) return members_[i].weight / weight_sum_;
  return 1.0 / static_cast<double>(members_.size());
}

std::optional<Ring> Ring::with_member(Member m, std::string* error) const {
  std::vector<Member> next = members_;
  if (auto i = find(m.id)) {
    next[*i] = std::move(m);
  } else {
    next.push_back(std::move(m));
  }
  return make(std::move(next), error);
}

std::optional<Ring> Ring::without_member(std::string_view id) const {
  auto i = find(id);
  if (!i) return std::nullopt;
  std::vector<Member> next = members_;
  next.erase(next.begin() + static_cast<std::ptrdiff_t>(*i));
  return Ring(std::move(next));
}

}  // namespace shoal::ring
