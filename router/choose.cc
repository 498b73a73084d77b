#include "router/choose.h"

#include <algorithm>
#include <cmath>

#include "ring/base/byte_range.h"
#include "ring/base/fetch_path.h"
#include "ring/base/page_key.h"

namespace shoal::router {

std::optional<RouteKey> route_key(std::string_view target, std::string_view range,
                                  std::uint64_t page_size) {
  base::FetchTarget parts;
  if (base::parse_fetch_target(target, &parts)) return std::nullopt;
  RouteKey key{std::move(parts.kind), std::move(parts.object), std::nullopt};
  base::ByteRange r;
  if (base::parse_byte_range(range, &r) == base::RangeError::kOk &&
      r.kind != base::ByteRange::Kind::kSuffix && page_size > 0) {
    key.first_page = r.first / page_size;
  }
  return key;
}

bool under_bounded_load(std::uint64_t load, std::uint64_t total, std::size_t members, double c) {
  if (members == 0) return true;
  const double cap = std::ceil(c * (static_cast<double>(total) + 1) / static_cast<double>(members));
  return static_cast<double>(load) + 1 <= cap;
}

namespace {

// The alive members in the order requests for `key` try them (before load and quarantine).
std::vector<const NodeInfo*> base_order(const View& view, const std::optional<RouteKey>& key,
                                        std::uint64_t spread) {
  if (key && key->first_page) {
    return view.ranking(base::page_hash(key->kind, key->object, *key->first_page));
  }
  std::vector<const NodeInfo*> alive = view.alive();
  if (!alive.empty()) {
    std::rotate(alive.begin(), alive.begin() + static_cast<std::ptrdiff_t>(spread % alive.size()),
                alive.end());
  }
  return alive;
}

}  // namespace

std::vector<Candidate> choose(const View& view, const std::optional<RouteKey>& key,
                              std::uint64_t spread, const ChooseOptions& options,
                              const MemberState& state) {
  const std::vector<const NodeInfo*> order = base_order(view, key, spread);
  const bool known_page = key && key->first_page;
  std::vector<std::uint64_t> loads;
  std::uint64_t total = 0;
  for (const NodeInfo* n : order) {
    loads.push_back(state.load ? state.load(*n) : 0);
    total += loads.back();
  }
  std::vector<Candidate> out;
  out.reserve(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    const NodeInfo& n = *order[i];
    Candidate c{n.id, n.client_addr, known_page && i == 0, false, false};
    c.overloaded = options.bounded_load > 0 &&
                   !under_bounded_load(loads[i], total, order.size(), options.bounded_load);
    c.quarantined = state.quarantined && state.quarantined(n);
    out.push_back(std::move(c));
  }
  // Stable: within each class the ranking order stays.
  auto rank_class = [](const Candidate& c) { return c.quarantined ? 2 : c.overloaded ? 1 : 0; };
  std::stable_sort(out.begin(), out.end(), [&](const Candidate& a, const Candidate& b) {
    return rank_class(a) < rank_class(b);
  });
  return out;
}

}  // namespace shoal::router
