#include "router/view.h"

#include <algorithm>

namespace shoal::router {
namespace {

bool fail(std::string* error, std::string reason) {
  if (error != nullptr) *error = std::move(reason);
  return false;
}

// A JSON integer >= 0 (nlohmann keeps small literals signed, so both kinds count).
bool is_count(const nlohmann::json& v) {
  return v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0);
}

bool unsigned_field(const nlohmann::json& stats, const char* key, std::uint64_t* out,
                    std::string* error) {
  if (!stats.contains(key) || !is_count(stats[key])) {
    return fail(error, std::string("/stats: no non-negative integer \"") + key + "\"");
  }
  *out = stats[key].get<std::uint64_t>();
  return true;
}

bool parse_members(const nlohmann::json& stats, std::string_view polled_addr,
                   std::vector<NodeInfo>* out, std::string* error) {
  if (!stats.contains("members") || !stats["members"].is_array()) {
    return fail(error, "/stats: no array \"members\"");
  }
  for (const auto& m : stats["members"]) {
    auto node = parse_node_info(m, error);
    if (!node) return false;
    out->push_back(std::move(*node));
  }
  if (!out->empty()) return true;
  // A node without a cluster: the view is that node alone.
  if (!stats.contains("node_id") || !stats["node_id"].is_string()) {
    return fail(error, "/stats: no members and no string \"node_id\"");
  }
  out->push_back(
      NodeInfo{stats["node_id"].get<std::string>(), "alive", 1.0, std::string(polled_addr), 0});
  return true;
}

}  // namespace

std::optional<NodeInfo> parse_node_info(const nlohmann::json& m, std::string* error) {
  if (!m.is_object()) {
    fail(error, "/stats: a member is not an object");
    return std::nullopt;
  }
  for (const char* key : {"id", "state", "client_addr"}) {
    if (!m.contains(key) || !m[key].is_string()) {
      fail(error, std::string("/stats: member without string \"") + key + "\"");
      return std::nullopt;
    }
  }
  if (!m.contains("weight") || !m["weight"].is_number()) {
    fail(error, "/stats: member without number \"weight\"");
    return std::nullopt;
  }
  NodeInfo out;
  out.id = m["id"].get<std::string>();
  out.state = m["state"].get<std::string>();
  out.client_addr = m["client_addr"].get<std::string>();
  out.weight = m["weight"].get<double>();
  if (m.contains("in_flight") && is_count(m["in_flight"])) {
    out.in_flight = m["in_flight"].get<std::uint64_t>();
  }
  return out;
}

std::optional<NodeInfo> find_node_info(const nlohmann::json& stats, std::string_view id,
                                       std::string* error) {
  if (stats.is_object() && stats.contains("members") && stats["members"].is_array()) {
    for (const auto& m : stats["members"]) {
      if (m.is_object() && m.contains("id") && m["id"].is_string() &&
          m["id"].get_ref<const std::string&>() == id) {
        return parse_node_info(m, error);
      }
    }
  }
  fail(error, "/stats: no member '" + std::string(id) + "'");
  return std::nullopt;
}

std::optional<MemoryFigures> memory_figures(const nlohmann::json& stats, std::string* error) {
  const bool has_memory = stats.is_object() && stats.contains("memory");
  MemoryFigures f;
  for (auto [key, out] : {std::pair{"page_bytes", &f.page_bytes}, std::pair{"pages", &f.pages}}) {
    if (!has_memory || !stats["memory"].is_object() || !stats["memory"].contains(key) ||
        !is_count(stats["memory"][key])) {
      fail(error, std::string("/stats: no non-negative integer memory.") + key);
      return std::nullopt;
    }
    *out = stats["memory"][key].get<std::uint64_t>();
  }
  return f;
}

std::optional<View> View::from_stats(const nlohmann::json& stats, std::string_view polled_addr,
                                     std::string* error) {
  if (!stats.is_object()) {
    fail(error, "/stats: not a JSON object");
    return std::nullopt;
  }
  View v;
  v.source_ = std::string(polled_addr);
  if (!unsigned_field(stats, "page_size_bytes", &v.page_size_, error) ||
      !unsigned_field(stats, "epoch", &v.epoch_, error) ||
      !parse_members(stats, polled_addr, &v.nodes_, error)) {
    return std::nullopt;
  }
  if (v.page_size_ == 0) {
    fail(error, "/stats: \"page_size_bytes\" is 0");
    return std::nullopt;
  }
  std::sort(v.nodes_.begin(), v.nodes_.end(),
            [](const NodeInfo& a, const NodeInfo& b) { return a.id < b.id; });
  std::vector<ring::Member> live;
  for (const auto& n : v.nodes_) {
    if (n.state == "alive" || n.state == "suspect") live.push_back({n.id, n.weight});
  }
  std::string reason;
  auto r = ring::Ring::make(std::move(live), &reason);
  if (!r) {
    fail(error, "/stats: members do not form a ring: " + reason);
    return std::nullopt;
  }
  v.ring_ = std::move(*r);
  return v;
}

const NodeInfo* View::find(std::string_view id) const {
  auto it = std::lower_bound(nodes_.begin(), nodes_.end(), id,
                             [](const NodeInfo& n, std::string_view key) { return n.id < key; });
  return it != nodes_.end() && it->id == id ? &*it : nullptr;
}

std::vector<const NodeInfo*> View::alive() const {
  std::vector<const NodeInfo*> out;
  for (const auto& n : nodes_) {
    if (n.alive()) out.push_back(&n);
  }
  return out;
}

std::vector<const NodeInfo*> View::ranking(std::uint64_t page_hash) const {
  std::vector<const NodeInfo*> out;
  for (std::size_t i : ring_.rank(page_hash, ring_.size())) {
    const NodeInfo* n = find(ring_.members()[i].id);
    if (n != nullptr && n->alive()) out.push_back(n);
  }
  return out;
}

const NodeInfo* View::owner(std::uint64_t page_hash) const {
  const ring::Member* m = ring_.owner(page_hash);
  if (m == nullptr) return nullptr;
  const NodeInfo* n = find(m->id);
  if (n != nullptr && n->alive()) return n;
  auto ranked = ranking(page_hash);
  return ranked.empty() ? nullptr : ranked.front();
}

}  // namespace shoal::router
