#include "node/store/admission.h"

#include <algorithm>

namespace shoal::store {

DiskAdmission::DiskAdmission(AdmissionRule rule, std::size_t capacity)
    : rule_(rule), generation_capacity_(std::max<std::size_t>(capacity / 2, 1)) {}

bool DiskAdmission::admit(std::uint64_t key_hash, bool hit) {
  std::lock_guard lock(mu_);
  const bool yes = rule_ == AdmissionRule::kAll || take_locked(key_hash) || hit;
  if (yes) {
    ++stats_.admitted;
  } else {
    ++stats_.rejected;
    remember_locked(key_hash);
  }
  return yes;
}

bool DiskAdmission::take_locked(std::uint64_t key_hash) {
  return current_.erase(key_hash) + old_.erase(key_hash) > 0;
}

void DiskAdmission::remember_locked(std::uint64_t key_hash) {
  if (current_.size() >= generation_capacity_) {
    old_.swap(current_);
    current_.clear();
  }
  current_.insert(key_hash);
}

AdmissionStats DiskAdmission::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace shoal::store
