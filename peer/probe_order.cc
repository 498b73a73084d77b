#include "peer/probe_order.h"

#include <algorithm>

namespace shoal::peer {

void ProbeOrder::insert(std::string id, std::mt19937_64& rng) {
  std::uniform_int_distribution<std::size_t> at(index_, order_.size());
  order_.insert(order_.begin() + static_cast<std::ptrdiff_t>(at(rng)), std::move(id));
}

std::optional<std::string> ProbeOrder::next(const Eligible& eligible, const Members& members,
                                            std::mt19937_64& rng) {
  for (int pass = 0; pass < 2; ++pass) {
    while (index_ < order_.size()) {
      const std::string& id = order_[index_++];
      if (eligible(id)) return id;
    }
    order_ = members();
    index_ = 0;
    std::shuffle(order_.begin(), order_.end(), rng);
    if (order_.empty()) return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace shoal::peer
