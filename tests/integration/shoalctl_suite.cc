// shoalctl against a real 3-node cluster (shoald processes on loopback in front of s3rver, through
// the counting fault proxy): every command's table and JSON output, the admin API's bearer-token
// rules, drain under load, purge, warm, set-weight and leave, and the exit codes (0 ok, 1 failed,
// 2 usage).
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "tests/integration/harness/harness.h"
#include "tests/integration/harness/proxied_origin.h"
#include "tests/integration/harness/shoald.h"

namespace shoal::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
constexpr std::uint64_t kPage = 64 * 1024;
const std::string kBucket = "ctl";
const std::string kToken = "shoalctl-test-token-0123456789abcdef";
constexpr std::size_t kAdminBodyBytes = 64 * 1024;  // the largest admin request body

struct CtlResult {
  int code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string write_file(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir.path() + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// Runs shoalctl with `args`, stdout and stderr kept apart (through sh: exec "$0" "$@" 2>FILE).
CtlResult shoalctl(const std::vector<std::string>& args) {
  TempDir dir;
  std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>\"$CTL_ERR\"",
                                   bin_dir() + "/shoalctl"};
  argv.insert(argv.end(), args.begin(), args.end());
  Process p = Process::spawn(argv, {{"CTL_ERR", dir.path() + "/err"}}, dir.path() + "/out");
  auto code = p.wait(60s);
  if (!code) p.kill();
  return CtlResult{code.value_or(-1), p.log(), read_file(dir.path() + "/err")};
}

// Runs shoalctl on a pseudo-terminal (util-linux script(1)), so it sees isatty(stdout) true.
CtlResult shoalctl_on_tty(const std::vector<std::string>& args) {
  // Single-quoted for sh: ' becomes '\''.
  auto append_quoted = [](std::string* cmd, const std::string& s) {
    cmd->push_back('\'');
    for (char c : s) {
      if (c == '\'') {
        cmd->append("'\\''");
      } else {
        cmd->push_back(c);
      }
    }
    cmd->append("' ");
  };
  std::string cmd;
  append_quoted(&cmd, bin_dir() + "/shoalctl");
  for (const auto& a : args) append_quoted(&cmd, a);
  TempDir dir;
  Process p = Process::spawn({"script", "-qec", cmd, "/dev/null"}, {}, dir.path() + "/out");
  auto code = p.wait(60s);
  if (!code) p.kill();
  return CtlResult{code.value_or(-1), p.log(), ""};
}

json parse(const CtlResult& r) {
  json j = json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.out << "\nstderr: " << r.err;
  return j;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A cluster of shoald processes node0..node{n-1} with the admin API enabled.
class CtlCluster {
 public:
  // `extra` goes to every node, `node_extra[i]` to node i alone.
  CtlCluster(const std::string& endpoint, int n, const TempDir& dir,
             const std::vector<std::string>& extra = {},
             std::map<int, std::vector<std::string>> node_extra = {}) {
    key_ = write_file(dir, "cluster.key", "0123456789abcdef0123456789abcdef-ctl-secret\n");
    token_file_ = write_file(dir, "admin.token", kToken + "\n");
    for (int i = 0; i < n; ++i) peer_ports_.push_back(free_port());
    for (int i = 0; i < n; ++i) {
      std::vector<std::string> flags = {
          "--page-size",        "64KiB",
          "--memory",           "64MiB",
          "--node-id",          "node" + std::to_string(i),
          "--peer-listen",      "127.0.0.1:" + std::to_string(peer_ports_[i]),
          "--cluster-key-file", key_,
          "--admin-token-file", token_file_};
      for (auto port : peer_ports_) {
        flags.push_back("--seed");
        flags.push_back("127.0.0.1:" + std::to_string(port));
      }
      flags.insert(flags.end(), extra.begin(), extra.end());
      flags.insert(flags.end(), node_extra[i].begin(), node_extra[i].end());
      nodes_.push_back(std::make_unique<Shoald>(endpoint, flags));
    }
  }
  Shoald& node(int i) { return *nodes_[static_cast<std::size_t>(i)]; }
  int size() const { return static_cast<int>(nodes_.size()); }
  std::string addr(int i) { return "127.0.0.1:" + std::to_string(node(i).port()); }
  const std::string& token_file() const { return token_file_; }

  // shoalctl --node NODE(i) --token-file F args...
  CtlResult ctl(int i, std::vector<std::string> args) {
    std::vector<std::string> all = {"--node", addr(i), "--token-file", token_file_};
    all.insert(all.end(), args.begin(), args.end());
    return shoalctl(all);
  }

  // Waits until every node in `which` reports `pred` true for its /stats; false on timeout.
  template <class Pred>
  bool wait_all(const std::vector<int>& which, Pred pred, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      bool all = true;
      for (int i : which) {
        try {
          all = all && pred(stats_json(node(i).port()));
        } catch (const std::exception&) {
          all = false;
        }
      }
      if (all) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
  bool converged() {
    std::vector<int> all;
    for (int i = 0; i < size(); ++i) all.push_back(i);
    return wait_all(
        all,
        [n = size()](const json& s) {
          int alive = 0;
          for (auto& m : s["members"]) alive += m["state"] == "alive";
          return alive == n;
        },
        15s);
  }

 private:
  std::string key_, token_file_;
  std::vector<std::uint16_t> peer_ports_;
  std::vector<std::unique_ptr<Shoald>> nodes_;
};

// The member record `id` in a /stats or /admin/members document.
json member(const json& doc, const std::string& id) {
  for (const json& m : doc["members"]) {
    if (m["id"] == id) return m;
  }
  return nullptr;
}

class ShoalctlTest : public ProxiedOriginTest {
 protected:
  ShoalctlTest() : ProxiedOriginTest(kBucket) {}
  std::unique_ptr<CtlCluster> start_cluster() {
    auto c = std::make_unique<CtlCluster>(proxy_->endpoint(), 3, dir_);
    EXPECT_TRUE(c->converged());
    return c;
  }
  // GETs of `key` the origin saw.
  int origin_gets(const std::string& key) {
    return proxy_->count("GET", "/" + kBucket + "/" + key);
  }

  TempDir dir_;
};

TEST_F(ShoalctlTest, ReadCommandsPrintTablesAndJson) {
  auto c = start_cluster();
  const std::string data = put("read/obj.bin", 10 * kPage + 7, 1);
  ASSERT_EQ(c->node(0)
                .fetch(kBucket, "read/obj.bin", "bytes=0-" + std::to_string(data.size() - 1))
                .status,
            206);

  // members
  auto r = c->ctl(0, {"members"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "ID     ADDRESS")) << r.out;
  for (const char* col : {"STATE", "INCARNATION", "WEIGHT", "OWNS", "UPTIME"}) {
    EXPECT_TRUE(contains(r.out, col)) << r.out;
  }
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(contains(r.out, "node" + std::to_string(i) + "  " + c->addr(i) + "  alive"))
        << r.out;
  }
  EXPECT_TRUE(contains(r.out, "33.3%")) << r.out;
  json j = parse(c->ctl(0, {"--json", "members"}));
  ASSERT_EQ(j["members"].size(), 3u);
  EXPECT_EQ(j["self"], "node0");
  EXPECT_EQ(j["cluster"], true);
  for (const json& m : j["members"]) {
    EXPECT_EQ(m["state"], "alive");
    EXPECT_NEAR(m["owned_share"].get<double>(), 1.0 / 3, 1e-9);
    EXPECT_GE(m["uptime_s"].get<int>(), 0);
    EXPECT_EQ(m["self"], m["id"] == "node0");
  }

  // status
  r = c->ctl(1, {"status"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "Health:      healthy")) << r.out;
  EXPECT_TRUE(contains(r.out, "Members:     3 (3 alive, 0 suspect, 0 dead, 0 left)")) << r.out;
  EXPECT_TRUE(contains(r.out, "Views:       agree (3 members see the same ring)")) << r.out;
  for (const char* line :
       {"Memory:", "Hit ratio:", "Throughput:", "Origin:", "Hedges:", "Forwarding:"}) {
    EXPECT_TRUE(contains(r.out, line)) << r.out;
  }
  j = parse(c->ctl(1, {"status", "--json"}));
  EXPECT_EQ(j["healthy"], true);
  EXPECT_EQ(j["views_agree"], true);
  EXPECT_EQ(j["members"]["alive"], 3);
  EXPECT_EQ(j["totals"]["pages"].get<double>(), 11);  // every page cached once, cluster-wide
  EXPECT_EQ(j["epochs"].size(), 3u);

  // locate: every page once, its owner first in a ranking of all three members
  r = c->ctl(2, {"locate", kBucket, "read/obj.bin"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(
      contains(r.out, "ctl/read/obj.bin: 640.0 KiB (655367 bytes), page size 64.0 KiB, 11 pages"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "PAGE  BYTES")) << r.out;
  EXPECT_TRUE(contains(r.out, "  10  655360-655366")) << r.out;
  j = parse(c->ctl(2, {"--json", "locate", kBucket, "read/obj.bin"}));
  ASSERT_EQ(j["pages"].size(), 11u);
  EXPECT_EQ(j["size"], 655367);
  std::map<std::string, int> owned;
  for (const json& p : j["pages"]) {
    ASSERT_EQ(p["ranking"].size(), 3u);
    EXPECT_EQ(p["owner"], p["ranking"][0]["id"]);
    ++owned[p["owner"].get<std::string>()];
  }
  // Each node holds exactly the pages it owns.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(stats_json(c->node(i).port())["memory"]["pages"].get<int>(),
              owned["node" + std::to_string(i)])
        << "node" << i;
  }
  j = parse(
      c->ctl(0, {"--json", "locate", kBucket, "read/obj.bin", "--range", "bytes=70000-140000"}));
  ASSERT_EQ(j["pages"].size(), 2u);
  EXPECT_EQ(j["pages"][0]["first"], 70000);
  EXPECT_EQ(j["pages"][1]["last"], 140000);
  r = c->ctl(0, {"locate", kBucket, "missing.bin"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "HTTP 404")) << r.err;
  // A name with the query's delimiters, '+', a space and UTF-8 reaches the node unchanged.
  const std::string odd = "odd dir/a+b&c=d \xc3\xa9.bin";
  put(odd, kPage + 1, 5);
  j = parse(c->ctl(0, {"--json", "locate", kBucket, odd}));
  EXPECT_EQ(j["object"], odd);
  EXPECT_EQ(j["pages"].size(), 2u);

  // stats: a row per member and a total; --watch refreshes with request rates
  r = c->ctl(0, {"stats"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "NODE   REQUESTS")) << r.out;
  EXPECT_TRUE(contains(r.out, "TOTAL")) << r.out;
  EXPECT_TRUE(contains(r.out, "node2")) << r.out;
  j = parse(c->ctl(0, {"stats", "--json"}));
  EXPECT_EQ(j["members"].size(), 3u);
  EXPECT_EQ(j["total"]["pages"].get<double>(), 11);
  EXPECT_GE(j["total"]["requests"].get<double>(), 1);
  r = c->ctl(0, {"stats", "--watch", "--count", "2", "--interval", "0.3"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::size_t first = r.out.find("Every 0.3s");
  ASSERT_NE(first, std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Every 0.3s", first + 1), std::string::npos) << r.out;
  r = c->ctl(0, {"--json", "stats", "--watch", "--count", "2", "--interval", "0.3"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream lines(r.out);
  int docs = 0;
  for (std::string line; std::getline(lines, line); ++docs) {
    json d = json::parse(line, nullptr, false);
    ASSERT_FALSE(d.is_discarded()) << line;
    EXPECT_EQ(d.contains("requests_per_s"), docs > 0);
  }
  EXPECT_EQ(docs, 2);

  // ownership: shares now, and what a new member would take
  r = c->ctl(0, {"ownership"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "ID     WEIGHT  SHARE")) << r.out;
  j = parse(c->ctl(0, {"--json", "ownership", "--simulate-add", "node9:1"}));
  EXPECT_EQ(j["members"].size(), 3u);
  EXPECT_EQ(j["cached_bytes"], 10 * kPage + 7);
  EXPECT_EQ(j["stats_complete"], true);
  const json& sim = j["simulation"];
  EXPECT_NEAR(sim["moved_fraction"].get<double>(), 0.25, 0.01);  // w / (sum + w)
  EXPECT_NEAR(sim["moved_bytes"].get<double>(), 0.25 * (10 * kPage + 7), 0.03 * (10 * kPage));
  EXPECT_EQ(sim["members"].size(), 4u);
  r = c->ctl(0, {"ownership", "--simulate-remove", "node1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "removed")) << r.out;
  EXPECT_TRUE(contains(r.out, "Simulated remove node1: 33.")) << r.out;
  r = c->ctl(0, {"ownership", "--simulate-remove", "nobody"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "HTTP 400")) << r.err;
}

TEST_F(ShoalctlTest, WrongOrMissingTokenIs401AndExitCode1) {
  auto c = start_cluster();
  std::string wrong = write_file(dir_, "wrong.token", "not-the-right-token-at-all\n");
  for (auto args : std::vector<std::vector<std::string>>{
           {"--node", c->addr(0), "members"},
           {"--node", c->addr(0), "--token-file", wrong, "members"},
           {"--node", c->addr(0), "--token-file", wrong, "purge", "--kind", kBucket}}) {
    auto r = shoalctl(args);
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_TRUE(contains(r.err, "HTTP 401")) << r.err;
  }
  auto bare = http_request(c->node(0).port(), "GET", "/admin/members");
  EXPECT_EQ(bare.status, 401);
  EXPECT_EQ(bare.header("WWW-Authenticate"), "Bearer realm=\"shoal-admin\"");
  auto bad = http_request(c->node(0).port(), "POST", "/admin/leave",
                          {{"Authorization", "Bearer not-the-right-token-at-all"}});
  EXPECT_EQ(bad.status, 401);
  EXPECT_TRUE(contains(bad.header("WWW-Authenticate"), "invalid_token"));
  auto good = http_request(c->node(0).port(), "GET", "/admin/members",
                           {{"Authorization", "bearer " + kToken}});
  EXPECT_EQ(good.status, 200);
  EXPECT_EQ(http_request(c->node(0).port(), "GET", "/admin/nothing",
                         {{"Authorization", "Bearer " + kToken}})
                .status,
            404);
  EXPECT_EQ(http_request(c->node(0).port(), "GET", "/admin/weight",
                         {{"Authorization", "Bearer " + kToken}})
                .header("Allow"),
            "POST");
  auto bad_body = http_request(c->node(0).port(), "POST", "/admin/weight",
                               {{"Authorization", "Bearer " + kToken}}, "{\"weight\": -1}");
  EXPECT_EQ(bad_body.status, 400);
  // Read-only /stats and /metrics stay open.
  EXPECT_EQ(http_request(c->node(0).port(), "GET", "/stats").status, 200);
  EXPECT_EQ(http_request(c->node(0).port(), "GET", "/metrics").status, 200);

  // Without --admin-token-file the API is off: 403, and shoalctl fails.
  Shoald plain(proxy_->endpoint());
  auto off =
      http_request(plain.port(), "GET", "/admin/members", {{"Authorization", "Bearer " + kToken}});
  EXPECT_EQ(off.status, 403);
  EXPECT_TRUE(contains(off.body, "admin API disabled"));
  auto r = shoalctl({"--node", "127.0.0.1:" + std::to_string(plain.port()), "--token-file",
                     c->token_file(), "members"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "HTTP 403")) << r.err;
}

TEST_F(ShoalctlTest, UsageErrorsExitWith2) {
  for (auto args :
       std::vector<std::vector<std::string>>{{},
                                             {"no-such-command"},
                                             {"locate", kBucket},
                                             {"set-weight", "node1", "heavy"},
                                             {"set-weight", "node1", "-1"},
                                             {"purge"},
                                             {"purge", kBucket},
                                             {"purge", "--kind", kBucket, "obj"},
                                             {"warm", kBucket},
                                             {"drain"},
                                             {"--token-file", "/nonexistent/token", "members"},
                                             {"stats", "--interval", "0"},
                                             {"members", "--bogus"},
                                             {"--node", "garbage", "members"},
                                             {"--node", "127.0.0.1:99999", "members"}}) {
    auto r = shoalctl(args);
    std::string joined;
    for (auto& a : args) joined += a + " ";
    EXPECT_EQ(r.code, 2) << joined << "\n" << r.out << r.err;
  }
  auto help = shoalctl({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_TRUE(contains(help.out, "warm")) << help.out;
  // No node listening: the command fails (1), it is not a usage error.
  auto r = shoalctl({"--node", "127.0.0.1:" + std::to_string(free_port()), "members"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "cannot connect")) << r.err;
}

TEST_F(ShoalctlTest, WarmFillsTheOwnersAndPurgeMakesTheNextFetchAMiss) {
  auto c = start_cluster();
  const std::string a = put("warm/a.bin", 9 * kPage + 5, 2);
  const std::string b = put("warm/b.bin", 4 * kPage, 3);
  const std::string list = write_file(dir_, "objects.txt", "# objects to warm\nwarm/b.bin\n\n");

  // Not a terminal: plain progress lines, then a summary.
  auto r = c->ctl(0, {"warm", kBucket, "warm/a.bin", "--from-file", list, "--batch-pages", "4"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "warm: 4/14 pages")) << r.out;
  EXPECT_TRUE(contains(r.out, "warm: 14/14 pages")) << r.out;
  EXPECT_TRUE(contains(r.out, "ETA")) << r.out;
  EXPECT_EQ(r.out.find('\r'), std::string::npos) << r.out;
  EXPECT_TRUE(contains(r.out, "Warmed 2 of 2 objects: 14 pages")) << r.out;
  EXPECT_EQ(origin_gets("warm/a.bin"), 10);
  EXPECT_EQ(origin_gets("warm/b.bin"), 4);

  // The pages are on their owners: each node holds exactly what locate says it owns.
  std::map<std::string, int> owned;
  for (const char* key : {"warm/a.bin", "warm/b.bin"}) {
    json j = parse(c->ctl(1, {"--json", "locate", kBucket, key}));
    for (const json& p : j["pages"]) ++owned[p["owner"].get<std::string>()];
  }
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(stats_json(c->node(i).port())["memory"]["pages"].get<int>(),
              owned["node" + std::to_string(i)]);
  }
  // A warmed object is served without the origin.
  proxy_->reset();
  auto hit = c->node(2).fetch(kBucket, "warm/a.bin", "bytes=0-" + std::to_string(a.size() - 1));
  ASSERT_EQ(hit.status, 206);
  EXPECT_TRUE(hit.body == a);
  EXPECT_EQ(origin_gets("warm/a.bin"), 0);

  // Purge one object on every member: the next fetch is a miss (origin GET, cached_at 0 on the
  // owner itself).
  json page0 =
      parse(c->ctl(0, {"--json", "locate", kBucket, "warm/a.bin", "--range", "bytes=0-0"}));
  const int owner = page0["pages"][0]["owner"].get<std::string>().back() - '0';
  auto cached = c->node(owner).fetch(kBucket, "warm/a.bin", "bytes=0-99");
  EXPECT_NE(cached.header("C0-Status").substr(cached.header("C0-Status").rfind(' ') + 1), "0");
  r = c->ctl(0, {"purge", kBucket, "warm/a.bin"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "Purged ctl/warm/a.bin")) << r.out;
  EXPECT_TRUE(contains(r.out, "NODE   PAGES DROPPED")) << r.out;
  EXPECT_TRUE(contains(r.out, "TOTAL             10")) << r.out;
  proxy_->reset();
  auto miss = c->node(owner).fetch(kBucket, "warm/a.bin", "bytes=0-99");
  ASSERT_EQ(miss.status, 206);
  EXPECT_TRUE(miss.body == a.substr(0, 100));
  EXPECT_EQ(miss.header("C0-Status"), "0-99; " + kBucket + "; 0");
  EXPECT_EQ(origin_gets("warm/a.bin"), 1);
  // b was not purged.
  EXPECT_EQ(c->node(0).fetch(kBucket, "warm/b.bin", "bytes=0-10").status, 206);
  EXPECT_EQ(origin_gets("warm/b.bin"), 0);

  // purge --kind drops everything of the kind, everywhere.
  json all = parse(c->ctl(1, {"--json", "purge", "--kind", kBucket}));
  EXPECT_EQ(all["pages_dropped"], 5);  // b's 4 pages and a's page 0 again
  EXPECT_EQ(all["members"].size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(stats_json(c->node(i).port())["memory"]["pages"].get<int>(), 0);
  }

  // JSON output, a missing object (exit 1, the others still warmed), and the terminal bar.
  r = c->ctl(0, {"--json", "warm", kBucket, "warm/b.bin", "warm/none.bin"});
  EXPECT_EQ(r.code, 1);
  json w = parse(r);
  EXPECT_EQ(w["pages"], 4);
  EXPECT_EQ(w["bytes"], 4 * kPage);
  EXPECT_TRUE(w["failed"].contains("warm/none.bin"));
  ASSERT_EQ(w["objects"].size(), 1u);
  EXPECT_EQ(w["objects"][0]["sources"]["memory"].get<int>() +
                w["objects"][0]["sources"]["origin"].get<int>() +
                w["objects"][0]["sources"]["peer"].get<int>(),
            4);
  auto tty = shoalctl_on_tty({"--node", c->addr(0), "--token-file", c->token_file(), "warm",
                              kBucket, "warm/a.bin", "--batch-pages", "2"});
  ASSERT_EQ(tty.code, 0) << tty.out;
  EXPECT_TRUE(contains(tty.out, "\r[")) << tty.out;
  EXPECT_TRUE(contains(tty.out, "[########################] 100.0%")) << tty.out;
  EXPECT_TRUE(contains(tty.out, "10/10 pages")) << tty.out;
  EXPECT_TRUE(contains(tty.out, "ETA")) << tty.out;
}

TEST_F(ShoalctlTest, DrainMovesOwnershipAndNoRequestFails) {
  auto c = start_cluster();
  const std::string data = put("drain.bin", 12 * kPage, 4);
  json before = parse(c->ctl(0, {"--json", "locate", kBucket, "drain.bin"}));
  std::map<std::uint64_t, std::string> moved_to;  // node1's pages -> their rank-2 member
  for (const json& p : before["pages"]) {
    if (p["owner"] == "node1") {
      moved_to[p["page"].get<std::uint64_t>()] = p["ranking"][1]["id"].get<std::string>();
    }
  }
  ASSERT_FALSE(moved_to.empty());

  // Four clients on node0 and node2 while node1 drains.
  RangeLoad load(
      4, [&](int t) -> const Shoald& { return c->node(t % 2 == 0 ? 0 : 2); }, kBucket, "drain.bin",
      data, 3 * kPage);
  std::this_thread::sleep_for(500ms);
  auto r = c->ctl(0, {"drain", "node1"});
  std::this_thread::sleep_for(500ms);
  load.stop();
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "Draining node1 at " + c->addr(1))) << r.out;
  EXPECT_TRUE(contains(r.out, "node1: weight 0 confirmed by node0, node2")) << r.out;
  EXPECT_TRUE(contains(r.out, "now left")) << r.out;
  EXPECT_EQ(load.failures(), 0);
  EXPECT_GT(load.successes(), 0);
  EXPECT_EQ(c->node(1).process().wait(15s), 0);

  // node1's pages moved to their rank-2 members; nobody ranks node1 any more.
  json after = parse(c->ctl(2, {"--json", "locate", kBucket, "drain.bin"}));
  for (const json& p : after["pages"]) {
    EXPECT_NE(p["owner"], "node1");
    EXPECT_EQ(p["ranking"].size(), 2u);
    auto it = moved_to.find(p["page"].get<std::uint64_t>());
    if (it != moved_to.end()) {
      EXPECT_EQ(p["owner"], it->second) << "page " << p["page"];
    }
  }
  json m = parse(c->ctl(0, {"--json", "members"}));
  EXPECT_EQ(member(m, "node1")["state"], "left");
  // Draining a member that is gone is an error.
  r = c->ctl(0, {"drain", "node1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "member 'node1' is left")) << r.err;
}

// Draining a member of a warm cluster while clients read: its pages reach their new owners
// from it (cache-only reads, and its hand-off before it leaves), not from the origin.
TEST_F(ShoalctlTest, DrainOfAWarmMemberFetchesNothingAgain) {
  // No hedged GETs: every origin GET below is a page fetched again.
  auto c = std::make_unique<CtlCluster>(proxy_->endpoint(), 3, dir_,
                                        std::vector<std::string>{"--hedge-quantile", "0"});
  ASSERT_TRUE(c->converged());
  const std::string data = put("warm-drain.bin", 64 * kPage, 13);
  auto whole =
      c->node(0).fetch(kBucket, "warm-drain.bin", "bytes=0-" + std::to_string(data.size() - 1));
  ASSERT_EQ(whole.status, 206);
  ASSERT_EQ(origin_gets("warm-drain.bin"), 64);
  RangeLoad load(
      2, [&](int t) -> const Shoald& { return c->node(t % 2 == 0 ? 0 : 2); }, kBucket,
      "warm-drain.bin", data, 3 * kPage);
  // (Changes within RingHistory::kSettle of the cluster forming would count as one with it.)
  std::this_thread::sleep_for(1s);
  auto r = c->ctl(0, {"--json", "drain", "node1"});
  load.stop();
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  json d = parse(r);
  EXPECT_GT(d["drain"]["handoff_tried"].get<int>(), 0) << r.out;
  EXPECT_EQ(load.failures(), 0);
  EXPECT_EQ(c->node(1).process().wait(15s), 0);
  for (int i : {0, 2}) {
    auto got =
        c->node(i).fetch(kBucket, "warm-drain.bin", "bytes=0-" + std::to_string(data.size() - 1));
    ASSERT_EQ(got.status, 206) << "node " << i;
    ASSERT_TRUE(got.body == data) << "node " << i;
  }
  EXPECT_LE(origin_gets("warm-drain.bin"), 64 + 1);
  std::uint64_t taken = 0;
  for (int i : {0, 2}) {
    taken += stats_json(c->node(i).port())["cluster"]["handoffs_taken"].get<std::uint64_t>();
  }
  EXPECT_GT(taken, 0u);
}

TEST_F(ShoalctlTest, SetWeightIsGossipedAndLeaveStopsTheNode) {
  auto c = start_cluster();
  auto r = c->ctl(0, {"set-weight", "node2", "3"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "node2: weight 1 -> 3")) << r.out;
  ASSERT_TRUE(c->wait_all(
      {0, 1, 2}, [](const json& s) { return member(s, "node2")["weight"] == 3.0; }, 10s));
  json own = parse(c->ctl(1, {"--json", "ownership", "--simulate-remove", "node2"}));
  EXPECT_NEAR(member(own, "node2")["share"].get<double>(), 0.6, 1e-9);
  EXPECT_NEAR(own["simulation"]["moved_fraction"].get<double>(), 0.6, 0.01);
  json m = parse(c->ctl(1, {"--json", "members"}));
  EXPECT_NEAR(member(m, "node2")["owned_share"].get<double>(), 0.6, 1e-9);
  r = c->ctl(1, {"--json", "set-weight", "node2", "0.5"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(parse(r)["previous_weight"], 3.0);
  r = c->ctl(0, {"set-weight", "node7", "1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "no member 'node7'")) << r.err;

  // leave: node2 leaves gracefully and its process exits 0.
  r = c->ctl(2, {"leave"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "node2 is leaving the cluster and shutting down\n");
  EXPECT_EQ(c->node(2).process().wait(15s), 0);
  ASSERT_TRUE(c->wait_all(
      {0, 1}, [](const json& s) { return member(s, "node2")["state"] == "left"; }, 10s));
  r = c->ctl(0, {"members"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "node2  " + c->addr(2) + "  left")) << r.out;
}

TEST_F(ShoalctlTest, AStandaloneNodeIsAOneMemberCluster) {
  const std::string token = write_file(dir_, "solo.token", kToken);
  Shoald solo(proxy_->endpoint(), {"--page-size", "64KiB", "--admin-token-file", token});
  const std::string addr = "127.0.0.1:" + std::to_string(solo.port());
  auto ctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--node", addr, "--token-file", token});
    return shoalctl(args);
  };
  put("solo.bin", 3 * kPage, 7);
  json m = parse(ctl({"--json", "members"}));
  EXPECT_EQ(m["cluster"], false);
  ASSERT_EQ(m["members"].size(), 1u);
  EXPECT_EQ(m["members"][0]["owned_share"], 1.0);
  EXPECT_GE(m["members"][0]["uptime_s"].get<int>(), 0);
  auto r = ctl({"warm", kBucket, "solo.bin"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(stats_json(solo.port())["memory"]["pages"], 3);
  json loc = parse(ctl({"--json", "locate", kBucket, "solo.bin"}));
  ASSERT_EQ(loc["pages"].size(), 3u);
  for (const json& p : loc["pages"]) {
    EXPECT_EQ(p["cached_here"], true);
  }
  json own = parse(ctl({"--json", "ownership", "--simulate-add", "other:1"}));
  EXPECT_EQ(own["members"][0]["share"], 1.0);
  EXPECT_EQ(own["cached_bytes"], 3 * kPage);
  EXPECT_NEAR(own["simulation"]["moved_fraction"].get<double>(), 0.5, 0.01);
  // Removing the only member moves every page (to nobody); the node keeps serving.
  own = parse(ctl({"--json", "ownership", "--simulate-remove", m["self"].get<std::string>()}));
  EXPECT_EQ(own["simulation"]["moved_fraction"], 1.0) << own.dump();
  EXPECT_EQ(own["simulation"]["members"].size(), 0u) << own.dump();
  // Membership changes need a cluster.
  for (auto args :
       std::vector<std::vector<std::string>>{{"set-weight", m["self"].get<std::string>(), "2"},
                                             {"drain", m["self"].get<std::string>()},
                                             {"leave"}}) {
    r = ctl(args);
    EXPECT_EQ(r.code, 1) << args[0];
    EXPECT_TRUE(contains(r.err, "HTTP 409: not a cluster member")) << r.err;
  }
  EXPECT_TRUE(solo.process().running());
}

// The admin API's conventions on every route: a query parameter the route does not take is a
// 400 naming it, errors are {"error": ...} JSON, bodies up to 64 KiB are read and one byte more
// is a JSON 400; locate takes ranges with or without "bytes=".
TEST_F(ShoalctlTest, AdminConventionsHoldOnEveryRoute) {
  const std::string token = write_file(dir_, "solo.token", kToken);
  Shoald solo(proxy_->endpoint(), {"--page-size", "64KiB", "--admin-token-file", token});
  const std::vector<std::pair<std::string, std::string>> auth = {
      {"Authorization", "Bearer " + kToken}};
  put("conv.bin", 3 * kPage, 9);
  struct Call {
    const char* method;
    const char* target;
    const char* body;
  };
  for (const Call& c :
       {Call{"GET", "/admin/members?verbose=1", ""},
        Call{"GET", "/admin/locate?kind=ctl&object=conv.bin&verbose=1", ""},
        Call{"GET", "/admin/ownership?verbose", ""},
        Call{"POST", "/admin/weight?verbose=1", R"({"weight": 1})"},
        Call{"POST", "/admin/drain?verbose=1", ""}, Call{"POST", "/admin/leave?verbose=1", ""},
        Call{"POST", "/admin/purge?verbose=1", R"({"kind": "ctl"})"},
        Call{"POST", "/admin/warm?verbose=1", R"({"kind": "ctl", "object": "conv.bin"})"}}) {
    auto r = http_request(solo.port(), c.method, c.target, auth, c.body);
    EXPECT_EQ(r.status, 400) << c.target << ": " << r.body;
    EXPECT_EQ(r.header("Content-Type"), "application/json") << c.target;
    json j = json::parse(r.body, nullptr, false);
    EXPECT_EQ(j.is_object() ? j["error"] : json(), "unknown query parameter 'verbose'")
        << c.target << ": " << r.body;
  }
  EXPECT_EQ(stats_json(solo.port())["memory"]["pages"], 0);  // warm and purge did nothing
  EXPECT_TRUE(solo.process().running());                     // nor did leave and drain

  std::string body = R"({"kind": "ctl", "object": "conv.bin"})";
  body.resize(kAdminBodyBytes, ' ');
  auto r = http_request(solo.port(), "POST", "/admin/warm", auth, body);
  EXPECT_EQ(r.status, 200) << r.body;
  r = http_request(solo.port(), "POST", "/admin/warm", auth, body + " ");
  EXPECT_EQ(r.status, 400) << r.error;
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  json j = json::parse(r.body, nullptr, false);
  EXPECT_EQ(j.is_object() ? j["error"] : json(), "request body larger than 65536 bytes") << r.body;

  auto ctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(),
                {"--node", "127.0.0.1:" + std::to_string(solo.port()), "--token-file", token});
    return shoalctl(args);
  };
  const std::uint64_t end = 3 * kPage - 1;
  for (const auto& [range, first, last, pages] :
       std::vector<std::tuple<std::string, std::uint64_t, std::uint64_t, std::size_t>>{
           {"70000-", 70000, end, 2},
           {"-50", end - 49, end, 1},
           {"10-20", 10, 20, 1},
           {"bytes=70000-", 70000, end, 2},
           {"bytes=-50", end - 49, end, 1}}) {
    auto lr = ctl({"--json", "locate", kBucket, "conv.bin", "--range", range});
    ASSERT_EQ(lr.code, 0) << range << ": " << lr.err;
    json loc = parse(lr);
    EXPECT_EQ(loc["first"], first) << range;
    EXPECT_EQ(loc["last"], last) << range;
    EXPECT_EQ(loc["pages"].size(), pages) << range;
  }
  auto bad = ctl({"locate", kBucket, "conv.bin", "--range", "x-y"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_TRUE(contains(bad.err, "HTTP 400: range: expected a-b, a- or -n")) << bad.err;
}

// A member whose /stats answers nonsense (here node1 advertises a plain file server as its client
// address) is reported, not trusted: ownership marks its figures unknown and a drain waiting for it
// gives up at its timeout. The node asking keeps running either way.
TEST_F(ShoalctlTest, AMemberWithMalformedStatsIsReportedAndCrashesNothing) {
  TempDir www;
  write_file(www, "stats",
             R"({"members": [{"id": 7, "weight": "zero"}, {"id": "node0", "weight": "zero"}],)"
             R"( "memory": [1, 2]})");
  const std::uint16_t www_port = free_port();
  Process server = Process::spawn({"python3", "-m", "http.server", std::to_string(www_port),
                                   "--bind", "127.0.0.1", "--directory", www.path()},
                                  {}, dir_.path() + "/www.log");
  ASSERT_TRUE(wait_for_port(www_port, 20s)) << server.log();
  CtlCluster c(proxy_->endpoint(), 2, dir_, {},
               {{1, {"--client-advertise", "127.0.0.1:" + std::to_string(www_port)}}});
  ASSERT_TRUE(c.converged());

  auto r = c.ctl(0, {"--json", "ownership"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const json own = parse(r);
  EXPECT_EQ(own["stats_complete"], false) << own.dump();
  for (const json& m : own["members"]) {
    if (m["id"] == "node1") {
      EXPECT_TRUE(m["cached_bytes"].is_null()) << m.dump();
      EXPECT_TRUE(m.contains("stats_error")) << m.dump();
    }
  }
  EXPECT_TRUE(c.node(0).process().running());

  // While the drain waits for confirmation (weight 0), /stats says draining, so load balancers
  // move clients off the node; once it gives up, the node stays and is not draining any more.
  std::atomic<bool> seen_draining{false};
  std::thread drain([&] { r = c.ctl(0, {"drain", "node0", "--timeout-ms", "1500"}); });
  for (int i = 0; i < 30 && !seen_draining; ++i) {
    seen_draining = stats_json(c.node(0).port())["draining"] == true;
    std::this_thread::sleep_for(50ms);
  }
  drain.join();
  EXPECT_TRUE(seen_draining) << "/stats never said draining during the weight-0 phase";
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "node1")) << r.err;  // named as the member that did not confirm
  EXPECT_TRUE(c.node(0).process().running());
  EXPECT_EQ(stats_json(c.node(0).port())["draining"], false);
  EXPECT_EQ(c.ctl(0, {"members"}).code, 0);
}

// Nodes serving HTTPS: shoalctl verifies them against --cacert (or skips that with --insecure),
// and a drain's confirmation polls the other members' /stats over HTTPS.
TEST_F(ShoalctlTest, TlsNodesAreVerifiedAndDrainWorksOverHttps) {
  const std::string cert = dir_.path() + "/cert.pem", key = dir_.path() + "/key.pem";
  Process openssl =
      Process::spawn({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days",
                      "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"},
                     {}, dir_.path() + "/openssl.log");
  ASSERT_EQ(openssl.wait(20s), 0) << openssl.log();
  CtlCluster c(proxy_->endpoint(), 2, dir_, {"--tls-cert", cert, "--tls-key", key});
  auto alive = [&] {
    auto r = c.ctl(0, {"--cacert", cert, "--json", "members"});
    if (r.code != 0) return 0;
    const json doc = parse(r);  // kept alive for the loop (a temporary's member would dangle)
    int n = 0;
    for (const json& m : doc["members"]) n += m["state"] == "alive";
    return n;
  };
  auto deadline = std::chrono::steady_clock::now() + 15s;
  while (alive() != 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(100ms);
  ASSERT_EQ(alive(), 2);

  auto r = c.ctl(0, {"--tls", "members"});  // the system's CAs do not know this certificate
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "TLS handshake failed")) << r.err;
  r = c.ctl(0, {"members"});  // plain HTTP to an HTTPS port
  EXPECT_EQ(r.code, 1);
  r = c.ctl(0, {"--insecure", "members"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "node1")) << r.out;
  // Every request is answered, also one that arrives right behind the TLS handshake (curl sends
  // it in the same flight; a session waiting on the socket alone would miss it).
  int answered = 0;
  for (int i = 0; i < 40; ++i) {
    Process curl = Process::spawn({"curl", "-sf", "-m", "5", "--cacert", cert, "-o", "/dev/null",
                                   "-H", "Authorization: Bearer " + kToken,
                                   "https://" + c.addr(0) + "/admin/members"});
    answered += curl.wait(10s) == 0;
  }
  EXPECT_EQ(answered, 40);
  json own = parse(c.ctl(1, {"--cacert", cert, "--json", "ownership"}));
  EXPECT_EQ(own["stats_complete"], true);  // node1 read node0's /stats over HTTPS

  r = c.ctl(0, {"--cacert", cert, "drain", "node1"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "node1: weight 0 confirmed by node0")) << r.out;
  EXPECT_EQ(c.node(1).process().wait(15s), 0);
}

}  // namespace
}  // namespace shoal::test
