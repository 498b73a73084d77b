// DiskAdmission: which pages leaving the memory tier are worth a disk write.
//
// Rules:
//   kAll         every page offered is admitted.
//   kReaccessed  (default) a page is admitted when it has shown reuse: it was hit in memory at
//                least once, or it was offered and rejected before (its key hash is in a
//                bounded "rejected recently" set; admitting it removes it from the set). A page
//                read once and evicted is therefore written only the second time around. This
//                is the doorkeeper idea of TinyLFU (Einziger, Friedman, Manes, "TinyLFU: A
//                Highly Efficient Cache Admission Policy", ACM ToS 2017) applied to the
//                memory-to-disk boundary, like CacheLib Navy's admission policies that keep
//                one-hit wonders off flash.
// docs/benchmarks.md ("Disk tier") has the measured effect on hit ratio and bytes written.
//
// The "rejected recently" set holds 64-bit key hashes in two generations of at most
// capacity/2 each: when the current generation is full it becomes the old one and the old one
// is forgotten, so it remembers between capacity/2 and capacity of the newest rejections in
// O(1) per call and O(capacity) memory (about 40 bytes per hash). A hash collision can only
// admit a page early.
//
// Thread-safe: one mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_set>

namespace shoal::store {

enum class AdmissionRule { kAll, kReaccessed };

struct AdmissionStats {
  std::uint64_t admitted = 0;
  std::uint64_t rejected = 0;
};

class DiskAdmission {
 public:
  // `capacity` (>= 2) bounds the rejected-recently set; a disk's slot count is a good value.
  DiskAdmission(AdmissionRule rule, std::size_t capacity);

  // Whether the page with key hash `key_hash` should be written; `hit` tells whether it was
  // read from memory at least once while there.
  bool admit(std::uint64_t key_hash, bool hit);

  AdmissionStats stats() const;
  AdmissionRule rule() const { return rule_; }

 private:
  bool take_locked(std::uint64_t key_hash);
  void remember_locked(std::uint64_t key_hash);

  const AdmissionRule rule_;
  const std::size_t generation_capacity_;
  mutable std::mutex mu_;
  std::unordered_set<std::uint64_t> current_;
  std::unordered_set<std::uint64_t> old_;
  AdmissionStats stats_;
};

}  // namespace shoal::store
