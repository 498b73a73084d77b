// The disk tier in a real shoald against a real s3rver: pages survive a restart with the origin
// gone, a kill -9 during heavy misses (and block writes) never leads to a wrong byte, a corrupted
// disk page is refetched, one flipped byte fails only its block's slices, and /stats and /metrics
// report the disk.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>

#include "tests/integration/harness/harness.h"
#include "tests/integration/harness/shoald.h"

namespace shoal::test {
namespace {

constexpr std::uint64_t kPage = 64 * 1024;
const std::string kBucket = "origin";

// "o<i>" (appended, not "o" + string: GCC 12 reports a false -Wrestrict on that at -O3).
// A sample's value, 0 when the series has not appeared yet.
double value_or_zero(const std::string& metrics_text, const std::string& series) {
  const double v = metric_value(metrics_text, series);
  return std::isnan(v) ? 0 : v;
}

std::string object_name(int i) {
  std::string name = "o";
  name += std::to_string(i);
  return name;
}

class DiskTier : public ::testing::Test {
 protected:
  void SetUp() override { s3_.create_bucket(kBucket); }

  std::string put(const std::string& key, std::uint64_t size, std::uint64_t seed) {
    std::string data = random_bytes(size, seed);
    s3_.put_object(kBucket, key, data);
    return data;
  }

  // shoald with 64 KiB pages, a memory tier of about 15 pages and a disk tier of `capacity`.
  std::unique_ptr<Shoald> start(const std::string& capacity = "32MiB") {
    return std::make_unique<Shoald>(
        s3_.endpoint(),
        std::vector<std::string>{"--page-size", "64KiB", "--memory", "1MiB", "--disk-path",
                                 disk_.path(), "--disk-capacity", capacity, "--threads", "2"});
  }

  // SIGTERM and wait for a clean exit (memory pages are written to disk on the way out).
  static void stop(Shoald& node) {
    node.process().signal(SIGTERM);
    auto code = node.process().wait(std::chrono::seconds(30));
    ASSERT_TRUE(code.has_value()) << node.log();
    ASSERT_EQ(*code, 0) << node.log();
  }

  // The whole object through shoald, 4 pages per request; "" plus a failure on any error.
  static std::string read_all(const Shoald& node, const std::string& key, std::uint64_t size) {
    std::string out;
    for (std::uint64_t first = 0; first < size; first += 4 * kPage) {
      const std::uint64_t last = std::min(size, first + 4 * kPage) - 1;
      auto r =
          node.fetch(kBucket, key, "bytes=" + std::to_string(first) + "-" + std::to_string(last));
      if (r.status != 206 || !r.complete) {
        ADD_FAILURE() << key << " bytes " << first << "-" << last << ": status " << r.status << " "
                      << r.error << " " << r.body.substr(0, 200);
        return "";
      }
      out += r.body;
    }
    return out;
  }

  S3Server s3_;
  TempDir disk_;
};

TEST_F(DiskTier, RestartKeepsPagesWithTheOriginGone) {
  const std::uint64_t a_size = 40 * kPage + 1000, b_size = 10 * kPage;
  const std::string a = put("dir/a.bin", a_size, 1);
  const std::string b = put("b.bin", b_size, 2);
  {
    auto node = start();
    // One pass: pages leaving memory are written while the disk has free slots, even those
    // read only once (the admission rule is asked only when a write would evict).
    ASSERT_TRUE(read_all(*node, "dir/a.bin", a_size) == a);
    ASSERT_TRUE(read_all(*node, "b.bin", b_size) == b);
    auto disk = stats_json(node->port())["disk"];
    EXPECT_TRUE(disk["enabled"].get<bool>());
    EXPECT_GT(disk["writes"].get<std::uint64_t>(), 0u);
    EXPECT_EQ(disk["not_admitted"].get<std::uint64_t>(), 0u);
    stop(*node);
  }
  s3_.stop();
  auto node = start();
  auto disk = stats_json(node->port())["disk"];
  EXPECT_EQ(disk["pages_recovered"].get<std::uint64_t>(), 51u) << disk.dump();
  EXPECT_TRUE(read_all(*node, "dir/a.bin", a_size) == a);
  EXPECT_TRUE(read_all(*node, "b.bin", b_size) == b);
  const std::string m = metrics(node->port());
  EXPECT_GE(metric_value(m, "shoal_pages_total{outcome=\"hit_disk\"}"), 51);
  EXPECT_EQ(value_or_zero(m, "shoal_pages_total{outcome=\"miss\"}"), 0);
  EXPECT_GE(metric_value(m, "shoal_disk_hits_total"), 51);
  EXPECT_EQ(metric_value(m, "shoal_disk_pages_recovered"), 51);
  auto r = node->fetch(kBucket, "b.bin", "bytes=0-9");
  EXPECT_NE(r.header("C0-Status").find("; origin; "), std::string::npos) << r.header("C0-Status");
  EXPECT_EQ(r.header("C0-Status").find("; 0"), std::string::npos) << "cached_at is kept";
}

// /admin/warm's "sources" counts every page under what served it, disk hits included: after a
// restart the warmed pages all come from disk and the counts add up to the pages.
TEST_F(DiskTier, WarmCountsDiskHitsInItsSources) {
  const std::string data = put("warm.bin", 5 * kPage, 3);
  TempDir dir;
  const std::string token = dir.path() + "/admin.token";
  std::ofstream(token) << "disk-warm-test-token-0123456789\n";
  auto start_with_admin = [&] {
    return std::make_unique<Shoald>(
        s3_.endpoint(), std::vector<std::string>{"--page-size", "64KiB", "--memory", "1MiB",
                                                 "--disk-path", disk_.path(), "--disk-capacity",
                                                 "32MiB", "--admin-token-file", token});
  };
  {
    auto node = start_with_admin();
    ASSERT_TRUE(read_all(*node, "warm.bin", data.size()) == data);
    stop(*node);
  }
  auto node = start_with_admin();
  auto r = http_request(node->port(), "POST", "/admin/warm",
                        {{"Authorization", "Bearer disk-warm-test-token-0123456789"}},
                        R"({"kind": "origin", "object": "warm.bin"})");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["pages"], 5) << r.body;
  EXPECT_EQ(j["sources"]["disk"], 5) << r.body;
  int sum = 0;
  for (const auto& [name, n] : j["sources"].items()) sum += n.get<int>();
  EXPECT_EQ(sum, 5) << r.body;
}

TEST_F(DiskTier, KillDuringHeavyMissesNeverServesAWrongByte) {
  constexpr int kObjects = 8;
  constexpr std::uint64_t kSize = 24 * kPage + 123;
  std::vector<std::string> data;
  for (int i = 0; i < kObjects; ++i) data.push_back(put(object_name(i), kSize, 10 + i));
  std::mt19937_64 rng(99);
  for (int round = 0; round < 2; ++round) {
    auto node = start("8MiB");  // ~120 slots: disk evictions too
    std::atomic<bool> go{true};
    std::atomic<int> wrong{0}, checked{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < 6; ++c) {
      clients.emplace_back([&, c] {
        std::mt19937_64 r(static_cast<std::uint64_t>(round * 100 + c));
        while (go) {
          const int o = static_cast<int>(r() % kObjects);
          const std::uint64_t first = r() % kSize;
          const std::uint64_t last = std::min(kSize - 1, first + r() % (3 * kPage));
          HttpResponse resp;
          try {
            resp = node->fetch(kBucket, object_name(o),
                               "bytes=" + std::to_string(first) + "-" + std::to_string(last));
          } catch (const std::exception&) {
            continue;  // the node is gone
          }
          if (resp.status != 206) continue;  // killed mid-request
          ++checked;
          const std::string want =
              data[static_cast<std::size_t>(o)].substr(first, last - first + 1);
          if (resp.complete && resp.body != want) ++wrong;
          if (!resp.complete && want.compare(0, resp.body.size(), resp.body) != 0) ++wrong;
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(800 + rng() % 700));
    node->process().kill();  // SIGKILL, mid-write
    go = false;
    for (auto& t : clients) t.join();
    EXPECT_EQ(wrong.load(), 0);
    node.reset();

    auto again = start("8MiB");
    // Parts of pages first (ranged disk reads of their blocks only), then every byte.
    for (int n = 0; n < 60; ++n) {
      const int o = static_cast<int>(rng() % kObjects);
      const std::uint64_t first = rng() % kSize;
      const std::uint64_t last = std::min(kSize - 1, first + rng() % kPage);
      auto r = again->fetch(kBucket, object_name(o),
                            "bytes=" + std::to_string(first) + "-" + std::to_string(last));
      ASSERT_EQ(r.status, 206) << r.error;
      ASSERT_TRUE(r.body == data[static_cast<std::size_t>(o)].substr(first, last - first + 1))
          << object_name(o) << " bytes " << first << "-" << last << " after kill round " << round;
    }
    for (int i = 0; i < kObjects; ++i) {
      ASSERT_TRUE(read_all(*again, object_name(i), kSize) == data[static_cast<std::size_t>(i)])
          << object_name(i) << " after kill round " << round;
    }
    auto disk = stats_json(again->port())["disk"];
    EXPECT_GT(disk["pages_recovered"].get<std::uint64_t>(), 0u) << disk.dump();
    EXPECT_GT(disk["hits"].get<std::uint64_t>(), 0u) << disk.dump();
    EXPECT_EQ(disk["checksum_failures"].get<std::uint64_t>(), 0u) << disk.dump();
    std::printf("kill round %d: %d responses checked, %llu pages recovered, %llu disk hits\n",
                round, checked.load(),
                static_cast<unsigned long long>(disk["pages_recovered"].get<std::uint64_t>()),
                static_cast<unsigned long long>(disk["hits"].get<std::uint64_t>()));
    stop(*again);
  }
}

TEST_F(DiskTier, CorruptedDiskPageIsRefetchedFromTheOrigin) {
  const std::uint64_t size = 6 * kPage;
  const std::string data = put("c.bin", size, 3);
  {
    auto node = start();
    ASSERT_TRUE(read_all(*node, "c.bin", size) == data);
    stop(*node);  // the 6 resident pages are written to disk
  }
  // Flip one payload byte in every slot that holds a page.
  const std::string file = disk_.path() + "/shoal.slots";
  const std::uint64_t slot = 4096 + kPage;
  int flipped = 0;
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f);
    for (std::uint64_t s = 0; s * slot < std::filesystem::file_size(file); ++s) {
      char magic[4] = {};
      f.seekg(static_cast<std::streamoff>(s * slot));
      f.read(magic, 4);
      if (std::string(magic, 4) != "SHLP") continue;
      char c = 0;
      f.seekg(static_cast<std::streamoff>(s * slot + 4096 + 777));
      f.read(&c, 1);
      c = static_cast<char>(~c);
      f.seekp(static_cast<std::streamoff>(s * slot + 4096 + 777));
      f.write(&c, 1);
      ++flipped;
    }
  }
  ASSERT_EQ(flipped, 6);
  auto node = start();
  EXPECT_EQ(stats_json(node->port())["disk"]["pages_recovered"].get<std::uint64_t>(), 6u);
  EXPECT_TRUE(read_all(*node, "c.bin", size) == data);
  auto disk = stats_json(node->port())["disk"];
  EXPECT_EQ(disk["checksum_failures"].get<std::uint64_t>(), 6u) << disk.dump();
  const std::string m = metrics(node->port());
  EXPECT_EQ(metric_value(m, "shoal_disk_checksum_failures_total"), 6);
  EXPECT_EQ(value_or_zero(m, "shoal_pages_total{outcome=\"hit_disk\"}"), 0);
  EXPECT_NE(node->log().find("checksum_error"), std::string::npos);
}

TEST_F(DiskTier, AFlippedByteFailsOnlyItsBlocksSlicesWhichAreRefetched) {
  // 1 MiB pages: 16 payload blocks of 64 KiB each (docs/disk-format.md).
  constexpr std::uint64_t kBigPage = 1 << 20, kBlock = 64 << 10;
  const std::uint64_t size = 3 * kBigPage;
  const std::string data = put("b.bin", size, 7);
  auto start_big = [&] {
    return std::make_unique<Shoald>(
        s3_.endpoint(),
        std::vector<std::string>{"--page-size", "1MiB", "--memory", "4MiB", "--disk-path",
                                 disk_.path(), "--disk-capacity", "32MiB", "--threads", "2"});
  };
  auto range = [](std::uint64_t first, std::uint64_t n) {
    return "bytes=" + std::to_string(first) + "-" + std::to_string(first + n - 1);
  };
  {
    auto node = start_big();
    for (std::uint64_t p = 0; p < 3; ++p) {
      auto r = node->fetch(kBucket, "b.bin", range(p * kBigPage, kBigPage));
      ASSERT_EQ(r.status, 206) << r.error;
    }
    stop(*node);  // the 3 pages are written to disk
  }
  // One byte of page 1's payload block 5, found by the page's bytes in the store file.
  const std::string file = disk_.path() + "/shoal.slots";
  std::uint64_t payload = 0;
  {
    std::ifstream in(file, std::ios::binary);
    const std::string store((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::size_t at = store.find(data.substr(kBigPage, 4096));
    ASSERT_NE(at, std::string::npos);
    payload = at;
  }
  const std::uint64_t bad_block = 5;
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    const auto pos = static_cast<std::streamoff>(payload + bad_block * kBlock + 321);
    char c = 0;
    f.seekg(pos);
    f.read(&c, 1);
    c = static_cast<char>(~c);
    f.seekp(pos);
    f.write(&c, 1);
  }
  auto node = start_big();
  ASSERT_EQ(stats_json(node->port())["disk"]["pages_recovered"].get<std::uint64_t>(), 3u);
  auto expect_exact = [&](std::uint64_t first, std::uint64_t n) {
    auto r = node->fetch(kBucket, "b.bin", range(first, n));
    EXPECT_EQ(r.status, 206) << first << ": " << r.error;
    EXPECT_TRUE(r.complete) << first;
    EXPECT_TRUE(r.body == data.substr(first, n)) << "bytes " << first << "+" << n;
  };
  // Slices of page 1's other blocks (one inside a block, one across two, one at the page's
  // end): served from disk, reading only their blocks.
  const std::uint64_t p1 = kBigPage;
  expect_exact(p1 + 100, 1000);
  expect_exact(p1 + 3 * kBlock - 500, 1000);
  expect_exact(p1 + 15 * kBlock + 7, kBlock - 7);
  auto s = stats_json(node->port());
  EXPECT_EQ(s["origin"]["requests"].get<std::uint64_t>(), 0u) << s.dump();
  EXPECT_EQ(s["pages"]["hit_disk"].get<std::uint64_t>(), 3u) << s.dump();
  EXPECT_EQ(s["disk"]["checksum_failures"].get<std::uint64_t>(), 0u) << s.dump();
  // 4 payload blocks, not 3 pages, and no header block: recovery verified the 3 headers and
  // keeps them in memory (the header cache).
  EXPECT_EQ(s["disk"]["bytes_read"].get<std::uint64_t>(), 4 * kBlock) << s.dump();
  EXPECT_EQ(s["disk"]["headers_cached"].get<std::uint64_t>(), 3u) << s.dump();
  EXPECT_EQ(s["disk"]["header_cache_hits"].get<std::uint64_t>(), 3u) << s.dump();

  // The slice of the bad block: detected, never served, refetched from the origin.
  expect_exact(p1 + bad_block * kBlock + 300, 100);
  s = stats_json(node->port());
  EXPECT_EQ(s["disk"]["checksum_failures"].get<std::uint64_t>(), 1u) << s.dump();
  EXPECT_EQ(s["disk"]["blocks_bad"].get<std::uint64_t>(), 1u) << s.dump();
  EXPECT_GE(s["origin"]["requests"].get<std::uint64_t>(), 1u) << s.dump();

  // Slices of another page still come from disk; and every byte of page 1 is right.
  expect_exact(2 * kBigPage + 9 * kBlock + 1, 2 * kBlock);
  expect_exact(p1, kBigPage);
  s = stats_json(node->port());
  EXPECT_EQ(s["pages"]["hit_disk"].get<std::uint64_t>(), 4u) << s.dump();
  EXPECT_EQ(s["disk"]["checksum_failures"].get<std::uint64_t>(), 1u) << s.dump();
}

// --disk-header-cache 0: a restarted node keeps no header in memory, so each disk hit reads its
// slot's header block beside its payload blocks (with the default, the test above reads none).
TEST_F(DiskTier, WithTheHeaderCacheOffEachDiskHitAlsoReadsItsHeaderBlock) {
  constexpr std::uint64_t kBigPage = 1 << 20, kBlock = 64 << 10, kHeaderBlock = 4096;
  const std::string data = put("h.bin", 2 * kBigPage, 11);
  auto start_big = [&](std::vector<std::string> more) {
    std::vector<std::string> flags{"--page-size", "1MiB",       "--memory",        "4MiB",
                                   "--disk-path", disk_.path(), "--disk-capacity", "32MiB"};
    flags.insert(flags.end(), more.begin(), more.end());
    return std::make_unique<Shoald>(s3_.endpoint(), flags);
  };
  {
    auto node = start_big({});
    for (std::uint64_t p = 0; p < 2; ++p) {
      auto r = node->fetch(
          kBucket, "h.bin",
          "bytes=" + std::to_string(p * kBigPage) + "-" + std::to_string((p + 1) * kBigPage - 1));
      ASSERT_EQ(r.status, 206) << r.error;
    }
    stop(*node);  // both pages are written to disk
  }
  auto node = start_big({"--disk-header-cache", "0"});
  for (std::uint64_t p = 0; p < 2; ++p) {
    const std::uint64_t first = p * kBigPage + 3 * kBlock + 10;  // inside payload block 3
    auto r = node->fetch(kBucket, "h.bin",
                         "bytes=" + std::to_string(first) + "-" + std::to_string(first + 99));
    ASSERT_EQ(r.status, 206) << r.error;
    EXPECT_TRUE(r.body == data.substr(first, 100)) << "page " << p;
  }
  auto s = stats_json(node->port());
  EXPECT_EQ(s["pages"]["hit_disk"].get<std::uint64_t>(), 2u) << s.dump();
  EXPECT_EQ(s["origin"]["requests"].get<std::uint64_t>(), 0u) << s.dump();
  EXPECT_EQ(s["disk"]["bytes_read"].get<std::uint64_t>(), 2 * (kHeaderBlock + kBlock)) << s.dump();
  EXPECT_EQ(s["disk"]["headers_cached"].get<std::uint64_t>(), 0u) << s.dump();
  EXPECT_EQ(s["disk"]["header_cache_bytes"].get<std::uint64_t>(), 0u) << s.dump();
  EXPECT_EQ(s["disk"]["header_cache_hits"].get<std::uint64_t>(), 0u) << s.dump();
}

// Ranged disk hits are not promoted to memory, except for a page whose parts are read again and
// again (node/part_reads.h: twice the page's bytes within the window): that one is read whole
// into memory, and its later parts are memory hits. One pass over a page in parts is not.
TEST_F(DiskTier, APageReadOftenInPartsIsPromotedToMemory) {
  constexpr std::uint64_t kBigPage = 1 << 20, kPart = 256 << 10;
  const std::string data = put("p.bin", 3 * kBigPage, 11);
  auto start_big = [&] {
    return std::make_unique<Shoald>(
        s3_.endpoint(),
        std::vector<std::string>{"--page-size", "1MiB", "--memory", "4MiB", "--disk-path",
                                 disk_.path(), "--disk-capacity", "32MiB", "--threads", "2"});
  };
  auto part = [](std::uint64_t first) {
    return "bytes=" + std::to_string(first) + "-" + std::to_string(first + kPart - 1);
  };
  {
    auto node = start_big();
    ASSERT_EQ(node->fetch(kBucket, "p.bin", "bytes=0-" + std::to_string(3 * kBigPage - 1)).status,
              206);
    stop(*node);  // the 3 pages are written to disk
  }
  s3_.stop();  // every byte below comes from this node's tiers
  auto node = start_big();
  auto read_part = [&](std::uint64_t first) {
    auto r = node->fetch(kBucket, "p.bin", part(first));
    EXPECT_EQ(r.status, 206) << first << ": " << r.error;
    EXPECT_TRUE(r.body == data.substr(first, kPart)) << "bytes at " << first;
  };
  auto memory_pages = [&] {
    return stats_json(node->port())["memory"]["pages"].get<std::uint64_t>();
  };
  const std::uint64_t pages_before = memory_pages();

  for (std::uint64_t at = 2 * kBigPage; at < 3 * kBigPage; at += kPart) read_part(at);  // once
  auto s = stats_json(node->port());
  EXPECT_EQ(s["disk"]["part_promotions"].get<std::uint64_t>(), 0u) << s.dump();
  EXPECT_EQ(memory_pages(), pages_before);

  for (int pass = 0; pass < 2; ++pass) {
    for (std::uint64_t at = 0; at < kBigPage; at += kPart) read_part(at);
  }
  s = stats_json(node->port());
  EXPECT_EQ(s["disk"]["part_promotions"].get<std::uint64_t>(), 1u) << s.dump();
  EXPECT_EQ(memory_pages(), pages_before + 1);
  const auto memory_hits = s["pages"]["hit_memory"].get<std::uint64_t>();
  read_part(kPart);
  EXPECT_EQ(stats_json(node->port())["pages"]["hit_memory"].get<std::uint64_t>(), memory_hits + 1);
  EXPECT_NE(metrics(node->port()).find("shoal_disk_part_promotions_total 1"), std::string::npos);
}

TEST_F(DiskTier, MemoryOnlyNodeReportsNoDisk) {
  Shoald node(s3_.endpoint(), {"--page-size", "64KiB"});
  EXPECT_FALSE(stats_json(node.port())["disk"]["enabled"].get<bool>());
  EXPECT_EQ(metrics(node.port()).find("shoal_disk_"), std::string::npos);
}

TEST_F(DiskTier, BadDiskFlagsFailAtStart) {
  auto [code, out] = run_shoald_to_exit({"--s3-endpoint", s3_.endpoint(), "--disk-path",
                                         disk_.path() + "/missing/x", "--page-size", "64KiB"});
  EXPECT_EQ(code, 2);
  EXPECT_NE(out.find("--disk-path:"), std::string::npos) << out;
}

}  // namespace
}  // namespace shoal::test
