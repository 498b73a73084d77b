// Helpers shared by the disk tier's unit tests (tests/unit/disk_*_test.cc): scratch directories,
// raw file access behind the store's back, a ramfs mount, a loop device and synchronous
// wrappers over DiskTier's callbacks.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "node/store/disk_tier.h"

namespace shoal::store::test {

// A fresh directory under `parent` (default $TMPDIR or /tmp), removed with its contents on
// destruction. Throws std::runtime_error if mkdtemp fails.
class ScratchDir {
 public:
  explicit ScratchDir(std::string parent = "") {
    if (parent.empty()) {
      const char* t = std::getenv("TMPDIR");
      parent = t && *t ? t : "/tmp";
    }
    std::string tmpl = parent + "/shoal-disk-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      throw std::runtime_error("mkdtemp " + tmpl + ": " + std::strerror(errno));
    }
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A file system of type `type` mounted on a fresh directory; unmounted on destruction.
// ok() is false (with why()) when mount(2) is not permitted here.
class ScratchMount {
 public:
  ScratchMount(const char* type, const char* options) {
    if (::mount("none", dir_.path().c_str(), type, 0, options) != 0) {
      why_ = std::string("mount -t ") + type + ": " + std::strerror(errno);
    } else {
      mounted_ = true;
    }
  }
  ~ScratchMount() {
    if (mounted_) ::umount2(dir_.path().c_str(), MNT_DETACH);
  }
  bool ok() const { return mounted_; }
  const std::string& why() const { return why_; }
  const std::string& path() const { return dir_.path(); }

 private:
  ScratchDir dir_;
  bool mounted_ = false;
  std::string why_;
};

// Reads or writes raw bytes of a file, bypassing the store (no O_DIRECT). Throws on error.
inline std::string read_raw(const std::string& path, std::uint64_t offset, std::size_t n) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("open " + path);
  std::string out(n, '\0');
  ssize_t r = ::pread(fd, out.data(), n, static_cast<off_t>(offset));
  ::close(fd);
  if (r != static_cast<ssize_t>(n)) throw std::runtime_error("pread " + path);
  return out;
}

inline void write_raw(const std::string& path, std::uint64_t offset, std::string_view bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("open " + path);
  ssize_t r = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
  ::fsync(fd);
  ::close(fd);
  if (r != static_cast<ssize_t>(bytes.size())) throw std::runtime_error("pwrite " + path);
}

// Flips every bit of the byte at `offset`.
inline void flip_byte(const std::string& path, std::uint64_t offset) {
  std::string b = read_raw(path, offset, 1);
  b[0] = static_cast<char>(~b[0]);
  write_raw(path, offset, b);
}

// A store of `slots` slots of `page_size`-byte pages in `dir` (the file dir/shoal.slots), with
// two I/O threads and no header cache: every read reads and verifies its slot's header block, as
// the tests of on-disk damage expect (store_disk_tier_header_cache_test.cc turns the cache on).
inline DiskConfig store_config(const std::string& dir, std::uint64_t page_size,
                               std::uint64_t slots) {
  DiskConfig c;
  c.path = dir;
  c.capacity_bytes = slots * slot_bytes(page_size);
  c.page_size = page_size;
  c.io_threads = 2;
  c.header_cache_bytes = 0;
  return c;
}

// DiskTier::open; a failure fails the test (with the reason) and gives nullptr.
inline std::unique_ptr<DiskTier> open_store(const DiskConfig& c) {
  std::string error;
  auto t = DiskTier::open(c, &error);
  EXPECT_TRUE(t) << error;
  return t;
}

// Deterministic page bytes for (key, tag): a test can recompute what a page must contain.
inline std::string page_bytes(const base::PageKey& key, const std::string& tag, std::size_t n) {
  std::string out(n, '\0');
  std::uint64_t x = base::PageKeyHash{}(key) ^ std::hash<std::string>{}(tag);
  for (std::size_t i = 0; i < n; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    out[i] = static_cast<char>(x >> 56);
  }
  return out;
}

// A page-sized object's key and metadata.
inline base::PageKey key_of(std::uint64_t page, std::string object = "obj") {
  return base::PageKey{"kind", std::move(object), page};
}
inline PageMeta meta_of(std::uint64_t object_size, std::string etag = "\"e1\"") {
  return PageMeta{object_size, std::move(etag), "Sat, 01 Jan 2000 00:00:00 GMT", "bucket",
                  946684800};
}

// A completed read.
struct ReadOutcome {
  Result result = Result::kNotFound;
  PageMeta meta;
  std::string payload;
};

// DiskTier::read, waiting for the handler when the read was queued.
inline ReadOutcome read_page(DiskTier& tier, const base::PageKey& key) {
  std::promise<ReadOutcome> p;
  auto f = p.get_future();
  Result r = tier.read(key, [&p](Result res, const PageMeta& m, std::string_view payload) {
    p.set_value(ReadOutcome{res, m, std::string(payload)});
  });
  if (r != Result::kOk) return ReadOutcome{r, {}, {}};
  return f.get();
}

// A completed read_range (result as returned by read_range when it was not queued).
struct RangeOutcome {
  Result result = Result::kNotFound;
  PageMeta meta;
  std::uint64_t offset = 0;
  std::uint64_t page_length = 0;
  std::string bytes;
  int sink_calls = 0;          // with a sink: how often it was called
  bool bytes_in_sink = false;  // with a sink: whether the bytes handed out were what it took
};

// DiskTier::read_range, waiting for the handler when the read was queued; with `use_sink`, the
// test takes the bytes' memory (a PayloadSink).
inline RangeOutcome read_range(DiskTier& tier, const base::PageKey& key, std::uint64_t offset,
                               std::uint64_t length, bool use_sink = false) {
  auto owned = std::make_shared<base::Bytes>();
  auto calls = std::make_shared<int>(0);
  DiskTier::PayloadSink sink;
  if (use_sink) {
    sink = [owned, calls](base::Bytes bytes) {
      ++*calls;
      *owned = std::move(bytes);
    };
  }
  std::promise<RangeOutcome> p;
  auto f = p.get_future();
  Result r = tier.read_range(
      key, offset, length,
      [&p, owned](const DiskTier::RangeRead& rr) {
        RangeOutcome o{rr.result, rr.meta, rr.offset, rr.page_length, std::string(rr.bytes)};
        o.bytes_in_sink = !rr.bytes.empty() && rr.bytes.data() == owned->data.get() &&
                          rr.bytes.size() == owned->size;
        p.set_value(std::move(o));
      },
      std::move(sink));
  if (r != Result::kOk) return RangeOutcome{r};
  RangeOutcome o = f.get();
  o.sink_calls = *calls;
  return o;
}

// DiskTier::write, waiting for the handler when the write was queued.
inline Result write_page(DiskTier& tier, const base::PageKey& key, const PageMeta& meta,
                         const std::string& payload) {
  auto owned = std::make_shared<std::string>(payload);
  std::promise<Result> p;
  auto f = p.get_future();
  Result r = tier.write(key, meta, *owned, owned, [&p](Result res) { p.set_value(res); });
  if (r != Result::kOk) return r;
  return f.get();
}

// A loop device backed by a file of `bytes`, detached on destruction. ok() is false (with
// why()) when losetup cannot attach one here.
class LoopDevice {
 public:
  explicit LoopDevice(std::uint64_t bytes) {
    file_ = dir_.path() + "/loop.img";
    int fd = ::open(file_.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
      why_ = "cannot create " + file_ + ": " + std::strerror(errno);
      if (fd >= 0) ::close(fd);
      return;
    }
    ::close(fd);
    std::string cmd = "losetup -f --show " + file_ + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) {
      why_ = "popen losetup failed";
      return;
    }
    char line[512] = {};
    std::string out;
    while (std::fgets(line, sizeof line, p)) out += line;
    int status = ::pclose(p);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    if (status != 0 || out.rfind("/dev/", 0) != 0) {
      why_ = "losetup -f --show: " + out;
      return;
    }
    device_ = out;
  }
  ~LoopDevice() {
    if (!device_.empty()) {
      std::string cmd = "losetup -d " + device_ + " 2>/dev/null";
      [[maybe_unused]] int rc = std::system(cmd.c_str());
    }
  }
  bool ok() const { return !device_.empty(); }
  const std::string& why() const { return why_; }
  const std::string& device() const { return device_; }

 private:
  ScratchDir dir_;
  std::string file_;
  std::string device_;
  std::string why_;
};

}  // namespace shoal::store::test
