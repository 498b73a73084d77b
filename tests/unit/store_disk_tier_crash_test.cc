// kill -9 during heavy writes: a child process writes pages to a DiskTier as fast as it can, is
// SIGKILLed at a random moment (most likely while payload blocks are being written), and the
// parent reopens the store and reads every page back, whole and block by block at unaligned
// offsets. Every byte served must be exact; torn pages must be absent or fail their checksum.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include "node/store/disk_tier.h"
#include "tests/unit/store_test_util.h"

namespace shoal::store {
namespace {

using test::key_of;
using test::meta_of;
using test::page_bytes;
using test::read_page;
using test::read_range;
using test::ScratchDir;

constexpr std::uint64_t kPage = 512 << 10;  // 8 payload blocks of 64 KiB
constexpr std::uint64_t kKeys = 64;         // distinct pages, more than the store holds
constexpr std::uint64_t kSlots = 40;

DiskConfig crash_config(const std::string& dir) {
  DiskConfig c;
  c.path = dir;
  c.capacity_bytes = kSlots * slot_bytes(kPage);
  c.page_size = kPage;
  c.io_threads = 4;
  c.max_queued_writes = 32;
  return c;
}

// The child: writes pages forever. Page contents depend on (key, generation) and the
// generation is the ETag, so the parent can recompute what any page must hold. Every 8 rounds
// of 16 writes start a new generation: its first write to an object drops the object's older
// pages (header invalidations), and eviction reuses occupied slots (zeroing old headers).
[[noreturn]] void write_forever(const std::string& dir, std::uint64_t seed) {
  std::string error;
  auto t = DiskTier::open(crash_config(dir), &error);
  if (!t) _exit(3);
  std::mt19937_64 rng(seed);
  for (std::uint64_t gen = seed * 1000;; ++gen) {
    const std::string etag = "\"g" + std::to_string(gen / 8) + "\"";
    for (int i = 0; i < 16; ++i) {
      base::PageKey k = key_of(rng() % kKeys, "obj" + std::to_string(rng() % 4));
      auto body = std::make_shared<std::string>(page_bytes(k, etag, kPage));
      while (t->write(k, meta_of(kKeys * kPage, etag), *body, body) == Result::kRejected) {
        if (t->contains(k, etag)) break;
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    }
  }
}

TEST(DiskCrash, KillDuringHeavyWritesNeverServesAWrongByte) {
  ScratchDir dir;
  std::mt19937_64 rng(12345);
  std::uint64_t served = 0, ranges = 0, checksum_failures = 0;
  for (int round = 1; round <= 4; ++round) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) write_forever(dir.path(), static_cast<std::uint64_t>(round));
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 200));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with status " << status;

    std::string error;
    auto t = DiskTier::open(crash_config(dir.path()), &error);
    ASSERT_TRUE(t) << error;
    EXPECT_GT(t->stats().pages_recovered, 0u) << "round " << round;
    for (int o = 0; o < 4; ++o) {
      for (std::uint64_t p = 0; p < kKeys; ++p) {
        base::PageKey k = key_of(p, "obj" + std::to_string(o));
        // Block by block first (a block read alone is verified alone), then the whole page.
        for (std::uint64_t b = 0; b < kPage / payload_block_bytes(kPage); ++b) {
          const std::uint64_t offset = b * payload_block_bytes(kPage) + rng() % 5000;
          const std::uint64_t length = 1 + rng() % (96 << 10);
          auto r = read_range(*t, k, offset, length, b % 2 == 0);
          if (r.result == Result::kChecksumError) ++checksum_failures;
          if (r.result != Result::kOk) continue;
          ++ranges;
          ASSERT_EQ(r.bytes, page_bytes(k, r.meta.etag, kPage).substr(offset, length))
              << "round " << round << ": wrong bytes for " << k.object << " page " << p << " at "
              << offset << " etag " << r.meta.etag;
        }
        auto r = read_page(*t, k);
        if (r.result == Result::kChecksumError) ++checksum_failures;
        if (r.result != Result::kOk) continue;
        ++served;
        ASSERT_EQ(r.meta.object_size, kKeys * kPage);
        ASSERT_EQ(r.payload, page_bytes(k, r.meta.etag, kPage))
            << "round " << round << ": wrong bytes for " << k.object << " page " << p << " etag "
            << r.meta.etag;
      }
    }
  }
  EXPECT_GT(served, 0u);
  std::printf("served %llu pages and %llu ranges over 4 kills\n",
              static_cast<unsigned long long>(served), static_cast<unsigned long long>(ranges));
  // A kill can only tear the page being written; it never gets a valid header.
  EXPECT_EQ(checksum_failures, 0u);
}

}  // namespace
}  // namespace shoal::store
