#include "node/store/device.h"

#include <fcntl.h>
#include <liburing.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <utility>

#include "node/store/disk_format.h"
#include "ring/base/buffer_pool.h"

namespace shoal::store {
namespace {

std::string errno_text(int e) {
  return std::strerror(e);
}

// open(2) with O_DIRECT, and without it when the file system refuses the flag (EINVAL).
// Sets *direct to whether the returned fd has O_DIRECT.
int open_maybe_direct(const std::string& path, int flags, bool* direct) {
  int fd = ::open(path.c_str(), flags | O_DIRECT | O_CLOEXEC, 0600);
  if (fd >= 0) {
    *direct = true;
    return fd;
  }
  if (errno != EINVAL) return -1;
  *direct = false;
  return ::open(path.c_str(), flags | O_CLOEXEC, 0600);
}

std::string octal_mode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Sizes the open file `fd` to exactly `bytes`. Returns "" or a reason; *preallocated tells
// whether the blocks are reserved.
std::string size_file(int fd, std::uint64_t bytes, bool* preallocated) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return "fstat: " + errno_text(errno);
  if (static_cast<std::uint64_t>(st.st_size) > bytes &&
      ::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    return "ftruncate: " + errno_text(errno);
  }
  *preallocated = true;
  if (::fallocate(fd, 0, 0, static_cast<off_t>(bytes)) == 0) return "";
  const int e = errno;
  if (e == ENOSPC) return "not enough free space for " + std::to_string(bytes) + " bytes";
  if (e != EOPNOTSUPP) return "fallocate: " + errno_text(e);
  *preallocated = false;
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) return "ftruncate: " + errno_text(errno);
  return "";
}

// The calling thread's io_uring for Device::read_all(), or nullptr where io_uring cannot be set
// up here (then, and after a failed submission, the thread reads with pread).
class ThreadRing {
 public:
  ThreadRing() { ok_ = ::io_uring_queue_init(Device::kMaxReadOps, &ring_, 0) == 0; }
  ~ThreadRing() { close(); }
  ThreadRing(const ThreadRing&) = delete;
  ThreadRing& operator=(const ThreadRing&) = delete;

  io_uring* get() { return ok_ ? &ring_ : nullptr; }
  void close() {
    if (ok_) ::io_uring_queue_exit(&ring_);
    ok_ = false;
  }

 private:
  io_uring ring_{};
  bool ok_ = false;
};

ThreadRing& thread_ring() {
  thread_local ThreadRing ring;
  return ring;
}

}  // namespace

AlignedBuffer::AlignedBuffer(std::size_t bytes) : size_(round_up_block(bytes)) {
  // Page-sized buffers are backed by transparent huge pages where the kernel allows it: pinning
  // them for direct I/O then walks 2 MiB folios instead of 4 KiB pages.
  if (size_ > 0) data_ = base::allocate_aligned(size_);
}

AlignedBuffer::AlignedBuffer(AlignedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

AlignedBuffer& AlignedBuffer::operator=(AlignedBuffer&& other) noexcept {
  if (this != &other) {
    std::free(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

AlignedBuffer::~AlignedBuffer() {
  std::free(data_);
}

std::optional<std::string> check_store(const std::string& path, const struct stat& st,
                                       DeviceKind kind) {
  if (S_ISLNK(st.st_mode))
    return path + " is a symbolic link (the store is never opened through one)";
  const uid_t me = ::geteuid();
  if (kind == DeviceKind::kBlock) {
    if (!S_ISBLK(st.st_mode)) return path + " is not a block device";
    if (st.st_uid != me && st.st_uid != 0) {
      return path + " is owned by uid " + std::to_string(st.st_uid) +
             ", not by the user shoald runs as (uid " + std::to_string(me) + ") or root";
    }
    if ((st.st_mode & S_IWOTH) != 0) {
      return path + " is writable by others (mode " + octal_mode(st.st_mode) + ")";
    }
    return std::nullopt;
  }
  if (!S_ISREG(st.st_mode)) return path + " is not a regular file";
  if (st.st_nlink != 1) {
    return path + " has " + std::to_string(st.st_nlink) + " hard links (a store file has one)";
  }
  if (st.st_uid != me) {
    return path + " is owned by uid " + std::to_string(st.st_uid) +
           ", not by the user shoald runs as (uid " + std::to_string(me) + ")";
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return path + " is writable by its group or others (mode " + octal_mode(st.st_mode) +
           "): chmod go-w " + path;
  }
  return std::nullopt;
}

std::string store_file_path(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return path + (path.ends_with('/') ? "" : "/") + "shoal.slots";
  }
  return path;
}

Device::Device(int fd, std::string path, DeviceKind kind, std::uint64_t size, bool direct)
    : fd_(fd), path_(std::move(path)), kind_(kind), size_(size), direct_(direct) {}

Device::~Device() {
  ::close(fd_);
}

std::unique_ptr<Device> Device::open_file(const std::string& path, std::uint64_t bytes,
                                          std::string* error) {
  bool direct = false;
  int fd = open_maybe_direct(path, O_RDWR | O_CREAT | O_NOFOLLOW, &direct);
  if (fd < 0) {
    *error = errno == ELOOP ? path + " is a symbolic link (the store is never opened through one)"
                            : "cannot open " + path + ": " + errno_text(errno);
    return nullptr;
  }
  // Before anything is written or truncated: the file must be ours alone.
  struct stat st {};
  std::optional<std::string> untrusted;
  if (::fstat(fd, &st) != 0) {
    untrusted = path + ": fstat: " + errno_text(errno);
  } else {
    untrusted = check_store(path, st, DeviceKind::kFile);
  }
  if (untrusted) {
    *error = *untrusted;
    ::close(fd);
    return nullptr;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    *error = path + " is in use by another process";
    ::close(fd);
    return nullptr;
  }
  bool preallocated = false;
  if (std::string e = size_file(fd, bytes, &preallocated); !e.empty()) {
    *error = path + ": " + e;
    ::close(fd);
    return nullptr;
  }
  std::unique_ptr<Device> d(new Device(fd, path, DeviceKind::kFile, bytes, direct));
  d->preallocated_ = preallocated;
  if (!direct) d->fallbacks_ = 1;
  return d;
}

std::unique_ptr<Device> Device::open_block(const std::string& path, std::string* error) {
  // Resolved once (a /dev/disk/by-id/ link is the usual name), then never through a link.
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) {
    *error = "cannot resolve " + path + ": " + errno_text(errno);
    return nullptr;
  }
  bool direct = false;
  int fd = open_maybe_direct(resolved, O_RDWR | O_EXCL | O_NOFOLLOW, &direct);
  if (fd < 0) {
    *error = "cannot open " + path + " exclusively: " + errno_text(errno);
    return nullptr;
  }
  struct stat st {};
  std::uint64_t size = 0;
  int sector = 0;
  std::string why;
  std::optional<std::string> untrusted;
  if (::fstat(fd, &st) != 0 || !S_ISBLK(st.st_mode)) {
    why = path + " is not a block device";
  } else if ((untrusted = check_store(path, st, DeviceKind::kBlock))) {
    why = *untrusted;
  } else if (::ioctl(fd, BLKGETSIZE64, &size) != 0) {
    why = path + ": BLKGETSIZE64: " + errno_text(errno);
  } else if (::ioctl(fd, BLKSSZGET, &sector) != 0 || sector <= 0 ||
             static_cast<std::size_t>(sector) > kBlockBytes) {
    why = path + ": logical block size " + std::to_string(sector) + " is above " +
          std::to_string(kBlockBytes);
  }
  if (!why.empty()) {
    *error = why;
    ::close(fd);
    return nullptr;
  }
  std::unique_ptr<Device> d(new Device(fd, path, DeviceKind::kBlock, size, direct));
  if (!direct) d->fallbacks_ = 1;
  return d;
}

bool Device::drop_direct() const {
  if (!direct_.load()) return true;  // another thread already did
  int flags = ::fcntl(fd_, F_GETFL);
  if (flags < 0 || ::fcntl(fd_, F_SETFL, flags & ~O_DIRECT) != 0) return false;
  if (direct_.exchange(false)) fallbacks_.fetch_add(1);
  return true;
}

template <class Op>
int Device::transfer(Op op, char* buf, std::size_t n, std::uint64_t offset) const {
  bool retried = false;
  std::size_t done = 0;
  while (done < n) {
    ssize_t r = op(fd_, buf + done, n - done, static_cast<off_t>(offset + done));
    if (r > 0) {
      done += static_cast<std::size_t>(r);
      continue;
    }
    if (r == 0) return EIO;  // end of file or device before n bytes
    const int e = errno;
    if (e == EINTR) continue;
    if (e == EINVAL && direct_.load() && !retried && drop_direct()) {
      retried = true;
      continue;
    }
    return e;
  }
  return 0;
}

int Device::read(void* buf, std::size_t n, std::uint64_t offset) const {
  return transfer(::pread, static_cast<char*>(buf), n, offset);
}

int Device::write(const void* buf, std::size_t n, std::uint64_t offset) const {
  auto op = [](int fd, char* p, std::size_t len, off_t off) { return ::pwrite(fd, p, len, off); };
  return transfer(op, const_cast<char*>(static_cast<const char*>(buf)), n, offset);
}

int Device::read_all(std::span<const ReadOp> ops) const {
  bool fits = ops.size() > 1 && ops.size() <= kMaxReadOps;
  for (const ReadOp& op : ops) fits = fits && op.n <= std::numeric_limits<unsigned>::max();
  io_uring* ring = fits ? thread_ring().get() : nullptr;
  bool redo[kMaxReadOps] = {};
  std::size_t submitted = 0;
  if (ring != nullptr) {
    for (std::size_t i = 0; i < ops.size(); ++i) {
      io_uring_sqe* sqe = ::io_uring_get_sqe(ring);  // never null: the ring has kMaxReadOps
      ::io_uring_prep_read(sqe, fd_, ops[i].buf, static_cast<unsigned>(ops[i].n), ops[i].offset);
      ::io_uring_sqe_set_data64(sqe, i);
    }
    const int n = ::io_uring_submit(ring);
    submitted = n < 0 ? 0 : static_cast<std::size_t>(n);  // the kernel takes them in order
  }
  for (std::size_t done = 0; done < submitted;) {
    io_uring_cqe* cqe = nullptr;
    const int e = ::io_uring_wait_cqe(ring, &cqe);
    if (e == -EINTR) continue;
    // A live ring with reads in flight only fails to wait on a signal; anything else would leave
    // the kernel writing into buffers the caller is about to reuse.
    if (e < 0) std::abort();
    const std::size_t i = ::io_uring_cqe_get_data64(cqe);
    redo[i] = cqe->res < 0 || static_cast<std::size_t>(cqe->res) != ops[i].n;
    ::io_uring_cqe_seen(ring, cqe);
    ++done;
  }
  // Reads the kernel did not take would go out with a later submission: drop the ring instead
  // (this thread reads with pread from now on).
  if (ring != nullptr && submitted < ops.size()) thread_ring().close();
  for (std::size_t i = 0; i < ops.size(); ++i) {
    if (i >= submitted || redo[i]) {
      if (int err = read(ops[i].buf, ops[i].n, ops[i].offset)) return err;
    }
  }
  return 0;
}

int Device::sync() const {
  return ::fdatasync(fd_) == 0 ? 0 : errno;
}

}  // namespace shoal::store
