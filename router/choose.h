// Which node a /fetch request goes to, and where it goes next when that node fails.
//
// A request names its first page by the Range header (RFC 9110 §14.1.2 as node/byte_range.h
// parses it): "bytes=a-b" and "bytes=a-" start in page a / page_size. Such a request goes to the
// owner of that page, so a one-page request is served without a hop between nodes and a longer
// one has its first page local (the node forwards the rest itself). Requests whose first page is
// unknown before the object size is (suffix ranges "bytes=-n"), and requests the node will reject
// anyway (no Range, a bad Range or path), are spread over the alive members round-robin.
//
// Order of the candidates for one request:
//   1. the alive members in the page's ranking (owner first; ranking order is also the cluster's
//      failover order, so the rank-2 member is the one that takes the page over if the owner
//      dies), or the round-robin order above;
//   2. stable-partitioned so that members over the bounded-load cap come after those under it,
//      and members this router saw fail recently (quarantined) come last of all. Nobody is
//      dropped: a quarantined or overloaded member is still tried when the others fail.
//
// Bounded load (V. Mirrokni, M. Thorup, M. Zadimoghaddam, "Consistent Hashing with Bounded
// Loads", SODA 2018; the rule HAProxy's hash-balance-factor and Envoy use): with n alive members
// carrying a total load L, the request may go to a member whose load l satisfies
//   l + 1 <= ceil(c * (L + 1) / n)
// for a balance factor c > 1 (1.25 by default in shoal-router); a member above it is skipped in
// favour of the next in the ranking. Load is a request count (see Router in router/router.h for
// what it counts).
//
// Thread rules: pure functions; safe from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "router/view.h"

namespace shoal::router {

// The page-placement name of a /fetch request: kind, object and first page.
struct RouteKey {
  std::string kind;
  std::string object;
  std::optional<std::uint64_t> first_page;  // nullopt: unknown (suffix or invalid range)
};

// Derives the RouteKey of a request from its target ("/fetch/{kind}/{object}[?query]", decoded
// like node/fetch_path.h) and Range field value (empty when absent), for pages of `page_size`
// bytes (> 0). Returns nullopt when the target is not a valid fetch target (the node will answer
// 400 itself); a missing or invalid Range, or a suffix range, gives first_page == nullopt.
std::optional<RouteKey> route_key(std::string_view target, std::string_view range,
                                  std::uint64_t page_size);

// A node to try, best first.
struct Candidate {
  std::string id;
  std::string addr;          // HOST:PORT of its client port
  bool owner = false;        // it owns the request's first page (only for a known first page)
  bool overloaded = false;   // it is over the bounded-load cap
  bool quarantined = false;  // the router saw it fail recently
};

struct ChooseOptions {
  double bounded_load = 0;  // the balance factor c; 0 turns bounded load off, else c > 1
};

// Per-member figures the caller keeps (the router's own load counts and failure quarantine).
struct MemberState {
  std::function<std::uint64_t(const NodeInfo&)> load;  // requests on it now; nullptr: 0
  std::function<bool(const NodeInfo&)> quarantined;    // nullptr: never
};

// True when a member carrying `load` may take one more request under bounded load with factor
// `c` (> 1), `total` load over all `members` (>= 1) alive members: load + 1 <= ceil(c * (total +
// 1) / members).
bool under_bounded_load(std::uint64_t load, std::uint64_t total, std::size_t members, double c);

// The candidates for `key` in `view`, ordered as described at the top of this file. `spread` picks
// the round-robin start for requests without a known first page (e.g. a request counter). Empty
// when no member is alive.
std::vector<Candidate> choose(const View& view, const std::optional<RouteKey>& key,
                              std::uint64_t spread, const ChooseOptions& options,
                              const MemberState& state);

}  // namespace shoal::router
