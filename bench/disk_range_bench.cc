// Disk hits of part of a page, measured on the disk tier alone (node/store/disk_tier.h), against
// raw O_DIRECT reads of the same store file in the same run (issue 11: "1 MiB disk hits at random
// offsets vs raw O_DIRECT 1 MiB reads of the same store file", target >= 0.8x).
//
// The store: the one in --dir (e.g. the one bench/disk_hit.sh's shoald wrote), whose pages
// 0..--pages-1 of the object --kind/--object are read; a directory without a store gets a new one,
// filled with --mib of random 16 MiB pages through DiskTier::write; without --dir, such a new
// store in a temporary directory under $TMPDIR (or /tmp), removed at exit. With --raw-only, only
// raw reads of --dir's store file (which may be in use by a running shoald).
//
// Cases, each run by C requester threads for --seconds (C from --concurrency; the disk tier has
// 4 I/O threads, as shoald's), in --rounds rounds that interleave the cases so that the machine's
// drift hits them alike:
//   raw        pread(2) of --range bytes at a random 4 KiB-aligned offset of the written slots,
//              on the store file opened with O_DIRECT (each thread its own aligned buffer);
//   raw-slots  the same reads at the offsets the disk tier reads for an aligned hit: a random
//              --range-aligned slice of the payload of a random one of the first --pages slots
//              (slot i's payload starts at i * slot_bytes + kHeaderBytes), to tell the device's
//              answer to the placement of the reads from the disk tier's own costs;
//   raw-hash   raw-slots, each read then hashed by its thread as the disk tier verifies a read
//              (XXH3-64 of every 64 KiB block): what a thread that reads and verifies in turn
//              leaves of the device's time, without the tier's queue and bookkeeping;
//   aligned    DiskTier::read_range of --range bytes at a random --range-aligned offset of a
//              random page, its bytes kept by the caller (a PayloadSink, as shoald does);
//   unaligned  the same at a random byte offset (a --range slice that ends inside the page);
//   page       DiskTier::read of the whole page a --range request falls in (the read path before
//              ranged reads), counted as the --range bytes the request wanted.
// Output: per case and C, the median GB/s over the rounds (useful bytes: --range per request),
// the ratio to raw at the same C, and the device bytes the disk tier read per useful byte; a
// plain table and a Markdown one. Exit status 1 when the store cannot be opened or filled, or a
// disk tier read fails.
//
// Build: cmake --build build -j2 --target disk_range_bench; run: build/bin/disk_range_bench
// (--help lists the flags).
#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "node/store/device.h"
#include "node/store/disk_tier.h"

namespace shoal::store {
namespace {

constexpr std::uint64_t kPageSize = 16ull << 20;

struct Options {
  std::string dir;  // an existing store; empty: a fresh one
  std::string kind = "bench", object = "disk.bin";
  std::uint64_t pages = 0;  // with --dir: pages 0..pages-1 of kind/object
  std::uint64_t mib = 2048;
  std::uint64_t range = 1 << 20;
  double seconds = 3;
  int rounds = 3;
  std::vector<int> concurrency{1, 4, 16};
  bool raw_only = false;
};

// One cell's counts: requests done, and those that failed.
struct Tally {
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> failures{0};
};

std::string fresh_dir() {
  const char* t = std::getenv("TMPDIR");
  std::string tmpl = std::string(t && *t ? t : "/tmp") + "/shoal-disk-range-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp " + tmpl);
  return tmpl;
}

// Random bytes for page `p` (xorshift; incompressible enough for a disk).
std::shared_ptr<std::string> page_bytes(std::uint64_t p) {
  auto out = std::make_shared<std::string>(kPageSize, '\0');
  std::uint64_t x = 0x9E3779B97F4A7C15ull * (p + 1);
  for (std::size_t i = 0; i < out->size(); i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(out->data() + i, &x, 8);
  }
  return out;
}

// Writes pages 0..pages-1 of kind/object, waiting whenever the write queue is full.
void fill(DiskTier& tier, const Options& o, std::uint64_t pages) {
  const PageMeta meta{pages * kPageSize, "\"bench\"", "Sat, 01 Jan 2000 00:00:00 GMT", "bench", 0};
  for (std::uint64_t p = 0; p < pages; ++p) {
    auto body = page_bytes(p);
    const base::PageKey key{o.kind, o.object, p};
    while (tier.write(key, meta, *body, body) == Result::kRejected) {
      if (tier.contains(key, meta.etag)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  tier.wait_idle();
  if (tier.stats().writes < pages) throw std::runtime_error("not every page was written");
}

// One synchronous disk tier read: read_range (or read for `whole`) of `key` into fresh memory.
bool tier_read(DiskTier& tier, const base::PageKey& key, std::uint64_t offset, std::uint64_t length,
               bool whole) {
  std::promise<bool> done;
  auto f = done.get_future();
  auto body = std::make_shared<shoal::base::Bytes>();
  DiskTier::PayloadSink sink = [body](shoal::base::Bytes bytes) { *body = std::move(bytes); };
  Result r;
  if (whole) {
    r = tier.read(
        key,
        [&done](Result res, const PageMeta&, std::string_view) {
          done.set_value(res == Result::kOk);
        },
        std::move(sink));
  } else {
    r = tier.read_range(
        key, offset, length,
        [&done](const DiskTier::RangeRead& rr) { done.set_value(rr.result == Result::kOk); },
        std::move(sink));
  }
  return r == Result::kOk && f.get();
}

class Bench {
 public:
  Bench(const Options& o) : o_(o) {}

  // Opens the store: --dir's, or a fresh one; a store file that does not exist yet is created
  // and filled with --mib of pages. Throws on failure.
  void open() {
    if (o_.dir.empty()) {
      o_.dir = fresh_dir();
      owned_dir_ = true;
    }
    if (o_.pages == 0) o_.pages = o_.mib / 16;
    const std::string file = store_file_path(o_.dir);
    const bool exists = std::filesystem::exists(file);
    if (!exists && o_.raw_only) throw std::runtime_error(file + " does not exist");
    if (!o_.raw_only) {
      DiskConfig c;
      c.path = o_.dir;
      c.page_size = kPageSize;
      c.capacity_bytes =
          exists ? std::filesystem::file_size(file) : (o_.pages + 1) * slot_bytes(kPageSize);
      std::string error;
      tier_ = DiskTier::open(c, &error);
      if (!tier_) throw std::runtime_error("opening the store: " + error);
      if (!exists) {
        std::fprintf(stderr, "disk_range_bench: writing %llu pages to %s\n",
                     static_cast<unsigned long long>(o_.pages), file.c_str());
        fill(*tier_, o_, o_.pages);
      }
      if (tier_->stats().slots_used < o_.pages) {
        throw std::runtime_error("the store holds " + std::to_string(tier_->stats().slots_used) +
                                 " pages, fewer than --pages");
      }
    }
    raw_fd_ = ::open(file.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
    if (raw_fd_ < 0)
      throw std::runtime_error("open O_DIRECT " + file + ": " + std::strerror(errno));
    raw_span_ = o_.pages * slot_bytes(kPageSize);
  }

  bool direct_io() const { return !tier_ || tier_->stats().direct_io; }

  ~Bench() {
    tier_.reset();
    if (raw_fd_ >= 0) ::close(raw_fd_);
    if (owned_dir_) std::filesystem::remove_all(o_.dir);
  }

  // Runs `name` with `c` requesters for --seconds; returns useful GB/s and device bytes read by
  // the disk tier per useful byte.
  std::pair<double, double> run(const std::string& name, int c) {
    Tally tally;
    const std::uint64_t read_before = tier_ ? tier_->stats().bytes_read : 0;
    std::atomic<bool> go{true};
    std::vector<std::thread> threads;
    const auto started = std::chrono::steady_clock::now();
    for (int i = 0; i < c; ++i) {
      threads.emplace_back([&, i] { requester(name, static_cast<std::uint64_t>(i), go, tally); });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(o_.seconds));
    go = false;
    for (auto& t : threads) t.join();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (tally.failures > 0)
      throw std::runtime_error(name + ": " + std::to_string(tally.failures.load()) +
                               " reads failed");
    const double useful = static_cast<double>(tally.requests.load() * o_.range);
    const double device = tier_ && name.rfind("raw", 0) != 0
                              ? static_cast<double>(tier_->stats().bytes_read - read_before)
                              : useful;
    return {useful / secs / 1e9, useful > 0 ? device / useful : 0};
  }

 private:
  void requester(const std::string& name, std::uint64_t id, const std::atomic<bool>& go,
                 Tally& tally) {
    std::mt19937_64 rng(id * 7919 + 17 + seed_++);
    // 2 MiB or more: huge-page backed, as the disk tier's buffers (device.h), so that pinning
    // the buffer for O_DIRECT costs raw reads no more than the disk tier's.
    AlignedBuffer buffer(std::max<std::uint64_t>(o_.range, 2 << 20));
    const std::uint64_t slices = kPageSize / o_.range;
    while (go.load(std::memory_order_relaxed)) {
      bool ok = true;
      const base::PageKey key{o_.kind, o_.object, rng() % o_.pages};
      if (name.rfind("raw", 0) == 0) {
        const std::uint64_t blocks = (raw_span_ - o_.range) / kBlockBytes;
        const std::uint64_t at = name == "raw" ? rng() % blocks * kBlockBytes
                                               : rng() % o_.pages * slot_bytes(kPageSize) +
                                                     kHeaderBytes + rng() % slices * o_.range;
        ok = ::pread(raw_fd_, buffer.data(), o_.range, static_cast<off_t>(at)) ==
             static_cast<ssize_t>(o_.range);
        if (name == "raw-hash") {
          const std::uint64_t block = payload_block_bytes(kPageSize);
          for (std::uint64_t k = 0; k < o_.range; k += block) {
            hashes_.fetch_xor(XXH3_64bits(buffer.data() + k, std::min(block, o_.range - k)),
                              std::memory_order_relaxed);
          }
        }
      } else if (name == "aligned") {
        ok = tier_read(*tier_, key, rng() % slices * o_.range, o_.range, false);
      } else if (name == "unaligned") {
        ok = tier_read(*tier_, key, rng() % (kPageSize - o_.range), o_.range, false);
      } else {
        ok = tier_read(*tier_, key, 0, 0, true);
      }
      if (!ok) ++tally.failures;
      ++tally.requests;
    }
  }

  Options o_;
  bool owned_dir_ = false;
  std::unique_ptr<DiskTier> tier_;
  int raw_fd_ = -1;
  std::uint64_t raw_span_ = 0;
  std::atomic<std::uint64_t> seed_{0};
  std::atomic<std::uint64_t> hashes_{0};  // raw-hash's results, kept so the hashing is not elided
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

int run(Options o) {
  Bench bench(o);
  bench.open();
  std::vector<std::string> cases{"raw", "raw-slots", "raw-hash"};
  if (!o.raw_only) cases.insert(cases.end(), {"aligned", "unaligned", "page"});
  std::map<std::pair<std::string, int>, std::vector<double>> gbps, amplification;
  for (int round = 0; round < o.rounds; ++round) {
    for (int c : o.concurrency) {
      for (const std::string& name : cases) {
        auto [rate, amp] = bench.run(name, c);
        gbps[{name, c}].push_back(rate);
        amplification[{name, c}].push_back(amp);
        std::fprintf(stderr, "disk_range_bench: round %d %s c=%d: %.3f GB/s\n", round + 1,
                     name.c_str(), c, rate);
      }
    }
  }
  std::printf(
      "\n%llu KiB reads, %d rounds of %.1f s per cell (median shown), 16 MiB pages, "
      "4 disk I/O threads, O_DIRECT %s\n",
      static_cast<unsigned long long>(o.range >> 10), o.rounds, o.seconds,
      bench.direct_io() ? "on" : "off (the file system refused it)");
  std::printf("%-10s %4s %8s %10s %14s\n", "case", "conc", "GB/s", "vs raw", "device/useful");
  std::string md =
      "| case | conc | GB/s | vs raw at the same conc | device bytes per useful byte |\n"
      "|---|---|---|---|---|\n";
  for (int c : o.concurrency) {
    const double raw = median(gbps[{"raw", c}]);
    for (const std::string& name : cases) {
      const double v = median(gbps[{name, c}]);
      const double amp = median(amplification[{name, c}]);
      char line[256];
      std::snprintf(line, sizeof line, "%-10s %4d %8.3f %9.2fx %14.2f\n", name.c_str(), c, v,
                    raw > 0 ? v / raw : 0, amp);
      std::fputs(line, stdout);
      std::snprintf(line, sizeof line, "| %s | %d | %.3f | %.2fx | %.2f |\n", name.c_str(), c, v,
                    raw > 0 ? v / raw : 0, amp);
      md += line;
    }
  }
  std::printf("\nMarkdown:\n\n%s", md.c_str());
  return 0;
}

}  // namespace
}  // namespace shoal::store

int main(int argc, char** argv) {
  shoal::store::Options o;
  CLI::App app{"Disk tier ranged reads against raw O_DIRECT reads of the same store file"};
  app.add_option("--dir", o.dir,
                 "the store's directory (--disk-path); created and filled with --mib when it "
                 "holds no store yet (default: a fresh temporary store)");
  app.add_option("--kind", o.kind, "with --dir: the kind of the stored object");
  app.add_option("--object", o.object, "with --dir: the stored object");
  app.add_option("--pages", o.pages,
                 "pages 0..N-1 (16 MiB each) of the object are stored (default: --mib / 16)");
  app.add_option("--mib", o.mib, "MiB of pages a new store is filled with")
      ->check(CLI::Range(16, 1 << 20));
  app.add_option("--range", o.range, "bytes per request (a multiple of 4096 below 16 MiB)");
  app.add_option("--seconds", o.seconds, "seconds per cell");
  app.add_option("--rounds", o.rounds, "rounds over all cells")->check(CLI::Range(1, 100));
  app.add_option("--concurrency", o.concurrency, "requester threads, one cell each")
      ->delimiter(',');
  app.add_flag("--raw-only", o.raw_only, "only raw reads (of --dir's store file)");
  CLI11_PARSE(app, argc, argv);
  if (o.raw_only && o.dir.empty()) {
    std::fprintf(stderr, "disk_range_bench: --raw-only needs --dir\n");
    return 2;
  }
  if (o.range == 0 || o.range % 4096 != 0 || o.range >= shoal::store::kPageSize) {
    std::fprintf(stderr, "disk_range_bench: --range must be a multiple of 4096 below 16 MiB\n");
    return 2;
  }
  try {
    return shoal::store::run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "disk_range_bench: %s\n", e.what());
    return 1;
  }
}
