// Several real shoald processes on loopback forming one cluster, for integration suites:
// members with their peer ports, starting and restarting them, and waiting for the membership
// to converge. Header-only; every test owns its Cluster (processes die with it).
#pragma once

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ring/base/page_key.h"
#include "ring/rendezvous.h"
#include "tests/integration/harness/harness.h"
#include "tests/integration/harness/shoald.h"

namespace shoal::test {

// Writes a cluster key file into `dir` and returns its path.
inline std::string key_file(const TempDir& dir, const std::string& name,
                            const std::string& secret) {
  std::string path = dir.path() + "/" + name;
  std::ofstream(path) << secret << "\n";
  return path;
}

struct Member {
  std::string id;
  std::uint16_t peer_port;
  std::unique_ptr<Shoald> node;
};

class Cluster {
 public:
  // `n` members named node0..node<n-1>, 64 KiB pages and 64 MiB of memory each (unless `extra`
  // says otherwise), peer port authenticated with the key in `key_path`, every member seeded
  // with every peer port; started at once (not waited for: converged()).
  Cluster(const std::string& endpoint, int n, const std::string& key_path,
          std::vector<std::string> extra = {})
      : endpoint_(endpoint), key_path_(key_path), extra_(std::move(extra)) {
    for (int i = 0; i < n; ++i)
      members_.push_back(Member{"node" + std::to_string(i), free_port(), nullptr});
    for (int i = 0; i < n; ++i) start(i);
  }
  std::vector<std::string> seeds() const {
    std::vector<std::string> s;
    for (const auto& m : members_) {
      s.push_back("--seed");
      s.push_back("127.0.0.1:" + std::to_string(m.peer_port));
    }
    return s;
  }
  void start(int i) {
    auto& m = members_[static_cast<std::size_t>(i)];
    std::vector<std::string> flags = {
        "--page-size",        "64KiB",  "--memory",      "64MiB",
        "--node-id",          m.id,     "--peer-listen", "127.0.0.1:" + std::to_string(m.peer_port),
        "--cluster-key-file", key_path_};
    auto s = seeds();
    flags.insert(flags.end(), s.begin(), s.end());
    flags.insert(flags.end(), extra_.begin(), extra_.end());
    m.node = std::make_unique<Shoald>(endpoint_, flags);
  }
  Shoald& node(int i) { return *members_[static_cast<std::size_t>(i)].node; }
  Member& member(int i) { return members_[static_cast<std::size_t>(i)]; }
  int size() const { return static_cast<int>(members_.size()); }

  // Waits until node i sees `want` members in state `state`; false on timeout.
  bool wait_for_state(int i, int want, const std::string& state,
                      std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      try {
        auto s = stats_json(node(i).port());
        int n = 0;
        for (auto& m : s["members"]) n += m["state"] == state;
        if (n == want) return true;
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  // The id of the member owning page `page` of kind/object, as every member (weight 1) places
  // it: the test's own ring, not any node's say.
  std::string owner_of(const std::string& kind, const std::string& object,
                       std::uint64_t page) const {
    std::vector<ring::Member> ring_members;
    for (const auto& m : members_) ring_members.push_back(ring::Member{m.id, 1.0});
    auto ring = ring::Ring::make(std::move(ring_members));
    return ring->owner(base::page_hash(kind, object, page))->id;
  }
  // The index of the member named `id`.
  int index_of(const std::string& id) const {
    for (std::size_t i = 0; i < members_.size(); ++i) {
      if (members_[i].id == id) return static_cast<int>(i);
    }
    return -1;
  }
  bool converged(std::chrono::milliseconds timeout) {
    for (int i = 0; i < size(); ++i) {
      if (!wait_for_state(i, size(), "alive", timeout)) return false;
    }
    return true;
  }

 private:
  std::string endpoint_;
  std::string key_path_;
  std::vector<std::string> extra_;
  std::vector<Member> members_;
};

}  // namespace shoal::test
