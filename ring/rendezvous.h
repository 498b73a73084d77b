// Page placement by weighted rendezvous hashing (highest random weight, HRW).
//
// Every member scores every key; the member with the highest score owns the key, and the full
// descending order is the key's ranking (rank 2 is the failover owner, ranks 2..R the replica or
// hedge targets). Because a member's score depends only on the key and that member, a join moves
// exactly the keys the new member wins, and a leave moves exactly the leaver's keys, each to its
// rank-2 member. Member i owns an expected share w_i / sum(w) of all keys.
//
// Sources:
//   - HRW: D. Thaler, C. Ravishankar, "Using name-based mappings to increase hit rates",
//     IEEE/ACM Transactions on Networking 6(1), 1998.
//   - Weighted form ("logarithmic method"): C. Schindelhauer, G. Schomaker, "Weighted
//     distributed hash tables", SPAA 2005. With u uniform on (0,1), -ln(u)/w is exponentially
//     distributed with rate w, so the member with the largest w / -ln(u) (the smallest
//     exponential) wins with probability w_i / sum(w).
//
// Score (part of the cluster's wire contract, like page_hash in ring/page_key.h: every node, the
// router and shoalctl must rank identically):
//   node_hash = XXH3_64bits(member id bytes)                       (seed 0)
//   x         = XXH3_64bits_withSeed(key_hash as 8 little-endian bytes, seed = node_hash)
//   u         = ((x >> 12) + 0.5) / 2^52                           in [2^-53, 1 - 2^-53]
//   score     = weight / -ln(u)   when weight > 0                  (positive, finite)
//             = ln(u)             when weight == 0                 (negative)
// 52 bits, not 53: (x + 0.5) must be exact in a double, or the top value rounds to u == 1 and
// -ln(u) == 0. Higher score ranks first; equal scores rank by member id, byte-wise ascending, so
// the order is total. Consequences of the weight-0 rule: a weight-0 member (e.g. a draining
// node) ranks after every positive-weight member, so it owns nothing while any positive-weight
// member exists; among themselves weight-0 members rank by unweighted HRW, so a ring whose
// weights are all 0 still places every key, uniformly.
// ln is the C library's log in IEEE double arithmetic (never build with -ffast-math). glibc
// >= 2.28 uses one log implementation (error < 0.52 ulp) on every x86-64 and aarch64 host; a
// different libm could at worst swap two members whose scores agree to about 1 ulp, which
// happens for roughly one key in 10^15.
//
// Thread rules: a Ring is immutable after construction; const methods may be called from any
// number of threads at once. No I/O, no locks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::ring {

// Accepted weights are 0 or in [kMinWeight, kMaxWeight]. The bounds keep every score a normal,
// finite double (-ln(u) lies in [2^-53, 37]), so scores keep full relative precision and the
// ranking is exact up to the rounding described above; ratios up to 1e21 remain expressible.
inline constexpr double kMinWeight = 1e-6;
inline constexpr double kMaxWeight = 1e15;

// A ring member: a stable node id (the name other nodes know it by; never an address that can
// change) and a weight (dimensionless capacity; only ratios matter).
struct Member {
  std::string id;
  double weight = 1.0;

  bool operator==(const Member&) const = default;
};

// XXH3_64bits of a member id (the node_hash above).
std::uint64_t node_hash(std::string_view id);

// Maps a 64-bit hash to the open interval (0, 1) using its top 52 bits (the u above).
double unit_interval(std::uint64_t x);

// The score of a member with `weight` (0 or kMinWeight..kMaxWeight) and hash `member_hash` for
// `key_hash`, as defined above.
double hrw_score(std::uint64_t key_hash, std::uint64_t member_hash, double weight);

// The ranking order: true when (score_a, id_a) ranks before (score_b, id_b), i.e. the higher
// score, or on equal scores the byte-wise smaller id.
bool outranks(double score_a, std::string_view id_a, double score_b, std::string_view id_b);

// An immutable set of members, sorted by id, that places keys by weighted HRW.
class Ring {
 public:
  // An empty ring: owner() is nullptr, rank() is empty.
  Ring() = default;

  // Checks a member list. Returns nullopt when it is valid, else a one-line reason naming the
  // first offending member: "empty member id", "duplicate member id 'X'", "member 'X' has an
  // invalid weight W (want 0 or 1e-06 <= weight <= 1e+15)" (negative, NaN, infinite, too small
  // or too large). An empty list is valid.
  static std::optional<std::string> validate(const std::vector<Member>& members);

  // Builds a ring from `members` in any order. Returns nullopt when validate() rejects them, and
  // then stores validate()'s reason in `*error` if `error` is not null.
  static std::optional<Ring> make(std::vector<Member> members, std::string* error = nullptr);

  // The members, sorted by id (byte-wise). Indices returned by rank() and find() index this.
  const std::vector<Member>& members() const { return members_; }
  std::size_t size() const { return members_.size(); }
  bool empty() const { return members_.empty(); }

  // The index of the member with `id`, or nullopt.
  std::optional<std::size_t> find(std::string_view id) const;

  // The owner of `key_hash` (the rank-1 member), or nullptr when the ring is empty. The pointer
  // is valid as long as this Ring is. No allocation; hashes every member but skips the logarithm
  // of members that provably cannot win (bound -ln(u) >= 1 - u), so the result always equals
  // rank(key_hash, 1)[0].
  const Member* owner(std::uint64_t key_hash) const;

  // The indices of the min(n, size()) best-ranked members for `key_hash`, best first.
  // rank(k, 1)[0] is always owner(k). Allocates the result; O(size() + n log n).
  std::vector<std::size_t> rank(std::uint64_t key_hash, std::size_t n) const;

  // hrw_score of member `i` (i < size()) for `key_hash`; for diagnostics.
  double score(std::uint64_t key_hash, std::size_t i) const;

  // The expected share of keys member `i` (i < size()) owns: w_i / sum(w), or 1 / size() when
  // every weight is 0.
  double share(std::size_t i) const;

  // "What if" variants for planning (e.g. `shoalctl ownership --simulate-add`); this ring is not
  // changed. with_member adds `m`, or replaces the weight of the member with the same id; it
  // returns nullopt with validate()'s reason in `*error` (if not null) when `m` is invalid.
  // without_member returns nullopt when no member has `id`.
  std::optional<Ring> with_member(Member m, std::string* error = nullptr) const;
  std::optional<Ring> without_member(std::string_view id) const;

 private:
  explicit Ring(std::vector<Member> sorted_valid_members);

  // What hrw_score needs for members_[i], packed for the owner() loop.
  struct Slot {
    std::uint64_t hash;  // node_hash(members_[i].id)
    double weight;       // members_[i].weight
  };

  std::vector<Member> members_;  // sorted by id
  std::vector<Slot> slots_;      // parallel to members_
  double weight_sum_ = 0;
};

}  // namespace shoal::ring
