// Reading a file the node trusts for who may do what: the admin token, the cluster key, the
// bucket policy. A file that another user could have written is refused, as ssh refuses a key
// file others can write: whoever writes the cluster key joins the cluster, whoever writes the
// policy decides which buckets clients may read.
//
// Rules, checked with fstat(2) on the descriptor (opened non-blocking: a FIFO cannot hang the
// start) that is then read (so a file swapped between
// the check and the read is caught):
//   - a regular file (symbolic links are followed: Kubernetes mounts secrets as links; the rules
//     apply to the file the link leads to);
//   - owned by the user the node runs as (geteuid()) or by root;
//   - not writable by its group or by others (mode & 022 == 0);
//   - at most `max_bytes` long.
// A file readable by others is accepted (a root-owned 0644 secret is common under Kubernetes);
// operations.md recommends 0600 or 0640.
//
// The one place in ring/base/ that reads files (besides the log's write(2)). Thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace shoal::base {

// Reads `path` into *contents following the rules above. Returns nullopt on success, else a
// one-line reason naming the path ("cannot open PATH: No such file or directory", "PATH is
// writable by its group or others (mode 0666): chmod go-w PATH", "PATH is owned by uid 65534,
// not by the user shoald runs as (uid 0) or root", "PATH is not a regular file", "PATH is
// larger than N bytes") and leaves *contents unchanged.
std::optional<std::string> read_private_file(const std::string& path, std::size_t max_bytes,
                                             std::string* contents);

}  // namespace shoal::base
