// What reaches the disk tier: the admission rule (node/store/admission.h), the memory tier's
// eviction handoff (node/memory_tier.h), and a measurement of admission rules and disk eviction
// policies on synthetic traces, through the real MemoryTier and DiskTier (docs/benchmarks.md,
// "Disk tier", quotes the table this prints).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "node/memory_tier.h"
#include "node/store/admission.h"
#include "node/store/disk_tier.h"
#include "tests/unit/disk_test_util.h"

namespace shoal::store {
namespace {

using base::PageKey;
using node::EvictedPage;
using node::MemoryTier;
using node::Page;
using node::PageRef;

TEST(DiskAdmission, AllAdmitsEverything) {
  DiskAdmission a(AdmissionRule::kAll, 16);
  EXPECT_TRUE(a.admit(1, false));
  EXPECT_TRUE(a.admit(1, false));
  EXPECT_EQ(a.stats().admitted, 2u);
}

TEST(DiskAdmission, ReaccessedAdmitsHitPagesAtOnce) {
  DiskAdmission a(AdmissionRule::kReaccessed, 16);
  EXPECT_TRUE(a.admit(7, true));
  EXPECT_EQ(a.stats().admitted, 1u);
  EXPECT_EQ(a.stats().rejected, 0u);
}

TEST(DiskAdmission, ReaccessedAdmitsAnUnhitPageTheSecondTime) {
  DiskAdmission a(AdmissionRule::kReaccessed, 16);
  EXPECT_FALSE(a.admit(7, false));
  EXPECT_TRUE(a.admit(7, false));
  EXPECT_FALSE(a.admit(7, false));  // admitting consumed the memory of the rejection
  EXPECT_EQ(a.stats().admitted, 1u);
  EXPECT_EQ(a.stats().rejected, 2u);
}

TEST(DiskAdmission, ForgetsOldRejectionsBeyondItsCapacity) {
  DiskAdmission a(AdmissionRule::kReaccessed, 8);  // generations of 4
  for (std::uint64_t k = 0; k < 8; ++k) EXPECT_FALSE(a.admit(k, false));
  EXPECT_TRUE(a.admit(4, false));  // current and old generations are remembered
  for (std::uint64_t k = 100; k < 108; ++k) a.admit(k, false);
  EXPECT_FALSE(a.admit(0, false));  // pushed out by 8 newer rejections
}

// ---- the memory tier's eviction handoff ----

PageRef make_page(const base::PageKey& k, std::size_t n, const std::string& etag = "\"e\"") {
  auto p = std::make_shared<Page>();
  p->body.data = std::make_unique<char[]>(n);
  p->body.size = n;
  std::string bytes = test::page_bytes(base::PageKey{k.kind, k.object, k.page}, etag, n);
  std::memcpy(p->body.data.get(), bytes.data(), n);
  p->object_size = 1ull << 40;
  p->etag = etag;
  p->last_modified = "Sat, 01 Jan 2000 00:00:00 GMT";
  p->bucket = "b";
  return p;
}

std::uint64_t charge_of(std::size_t body) {
  return MemoryTier::charge(base::PageKey{"k", "o", 0},
                            *make_page(base::PageKey{"k", "o", 0}, body));
}

TEST(MemoryTierEviction, HandsOverEvictedPagesWithHitAndOrigin) {
  MemoryTier mem(4 * charge_of(1000) + 2000);
  std::vector<EvictedPage> out;
  mem.set_eviction_handler([&](EvictedPage e) { out.push_back(std::move(e)); });
  mem.insert(base::PageKey{"k", "o", 0}, make_page(base::PageKey{"k", "o", 0}, 1000));
  mem.insert(base::PageKey{"k", "o", 1}, make_page(base::PageKey{"k", "o", 1}, 1000),
             /*from_disk=*/true);
  EXPECT_TRUE(mem.find(base::PageKey{"k", "o", 0}));
  for (std::uint64_t p = 2; p < 12; ++p) {
    mem.insert(base::PageKey{"k", "o", p}, make_page(base::PageKey{"k", "o", p}, 1000));
  }
  ASSERT_FALSE(out.empty());
  bool saw_hit = false, saw_disk = false;
  for (const EvictedPage& e : out) {
    EXPECT_NE(e.key.page, node::kMetaPage);
    if (e.key.page == 0) saw_hit = e.hit && !e.from_disk;
    if (e.key.page == 1) saw_disk = e.from_disk && !e.hit;
    if (e.key.page >= 2) {
      EXPECT_FALSE(e.hit || e.from_disk);
    }
  }
  EXPECT_TRUE(saw_disk);
  // Page 0 was hit once while in the small queue: S3-FIFO evicts it from there like the others
  // (frequency <= 1) but the hit is reported.
  EXPECT_TRUE(saw_hit);
}

TEST(MemoryTierEviction, EtagChangesAndErasesAreNotHandedOver) {
  MemoryTier mem(64 * charge_of(1000));
  int handed = 0;
  mem.set_eviction_handler([&](EvictedPage) { ++handed; });
  mem.insert(base::PageKey{"k", "o", 0}, make_page(base::PageKey{"k", "o", 0}, 1000, "\"v1\""));
  mem.insert(base::PageKey{"k", "o", 1}, make_page(base::PageKey{"k", "o", 1}, 1000, "\"v2\""));
  EXPECT_EQ(mem.peek(base::PageKey{"k", "o", 0}), nullptr);  // dropped: stale version
  mem.erase_object("k", "o");
  EXPECT_EQ(handed, 0);
}

TEST(MemoryTierEviction, ResidentPagesListsEveryPageOnce) {
  MemoryTier mem(64 * charge_of(1000));
  for (std::uint64_t p = 0; p < 5; ++p) {
    mem.insert(base::PageKey{"k", "o", p}, make_page(base::PageKey{"k", "o", p}, 1000), p == 3);
  }
  mem.find(base::PageKey{"k", "o", 2});
  auto pages = mem.resident_pages();
  ASSERT_EQ(pages.size(), 5u);
  std::sort(pages.begin(), pages.end(),
            [](const EvictedPage& a, const EvictedPage& b) { return a.key.page < b.key.page; });
  for (std::uint64_t p = 0; p < 5; ++p) {
    EXPECT_EQ(pages[p].key.page, p);
    EXPECT_EQ(pages[p].hit, p == 2);
    EXPECT_EQ(pages[p].from_disk, p == 3);
  }
}

// ---- measurement: admission rule x disk eviction policy ----

constexpr std::size_t kPage = 64 << 10;
constexpr std::size_t kMemoryPages = 32;
constexpr std::size_t kDiskSlots = 256;

struct SimResult {
  double hit_ratio = 0;       // memory + disk hits / requests
  double disk_hit_ratio = 0;  // disk hits / requests
  std::uint64_t pages_written = 0;
};

// Requests: Zipf(0.9) over 4096 pages of one object, interleaved with one-time sequential scans
// (runs of 64 new pages) making up `scan_share` of the requests.
std::vector<base::PageKey> zipf_with_scans(std::size_t n, double scan_share, std::uint64_t seed) {
  constexpr std::size_t kItems = 4096;
  std::vector<double> cdf(kItems);
  double sum = 0;
  for (std::size_t i = 0; i < kItems; ++i) cdf[i] = sum += 1.0 / std::pow(double(i + 1), 0.9);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<base::PageKey> trace;
  std::uint64_t next_scan = 0;
  while (trace.size() < n) {
    if (u(rng) < scan_share / 64) {
      for (int i = 0; i < 64; ++i) trace.push_back(base::PageKey{"k", "scan", next_scan++});
      continue;
    }
    auto it = std::lower_bound(cdf.begin(), cdf.end(), u(rng) * sum);
    trace.push_back(base::PageKey{"k", "zipf", static_cast<std::uint64_t>(it - cdf.begin())});
  }
  trace.resize(n);
  return trace;
}

// Requests: `epochs` sequential passes over `pages` pages (bigger than memory, smaller than
// the disk), the shape of training jobs re-reading a dataset.
std::vector<base::PageKey> loop(std::size_t pages, int epochs) {
  std::vector<base::PageKey> trace;
  for (int e = 0; e < epochs; ++e) {
    for (std::uint64_t p = 0; p < pages; ++p) trace.push_back(base::PageKey{"k", "loop", p});
  }
  return trace;
}

// Runs `trace` through a MemoryTier and a DiskTier joined the way node/page_fetcher.cc joins
// them: memory, then disk (a hit is promoted to memory as from-disk), else a fresh page; memory
// evictions go to disk when admitted and not there yet.
SimResult simulate(const std::vector<base::PageKey>& trace, AdmissionRule rule,
                   EvictionPolicy policy) {
  test::ScratchDir dir("/dev/shm");
  DiskConfig c;
  c.path = dir.path();
  c.page_size = kPage;
  c.capacity_bytes = kDiskSlots * slot_bytes(kPage);
  c.io_threads = 1;
  c.eviction = policy;
  std::string error;
  auto disk = DiskTier::open(c, &error);
  EXPECT_TRUE(disk) << error;
  DiskAdmission admission(rule, kDiskSlots);
  MemoryTier mem(kMemoryPages * charge_of(kPage));
  mem.set_eviction_handler([&](EvictedPage e) {
    base::PageKey k{e.key.kind, e.key.object, e.key.page};
    if (e.from_disk || disk->contains(k, e.page->etag)) return;
    if (!admission.admit(base::PageKeyHash{}(e.key), e.hit)) return;
    const Page& p = *e.page;
    disk->write(k, PageMeta{p.object_size, p.etag, p.last_modified, p.bucket, p.cached_at},
                p.bytes(), e.page);
  });
  std::uint64_t memory_hits = 0, disk_hits = 0;
  for (const base::PageKey& key : trace) {
    if (mem.find(key)) {
      ++memory_hits;
      continue;
    }
    auto r = test::read_page(*disk, base::PageKey{key.kind, key.object, key.page});
    if (r.result == Result::kOk) {
      ++disk_hits;
      EXPECT_EQ(r.payload,
                test::page_bytes(base::PageKey{key.kind, key.object, key.page}, "\"e\"", kPage));
      mem.insert(key, make_page(key, kPage), /*from_disk=*/true);
    } else {
      mem.insert(key, make_page(key, kPage));
    }
    disk->wait_idle();
  }
  SimResult out;
  out.hit_ratio = double(memory_hits + disk_hits) / double(trace.size());
  out.disk_hit_ratio = double(disk_hits) / double(trace.size());
  out.pages_written = disk->stats().writes;
  return out;
}

TEST(DiskTierPolicies, MeasuredOnMixedAndLoopingTraces) {
  struct Workload {
    const char* name;
    std::vector<base::PageKey> trace;
  };
  const std::vector<Workload> workloads = {
      {"zipf0.9+30%scans", zipf_with_scans(12000, 0.3, 7)},
      {"loop192x12", loop(192, 12)},
  };
  std::printf("%-18s %-11s %-6s %9s %9s %8s\n", "trace", "admission", "evict", "hit", "disk_hit",
              "writes");
  for (const Workload& w : workloads) {
    SimResult r[2][2];
    for (int a = 0; a < 2; ++a) {
      for (int e = 0; e < 2; ++e) {
        const auto rule = a == 0 ? AdmissionRule::kAll : AdmissionRule::kReaccessed;
        const auto policy = e == 0 ? EvictionPolicy::kFifo : EvictionPolicy::kClock;
        r[a][e] = simulate(w.trace, rule, policy);
        std::printf("%-18s %-11s %-6s %9.4f %9.4f %8llu\n", w.name, a == 0 ? "all" : "reaccessed",
                    e == 0 ? "fifo" : "clock", r[a][e].hit_ratio, r[a][e].disk_hit_ratio,
                    static_cast<unsigned long long>(r[a][e].pages_written));
      }
    }
    const SimResult& all_clock = r[0][1];
    const SimResult& re_clock = r[1][1];
    const SimResult& re_fifo = r[1][0];
    if (w.name[0] == 'z') {
      // Scans and one-hit pages stay off disk: far fewer writes, no worse hit ratio.
      EXPECT_LT(re_clock.pages_written, all_clock.pages_written / 2);
      EXPECT_GE(re_clock.hit_ratio, all_clock.hit_ratio - 0.005);
      EXPECT_GE(re_clock.hit_ratio, re_fifo.hit_ratio);
    } else {
      // A loop bigger than memory: the second pass writes it, the rest hit the disk.
      EXPECT_GT(re_clock.disk_hit_ratio, 0.75);
      EXPECT_LE(re_clock.pages_written, all_clock.pages_written);
    }
  }
}

}  // namespace
}  // namespace shoal::store
