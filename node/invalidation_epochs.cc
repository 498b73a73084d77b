#include "node/invalidation_epochs.h"

#include "ring/base/page_key.h"

namespace shoal::node {

std::size_t InvalidationEpochs::object_slot(std::string_view kind, std::string_view object) {
  return static_cast<std::size_t>(base::object_hash(kind, object) % kObjectSlots);
}

std::size_t InvalidationEpochs::kind_slot(std::string_view kind) {
  return static_cast<std::size_t>(base::object_hash(kind, {}) % kKindSlots);
}

void InvalidationEpochs::invalidate_object(std::string_view kind, std::string_view object) {
  objects_[object_slot(kind, object)] = ++epoch_;
}

void InvalidationEpochs::invalidate_kind(std::string_view kind) {
  kinds_[kind_slot(kind)] = ++epoch_;
}

bool InvalidationEpochs::current_since(std::string_view kind, std::string_view object,
                                       std::uint64_t since) const {
  return objects_[object_slot(kind, object)] <= since && kinds_[kind_slot(kind)] <= since;
}

}  // namespace shoal::node
