// The storage under the disk tier: a preallocated file or a whole block device, accessed with
// positional reads and writes (pread/pwrite), with O_DIRECT when the file system allows it.
//
// Direct I/O (open(2), "O_DIRECT"): every buffer address, offset and length must be a multiple
// of the device's logical block size; this module uses kBlockBytes (4096) for all three, which
// satisfies every device whose logical block size is at most 4096 (checked for block devices).
// File systems that refuse O_DIRECT (ramfs, some FUSE and overlay setups; tmpfs before Linux
// 6.6) fail open(2) with EINVAL: the file is then opened without it, and the fallback is
// counted (direct_fallbacks()). A file system that accepts the flag at open but rejects an
// aligned transfer with EINVAL gets the same treatment at that moment: O_DIRECT is cleared with
// fcntl(F_SETFL) and the transfer retried once in buffered mode.
//
// Several reads at once (read_all(): a slot header and the payload blocks a disk hit needs) go
// to the device in one io_uring submission, from a small ring per calling thread (io_uring(7)),
// so they cost one round trip; where io_uring cannot be set up, they are pread(2) in turn.
//
// Files are preallocated with fallocate(2) (mode 0: blocks reserved, reads of unwritten ranges
// give zeros); where fallocate is unsupported (EOPNOTSUPP) the file is sized with ftruncate(2)
// and left sparse (preallocated() == false). A file is locked with flock(LOCK_EX | LOCK_NB) and a
// block device opened with O_EXCL, so two processes never share one store and a mounted device
// is refused.
//
// Trust (docs/operations.md, "Security"): the store holds pages the node serves, checked by
// unkeyed checksums, so whoever can write it can forge pages, and a store file the node would
// truncate must be its own. A file is opened with O_NOFOLLOW (a symbolic link at the store's
// path is refused, its target never opened, let alone truncated) and, before it is sized, must
// be a regular file with one link, owned by the user the node runs as and not writable by its
// group or others. A block device path is resolved once (realpath: /dev/disk/by-id/... links
// are the usual way to name one), the result opened with O_NOFOLLOW, and must be a block device
// owned by the node's user or root and not writable by others (group write is how a device is
// handed to a service, e.g. group "disk"). check_store() states the rule; a refusal is an error
// of open_file/open_block naming the path.
//
// Thread-safe: read(), read_all() and write() may run concurrently from any threads
// (pread/pwrite on one fd; read_all() uses an io_uring of the calling thread); everything else is
// immutable after open.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

namespace shoal::store {

// Heap memory aligned to kBlockBytes (base::allocate_aligned: from 2 MiB on, aligned to and
// backed by huge pages), its size a multiple of kBlockBytes.
// Movable, not copyable; a moved-from or default buffer is empty (data() == nullptr). The
// contents are not initialised.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  // `bytes` rounded up to a multiple of kBlockBytes. Throws std::bad_alloc when out of memory.
  explicit AlignedBuffer(std::size_t bytes);
  AlignedBuffer(AlignedBuffer&& other) noexcept;
  AlignedBuffer& operator=(AlignedBuffer&& other) noexcept;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer();

  char* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  char* data_ = nullptr;
  std::size_t size_ = 0;
};

enum class DeviceKind { kFile, kBlock };

class Device {
 public:
  // Opens or creates the file `path` (mode 0600, never through a symbolic link), checks it
  // (check_store), locks it and sizes it to exactly `bytes` (shrinking with ftruncate, growing
  // with fallocate, or ftruncate where fallocate is unsupported). Returns nullptr and sets
  // *error to a one-line reason on failure: the file cannot be opened or created (errno text;
  // a symbolic link: "PATH is a symbolic link ..."), check_store refuses it, another process
  // holds its lock, or space cannot be reserved (ENOSPC: "not enough free space for N bytes").
  static std::unique_ptr<Device> open_file(const std::string& path, std::uint64_t bytes,
                                           std::string* error);

  // Opens the block device `path` (resolved once with realpath, then opened with O_NOFOLLOW)
  // exclusively (O_EXCL: fails while it is mounted or open exclusively elsewhere); its size
  // comes from ioctl(BLKGETSIZE64). Returns nullptr and sets *error on failure: cannot resolve
  // or open (errno text), check_store refuses it (not a block device, a foreign owner, writable
  // by others), size unknown, or a logical block size above kBlockBytes.
  static std::unique_ptr<Device> open_block(const std::string& path, std::string* error);

  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  // Reads exactly `n` bytes at `offset` into `buf` (retrying short transfers and EINTR).
  // In direct mode buf, n and offset must be multiples of kBlockBytes. Returns 0, or an errno
  // value: EIO (media error, or end of device before n bytes), or whatever pread(2) reported.
  int read(void* buf, std::size_t n, std::uint64_t offset) const;
  // Writes exactly `n` bytes from `buf` at `offset`; same rules and errors as read() (ENOSPC
  // possible on a sparse file).
  int write(const void* buf, std::size_t n, std::uint64_t offset) const;
  // One read of read_all(): `n` bytes at `offset` into `buf`, with read()'s alignment rules.
  struct ReadOp {
    void* buf;
    std::size_t n;
    std::uint64_t offset;
  };
  // Performs every read of `ops` (at most kMaxReadOps) with all of them in flight at once: one
  // io_uring submission from a ring of the calling thread's own, so a read of several ranges
  // costs about one device round trip, not one per range. Where io_uring is unavailable (old
  // kernel, seccomp, io_uring_disabled) or a read comes back short or failed, that read is done
  // (again) with read(). Returns 0, or the first errno any read() reported (as read()).
  static constexpr std::size_t kMaxReadOps = 4;
  int read_all(std::span<const ReadOp> ops) const;

  // fdatasync(2); 0 or errno.
  int sync() const;

  const std::string& path() const { return path_; }
  DeviceKind kind() const { return kind_; }
  std::uint64_t size() const { return size_; }  // bytes usable
  bool direct_io() const { return direct_.load(std::memory_order_relaxed); }
  // Times O_DIRECT was refused (at open or on a transfer) and buffered I/O used instead.
  std::uint64_t direct_fallbacks() const { return fallbacks_.load(std::memory_order_relaxed); }
  bool preallocated() const { return preallocated_; }

 private:
  Device(int fd, std::string path, DeviceKind kind, std::uint64_t size, bool direct);
  // Clears O_DIRECT after an EINVAL transfer; returns whether buffered mode is now on.
  bool drop_direct() const;
  template <class Op>
  int transfer(Op op, char* buf, std::size_t n, std::uint64_t offset) const;

  int fd_;
  std::string path_;
  DeviceKind kind_;
  std::uint64_t size_;
  mutable std::atomic<bool> direct_;
  mutable std::atomic<std::uint64_t> fallbacks_{0};
  bool preallocated_ = true;
};

// Why the store at `path`, whose stat(2) is `st`, may not be used as a `kind` store (see "Trust"
// above): "PATH is a symbolic link", "PATH is not a regular file", "PATH has 2 hard links",
// "PATH is owned by uid N, not by the user shoald runs as (uid M)", "PATH is writable by its
// group or others (mode 0666)"; nullopt when it may.
std::optional<std::string> check_store(const std::string& path, const struct stat& st,
                                       DeviceKind kind);

// Where a file store lives for --disk-path `path`: `path`/shoal.slots when `path` is an existing
// directory, else `path` itself.
std::string store_file_path(const std::string& path);

}  // namespace shoal::store
