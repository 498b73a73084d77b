// The router's picture of the cluster: the members one node reported in GET /stats, and page
// placement computed from them with the cluster's own code (ring/page_key.h, ring/rendezvous.h),
// so a router names the same owner for a page as every node does.
//
// Placement contract (mirrors node/cluster.cc and peer/membership.cc exactly):
//   - the ring holds the live members, "alive" and "suspect", with their weights;
//   - a page's ranking is ring.rank(page_hash(kind, object, page)), and the members that are not
//     "alive" (suspect) are skipped, so the owner is the best-ranked alive member;
//   - page = first byte of the range / page_size_bytes (from /stats).
// A node that runs without a cluster reports no members; its view then holds that node alone
// (id = its node_id, address = the address polled, state "alive", weight 1).
//
// Thread rules: a View is immutable after from_stats(); const methods may be called from any
// number of threads at once. No I/O.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ring/rendezvous.h"

namespace shoal::router {

// One member as /stats "members" lists it.
struct NodeInfo {
  std::string id;               // stable node id (ring member id)
  std::string state;            // "alive", "suspect", "dead" or "left"
  double weight = 1.0;          // ring weight (0 = owns nothing while others can)
  std::string client_addr;      // HOST:PORT of its client port (where /fetch goes)
  std::uint64_t in_flight = 0;  // client requests it was serving, as last gossiped (~every 2 s)

  bool alive() const { return state == "alive"; }
};

// The /stats member schema: one parser for every reader of a node's /stats (View::from_stats()
// for the whole document; the admin API's ownership and drain, node/admin_members.cc, for one
// member's record and figures). Another node's /stats is read, never trusted: these accept any
// JSON value and never throw.

// Reads one record of /stats "members": string "id", "state" and "client_addr", number
// "weight", and "in_flight" when it is a non-negative integer (else 0). Returns nullopt with a
// one-line reason in *error (if not null) when a required field is missing or has the wrong
// type ("/stats: a member is not an object", "/stats: member without string \"state\"",
// "/stats: member without number \"weight\"").
std::optional<NodeInfo> parse_node_info(const nlohmann::json& member, std::string* error = nullptr);

// The record of member `id` in a /stats document, read by parse_node_info(). A record is `id`'s
// when it is an object whose "id" is the string `id`; the other records are not looked at, so
// one malformed record hides no other. Returns nullopt with *error (if not null) "/stats: no
// member 'ID'" when there is none (also when `stats` has no array "members"), or
// parse_node_info()'s reason when that record is malformed.
std::optional<NodeInfo> find_node_info(const nlohmann::json& stats, std::string_view id,
                                       std::string* error = nullptr);

// A node's memory tier as its /stats "memory" object reports it.
struct MemoryFigures {
  std::uint64_t page_bytes = 0;  // bytes of page bodies held
  std::uint64_t pages = 0;       // pages held
};

// Reads /stats "memory": "page_bytes" and "pages", non-negative integers. Returns nullopt with
// *error (if not null) "/stats: no non-negative integer memory.page_bytes" (or memory.pages)
// when a figure, or the "memory" object itself, is missing or has the wrong type.
std::optional<MemoryFigures> memory_figures(const nlohmann::json& stats,
                                            std::string* error = nullptr);

class View {
 public:
  // Builds a view from a parsed /stats document fetched from `polled_addr` (HOST:PORT). Needs
  // "page_size_bytes" (a positive integer), "epoch" (a non-negative integer) and "members" (an
  // array of records parse_node_info() accepts); for an empty "members" also "node_id". Returns
  // nullopt and stores a one-line reason in `*error` (if not null) when a field is missing or has
  // the wrong type, or when the live members do not form a valid ring (duplicate id, bad weight:
  // ring::Ring::validate()'s reason).
  static std::optional<View> from_stats(const nlohmann::json& stats, std::string_view polled_addr,
                                        std::string* error = nullptr);

  std::uint64_t epoch() const { return epoch_; }
  std::uint64_t page_size() const { return page_size_; }
  // Where this view came from (HOST:PORT as polled).
  const std::string& source() const { return source_; }
  // Every member, sorted by id.
  const std::vector<NodeInfo>& nodes() const { return nodes_; }
  // The member with `id`, or nullptr.
  const NodeInfo* find(std::string_view id) const;
  // The alive members, sorted by id.
  std::vector<const NodeInfo*> alive() const;

  // The alive members in the ranking of the page with placement hash `page_hash`
  // (base::page_hash), best first: element 0 is the page's owner. Empty when no member is alive.
  std::vector<const NodeInfo*> ranking(std::uint64_t page_hash) const;
  // ranking(page_hash)[0], or nullptr when no member is alive. Allocates only when the ring's
  // rank-1 member is suspect.
  const NodeInfo* owner(std::uint64_t page_hash) const;

  // The page that holds byte `offset` (offset / page_size()).
  std::uint64_t page_of(std::uint64_t offset) const { return offset / page_size_; }

 private:
  View() = default;

  std::uint64_t epoch_ = 0;
  std::uint64_t page_size_ = 0;
  std::string source_;
  std::vector<NodeInfo> nodes_;  // sorted by id
  ring::Ring ring_;              // alive + suspect members
};

}  // namespace shoal::router
