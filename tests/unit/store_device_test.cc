// Device (node/store/device.h) against real files: O_DIRECT on ext4, tmpfs (/dev/shm), the
// buffered fallback where O_DIRECT is refused (ramfs), preallocation, locking, a loop device,
// several reads in flight at once (read_all).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>

#include "node/store/device.h"
#include "node/store/disk_format.h"
#include "tests/unit/store_test_util.h"

namespace shoal::store {
namespace {

using test::LoopDevice;
using test::ScratchDir;
using test::ScratchMount;

constexpr std::uint64_t kBytes = 1 << 20;

// Writes 256 KiB of pattern at 0 and reads three separate ranges of it back with one
// read_all() (in flight together), and one range alone.
void expect_read_all(Device& d) {
  AlignedBuffer out(256 << 10);
  for (std::size_t i = 0; i < out.size(); ++i) out.data()[i] = static_cast<char>(i * 13 + i / 4096);
  ASSERT_EQ(d.write(out.data(), out.size(), 0), 0);
  AlignedBuffer a(4096), b(64 << 10), c(8192);
  const Device::ReadOp ops[] = {
      {a.data(), 4096, 0}, {b.data(), 64 << 10, 128 << 10}, {c.data(), 8192, 40960}};
  ASSERT_EQ(d.read_all(ops), 0);
  for (const Device::ReadOp& op : ops) {
    EXPECT_EQ(std::memcmp(op.buf, out.data() + op.offset, op.n), 0) << op.offset;
  }
  std::memset(b.data(), 0, b.size());
  ASSERT_EQ(d.read_all(std::span(ops + 1, 1)), 0);
  EXPECT_EQ(std::memcmp(b.data(), out.data() + (128 << 10), 64 << 10), 0);
}

// expect_read_all(d), then writes a patterned 8 KiB block at 4 KiB and reads it back.
void expect_round_trip(Device& d) {
  expect_read_all(d);
  AlignedBuffer out(8192), in(8192);
  for (std::size_t i = 0; i < out.size(); ++i) out.data()[i] = static_cast<char>(i * 7 + 3);
  ASSERT_EQ(d.write(out.data(), out.size(), 4096), 0);
  ASSERT_EQ(d.read(in.data(), in.size(), 4096), 0);
  EXPECT_EQ(std::memcmp(out.data(), in.data(), out.size()), 0);
}

TEST(AlignedBuffer, IsBlockAlignedAndRoundedUp) {
  AlignedBuffer b(5000);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b.data()) % kBlockBytes, 0u);
  EXPECT_EQ(b.size(), 8192u);
  AlignedBuffer moved = std::move(b);
  EXPECT_EQ(b.data(), nullptr);
  EXPECT_EQ(moved.size(), 8192u);
  EXPECT_EQ(AlignedBuffer(0).data(), nullptr);
}

TEST(DeviceFile, DirectoryPathHoldsShoalSlots) {
  ScratchDir dir;
  EXPECT_EQ(store_file_path(dir.path()), dir.path() + "/shoal.slots");
  EXPECT_EQ(store_file_path(dir.path() + "/"), dir.path() + "/shoal.slots");
  EXPECT_EQ(store_file_path(dir.path() + "/x.img"), dir.path() + "/x.img");
}

TEST(DeviceFile, PreallocatesAndUsesDirectIoOnExt4) {
  ScratchDir dir;  // /tmp: ext4 here
  std::string error;
  auto d = Device::open_file(dir.path() + "/s", kBytes, &error);
  ASSERT_TRUE(d) << error;
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() + "/s").c_str(), &st), 0);
  EXPECT_EQ(static_cast<std::uint64_t>(st.st_size), kBytes);
  if (d->preallocated()) {
    EXPECT_GE(static_cast<std::uint64_t>(st.st_blocks) * 512, kBytes);
  }
  EXPECT_EQ(d->size(), kBytes);
  EXPECT_TRUE(d->direct_io()) << "O_DIRECT refused on " << dir.path();
  EXPECT_EQ(d->direct_fallbacks(), 0u);
  expect_round_trip(*d);
}

TEST(DeviceFile, TmpfsRoundTrip) {
  ScratchDir dir("/dev/shm");  // tmpfs: O_DIRECT accepted since Linux 6.6, refused before
  std::string error;
  auto d = Device::open_file(dir.path() + "/s", kBytes, &error);
  ASSERT_TRUE(d) << error;
  EXPECT_EQ(d->direct_fallbacks(), d->direct_io() ? 0u : 1u);
  expect_round_trip(*d);
}

TEST(DeviceFile, FallsBackToBufferedIoWhereDirectIsRefused) {
  ScratchMount ramfs("ramfs", "");  // ramfs refuses O_DIRECT with EINVAL
  if (!ramfs.ok()) GTEST_SKIP() << "cannot mount a ramfs here: " << ramfs.why();
  std::string error;
  auto d = Device::open_file(ramfs.path() + "/s", kBytes, &error);
  ASSERT_TRUE(d) << error;
  EXPECT_FALSE(d->direct_io());
  EXPECT_EQ(d->direct_fallbacks(), 1u);
  expect_round_trip(*d);
  // Unaligned transfers work in buffered mode.
  char small[3] = {'a', 'b', 'c'}, back[3] = {};
  ASSERT_EQ(d->write(small, 3, 5), 0);
  ASSERT_EQ(d->read(back, 3, 5), 0);
  EXPECT_EQ(std::memcmp(small, back, 3), 0);
}

TEST(DeviceFile, SecondOpenOfALockedFileFails) {
  ScratchDir dir;
  std::string error;
  auto first = Device::open_file(dir.path() + "/s", kBytes, &error);
  ASSERT_TRUE(first) << error;
  auto second = Device::open_file(dir.path() + "/s", kBytes, &error);
  EXPECT_FALSE(second);
  EXPECT_NE(error.find("in use by another process"), std::string::npos) << error;
}

TEST(DeviceFile, ResizesAndKeepsData) {
  ScratchDir dir;
  const std::string path = dir.path() + "/s";
  std::string error;
  {
    auto d = Device::open_file(path, kBytes, &error);
    ASSERT_TRUE(d) << error;
    expect_round_trip(*d);
  }
  auto grown = Device::open_file(path, 2 * kBytes, &error);
  ASSERT_TRUE(grown) << error;
  EXPECT_EQ(std::filesystem::file_size(path), 2 * kBytes);
  AlignedBuffer in(8192);
  ASSERT_EQ(grown->read(in.data(), in.size(), 4096), 0);
  EXPECT_EQ(in.data()[1], static_cast<char>(7 + 3));
  grown.reset();
  auto shrunk = Device::open_file(path, 64 << 10, &error);
  ASSERT_TRUE(shrunk) << error;
  EXPECT_EQ(std::filesystem::file_size(path), 64u << 10);
}

TEST(DeviceFile, ReadPastTheEndIsEio) {
  ScratchDir dir;
  std::string error;
  auto d = Device::open_file(dir.path() + "/s", 8192, &error);
  ASSERT_TRUE(d) << error;
  AlignedBuffer in(8192);
  EXPECT_EQ(d->read(in.data(), 8192, 4096), EIO);
  // read_all: the short read is retried alone and reported; the other read is done.
  AlignedBuffer first(4096);
  std::memset(in.data(), 'x', 4096);
  ASSERT_EQ(d->write(in.data(), 4096, 0), 0);
  std::memset(first.data(), 0, 4096);
  const Device::ReadOp ops[] = {{first.data(), 4096, 0}, {in.data(), 8192, 4096}};
  EXPECT_EQ(d->read_all(ops), EIO);
  EXPECT_EQ(first.data()[4095], 'x');
}

TEST(DeviceFile, NoSpaceIsReported) {
  ScratchMount small("tmpfs", "size=1m");
  if (!small.ok()) GTEST_SKIP() << "cannot mount a tmpfs here: " << small.why();
  std::string error;
  auto d = Device::open_file(small.path() + "/s", 8 << 20, &error);
  EXPECT_FALSE(d);
  EXPECT_NE(error.find("not enough free space"), std::string::npos) << error;
}

TEST(DeviceBlock, LoopDeviceRoundTripAndExclusiveOpen) {
  LoopDevice loop(4 << 20);
  if (!loop.ok()) GTEST_SKIP() << "no loop device here: " << loop.why();
  std::string error;
  auto d = Device::open_block(loop.device(), &error);
  ASSERT_TRUE(d) << error;
  EXPECT_EQ(d->kind(), DeviceKind::kBlock);
  EXPECT_EQ(d->size(), 4u << 20);
  expect_round_trip(*d);
  auto again = Device::open_block(loop.device(), &error);
  EXPECT_FALSE(again) << "O_EXCL should refuse a second open";
}

TEST(DeviceBlock, RegularFileIsNotABlockDevice) {
  ScratchDir dir;
  std::string error;
  auto f = Device::open_file(dir.path() + "/s", kBytes, &error);
  ASSERT_TRUE(f) << error;
  f.reset();
  auto d = Device::open_block(dir.path() + "/s", &error);
  EXPECT_FALSE(d);
  EXPECT_NE(error.find("not a block device"), std::string::npos) << error;
}

}  // namespace
}  // namespace shoal::store
