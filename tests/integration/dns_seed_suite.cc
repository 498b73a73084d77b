// Discovery by DNS (issue 13): members given one seed NAME:PORT, where NAME resolves to several
// members' addresses (as a Kubernetes headless Service names every pod of a StatefulSet), join
// each other: every resolved address but the member's own is tried, and the name is resolved
// again until the member has joined.
//
// Each shoald runs in a private mount namespace with its own /etc/hosts (`unshare -m` + a bind
// mount, as root), so NAME resolves to loopback addresses 127.0.0.2, .3 and .4, one member
// listening on each with the same peer port. The test is skipped when unshare is not permitted.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "tests/integration/harness/harness.h"
#include "tests/integration/harness/shoald.h"

namespace shoal::test {
namespace {

const std::string kName = "shoal-peers.test";

// Runs the rest of the command line with `hosts` bound over /etc/hosts in a mount namespace of
// its own (private propagation: the host's /etc/hosts is untouched). sh execs shoald, so the
// process id stays the one the harness watches.
std::vector<std::string> with_hosts(const std::string& hosts) {
  return {"unshare",
          "-m",
          "--propagation",
          "private",
          "sh",
          "-c",
          "mount --bind \"$0\" /etc/hosts && exec \"$@\"",
          hosts};
}

void write_hosts(const std::string& path, const std::vector<std::string>& addresses) {
  std::ofstream out(path, std::ios::trunc);  // in place: the bind mounts see the new contents
  out << "127.0.0.1 localhost\n";
  for (const auto& a : addresses) out << a << " " << kName << "\n";
}

// Why private hosts files cannot be used here, or "" when they can.
std::string namespaces_unavailable(const TempDir& dir) {
  const std::string hosts = dir.path() + "/probe.hosts";
  write_hosts(hosts, {"127.0.0.2", "127.0.0.3"});
  std::vector<std::string> argv = with_hosts(hosts);
  argv.insert(argv.end(), {"getent", "ahostsv4", kName});
  try {
    Process p = Process::spawn(argv, {}, dir.path() + "/probe.log");
    const auto code = p.wait(10s);
    const std::string out = p.log();
    if (code != 0 || out.find("127.0.0.3") == std::string::npos) {
      return "unshare -m + mount --bind failed: " + out;
    }
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

class DnsSeed : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = namespaces_unavailable(dir_); !why.empty()) {
      GTEST_SKIP() << "no private /etc/hosts (needs root and unshare): " << why;
    }
    s3_ = std::make_unique<S3Server>();
    s3_->create_bucket("dns");
    key_ = dir_.path() + "/cluster.key";
    std::ofstream(key_) << "0123456789abcdef0123456789abcdef-dns-seed\n";
    peer_port_ = free_port();
  }

  // A member listening on `address`:peer_port_, seeded only with kName:peer_port_, resolving
  // names through `hosts`.
  std::unique_ptr<Shoald> member(const std::string& id, const std::string& address,
                                 const std::string& hosts) {
    const std::string port = std::to_string(peer_port_);
    return std::make_unique<Shoald>(
        s3_->endpoint(),
        std::vector<std::string>{"--page-size", "64KiB", "--memory", "64MiB", "--node-id", id,
                                 "--peer-listen", address + ":" + port, "--cluster-key-file", key_,
                                 "--seed", kName + ":" + port},
        std::map<std::string, std::string>{}, with_hosts(hosts));
  }

  // Members node `n` sees alive.
  static int alive(const Shoald& n) {
    try {
      const nlohmann::json s = stats_json(n.port());
      int count = 0;
      for (const auto& m : s["members"]) count += m["state"] == "alive";
      return count;
    } catch (const std::exception&) {
      return -1;
    }
  }

  static bool all_see(const std::vector<const Shoald*>& nodes, int want,
                      std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      bool ok = true;
      for (const Shoald* n : nodes) ok = ok && alive(*n) == want;
      if (ok) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

  TempDir dir_;
  std::unique_ptr<S3Server> s3_;
  std::string key_;
  std::uint16_t peer_port_ = 0;
};

TEST_F(DnsSeed, ThreeMembersWithOneNameFormOneCluster) {
  const std::string hosts = dir_.path() + "/all.hosts";
  write_hosts(hosts, {"127.0.0.2", "127.0.0.3", "127.0.0.4"});
  auto a = member("dns-a", "127.0.0.2", hosts);
  auto b = member("dns-b", "127.0.0.3", hosts);
  auto c = member("dns-c", "127.0.0.4", hosts);
  ASSERT_TRUE(all_see({a.get(), b.get(), c.get()}, 3, 20s))
      << "alive seen: " << alive(*a) << " " << alive(*b) << " " << alive(*c);
  // And they forward to each other at the addresses they advertise.
  const std::string data = random_bytes(6 * 64 * 1024, 21);
  s3_->put_object("dns", "obj", data);
  for (const Shoald* n : {a.get(), b.get(), c.get()}) {
    auto r = n->fetch("dns", "obj", "bytes=0-" + std::to_string(data.size() - 1));
    ASSERT_EQ(r.status, 206) << r.body;
    EXPECT_TRUE(r.body == data);
  }
  std::uint64_t forwarded = 0;
  for (const Shoald* n : {a.get(), b.get(), c.get()}) {
    forwarded += stats_json(n->port())["cluster"]["forwarded_out"].get<std::uint64_t>();
  }
  EXPECT_GT(forwarded, 0u);
}

// A member whose name resolves to nobody else yet (here: only to itself) keeps resolving it;
// once the name also lists the others (a cluster of two that never heard of it), it joins them.
TEST_F(DnsSeed, AMemberThatStartsBeforeTheOthersResolveJoinsThemLater) {
  const std::string hosts_a = dir_.path() + "/a.hosts";
  const std::string hosts_bc = dir_.path() + "/bc.hosts";
  write_hosts(hosts_a, {"127.0.0.2"});
  write_hosts(hosts_bc, {"127.0.0.3", "127.0.0.4"});
  auto a = member("dns-a", "127.0.0.2", hosts_a);
  std::this_thread::sleep_for(1500ms);
  auto b = member("dns-b", "127.0.0.3", hosts_bc);
  auto c = member("dns-c", "127.0.0.4", hosts_bc);
  ASSERT_TRUE(all_see({b.get(), c.get()}, 2, 20s));
  EXPECT_EQ(alive(*a), 1);  // b and c never resolve a
  write_hosts(hosts_a, {"127.0.0.2", "127.0.0.3", "127.0.0.4"});
  // a resolves again within its backoff (at most 10 s) and joins.
  EXPECT_TRUE(all_see({a.get(), b.get(), c.get()}, 3, 25s))
      << "alive seen: " << alive(*a) << " " << alive(*b) << " " << alive(*c);
}

}  // namespace
}  // namespace shoal::test
