// LruCache: a byte-weighted least-recently-used cache with the same interface as S3FifoCache
// (node/s3fifo.h). It is the baseline S3-FIFO is measured against in
// tests/unit/s3fifo_test.cc; test code only, no product file uses it.
//
// insert() and find() make an entry the most recently used; eviction removes the least
// recently used entries until a new charge fits. Charges are in bytes (0 counts as 1); an entry
// whose charge exceeds the whole capacity is never admitted.
//
// Complexity: find/peek/erase/insert O(1) (amortized: one eviction per entry admitted);
// erase_if O(n).
//
// Thread safety: none; the caller serializes every call (find() reorders entries). Pointers
// returned by find()/peek() stay valid until the next insert, erase or erase_if.
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
class LruCache {
 public:
  // An empty cache holding at most `capacity_bytes` of charges.
  explicit LruCache(std::uint64_t capacity_bytes) : capacity_(capacity_bytes) {}

  LruCache(const LruCache&) = delete;
  LruCache& operator=(const LruCache&) = delete;

  // Inserts or replaces `key` -> `value` with `charge` bytes as the most recently used entry
  // and returns the entries evicted to make room, least recently used first. When `charge`
  // exceeds capacity_bytes() nothing is admitted: a resident entry under `key` is dropped and
  // {key, value} itself is the only returned entry.
  std::vector<std::pair<Key, Value>> insert(Key key, Value value, std::uint64_t charge) {
    charge = std::max<std::uint64_t>(charge, 1);
    std::vector<std::pair<Key, Value>> evicted;
    auto found = index_.find(key);
    if (found != index_.end()) remove(found->second);
    if (charge > capacity_) {
      evicted.emplace_back(std::move(key), std::move(value));
      return evicted;
    }
    while (charge > capacity_ - used_) evict_oldest(&evicted);
    list_.push_front(Entry{key, std::move(value), charge});
    index_.emplace(std::move(key), list_.begin());
    used_ += charge;
    return evicted;
  }

  // The value under `key`, made most recently used; nullptr if absent.
  Value* find(const Key& key) {
    auto found = index_.find(key);
    if (found == index_.end()) return nullptr;
    list_.splice(list_.begin(), list_, found->second);
    return &found->second->value;
  }

  // The value under `key` without changing its recency; nullptr if absent.
  Value* peek(const Key& key) {
    auto found = index_.find(key);
    return found == index_.end() ? nullptr : &found->second->value;
  }
  const Value* peek(const Key& key) const {
    auto found = index_.find(key);
    return found == index_.end() ? nullptr : &found->second->value;
  }

  // Removes `key`; returns false if it was absent.
  bool erase(const Key& key) {
    auto found = index_.find(key);
    if (found == index_.end()) return false;
    remove(found->second);
    return true;
  }

  // Removes every entry for which pred(const Key&, const Value&) is true; returns the count.
  template <class Pred>
  std::size_t erase_if(Pred pred) {
    std::size_t removed = 0;
    for (auto it = list_.begin(); it != list_.end();) {
      auto next = std::next(it);
      if (pred(std::as_const(it->key), std::as_const(it->value))) {
        remove(it);
        ++removed;
      }
      it = next;
    }
    return removed;
  }

  std::uint64_t used_bytes() const { return used_; }
  std::uint64_t capacity_bytes() const { return capacity_; }
  std::size_t size() const { return index_.size(); }

 private:
  struct Entry {
    Key key;
    Value value;
    std::uint64_t charge;
  };
  using EntryIt = typename std::list<Entry>::iterator;

  void remove(EntryIt it) {
    used_ -= it->charge;
    index_.erase(it->key);
    list_.erase(it);
  }

  void evict_oldest(std::vector<std::pair<Key, Value>>* evicted) {
    EntryIt oldest = std::prev(list_.end());
    used_ -= oldest->charge;
    index_.erase(oldest->key);
    evicted->emplace_back(std::move(oldest->key), std::move(oldest->value));
    list_.erase(oldest);
  }

  const std::uint64_t capacity_;
  std::uint64_t used_ = 0;
  std::list<Entry> list_;  // most recently used first
  std::unordered_map<Key, EntryIt, Hash> index_;
};

}  // namespace shoal::node
