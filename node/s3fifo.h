// S3FifoCache: a byte-weighted cache evicted by S3-FIFO, from Juncheng Yang, Yazhuo Zhang,
// Ziyue Qiu, Yao Yue, Rashmi Vinayak, "FIFO queues are all you need for cache eviction",
// SOSP 2023 (Algorithm 1), with entries weighted by a charge in bytes.
//
// Three FIFO queues:
//   small  new keys enter here; sized to 10% of the capacity (in bytes).
//   main   keys that proved themselves (hit while in small, or seen again soon after leaving
//          small); the other 90% of the capacity.
//   ghost  hashes (no values) of keys evicted from small, newest first.
// Each resident entry has a 2-bit access frequency: 0 on admission, +1 per find() (capped at
// 3).
//   insert: a key whose hash is in ghost goes to main (and leaves ghost); any other key goes
//           to small. Before that, entries are evicted until the new charge fits.
//   evict:  from small when small holds >= 10% of the capacity (or main is empty), else from
//           main.
//   small:  the oldest entry moves to main with its frequency reset to 0 if its frequency
//           is > 1 (then main is trimmed to its 90% share by main evictions); otherwise it is
//           evicted and its hash goes to ghost. Repeats until one entry is evicted or small is
//           empty.
//   main:   the oldest entry with frequency > 0 is reinserted at the head with frequency - 1;
//           the first one with frequency 0 is evicted.
// One-hit wonders therefore leave through small after a short stay, and a scan of one-time
// keys cannot flush main.
//
// Ghost bound: the ghost keeps the newest hashes whose recorded charges sum to at most main's
// share (90% of the capacity, the paper's ghost size in bytes, as in libCacheSim's S3FIFO.c)
// and that are at most as many as the entries resident when a hash is added, so ghost
// records (a hash, a charge and index overhead) never outnumber resident entries even when
// charges are tiny. A hash collision can only admit a key straight to main.
//
// Weights: every entry has a charge in bytes (a charge of 0 is counted as 1, so the entry count
// stays bounded by the capacity); used_bytes() <= capacity_bytes() always holds after a call
// returns. An entry whose charge exceeds the whole capacity is never admitted.
//
// Reservations: reserve() sets capacity aside for values being filled elsewhere (a page in
// flight), evicting entries so that resident charges plus reservations fit the capacity;
// inserts then evict until the new charge fits beside the reservations (or nothing is left to
// evict). release() gives the room back, typically just before the filled value is inserted.
//
// Complexity: find/peek/erase O(1); insert O(1) amortized (a reinsertion in main consumes a
// frequency step that an admission or a find() paid for, and each entry moves from small to
// main at most once); erase_if O(n).
//
// Thread safety: none. The caller serializes every call (including find(), which updates the
// frequency). Pointers returned by find()/peek() stay valid until the next insert, erase or
// erase_if on this cache.
//
// Requirements: Key is movable and equality-comparable, Hash maps it to std::size_t, Value is
// movable. Each key is held once (the index refers to the key inside its entry).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <iterator>
#include <list>
#include <unordered_map>
#include <utility>
#include <vector>

namespace shoal::node {

template <class Key, class Value, class Hash = std::hash<Key>>
class S3FifoCache {
 public:
  // Share of the capacity given to the small queue, in percent (the paper's 10%).
  static constexpr std::uint64_t kSmallPercent = 10;
  static constexpr std::uint8_t kMaxFrequency = 3;

  // An empty cache holding at most `capacity_bytes` of charges.
  explicit S3FifoCache(std::uint64_t capacity_bytes)
      : capacity_(capacity_bytes),
        small_capacity_(capacity_bytes / 100 * kSmallPercent +
                        capacity_bytes % 100 * kSmallPercent / 100),
        main_capacity_(capacity_bytes - small_capacity_) {}

  S3FifoCache(const S3FifoCache&) = delete;
  S3FifoCache& operator=(const S3FifoCache&) = delete;

  // Inserts `key` -> `value` with `charge` bytes, or replaces the value and charge of a resident
  // `key` in place (its queue and frequency are kept; the old value is destroyed). Returns the
  // entries evicted to make room, oldest decision first, so the caller can hand them on (e.g.
  // to a disk tier). When `charge` exceeds capacity_bytes() nothing is admitted: a resident
  // entry under `key` is dropped (it is stale) and {key, value} itself is the only returned
  // entry.
  std::vector<std::pair<Key, Value>> insert(Key key, Value value, std::uint64_t charge) {
    charge = std::max<std::uint64_t>(charge, 1);
    std::vector<std::pair<Key, Value>> evicted;
    auto found = index_.find(&key);
    if (charge > capacity_) {
      if (found != index_.end()) remove(found->second);
      evicted.emplace_back(std::move(key), std::move(value));
      return evicted;
    }
    if (found != index_.end()) {
      replace(found->second, std::move(value), charge);
      while (used_ + reserved_ > capacity_ && !index_.empty()) evict_one(&evicted);
      return evicted;
    }
    while (charge > room() && !index_.empty()) evict_one(&evicted);
    const bool seen_recently = ghost_take(hasher_(key));
    admit(seen_recently ? main_ : small_, std::move(key), std::move(value), charge);
    return evicted;
  }

  // The value under `key`, counting an access (frequency + 1, capped at 3); nullptr if absent.
  Value* find(const Key& key) {
    auto found = index_.find(&key);
    if (found == index_.end()) return nullptr;
    Entry& e = *found->second;
    e.freq = static_cast<std::uint8_t>(std::min<int>(e.freq + 1, kMaxFrequency));
    return &e.value;
  }

  // The value under `key` without counting an access; nullptr if absent.
  Value* peek(const Key& key) {
    auto found = index_.find(&key);
    return found == index_.end() ? nullptr : &found->second->value;
  }
  const Value* peek(const Key& key) const {
    auto found = index_.find(&key);
    return found == index_.end() ? nullptr : &found->second->value;
  }

  // Removes `key` (without recording it in ghost). Returns false if it was absent.
  bool erase(const Key& key) {
    auto found = index_.find(&key);
    if (found == index_.end()) return false;
    remove(found->second);
    return true;
  }

  // Removes every entry for which pred(const Key&, const Value&) is true (pred is called once
  // per resident entry); returns how many were removed. Removed keys do not enter ghost.
  template <class Pred>
  std::size_t erase_if(Pred pred) {
    return erase_matching(small_, pred) + erase_matching(main_, pred);
  }

  // Sets aside `bytes` of the capacity for values not in the cache yet (buffers being filled),
  // evicting entries until they fit beside what is resident. Returns false, and reserves nothing,
  // when the reservations would exceed the capacity (unless `force`: then as many entries as
  // needed are evicted and the reservation is made anyway). Evicted entries go to *evicted.
  bool reserve(std::uint64_t bytes, bool force, std::vector<std::pair<Key, Value>>* evicted) {
    if (!force && bytes > capacity_ - std::min(capacity_, reserved_)) return false;
    reserved_ += bytes;
    while (used_ + reserved_ > capacity_ && !index_.empty()) evict_one(evicted);
    return true;
  }
  // Gives back `bytes` of reservations (at most what is reserved).
  void release(std::uint64_t bytes) { reserved_ -= std::min(bytes, reserved_); }

  std::uint64_t used_bytes() const { return used_; }
  std::uint64_t reserved_bytes() const { return reserved_; }
  std::uint64_t capacity_bytes() const { return capacity_; }
  std::size_t size() const { return index_.size(); }

  // Bytes of the cache's own structures per resident entry, beyond what the key and value
  // themselves hold on the heap: the list node (entry and links) and the index's node and
  // bucket. For charges that account for everything an entry costs.
  static constexpr std::uint64_t entry_overhead_bytes() {
    return sizeof(Entry) + 2 * sizeof(void*) + sizeof(std::pair<const Key*, EntryIt>) +
           3 * sizeof(void*);
  }

  // Introspection for tests and metrics.
  std::uint64_t small_bytes() const { return small_.bytes; }      // charges in the small queue
  std::uint64_t main_bytes() const { return main_.bytes; }        // charges in the main queue
  std::size_t ghost_size() const { return ghost_index_.size(); }  // hashes in ghost

 private:
  enum class QueueId : std::uint8_t { kSmall, kMain };
  struct Entry {
    Key key;
    Value value;
    std::uint64_t charge;
    std::uint8_t freq;
    QueueId queue;
  };
  using EntryList = std::list<Entry>;
  using EntryIt = typename EntryList::iterator;
  // A FIFO: newest at the front, oldest at the back.
  struct Queue {
    EntryList list;
    std::uint64_t bytes = 0;
  };
  struct GhostRecord {
    std::size_t hash;
    std::uint64_t charge;
  };
  using GhostList = std::list<GhostRecord>;

  Queue& queue_of(const Entry& e) { return e.queue == QueueId::kSmall ? small_ : main_; }

  // Capacity left for resident entries beside the reservations.
  std::uint64_t room() const {
    const std::uint64_t taken = used_ + reserved_;
    return taken >= capacity_ ? 0 : capacity_ - taken;
  }

  void admit(Queue& q, Key key, Value value, std::uint64_t charge) {
    const QueueId id = &q == &small_ ? QueueId::kSmall : QueueId::kMain;
    q.list.push_front(Entry{std::move(key), std::move(value), charge, 0, id});
    index_.emplace(&q.list.front().key, q.list.begin());
    q.bytes += charge;
    used_ += charge;
  }

  void replace(EntryIt it, Value value, std::uint64_t charge) {
    Queue& q = queue_of(*it);
    q.bytes = q.bytes - it->charge + charge;
    used_ = used_ - it->charge + charge;
    it->charge = charge;
    it->value = std::move(value);
  }

  void remove(EntryIt it) {
    Queue& q = queue_of(*it);
    q.bytes -= it->charge;
    used_ -= it->charge;
    index_.erase(&it->key);
    q.list.erase(it);
  }

  // Removes the entry at `it` and appends it to *evicted.
  void evict(EntryIt it, std::vector<std::pair<Key, Value>>* evicted) {
    Queue& q = queue_of(*it);
    q.bytes -= it->charge;
    used_ -= it->charge;
    index_.erase(&it->key);
    evicted->emplace_back(std::move(it->key), std::move(it->value));
    q.list.erase(it);
  }

  // One eviction step (Algorithm 1's evict()). Requires at least one resident entry.
  void evict_one(std::vector<std::pair<Key, Value>>* evicted) {
    const bool small_full = small_.bytes >= small_capacity_;
    if (!small_.list.empty() && (small_full || main_.list.empty())) {
      evict_small(evicted);
    } else {
      evict_main(evicted);
    }
  }

  void evict_small(std::vector<std::pair<Key, Value>>* evicted) {
    while (!small_.list.empty()) {
      EntryIt oldest = std::prev(small_.list.end());
      if (oldest->freq > 1) {
        promote(oldest);
        while (main_.bytes > main_capacity_) evict_main(evicted);
      } else {
        ghost_add(hasher_(oldest->key), oldest->charge);
        evict(oldest, evicted);
        return;
      }
    }
  }

  void evict_main(std::vector<std::pair<Key, Value>>* evicted) {
    while (!main_.list.empty()) {
      EntryIt oldest = std::prev(main_.list.end());
      if (oldest->freq == 0) {
        evict(oldest, evicted);
        return;
      }
      --oldest->freq;
      main_.list.splice(main_.list.begin(), main_.list, oldest);
    }
  }

  // Moves an entry from small to the head of main, clearing its frequency.
  void promote(EntryIt it) {
    small_.bytes -= it->charge;
    main_.bytes += it->charge;
    it->freq = 0;
    it->queue = QueueId::kMain;
    main_.list.splice(main_.list.begin(), small_.list, it);
  }

  // Removes `hash` from ghost; returns whether it was there.
  bool ghost_take(std::size_t hash) {
    auto found = ghost_index_.find(hash);
    if (found == ghost_index_.end()) return false;
    ghost_bytes_ -= found->second->charge;
    ghost_.erase(found->second);
    ghost_index_.erase(found);
    return true;
  }

  void ghost_add(std::size_t hash, std::uint64_t charge) {
    ghost_take(hash);
    ghost_.push_front(GhostRecord{hash, charge});
    ghost_index_.emplace(hash, ghost_.begin());
    ghost_bytes_ += charge;
    while (!ghost_.empty() &&
           (ghost_bytes_ > main_capacity_ || ghost_index_.size() > index_.size())) {
      ghost_take(ghost_.back().hash);
    }
  }

  template <class Pred>
  std::size_t erase_matching(Queue& q, Pred& pred) {
    std::size_t removed = 0;
    for (auto it = q.list.begin(); it != q.list.end();) {
      auto next = std::next(it);
      if (pred(std::as_const(it->key), std::as_const(it->value))) {
        remove(it);
        ++removed;
      }
      it = next;
    }
    return removed;
  }

  const std::uint64_t capacity_;
  const std::uint64_t small_capacity_;
  const std::uint64_t main_capacity_;
  std::uint64_t used_ = 0;
  std::uint64_t reserved_ = 0;  // reserve(): set aside for values being filled
  Queue small_;
  Queue main_;
  // The index points at the key inside its entry, so each key is held once.
  struct KeyPtrHash {
    Hash hash;
    std::size_t operator()(const Key* k) const { return hash(*k); }
  };
  struct KeyPtrEqual {
    bool operator()(const Key* a, const Key* b) const { return *a == *b; }
  };
  std::unordered_map<const Key*, EntryIt, KeyPtrHash, KeyPtrEqual> index_;
  GhostList ghost_;
  std::unordered_map<std::size_t, typename GhostList::iterator> ghost_index_;
  std::uint64_t ghost_bytes_ = 0;
  Hash hasher_;
};

}  // namespace shoal::node
