// Device (node/store/device.h) against real files: O_DIRECT on ext4, tmpfs (/dev/shm), the
// buffered fallback where O_DIRECT is refused (ramfs), preallocation, locking, a loop device,
// several reads in flight at once (read_all).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
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

// Writes `text` to `path` with `mode`, behind the store's back.
void write_file(const std::string& path, const std::string& text, mode_t mode) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs(text.c_str(), f);
  std::fclose(f);
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

std::string read_file(const std::string& path) {
  std::string out;
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return "<missing>";
  char buf[256];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

// A symbolic link at the store's path once made the tier truncate the file it pointed at.
TEST(DeviceFile, RefusesASymbolicLinkAndLeavesItsTargetAlone) {
  ScratchDir dir;
  const std::string victim = dir.path() + "/victim.txt";
  write_file(victim, "precious bytes", 0644);
  const std::string store = dir.path() + "/shoal.slots";
  ASSERT_EQ(::symlink(victim.c_str(), store.c_str()), 0);
  std::string error;
  EXPECT_FALSE(Device::open_file(store, kBytes, &error));
  EXPECT_EQ(error, store + " is a symbolic link (the store is never opened through one)");
  EXPECT_EQ(read_file(victim), "precious bytes");
  // A dangling link is refused too: nothing is created where it points.
  const std::string dangling = dir.path() + "/dangling.slots";
  ASSERT_EQ(::symlink((dir.path() + "/created").c_str(), dangling.c_str()), 0);
  EXPECT_FALSE(Device::open_file(dangling, kBytes, &error));
  EXPECT_EQ(read_file(dir.path() + "/created"), "<missing>");
}

TEST(DeviceFile, RefusesAStoreItsGroupOrOthersCanWrite) {
  ScratchDir dir;
  const std::string store = dir.path() + "/shoal.slots";
  for (mode_t mode : {0666, 0620, 0602}) {
    write_file(store, "x", mode);
    std::string error;
    EXPECT_FALSE(Device::open_file(store, kBytes, &error)) << std::oct << mode;
    EXPECT_NE(error.find(store + " is writable by its group or others"), std::string::npos)
        << error;
    EXPECT_EQ(read_file(store), "x") << "refused before it was sized";
  }
  write_file(store, "x", 0600);
  std::string error;
  EXPECT_TRUE(Device::open_file(store, kBytes, &error)) << error;
}

TEST(DeviceFile, RefusesAStoreOwnedBySomeoneElseOrWithTwoLinks) {
  ScratchDir dir;
  const std::string store = dir.path() + "/shoal.slots";
  write_file(store, "x", 0600);
  ASSERT_EQ(::chown(store.c_str(), 65534, 65534), 0) << "tests run as root";  // nobody
  std::string error;
  EXPECT_FALSE(Device::open_file(store, kBytes, &error));
  EXPECT_NE(error.find("is owned by uid 65534"), std::string::npos) << error;
  EXPECT_EQ(read_file(store), "x");

  const std::string other = dir.path() + "/other";
  write_file(other, "y", 0600);
  const std::string linked = dir.path() + "/linked.slots";
  ASSERT_EQ(::link(other.c_str(), linked.c_str()), 0);
  EXPECT_FALSE(Device::open_file(linked, kBytes, &error));
  EXPECT_NE(error.find("has 2 hard links"), std::string::npos) << error;
  EXPECT_EQ(read_file(other), "y");
}

// A block device is named through a link as often as not (/dev/disk/by-id/...): the path is
// resolved once and the device it leads to checked.
TEST(DeviceBlock, FollowsALinkToABlockDeviceOnceAndChecksTheDevice) {
  LoopDevice loop(4 << 20);
  if (!loop.ok()) GTEST_SKIP() << "no loop device here: " << loop.why();
  ScratchDir dir;
  const std::string link = dir.path() + "/by-id";
  ASSERT_EQ(::symlink(loop.device().c_str(), link.c_str()), 0);
  std::string error;
  auto d = Device::open_block(link, &error);
  ASSERT_TRUE(d) << error;
  d.reset();
  struct stat st {};
  ASSERT_EQ(::stat(loop.device().c_str(), &st), 0);
  ASSERT_EQ(::chmod(loop.device().c_str(), 0666), 0);
  EXPECT_FALSE(Device::open_block(link, &error));
  EXPECT_NE(error.find("is writable by others"), std::string::npos) << error;
  ASSERT_EQ(::chmod(loop.device().c_str(), st.st_mode & 07777), 0);
}

}  // namespace
}  // namespace shoal::store
