// DiskTier (node/store/disk_tier.h) on real files: round trips, restarts, corruption, torn
// writes, recovery rules, capacity, eviction order, device errors, block devices.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <thread>
#include <vector>

#include "node/store/disk_tier.h"
#include "tests/unit/store_test_util.h"

namespace shoal::store {
namespace {

using test::flip_byte;
using test::key_of;
using test::LoopDevice;
using test::meta_of;
using test::page_bytes;
using test::read_page;
using test::read_raw;
using test::ScratchDir;
using test::ScratchMount;
using test::write_page;
using test::write_raw;

constexpr std::uint64_t kPage = 64 << 10;
constexpr std::uint64_t kSlot = kPage + 4096;
constexpr std::uint64_t kObjectSize = 1000 * kPage;  // every test page is a full page

class DiskTierTest : public ::testing::Test {
 protected:
  DiskConfig config(std::uint64_t slots = 16) const {
    return test::store_config(dir_.path(), kPage, slots);
  }
  std::unique_ptr<DiskTier> open(const DiskConfig& c) { return test::open_store(c); }
  std::string file() const { return dir_.path() + "/shoal.slots"; }

  // Writes page `page` of "obj" with ETag `etag`, expecting success.
  void put(DiskTier& t, std::uint64_t page, const std::string& etag = "\"e1\"",
           const std::string& object = "obj") {
    base::PageKey k = key_of(page, object);
    ASSERT_EQ(write_page(t, k, meta_of(kObjectSize, etag), page_bytes(k, etag, kPage)),
              Result::kOk);
  }
  // Whether page `page` of "obj" reads back with exactly the bytes put() wrote.
  bool holds(DiskTier& t, std::uint64_t page, const std::string& etag = "\"e1\"",
             const std::string& object = "obj") {
    base::PageKey k = key_of(page, object);
    auto r = read_page(t, k);
    if (r.result != Result::kOk) return false;
    EXPECT_EQ(r.meta, meta_of(kObjectSize, etag));
    EXPECT_EQ(r.payload, page_bytes(k, etag, kPage));
    return r.payload == page_bytes(k, etag, kPage);
  }

  // Writes a slot behind the store's back: header for `rec` (checksum of `payload`), payload.
  void craft_slot(std::uint32_t slot, SlotRecord rec, const std::string& payload) {
    rec.slot_index = slot;
    rec.page_size = kPage;
    rec.payload_length = payload.size();
    rec.block_checksums = block_checksums(payload, kPage);
    std::string header(kHeaderBytes, '\0');
    encode_header(rec, header.data());
    write_raw(file(), slot * kSlot, header);
    write_raw(file(), slot * kSlot + kHeaderBytes, payload);
  }

  ScratchDir dir_;
};

TEST_F(DiskTierTest, RoundTripKeepsBytesAndMeta) {
  auto t = open(config());
  put(*t, 0);
  put(*t, 1);
  EXPECT_TRUE(holds(*t, 0));
  EXPECT_TRUE(holds(*t, 1));
  auto s = t->stats();
  EXPECT_EQ(s.writes, 2u);
  EXPECT_EQ(s.hits, 2u);
  EXPECT_EQ(s.slots, 16u);
  EXPECT_EQ(s.slots_used, 2u);
  EXPECT_EQ(s.page_bytes, 2 * kPage);
  EXPECT_EQ(s.used_bytes, 2 * kSlot);
  EXPECT_EQ(s.capacity_bytes, 16 * kSlot);
  EXPECT_EQ(s.bytes_written, 2 * kSlot);  // fresh slots: payload + header, no invalidation
  EXPECT_TRUE(s.direct_io);
}

TEST_F(DiskTierTest, ShortLastPageRoundTrips) {
  auto t = open(config());
  base::PageKey k = key_of(2);
  const std::string body = page_bytes(k, "x", 1000);
  ASSERT_EQ(write_page(*t, k, meta_of(2 * kPage + 1000), body), Result::kOk);
  auto r = read_page(*t, k);
  ASSERT_EQ(r.result, Result::kOk);
  EXPECT_EQ(r.payload, body);
}

TEST_F(DiskTierTest, ASinkTakesTheVerifiedBytesWhereTheyWereRead) {
  auto t = open(config());
  put(*t, 0);
  put(*t, 1);
  flip_byte(file(), kSlot + kHeaderBytes + 300000 % kPage);  // page 1's payload
  for (std::uint64_t p : {0, 1}) {
    auto owned = std::make_shared<base::Bytes>();
    auto calls = std::make_shared<int>(0);
    std::promise<std::pair<Result, std::string_view>> done;
    auto f = done.get_future();
    ASSERT_EQ(t->read(
                  key_of(p),
                  [&](Result r, const PageMeta&, std::string_view payload) {
                    done.set_value({r, payload});
                  },
                  [owned, calls](base::Bytes bytes) {
                    ++*calls;
                    *owned = std::move(bytes);
                  }),
              Result::kOk);
    auto [result, payload] = f.get();
    if (p == 0) {
      ASSERT_EQ(result, Result::kOk);
      EXPECT_EQ(*calls, 1);
      EXPECT_EQ(payload.data(), owned->data.get());  // handed out in the memory the sink took
      EXPECT_EQ(owned->view(), page_bytes(key_of(0), "\"e1\"", kPage));
    } else {
      EXPECT_EQ(result, Result::kChecksumError);
      EXPECT_TRUE(payload.empty());
      EXPECT_EQ(*calls, 0);  // unverified bytes are never handed over
    }
  }
}

TEST_F(DiskTierTest, MissIsNotFoundAndCounted) {
  auto t = open(config());
  EXPECT_EQ(read_page(*t, key_of(9)).result, Result::kNotFound);
  EXPECT_EQ(t->stats().misses, 1u);
}

TEST_F(DiskTierTest, SamePageIsWrittenOnce) {
  auto t = open(config());
  put(*t, 0);
  EXPECT_TRUE(t->contains(key_of(0), "\"e1\""));
  EXPECT_FALSE(t->contains(key_of(0), "\"e2\""));
  base::PageKey k = key_of(0);
  EXPECT_EQ(write_page(*t, k, meta_of(kObjectSize), page_bytes(k, "\"e1\"", kPage)),
            Result::kRejected);
  EXPECT_EQ(t->stats().writes, 1u);
  EXPECT_EQ(t->stats().writes_rejected, 1u);
}

TEST_F(DiskTierTest, RejectsRecordsThatDoNotFit) {
  auto t = open(config());
  base::PageKey long_kind{std::string(65, 'k'), "o", 0};
  EXPECT_EQ(write_page(*t, long_kind, meta_of(kObjectSize), std::string(kPage, 'x')),
            Result::kRejected);
  EXPECT_EQ(write_page(*t, key_of(0), meta_of(kObjectSize), std::string(kPage - 1, 'x')),
            Result::kRejected);
  EXPECT_EQ(t->stats().writes_rejected, 2u);
}

TEST_F(DiskTierTest, RestartKeepsPagesAndReportsRecovery) {
  {
    auto t = open(config());
    for (std::uint64_t p = 0; p < 10; ++p) put(*t, p);
  }
  std::vector<std::pair<std::uint64_t, std::uint64_t>> progress;
  std::string error;
  auto t = DiskTier::open(config(), &error, [&](std::uint64_t done, std::uint64_t total) {
    progress.emplace_back(done, total);
  });
  ASSERT_TRUE(t) << error;
  for (std::uint64_t p = 0; p < 10; ++p) EXPECT_TRUE(holds(*t, p)) << p;
  auto s = t->stats();
  EXPECT_EQ(s.pages_recovered, 10u);
  EXPECT_GT(s.recovery_seconds, 0.0);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back(), std::make_pair(std::uint64_t{16}, std::uint64_t{16}));
}

TEST_F(DiskTierTest, FlippedPayloadByteIsDetectedAndNeverServed) {
  {
    auto t = open(config());
    put(*t, 0);  // slot 0
  }
  flip_byte(file(), kHeaderBytes + 12345);
  {
    auto t = open(config());
    EXPECT_EQ(t->stats().pages_recovered, 1u);  // headers only: payloads are checked on read
    EXPECT_EQ(read_page(*t, key_of(0)).result, Result::kChecksumError);
    // The block is marked bad: later reads fail at once, without I/O or a second count.
    const std::uint64_t read_bytes = t->stats().bytes_read;
    EXPECT_EQ(read_page(*t, key_of(0)).result, Result::kChecksumError);
    EXPECT_EQ(t->stats().bytes_read, read_bytes);
    EXPECT_EQ(t->stats().checksum_failures, 1u);
    EXPECT_EQ(t->stats().blocks_bad, 1u);
    EXPECT_FALSE(t->contains(key_of(0), "\"e1\""));  // so the page is written again
  }
  // Bad blocks are known in memory only: after a restart the first read finds it again.
  auto t = open(config());
  EXPECT_EQ(t->stats().pages_recovered, 1u);
  EXPECT_EQ(read_page(*t, key_of(0)).result, Result::kChecksumError);
  EXPECT_EQ(t->stats().checksum_failures, 1u);
  put(*t, 0);  // the rewrite goes to a new slot and drops the bad one
  EXPECT_TRUE(holds(*t, 0));
  EXPECT_EQ(t->stats().slots_used, 1u);
  EXPECT_EQ(t->stats().blocks_bad, 0u);
  t->wait_idle();
  EXPECT_EQ(read_raw(file(), 0, kHeaderBytes), std::string(kHeaderBytes, '\0'));
}

TEST_F(DiskTierTest, FlippedPayloadByteWhileOpenIsDetected) {
  auto t = open(config());
  put(*t, 0);
  flip_byte(file(), kSlot - 1);  // the page's last byte
  EXPECT_EQ(read_page(*t, key_of(0)).result, Result::kChecksumError);
  EXPECT_EQ(t->stats().checksum_failures, 1u);
}

TEST_F(DiskTierTest, FlippedHeaderByteIsDetectedAndNeverServed) {
  auto t = open(config());
  put(*t, 0);
  put(*t, 1);
  flip_byte(file(), 150);           // inside slot 0's object name
  flip_byte(file(), kSlot + 4000);  // inside slot 1's reserved bytes
  EXPECT_EQ(read_page(*t, key_of(0)).result, Result::kChecksumError);
  EXPECT_EQ(read_page(*t, key_of(1)).result, Result::kChecksumError);
  t.reset();
  put(*open(config()), 2);  // an unrelated write after restart
  auto again = open(config());
  EXPECT_EQ(read_page(*again, key_of(0)).result, Result::kNotFound);
  EXPECT_EQ(read_page(*again, key_of(1)).result, Result::kNotFound);
  EXPECT_TRUE(holds(*again, 2));
}

TEST_F(DiskTierTest, CorruptHeaderIsIgnoredAtRecovery) {
  {
    auto t = open(config());
    put(*t, 0);
    put(*t, 1);
  }
  flip_byte(file(), 20);  // slot 0's slot_index field
  auto t = open(config());
  EXPECT_EQ(t->stats().pages_recovered, 1u);
  EXPECT_EQ(read_page(*t, key_of(0)).result, Result::kNotFound);
  EXPECT_TRUE(holds(*t, 1));
}

TEST_F(DiskTierTest, TornWriteWithoutHeaderIsIgnoredAtRecovery) {
  {
    auto t = open(config());
    put(*t, 0);
  }
  // A crash after the payload write and before the header write leaves a zero header.
  write_raw(file(), 0, std::string(kHeaderBytes, '\0'));
  auto t = open(config());
  EXPECT_EQ(t->stats().pages_recovered, 0u);
  EXPECT_EQ(read_page(*t, key_of(0)).result, Result::kNotFound);
}

TEST_F(DiskTierTest, StaleHeaderOverNewPayloadIsNeverServed) {
  {
    auto t = open(config());
    put(*t, 0);
  }
  // The old header survived but the payload is another page's (a write reordered by the
  // device): recovery indexes it, the read's payload checksum refuses it.
  write_raw(file(), kHeaderBytes, page_bytes(key_of(7), "\"e1\"", kPage));
  auto t = open(config());
  EXPECT_EQ(t->stats().pages_recovered, 1u);
  EXPECT_EQ(read_page(*t, key_of(0)).result, Result::kChecksumError);
  EXPECT_EQ(read_page(*t, key_of(7)).result, Result::kNotFound);
}

TEST_F(DiskTierTest, HeaderCopiedToAnotherSlotIsIgnored) {
  {
    auto t = open(config());
    put(*t, 0);
  }
  write_raw(file(), 3 * kSlot, read_raw(file(), 0, kSlot));
  auto t = open(config());
  EXPECT_EQ(t->stats().pages_recovered, 1u);
  EXPECT_TRUE(holds(*t, 0));
}

TEST_F(DiskTierTest, HighestSequenceWinsAtRecoveryAndLoserIsInvalidated) {
  open(config());  // creates the file
  SlotRecord rec;
  rec.key = key_of(0);
  rec.meta = meta_of(kObjectSize);
  rec.sequence = 9;
  craft_slot(2, rec, std::string(kPage, 'N'));
  rec.sequence = 5;
  craft_slot(0, rec, std::string(kPage, 'O'));
  auto t = open(config());
  EXPECT_EQ(t->stats().pages_recovered, 1u);
  auto r = read_page(*t, key_of(0));
  ASSERT_EQ(r.result, Result::kOk);
  EXPECT_EQ(r.payload, std::string(kPage, 'N'));
  t->wait_idle();
  EXPECT_EQ(read_raw(file(), 0, kHeaderBytes), std::string(kHeaderBytes, '\0'));
  // New writes continue the sequence: after a restart the newest write still wins.
  put(*t, 1);
  t.reset();
  t = open(config());
  EXPECT_EQ(read_page(*t, key_of(0)).payload, std::string(kPage, 'N'));
  EXPECT_TRUE(holds(*t, 1));
}

TEST_F(DiskTierTest, NewestEtagWinsPerObjectAtRecovery) {
  open(config());
  SlotRecord rec;
  rec.key = key_of(0);
  rec.meta = meta_of(kObjectSize, "\"new\"");
  rec.sequence = 9;
  craft_slot(0, rec, page_bytes(rec.key, "\"new\"", kPage));
  rec.key = key_of(1);
  rec.meta = meta_of(kObjectSize, "\"old\"");
  rec.sequence = 5;
  craft_slot(1, rec, page_bytes(rec.key, "\"old\"", kPage));
  rec.key = key_of(0, "other");
  rec.sequence = 1;
  craft_slot(2, rec, page_bytes(rec.key, "\"old\"", kPage));
  auto t = open(config());
  EXPECT_EQ(t->stats().pages_recovered, 2u);
  EXPECT_TRUE(holds(*t, 0, "\"new\""));
  EXPECT_EQ(read_page(*t, key_of(1)).result, Result::kNotFound);
  EXPECT_TRUE(holds(*t, 0, "\"old\"", "other"));
}

TEST_F(DiskTierTest, WritingANewEtagDropsTheObjectsOtherPages) {
  {
    auto t = open(config());
    put(*t, 0, "\"v1\"");
    put(*t, 1, "\"v1\"");
    put(*t, 0, "\"v1\"", "other");
    put(*t, 2, "\"v2\"");
    EXPECT_EQ(read_page(*t, key_of(0)).result, Result::kNotFound);
    EXPECT_EQ(read_page(*t, key_of(1)).result, Result::kNotFound);
    EXPECT_TRUE(holds(*t, 2, "\"v2\""));
    EXPECT_TRUE(holds(*t, 0, "\"v1\"", "other"));
    put(*t, 0, "\"v2\"");  // the same key with the new ETag is a new page
    EXPECT_TRUE(holds(*t, 0, "\"v2\""));
  }
  auto t = open(config());
  EXPECT_EQ(t->stats().pages_recovered, 3u);
  EXPECT_EQ(read_page(*t, key_of(1)).result, Result::kNotFound);
}

TEST_F(DiskTierTest, EraseIsDurable) {
  {
    auto t = open(config());
    for (std::uint64_t p = 0; p < 4; ++p) put(*t, p);
    put(*t, 0, "\"e1\"", "other");
    EXPECT_TRUE(t->erase(key_of(0)));
    EXPECT_FALSE(t->erase(key_of(0)));
    EXPECT_EQ(t->erase_object("kind", "obj"), 3u);
    EXPECT_EQ(t->stats().slots_used, 1u);
  }
  auto t = open(config());
  EXPECT_EQ(t->stats().pages_recovered, 1u);
  EXPECT_TRUE(holds(*t, 0, "\"e1\"", "other"));
}

TEST_F(DiskTierTest, EraseKindDropsOnlyThatKind) {
  auto t = open(config());
  put(*t, 0, "\"e1\"", "a");
  put(*t, 1, "\"e1\"", "a");
  put(*t, 0, "\"e1\"", "b");
  base::PageKey other{"other-kind", "a", 0};
  ASSERT_EQ(write_page(*t, other, meta_of(kObjectSize), page_bytes(other, "x", kPage)),
            Result::kOk);
  EXPECT_EQ(t->erase_kind("kind"), 3u);
  EXPECT_EQ(t->erase_kind("kind"), 0u);
  EXPECT_EQ(read_page(*t, key_of(0, "a")).result, Result::kNotFound);
  EXPECT_EQ(read_page(*t, other).result, Result::kOk);
}

TEST_F(DiskTierTest, CapacityIsRespected) {
  DiskConfig c = config();
  c.capacity_bytes = 5 * kSlot + 1000;
  auto t = open(c);
  EXPECT_EQ(std::filesystem::file_size(file()), 5 * kSlot);
  for (std::uint64_t p = 0; p < 12; ++p) put(*t, p);
  auto s = t->stats();
  EXPECT_EQ(s.slots, 5u);
  EXPECT_EQ(s.slots_used, 5u);
  EXPECT_EQ(s.evictions, 7u);
  EXPECT_LE(s.used_bytes, c.capacity_bytes);
  EXPECT_EQ(std::filesystem::file_size(file()), 5 * kSlot);
  for (std::uint64_t p = 7; p < 12; ++p) EXPECT_TRUE(holds(*t, p)) << p;
}

TEST_F(DiskTierTest, FifoEvictsTheOldestPage) {
  DiskConfig c = config(4);
  c.eviction = EvictionPolicy::kFifo;
  auto t = open(c);
  for (std::uint64_t p = 1; p <= 4; ++p) put(*t, p);
  EXPECT_TRUE(holds(*t, 1));  // a hit does not save it under FIFO
  put(*t, 5);
  EXPECT_EQ(read_page(*t, key_of(1)).result, Result::kNotFound);
  for (std::uint64_t p = 2; p <= 5; ++p) EXPECT_TRUE(holds(*t, p)) << p;
}

TEST_F(DiskTierTest, ClockGivesAReadPageASecondChance) {
  auto t = open(config(4));
  for (std::uint64_t p = 1; p <= 4; ++p) put(*t, p);
  EXPECT_TRUE(holds(*t, 1));
  put(*t, 5);  // 1 was read: passed over once; 2 goes
  EXPECT_EQ(read_page(*t, key_of(2)).result, Result::kNotFound);
  EXPECT_TRUE(holds(*t, 1));
  put(*t, 6);  // 3 is next: 1's bit was cleared by the pass, but it was read again since
  EXPECT_EQ(read_page(*t, key_of(3)).result, Result::kNotFound);
  put(*t, 7);
  put(*t, 8);  // 4, then 5 (never read) go; 1 survives a full round by being read
  EXPECT_TRUE(holds(*t, 1));
  EXPECT_EQ(read_page(*t, key_of(4)).result, Result::kNotFound);
  EXPECT_EQ(t->stats().evictions, 4u);
}

TEST_F(DiskTierTest, EvictionOrderSurvivesRestart) {
  DiskConfig c = config(4);
  c.eviction = EvictionPolicy::kFifo;
  {
    auto t = open(c);
    for (std::uint64_t p : {3, 1, 4, 2}) put(*t, p);
  }
  auto t = open(c);
  put(*t, 9);  // the oldest write, page 3, goes first
  EXPECT_EQ(read_page(*t, key_of(3)).result, Result::kNotFound);
  put(*t, 10);
  EXPECT_EQ(read_page(*t, key_of(1)).result, Result::kNotFound);
  EXPECT_TRUE(holds(*t, 4));
  EXPECT_TRUE(holds(*t, 2));
}

TEST_F(DiskTierTest, ReusedSlotHeaderIsInvalidatedFirst) {
  auto t = open(config(1));
  put(*t, 1);
  put(*t, 2);  // evicts 1: zero header, payload, header
  auto s = t->stats();
  EXPECT_EQ(s.bytes_written, kSlot + (kSlot + kHeaderBytes));
  EXPECT_TRUE(holds(*t, 2));
}

TEST_F(DiskTierTest, DeviceErrorOnReadMarksSlotBad) {
  auto t = open(config(4));
  put(*t, 0);  // slot 0
  put(*t, 1);  // slot 1
  // Cut the file inside slot 1 behind the store's back: its read now ends early (EIO).
  ASSERT_EQ(::truncate(file().c_str(), static_cast<off_t>(kSlot + kSlot / 2)), 0);
  EXPECT_EQ(read_page(*t, key_of(1)).result, Result::kIoError);
  EXPECT_EQ(read_page(*t, key_of(1)).result, Result::kNotFound);
  EXPECT_TRUE(holds(*t, 0));
  auto s = t->stats();
  EXPECT_EQ(s.io_errors, 1u);
  EXPECT_EQ(s.slots_bad, 1u);
  for (std::uint64_t p = 10; p < 16; ++p) put(*t, p);  // never lands in the bad slot
  EXPECT_EQ(t->stats().slots_used, 3u);
}

TEST_F(DiskTierTest, FullDiskDegradesAndRecovers) {
  ScratchMount fs("tmpfs", "size=2m");
  if (!fs.ok()) GTEST_SKIP() << "cannot mount a tmpfs here: " << fs.why();
  DiskConfig c = config(3);
  c.path = fs.path();
  auto t = open(c);
  const std::string store = fs.path() + "/shoal.slots";
  // Give slot 0's payload blocks back to the file system, then fill it up.
  int fd = ::open(store.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, kHeaderBytes, kPage), 0);
  ::close(fd);
  const std::string filler = fs.path() + "/filler";
  fd = ::open(filler.c_str(), O_CREAT | O_WRONLY, 0600);
  std::string chunk(4096, 'f');
  while (::write(fd, chunk.data(), chunk.size()) > 0) {
  }
  ::close(fd);
  base::PageKey k = key_of(0);
  EXPECT_EQ(write_page(*t, k, meta_of(kObjectSize), page_bytes(k, "\"e1\"", kPage)),
            Result::kIoError);
  EXPECT_EQ(read_page(*t, k).result, Result::kNotFound);
  EXPECT_EQ(t->stats().io_errors, 1u);
  EXPECT_EQ(t->stats().slots_bad, 0u);
  ASSERT_EQ(::unlink(filler.c_str()), 0);
  put(*t, 0);  // the slot went back to the free list
  EXPECT_TRUE(holds(*t, 0));
}

TEST_F(DiskTierTest, DefaultCapacityIsEightyPercentOfFreeSpaceAndStable) {
  ScratchMount fs("tmpfs", "size=16m");
  if (!fs.ok()) GTEST_SKIP() << "cannot mount a tmpfs here: " << fs.why();
  DiskConfig c = config();
  c.path = fs.path();
  c.capacity_bytes = 0;
  const std::uint64_t expected = (16ull << 20) * 8 / 10 / kSlot;
  std::uint64_t first = 0;
  {
    auto t = open(c);
    first = t->stats().slots;
    EXPECT_EQ(first, expected);
    put(*t, 0);
  }
  auto t = open(c);  // the store's own blocks count as room: no shrinking on restart
  EXPECT_EQ(t->stats().slots, first);
  EXPECT_TRUE(holds(*t, 0));
}

TEST_F(DiskTierTest, TmpfsStoreWorks) {
  ScratchDir shm("/dev/shm");
  DiskConfig c = config();
  c.path = shm.path();
  {
    auto t = open(c);
    put(*t, 0);
  }
  auto t = open(c);
  EXPECT_TRUE(holds(*t, 0));
}

TEST_F(DiskTierTest, BufferedFallbackStoreWorks) {
  ScratchMount fs("ramfs", "");
  if (!fs.ok()) GTEST_SKIP() << "cannot mount a ramfs here: " << fs.why();
  DiskConfig c = config();
  c.path = fs.path() + "/store.img";
  {
    auto t = open(c);
    EXPECT_FALSE(t->stats().direct_io);
    EXPECT_EQ(t->stats().direct_fallbacks, 1u);
    put(*t, 0);
  }
  auto t = open(c);
  EXPECT_TRUE(holds(*t, 0));
}

TEST_F(DiskTierTest, BlockDeviceStoreSurvivesReopen) {
  LoopDevice loop(4 << 20);
  if (!loop.ok()) GTEST_SKIP() << "no loop device here: " << loop.why();
  DiskConfig c = config();
  c.path = loop.device();
  c.kind = DeviceKind::kBlock;
  c.capacity_bytes = 0;  // 80% of the device
  {
    auto t = open(c);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->stats().slots, (4ull << 20) * 8 / 10 / kSlot);
    for (std::uint64_t p = 0; p < 5; ++p) put(*t, p);
  }
  auto t = open(c);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->stats().pages_recovered, 5u);
  for (std::uint64_t p = 0; p < 5; ++p) EXPECT_TRUE(holds(*t, p)) << p;
  c.capacity_bytes = 8 << 20;
  t.reset();
  std::string error;
  EXPECT_FALSE(DiskTier::open(c, &error));
  EXPECT_EQ(error.rfind("capacity_bytes:", 0), 0u) << error;
}

TEST_F(DiskTierTest, ConfigErrorsNameTheField) {
  DiskConfig c = config();
  c.path = "";
  EXPECT_EQ(c.validate()->rfind("path:", 0), 0u);
  c.path = dir_.path() + "/missing/dir/file";
  EXPECT_EQ(c.validate()->rfind("path:", 0), 0u);
  c.path = dir_.path();
  c.kind = DeviceKind::kBlock;
  EXPECT_EQ(c.validate()->rfind("kind: block, but", 0), 0u);
  EXPECT_NE(c.validate()->find("not a block device"), std::string::npos);
  c.kind = DeviceKind::kFile;
  c.capacity_bytes = kSlot - 1;
  EXPECT_EQ(c.validate()->rfind("capacity_bytes:", 0), 0u);
  c.capacity_bytes = kSlot;
  EXPECT_EQ(c.validate(), std::nullopt);
  c.page_size = 100000;
  EXPECT_EQ(c.validate()->rfind("page_size:", 0), 0u);
  c = config();
  c.path = dir_.path() + "/new-file.img";  // a new file in an existing directory is fine
  EXPECT_EQ(c.validate(), std::nullopt);
  std::string error;
  c.path = "/dev/null";
  EXPECT_FALSE(DiskTier::open(c, &error));
  EXPECT_EQ(error.rfind("path:", 0), 0u) << error;
}

// The store file at --disk-path/shoal.slots must be the node's alone: a symbolic link (whose
// target the tier once truncated), a file others may write or a foreign owner's are "path:"
// errors at configuration time and at open, and the file is left as it was.
TEST_F(DiskTierTest, AStoreFileTheNodeCannotTrustIsAPathError) {
  const std::string victim = dir_.path() + "/victim";
  { std::ofstream(victim) << "precious"; }
  ASSERT_EQ(::symlink(victim.c_str(), file().c_str()), 0);
  DiskConfig c = config();
  ASSERT_TRUE(c.validate().has_value());
  EXPECT_EQ(*c.validate(), "path: " + file() +
                               " is a symbolic link (the store is never opened "
                               "through one)");
  std::string error;
  EXPECT_FALSE(DiskTier::open(c, &error));
  EXPECT_EQ(error.rfind("path: ", 0), 0u) << error;
  EXPECT_EQ(std::filesystem::file_size(victim), 8u);
  ASSERT_EQ(::unlink(file().c_str()), 0);

  { std::ofstream(file()) << "x"; }
  ASSERT_EQ(::chmod(file().c_str(), 0666), 0);
  EXPECT_NE(c.validate().value_or("").find("is writable by its group or others"),
            std::string::npos);
  ASSERT_EQ(::chmod(file().c_str(), 0600), 0);
  ASSERT_EQ(::chown(file().c_str(), 65534, 65534), 0);  // nobody; the tests run as root
  EXPECT_NE(c.validate().value_or("").find("is owned by uid 65534"), std::string::npos);
  EXPECT_FALSE(DiskTier::open(c, &error));
  EXPECT_EQ(std::filesystem::file_size(file()), 1u);
}

TEST_F(DiskTierTest, SecondProcessCannotOpenTheSameStore) {
  auto t = open(config());
  std::string error;
  EXPECT_FALSE(DiskTier::open(config(), &error));
  EXPECT_NE(error.find("in use"), std::string::npos) << error;
}

TEST_F(DiskTierTest, ConcurrentReadsAndWritesNeverServeWrongBytes) {
  DiskConfig c = config(8);
  c.io_threads = 4;
  auto t = open(c);
  std::atomic<int> wrong{0}, hits{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937_64 rng(w);
      for (int i = 0; i < 150; ++i) {
        base::PageKey k = key_of(rng() % 24);
        const std::string etag = "\"e1\"";
        if (rng() % 2) {
          write_page(*t, k, meta_of(kObjectSize, etag), page_bytes(k, etag, kPage));
        } else {
          auto r = read_page(*t, k);
          if (r.result == Result::kOk) {
            ++hits;
            if (r.payload != page_bytes(k, etag, kPage)) ++wrong;
          } else if (r.result != Result::kNotFound) {
            ++wrong;
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  t->wait_idle();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(hits.load(), 0);
  auto s = t->stats();
  EXPECT_EQ(s.checksum_failures, 0u);
  EXPECT_LE(s.slots_used, 8u);
}

TEST_F(DiskTierTest, RecoversThousandsOfSlots) {
  DiskConfig c = config(3000);
  c.io_threads = 4;
  {
    auto t = open(c);
    for (std::uint64_t p = 0; p < 300; ++p) {
      base::PageKey k = key_of(p);
      auto body = std::make_shared<std::string>(page_bytes(k, "\"e1\"", kPage));
      while (t->write(k, meta_of(kObjectSize), *body, body) == Result::kRejected) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));  // write queue full
      }
    }
    t->wait_idle();
  }
  auto t = open(c);
  auto s = t->stats();
  EXPECT_EQ(s.slots, 3000u);
  EXPECT_EQ(s.pages_recovered, 300u);
  EXPECT_LT(s.recovery_seconds, 5.0);
  EXPECT_TRUE(holds(*t, 0));
  EXPECT_TRUE(holds(*t, 299));
}

}  // namespace
}  // namespace shoal::store
