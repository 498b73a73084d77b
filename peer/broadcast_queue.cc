#include "peer/broadcast_queue.h"

#include <algorithm>
#include <numeric>

namespace shoal::peer {

void BroadcastQueue::push(std::string member_id, std::string encoded) {
  std::erase_if(entries_, [&](const Entry& e) { return e.member_id == member_id; });
  entries_.push_back({std::move(member_id), std::move(encoded), 0, next_order_++});
  while (entries_.size() > max_entries_) drop_one();
}

void BroadcastQueue::drop_one() {
  auto worst =
      std::max_element(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
        if (a.transmits != b.transmits) return a.transmits < b.transmits;
        return a.order > b.order;
      });
  entries_.erase(worst);
}

std::vector<std::string> BroadcastQueue::take(std::size_t budget, std::size_t max_count,
                                              int limit) {
  std::vector<std::size_t> order(entries_.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (entries_[a].transmits != entries_[b].transmits) {
      return entries_[a].transmits < entries_[b].transmits;
    }
    return entries_[a].order > entries_[b].order;
  });
  std::vector<std::string> out;
  std::size_t used = 0;
  for (std::size_t i : order) {
    if (out.size() >= max_count) break;
    Entry& e = entries_[i];
    bool fits = used + e.encoded.size() <= budget;
    bool oversized_first = out.empty() && e.encoded.size() > budget;
    if (!fits && !oversized_first) continue;
    out.push_back(e.encoded);
    used += e.encoded.size();
    ++e.transmits;
    if (oversized_first) break;
  }
  std::erase_if(entries_, [&](const Entry& e) { return e.transmits >= limit; });
  return out;
}

bool BroadcastQueue::contains(const std::string& member_id) const {
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const Entry& e) { return e.member_id == member_id; });
}

}  // namespace shoal::peer
