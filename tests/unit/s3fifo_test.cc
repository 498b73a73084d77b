#include "node/s3fifo.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "tests/unit/lru_cache.h"

namespace shoal::node {
namespace {

using Evicted = std::vector<std::pair<int, std::string>>;

// The value stored under key k in tests that check values ("v" + k, built without GCC 12's
// false -Wrestrict warning on operator+(const char*, std::string&&)).
std::string value_of(int k) {
  std::string value = "v";
  value += std::to_string(k);
  return value;
}

// The value under `key` via peek() / find(), or "<absent>".
template <class C>
std::string peek_value(const C& cache, int key) {
  const std::string* v = cache.peek(key);
  return v ? *v : "<absent>";
}
template <class C>
std::string find_value(C& cache, int key) {
  const std::string* v = cache.find(key);
  return v ? *v : "<absent>";
}

std::vector<int> keys_of(const Evicted& evicted) {
  std::vector<int> keys;
  for (const auto& [k, v] : evicted) keys.push_back(k);
  return keys;
}

// ---------------------------------------------------------------------------------------------
// Behaviour both caches share (the S3FifoCache interface), run against each.

template <class Cache>
class ByteWeightedCache : public ::testing::Test {};

using CacheTypes = ::testing::Types<S3FifoCache<int, std::string>, LruCache<int, std::string>>;
TYPED_TEST_SUITE(ByteWeightedCache, CacheTypes);

TYPED_TEST(ByteWeightedCache, StartsEmpty) {
  TypeParam cache(1000);
  EXPECT_EQ(cache.capacity_bytes(), 1000u);
  EXPECT_EQ(cache.used_bytes(), 0u);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.find(1), nullptr);
  EXPECT_EQ(cache.peek(1), nullptr);
}

TYPED_TEST(ByteWeightedCache, InsertThenFind) {
  TypeParam cache(1000);
  EXPECT_TRUE(cache.insert(1, "one", 100).empty());
  EXPECT_TRUE(cache.insert(2, "two", 200).empty());
  EXPECT_EQ(find_value(cache, 1), "one");
  EXPECT_EQ(peek_value(cache, 2), "two");
  std::string* mutable_value = cache.peek(2);
  ASSERT_NE(mutable_value, nullptr);
  *mutable_value = "TWO";
  EXPECT_EQ(find_value(cache, 2), "TWO");
  EXPECT_EQ(cache.used_bytes(), 300u);
  EXPECT_EQ(cache.size(), 2u);
}

TYPED_TEST(ByteWeightedCache, ReplacementReplacesValueAndCharge) {
  TypeParam cache(1000);
  cache.insert(1, "old", 100);
  cache.insert(2, "other", 100);
  EXPECT_TRUE(cache.insert(1, "new", 300).empty());
  EXPECT_EQ(peek_value(cache, 1), "new");
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.used_bytes(), 400u);
  cache.insert(1, "smaller", 10);
  EXPECT_EQ(cache.used_bytes(), 110u);
  EXPECT_EQ(find_value(cache, 1), "smaller");
}

TYPED_TEST(ByteWeightedCache, ReplacementThatGrowsEvictsToStayWithinCapacity) {
  TypeParam cache(1000);
  for (int k = 0; k < 10; ++k) cache.insert(k, "v", 100);
  const Evicted evicted = cache.insert(5, "big", 500);
  EXPECT_LE(cache.used_bytes(), 1000u);
  std::uint64_t freed = 0;
  for (const auto& [k, v] : evicted) freed += k == 5 ? 500 : 100;
  EXPECT_GE(freed, 400u);
  EXPECT_EQ(cache.used_bytes(), 1400u - freed);
}

TYPED_TEST(ByteWeightedCache, RejectsOversizedEntry) {
  TypeParam cache(1000);
  cache.insert(1, "small", 10);
  const Evicted evicted = cache.insert(2, "huge", 1001);
  ASSERT_EQ(evicted.size(), 1u);
  EXPECT_EQ(evicted[0], (std::pair<int, std::string>{2, "huge"}));
  EXPECT_EQ(cache.peek(2), nullptr);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.used_bytes(), 10u);
  // An entry of exactly the capacity is admitted (and displaces everything else).
  EXPECT_EQ(keys_of(cache.insert(3, "exact", 1000)), std::vector<int>{1});
  EXPECT_EQ(cache.used_bytes(), 1000u);
}

TYPED_TEST(ByteWeightedCache, OversizedReplacementDropsTheStaleEntry) {
  TypeParam cache(1000);
  cache.insert(1, "old", 10);
  const Evicted evicted = cache.insert(1, "new but huge", 5000);
  ASSERT_EQ(evicted.size(), 1u);
  EXPECT_EQ(evicted[0].second, "new but huge");
  EXPECT_EQ(cache.peek(1), nullptr);
  EXPECT_EQ(cache.used_bytes(), 0u);
  EXPECT_EQ(cache.size(), 0u);
}

TYPED_TEST(ByteWeightedCache, ZeroChargeCountsAsOneByte) {
  TypeParam cache(3);
  cache.insert(1, "a", 0);
  cache.insert(2, "b", 0);
  cache.insert(3, "c", 0);
  EXPECT_EQ(cache.used_bytes(), 3u);
  EXPECT_EQ(cache.insert(4, "d", 0).size(), 1u);
  EXPECT_EQ(cache.size(), 3u);
}

TYPED_TEST(ByteWeightedCache, EraseRemovesAndFreesBytes) {
  TypeParam cache(1000);
  cache.insert(1, "a", 100);
  cache.insert(2, "b", 200);
  EXPECT_TRUE(cache.erase(1));
  EXPECT_FALSE(cache.erase(1));
  EXPECT_FALSE(cache.erase(42));
  EXPECT_EQ(cache.peek(1), nullptr);
  EXPECT_EQ(cache.used_bytes(), 200u);
  EXPECT_EQ(cache.size(), 1u);
}

TYPED_TEST(ByteWeightedCache, EraseIfRemovesMatchingEntriesOnly) {
  TypeParam cache(10000);
  for (int k = 0; k < 20; ++k) cache.insert(k, value_of(k), 10 + k);
  for (int k = 0; k < 20; k += 3) cache.find(k);  // spread entries over queues/positions
  int calls = 0;
  const std::size_t removed = cache.erase_if([&](const int& k, const std::string& v) {
    ++calls;
    EXPECT_EQ(v, value_of(k));
    return k % 2 == 0;
  });
  EXPECT_EQ(removed, 10u);
  EXPECT_EQ(calls, 20);
  std::uint64_t expected = 0;
  for (int k = 0; k < 20; ++k) {
    EXPECT_EQ(cache.peek(k) == nullptr, k % 2 == 0) << k;
    if (k % 2 == 1) expected += 10 + k;
  }
  EXPECT_EQ(cache.used_bytes(), expected);
  EXPECT_EQ(cache.erase_if([](const int&, const std::string&) { return false; }), 0u);
}

TYPED_TEST(ByteWeightedCache, CapacityRespectedInBytesUnderRandomOperations) {
  constexpr std::uint64_t kCapacity = 10000;
  TypeParam cache(kCapacity);
  struct Shadow {
    std::string value;
    std::uint64_t charge;
  };
  std::unordered_map<int, Shadow> shadow;  // what the cache must hold
  std::mt19937_64 rng(7);
  for (int op = 0; op < 30000; ++op) {
    const int key = static_cast<int>(rng() % 400);
    const unsigned dice = rng() % 100;
    if (dice < 55) {
      const std::uint64_t charge = rng() % 100 == 0 ? kCapacity + 1 : 1 + rng() % 400;
      const std::string value = std::to_string(op);
      const Evicted evicted = cache.insert(key, value, charge);
      const bool admitted = charge <= kCapacity;
      shadow.erase(key);  // replaced, or dropped when oversized
      if (admitted) shadow[key] = {value, charge};
      for (const auto& [k, v] : evicted) {
        if (!admitted && k == key) {
          ASSERT_EQ(v, value) << "an oversized entry comes back as the only evicted entry";
          ASSERT_EQ(evicted.size(), 1u);
          continue;
        }
        auto it = shadow.find(k);
        ASSERT_NE(it, shadow.end()) << "evicted a key that was not resident: " << k;
        ASSERT_EQ(it->second.value, v) << "evicted value is not the resident one";
        shadow.erase(it);
      }
    } else if (dice < 90) {
      std::string* v = cache.find(key);
      auto it = shadow.find(key);
      ASSERT_EQ(v != nullptr, it != shadow.end());
      if (v) {
        ASSERT_EQ(*v, it->second.value);
      }
    } else if (dice < 99) {
      ASSERT_EQ(cache.erase(key), shadow.erase(key) == 1);
    } else {
      const int mod = 2 + static_cast<int>(rng() % 5);
      const std::size_t removed =
          cache.erase_if([&](const int& k, const std::string&) { return k % mod == 0; });
      std::size_t expected =
          std::erase_if(shadow, [&](const auto& e) { return e.first % mod == 0; });
      ASSERT_EQ(removed, expected);
    }
    std::uint64_t total = 0;
    for (const auto& [k, s] : shadow) total += s.charge;
    ASSERT_LE(cache.used_bytes(), kCapacity);
    ASSERT_EQ(cache.used_bytes(), total) << "op " << op;
    ASSERT_EQ(cache.size(), shadow.size()) << "op " << op;
  }
  for (int k = 0; k < 400; ++k) {
    const std::string* v = cache.peek(k);
    auto it = shadow.find(k);
    ASSERT_EQ(v != nullptr, it != shadow.end()) << k;
    if (v) {
      EXPECT_EQ(*v, it->second.value);
    }
  }
}

TYPED_TEST(ByteWeightedCache, HoldsMoveOnlyValues) {
  using MoveOnlyCache = std::conditional_t<std::is_same_v<TypeParam, LruCache<int, std::string>>,
                                           LruCache<int, std::unique_ptr<int>>,
                                           S3FifoCache<int, std::unique_ptr<int>>>;
  MoveOnlyCache cache(2);
  cache.insert(1, std::make_unique<int>(10), 1);
  cache.insert(2, std::make_unique<int>(20), 1);
  auto evicted = cache.insert(3, std::make_unique<int>(30), 1);
  ASSERT_EQ(evicted.size(), 1u);
  ASSERT_NE(evicted[0].second, nullptr);
  EXPECT_EQ(*evicted[0].second, evicted[0].first * 10);
  ASSERT_NE(cache.find(3), nullptr);
  EXPECT_EQ(**cache.find(3), 30);
}

// ---------------------------------------------------------------------------------------------
// S3-FIFO's queues.

using Cache = S3FifoCache<int, std::string>;

TEST(S3Fifo, NewKeysEnterSmall) {
  Cache cache(100);
  cache.insert(1, "a", 30);
  cache.insert(2, "b", 20);
  EXPECT_EQ(cache.small_bytes(), 50u);
  EXPECT_EQ(cache.main_bytes(), 0u);
  EXPECT_EQ(cache.ghost_size(), 0u);
}

TEST(S3Fifo, UnaccessedKeyLeavesSmallForGhost) {
  Cache cache(10);  // small: 1 byte, main: 9 bytes
  for (int k = 0; k < 10; ++k) cache.insert(k, "v", 1);
  EXPECT_EQ(keys_of(cache.insert(10, "v", 1)), std::vector<int>{0});  // FIFO: oldest first
  EXPECT_EQ(cache.ghost_size(), 1u);
  EXPECT_EQ(cache.main_bytes(), 0u);
}

TEST(S3Fifo, GhostReadmissionGoesToMain) {
  Cache cache(10);
  for (int k = 0; k < 10; ++k) cache.insert(k, "v", 1);
  cache.insert(10, "v", 1);  // evicts 0 into ghost
  ASSERT_EQ(cache.peek(0), nullptr);
  ASSERT_EQ(cache.ghost_size(), 1u);
  EXPECT_EQ(keys_of(cache.insert(0, "back", 1)), std::vector<int>{1});  // 1 -> ghost
  EXPECT_EQ(cache.main_bytes(), 1u);
  EXPECT_EQ(cache.small_bytes(), 9u);
  EXPECT_EQ(cache.ghost_size(), 1u);  // 0 left ghost, 1 entered it
  // In main, 0 outlives a flood of one-time keys, which churn through small.
  for (int k = 100; k < 1100; ++k) {
    for (const auto& [key, v] : cache.insert(k, "v", 1)) EXPECT_NE(key, 0);
  }
  EXPECT_EQ(peek_value(cache, 0), "back");
}

TEST(S3Fifo, KeyNotInGhostEntersSmallEvenIfSeenLongAgo) {
  Cache cache(10);
  for (int k = 0; k < 10; ++k) cache.insert(k, "v", 1);
  // 0 enters ghost, then enough later evictions push it out of the ghost (9 bytes of main
  // share, and at most as many records as resident entries).
  for (int k = 10; k < 30; ++k) cache.insert(k, "v", 1);
  EXPECT_LE(cache.ghost_size(), 9u);
  cache.insert(0, "again", 1);
  EXPECT_EQ(cache.main_bytes(), 0u);
}

TEST(S3Fifo, KeyHitTwiceInSmallMovesToMain) {
  Cache cache(10);
  for (int k = 0; k < 10; ++k) cache.insert(k, "v", 1);
  cache.find(0);
  cache.find(0);  // frequency 2
  cache.find(1);  // frequency 1: not enough (> 1 needed)
  // Eviction from small: 0 (the oldest) moves to main, then 1 is evicted to ghost.
  EXPECT_EQ(keys_of(cache.insert(10, "v", 1)), std::vector<int>{1});
  EXPECT_EQ(cache.main_bytes(), 1u);
  EXPECT_NE(cache.peek(0), nullptr);
}

TEST(S3Fifo, PeekDoesNotCountAsAccess) {
  Cache cache(10);
  for (int k = 0; k < 10; ++k) cache.insert(k, "v", 1);
  for (int i = 0; i < 5; ++i) cache.peek(0);
  EXPECT_EQ(keys_of(cache.insert(10, "v", 1)), std::vector<int>{0});
}

TEST(S3Fifo, MainGivesAccessedEntriesASecondChance) {
  Cache cache(10);  // small: 1 byte, main: 9 bytes
  for (int k = 0; k < 10; ++k) {
    cache.insert(k, "v", 1);
    cache.find(k);
    cache.find(k);
  }
  // All ten move to main; main holds 9 bytes, so its oldest (0, frequency 0) goes.
  EXPECT_EQ(keys_of(cache.insert(10, "v", 1)), std::vector<int>{0});
  EXPECT_EQ(cache.main_bytes(), 9u);  // 9, 8, ..., 1 (1 oldest)
  cache.find(1);                      // 1: frequency 1 in main
  cache.find(10);
  cache.find(10);  // 10: frequency 2 in small
  // 10 moves to main, main overflows: 1 is reinserted (frequency 1 -> 0), 2 is evicted.
  EXPECT_EQ(keys_of(cache.insert(11, "v", 1)), std::vector<int>{2});
  EXPECT_NE(cache.peek(1), nullptr);
  EXPECT_NE(cache.peek(10), nullptr);
}

TEST(S3Fifo, FrequencyIsCappedAtThree) {
  Cache cache(10);
  for (int k = 0; k < 10; ++k) {
    cache.insert(k, "v", 1);
    for (int i = 0; i < 100; ++i) cache.find(k);
  }
  cache.insert(10, "v", 1);  // all promoted (frequency reset to 0), 0 evicted from main
  for (int k = 1; k < 10; ++k) {
    for (int i = 0; i < 100; ++i) cache.find(k);  // frequency 3, not 100
  }
  // From now on every insert promotes the previous key from small, which overflows main by one
  // entry: each overflow takes one frequency step from 1..9 and evicts the newcomer, until 1..9
  // reach 0 and 1 (the oldest) goes. Capped at 3, that is the fourth overflow; with an
  // uncapped count of 100 it would survive all these rounds.
  int evicted_at = -1;
  for (int k = 20; k < 60 && evicted_at < 0; ++k) {
    cache.find(k - 1);
    cache.find(k - 1);
    for (int key : keys_of(cache.insert(k, "v", 1))) {
      if (key == 1) evicted_at = k;
    }
  }
  EXPECT_EQ(evicted_at, 24);
}

TEST(S3Fifo, OneHitWondersAreEvictedBeforeReusedKeys) {
  constexpr int kHot = 50;
  Cache s3(100);
  LruCache<int, std::string> lru(100);
  for (int k = 0; k < kHot; ++k) {
    s3.insert(k, "hot", 1);
    lru.insert(k, "hot", 1);
  }
  for (int k = 0; k < kHot; ++k) {
    s3.find(k);
    s3.find(k);
    lru.find(k);
    lru.find(k);
  }
  for (int k = 1000; k < 3000; ++k) {  // a scan of one-time keys, 20x the cache
    for (int key : keys_of(s3.insert(k, "once", 1))) EXPECT_GE(key, 1000);
    lru.insert(k, "once", 1);
  }
  int s3_hot = 0, lru_hot = 0;
  for (int k = 0; k < kHot; ++k) {
    s3_hot += s3.peek(k) != nullptr;
    lru_hot += lru.peek(k) != nullptr;
  }
  EXPECT_EQ(s3_hot, kHot);
  EXPECT_EQ(lru_hot, 0);  // the contrast: LRU is flushed by the scan
}

TEST(S3Fifo, WeightedSmallQueueIsTenPercentOfBytes) {
  Cache cache(1000);  // small share: 100 bytes
  for (int k = 0; k < 10; ++k) {
    cache.insert(k, "v", 100);
    cache.find(k);
    cache.find(k);
  }
  // Full: the next insert evicts from small (1000 >= 100): entries move to main until main
  // exceeds its 900 bytes, then main evicts.
  cache.insert(10, "v", 100);
  EXPECT_LE(cache.main_bytes(), 900u);
  EXPECT_EQ(cache.used_bytes(), 1000u);
  EXPECT_EQ(cache.small_bytes(), 100u);  // only the new key
}

TEST(S3Fifo, PromotionKeepsMainWithinItsShare) {
  Cache cache(100);  // small: 10 bytes, main: 90 bytes
  for (int k = 0; k < 10; ++k) {
    cache.insert(k, "v", 10);
    cache.find(k);
    cache.find(k);
  }
  EXPECT_EQ(keys_of(cache.insert(50, "x", 10)), std::vector<int>{0});  // 1..9 now in main
  cache.erase(50);
  EXPECT_EQ(cache.main_bytes(), 90u);
  cache.insert(100, "a", 5);
  cache.find(100);
  cache.find(100);
  cache.insert(101, "b", 5);
  // 100 moves to main (95 bytes > 90), so main's oldest (1) goes before 101 leaves small.
  EXPECT_EQ(keys_of(cache.insert(102, "c", 5)), (std::vector<int>{1, 101}));
  EXPECT_EQ(cache.main_bytes(), 85u);
  EXPECT_EQ(cache.used_bytes(), 90u);
}

struct CollidingHash {
  std::size_t operator()(int) const { return 42; }
};

TEST(S3Fifo, HashCollisionInGhostAdmitsToMain) {
  S3FifoCache<int, std::string, CollidingHash> cache(10);
  for (int k = 0; k < 10; ++k) cache.insert(k, "v", 1);
  // Making room for 2 bytes sends 0 and then 1 to ghost; both hash to 42, so one record
  // remains, and the new key, whose hash is in ghost, is admitted to main and consumes it.
  EXPECT_EQ(keys_of(cache.insert(10, "v", 2)), (std::vector<int>{0, 1}));
  EXPECT_EQ(cache.main_bytes(), 2u);
  EXPECT_EQ(cache.small_bytes(), 8u);
  EXPECT_EQ(cache.ghost_size(), 0u);
  cache.insert(11, "v", 1);  // 2 -> ghost, then 11 -> main
  EXPECT_EQ(cache.main_bytes(), 3u);
  EXPECT_EQ(cache.used_bytes(), 10u);
}

TEST(S3Fifo, GhostNeverOutnumbersResidentEntries) {
  Cache cache(100);
  for (int k = 0; k < 100; ++k) cache.insert(k, "tiny", 1);
  // One big entry pushes out all 100 tiny ones; their 100 bytes would fit the ghost's byte
  // bound (90), but the ghost keeps no more records than there are resident entries.
  EXPECT_EQ(cache.insert(1000, "big", 100).size(), 100u);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_LE(cache.ghost_size(), 1u);
}

TEST(Lru, EvictsLeastRecentlyUsed) {
  LruCache<int, std::string> cache(3);
  cache.insert(1, "a", 1);
  cache.insert(2, "b", 1);
  cache.insert(3, "c", 1);
  EXPECT_EQ(keys_of(cache.insert(4, "d", 1)), std::vector<int>{1});
  EXPECT_EQ(keys_of(cache.insert(5, "e", 2)), (std::vector<int>{2, 3}));
}

TEST(Lru, FindMakesMostRecentlyUsedButPeekDoesNot) {
  LruCache<int, std::string> cache(3);
  cache.insert(1, "a", 1);
  cache.insert(2, "b", 1);
  cache.insert(3, "c", 1);
  cache.find(1);
  cache.peek(2);
  EXPECT_EQ(keys_of(cache.insert(4, "d", 1)), std::vector<int>{2});
  EXPECT_EQ(keys_of(cache.insert(5, "e", 1)), std::vector<int>{3});
}

TEST(Lru, ReplacementMakesMostRecentlyUsed) {
  LruCache<int, std::string> cache(3);
  cache.insert(1, "a", 1);
  cache.insert(2, "b", 1);
  cache.insert(3, "c", 1);
  cache.insert(1, "a2", 1);
  EXPECT_EQ(keys_of(cache.insert(4, "d", 1)), std::vector<int>{2});
}

// ---------------------------------------------------------------------------------------------
// Hit ratio against LRU on a synthetic Zipf trace.

// Zipf(alpha) over ranks 0..n-1 by inverse CDF over precomputed weights 1/(rank+1)^alpha.
class ZipfSampler {
 public:
  ZipfSampler(std::size_t n, double alpha) : cdf_(n) {
    double total = 0;
    for (std::size_t i = 0; i < n; ++i) {
      total += 1.0 / std::pow(static_cast<double>(i + 1), alpha);
      cdf_[i] = total;
    }
  }
  // A rank; uses 53 random bits so the result does not depend on the standard library.
  std::uint64_t operator()(std::mt19937_64& rng) const {
    const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53 * cdf_.back();
    const auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
    return static_cast<std::uint64_t>(std::min<std::ptrdiff_t>(it - cdf_.begin(), cdf_.size() - 1));
  }

 private:
  std::vector<double> cdf_;
};

constexpr std::size_t kDistinctKeys = 100'000;
constexpr std::size_t kRequests = 1'000'000;

// A Zipf(1.0) trace; when scan_every > 0, every scan_every-th request is instead the next key
// of a sequential scan over keys never requested otherwise.
std::vector<std::uint64_t> make_trace(std::uint64_t seed, int scan_every) {
  const ZipfSampler zipf(kDistinctKeys, 1.0);
  std::mt19937_64 rng(seed);
  std::vector<std::uint64_t> trace(kRequests);
  std::uint64_t next_scan_key = kDistinctKeys;
  for (std::size_t i = 0; i < kRequests; ++i) {
    const bool scan = scan_every > 0 && i % scan_every == 0;
    trace[i] = scan ? next_scan_key++ : zipf(rng);
  }
  return trace;
}

template <class CacheT>
double hit_ratio(const std::vector<std::uint64_t>& trace, std::uint64_t capacity) {
  CacheT cache(capacity);
  std::size_t hits = 0;
  for (std::uint64_t key : trace) {
    if (cache.find(key) != nullptr) {
      ++hits;
    } else {
      cache.insert(key, 0, 1);
    }
  }
  return static_cast<double>(hits) / static_cast<double>(trace.size());
}

void compare_on(const char* name, const std::vector<std::uint64_t>& trace) {
  for (std::uint64_t percent : {1, 10}) {
    const std::uint64_t capacity = kDistinctKeys * percent / 100;
    const double s3 = hit_ratio<S3FifoCache<std::uint64_t, int>>(trace, capacity);
    const double lru = hit_ratio<LruCache<std::uint64_t, int>>(trace, capacity);
    std::printf("[ hit ratio ] %-18s cache %3llu%% of keys: S3-FIFO %.4f  LRU %.4f\n", name,
                static_cast<unsigned long long>(percent), s3, lru);
    EXPECT_GE(s3, lru) << name << " at " << percent << "%";
  }
}

TEST(S3FifoHitRatio, AtLeastLruOnZipf) {
  compare_on("zipf 1.0", make_trace(2023, 0));
}

TEST(S3FifoHitRatio, AtLeastLruOnZipfWithScan) {
  compare_on("zipf 1.0 + scan", make_trace(2024, 4));  // 25% one-time scan keys
}

}  // namespace
}  // namespace shoal::node
