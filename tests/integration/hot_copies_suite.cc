// Hot copies (node/hot_copies.h) in a real 3-node cluster of shoald processes in front of s3rver
// (through the counting fault proxy): a page a non-owner forwards often becomes a copy there and
// is then served with no forward, bytes exact; copies stay within --hot-copy-memory; `shoalctl
// purge` drops them on every member before it answers; with --hot-copy-memory 0 nothing is
// copied; bad values of the flag stop shoald at start naming it.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "tests/integration/harness/cluster.h"
#include "tests/integration/harness/harness.h"
#include "tests/integration/harness/proxied_origin.h"
#include "tests/integration/harness/shoald.h"

namespace shoal::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
constexpr std::uint64_t kPage = 64 * 1024;
const std::string kBucket = "copies";
const std::string kToken = "hot-copies-test-token-0123456789abcdef";

class HotCopiesTest : public ProxiedOriginTest {
 protected:
  HotCopiesTest() : ProxiedOriginTest(kBucket) {}
  void SetUp() override {
    ProxiedOriginTest::SetUp();
    key_ = key_file(dir_, "cluster.key", "0123456789abcdef0123456789abcdef-test-secret");
    token_ = dir_.path() + "/admin.token";
    std::ofstream(token_) << kToken << "\n";
  }
  // A 3-node cluster with an admin token and `extra` flags, converged.
  std::unique_ptr<Cluster> cluster(std::vector<std::string> extra = {}) {
    extra.insert(extra.end(), {"--admin-token-file", token_});
    auto c = std::make_unique<Cluster>(proxy_->endpoint(), 3, key_, extra);
    EXPECT_TRUE(c->converged(15s));
    return c;
  }
  static std::string range(std::uint64_t a, std::uint64_t b) {
    return "bytes=" + std::to_string(a) + "-" + std::to_string(b);
  }
  // A member that does not own page `page` of `object`.
  static int non_owner(const Cluster& c, const std::string& object, std::uint64_t page) {
    const int owner = c.index_of(c.owner_of(kBucket, object, page));
    return (owner + 1) % 3;
  }
  static json copies(Cluster& c, int i) { return stats_json(c.node(i).port())["hot_copies"]; }
  static std::uint64_t forwarded_in(Cluster& c, int i) {
    return stats_json(c.node(i).port())["cluster"]["forwarded_in"].get<std::uint64_t>();
  }
  // Reads 16 KiB slices of page `page` of `object` through node `i` `times` times, checking
  // every byte against `data`.
  static void read_slices(Cluster& c, int i, const std::string& object, const std::string& data,
                          std::uint64_t page, int times) {
    for (int n = 0; n < times; ++n) {
      // Within the page: 7 .. 52390 at most.
      const std::uint64_t first = page * kPage + static_cast<std::uint64_t>(n % 4) * 12000 + 7;
      const std::uint64_t last = std::min<std::uint64_t>(first + 16383, data.size() - 1);
      auto r = c.node(i).fetch(kBucket, object, range(first, last));
      ASSERT_EQ(r.status, 206) << r.body;
      ASSERT_TRUE(r.body == data.substr(first, last - first + 1)) << "read " << n;
    }
  }
  // Waits until node `i` made `want` copies; false after 10 s.
  static bool wait_for_admissions(Cluster& c, int i, std::uint64_t want) {
    for (int t = 0; t < 200; ++t) {
      if (copies(c, i)["admissions"].get<std::uint64_t>() >= want) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  TempDir dir_;
  std::string key_, token_;
};

TEST_F(HotCopiesTest, AHotPageIsCopiedOnANonOwnerAndThenServedThereWithoutAForward) {
  auto c = cluster();
  const std::string data = put("hot.bin", 4 * kPage + 100, 1);
  const int reader = non_owner(*c, "hot.bin", 1);
  const int owner = c->index_of(c->owner_of(kBucket, "hot.bin", 1));
  // Default share: 1/8 of the 64 MiB --memory, taken out of the memory tier.
  EXPECT_EQ(copies(*c, reader)["capacity_bytes"], 8u << 20);
  EXPECT_EQ(stats_json(c->node(reader).port())["memory"]["capacity_bytes"], 56u << 20);

  // 16 KiB of a 64 KiB page weighs 2/8 of a page: cold and lukewarm for 11 reads, hot at 12.
  const std::string probe = range(kPage + 10, kPage + 10 + 16383);  // one of the 12 reads
  const HttpResponse forwarded = c->node(reader).fetch(kBucket, "hot.bin", probe);
  read_slices(*c, reader, "hot.bin", data, 1, 10);
  EXPECT_EQ(copies(*c, reader)["admissions"], 0u);
  read_slices(*c, reader, "hot.bin", data, 1, 1);
  ASSERT_TRUE(wait_for_admissions(*c, reader, 1));
  EXPECT_EQ(copies(*c, reader)["pages"], 1u);

  const std::uint64_t owner_forwards = forwarded_in(*c, owner);
  // A copy hit answers as the owner did: same ETag, Last-Modified, object size and bytes.
  const HttpResponse copied = c->node(reader).fetch(kBucket, "hot.bin", probe);
  ASSERT_EQ(copied.status, 206);
  EXPECT_TRUE(copied.body == forwarded.body);
  for (const char* h : {"ETag", "Last-Modified", "Content-Range", "Content-Length"}) {
    EXPECT_FALSE(forwarded.header(h).empty()) << h;
    EXPECT_EQ(copied.header(h), forwarded.header(h)) << h;
  }
  read_slices(*c, reader, "hot.bin", data, 1, 19);
  auto whole = c->node(reader).fetch(kBucket, "hot.bin", range(kPage, 2 * kPage - 1));
  ASSERT_EQ(whole.status, 206);
  EXPECT_TRUE(whole.body == data.substr(kPage, kPage));
  EXPECT_EQ(forwarded_in(*c, owner), owner_forwards);  // served where it was asked for
  auto s = stats_json(c->node(reader).port());
  EXPECT_GE(s["hot_copies"]["hits"].get<std::uint64_t>(), 21u);
  EXPECT_GE(s["pages"]["hit_copy"].get<std::uint64_t>(), 21u);
  EXPECT_LE(s["hot_copies"]["used_bytes"].get<std::uint64_t>(), 8u << 20);
  // A lukewarm page keeps its one owner: page 2 read twice is forwarded twice, copied nowhere.
  const int page2_reader = non_owner(*c, "hot.bin", 2);
  const json page2_before = copies(*c, page2_reader);
  read_slices(*c, page2_reader, "hot.bin", data, 2, 2);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(copies(*c, page2_reader)["admissions"], page2_before["admissions"]);
  // One origin GET per page in the whole cluster, copies or not.
  EXPECT_EQ(proxy_->count("GET", "/" + kBucket + "/hot.bin"), 2);

  const std::string metrics = http_request(c->node(reader).port(), "GET", "/metrics").body;
  EXPECT_GE(metric_value(metrics, "shoal_hot_copy_hits_total"), 21.0);
  EXPECT_EQ(metric_value(metrics, "shoal_hot_copy_admissions_total"), 1.0);
  EXPECT_EQ(metric_value(metrics, "shoal_hot_copy_capacity_bytes"), 8.0 * (1 << 20));
}

TEST_F(HotCopiesTest, CopiesStayWithinTheirShareOfMemory) {
  auto c = cluster({"--hot-copy-memory", "256KiB"});
  const std::uint64_t pages = 24;
  const std::string data = put("many.bin", pages * kPage, 2);
  int others = 0;
  for (std::uint64_t p = 0; p < pages; ++p) {
    if (c->owner_of(kBucket, "many.bin", p) == "node0") continue;
    ++others;
    for (int n = 0; n < 3; ++n) {  // a whole page three times: hot
      auto r = c->node(0).fetch(kBucket, "many.bin", range(p * kPage, p * kPage + kPage - 1));
      ASSERT_EQ(r.status, 206);
      ASSERT_TRUE(r.body == data.substr(p * kPage, kPage)) << "page " << p;
    }
    const json s = copies(*c, 0);
    EXPECT_LE(s["used_bytes"].get<std::uint64_t>(), 256u << 10) << "page " << p;
    EXPECT_LE(s["page_bytes"].get<std::uint64_t>(), 256u << 10) << "page " << p;
  }
  ASSERT_GT(others, 8);
  ASSERT_TRUE(wait_for_admissions(*c, 0, static_cast<std::uint64_t>(others)));
  const json s = copies(*c, 0);
  EXPECT_EQ(s["capacity_bytes"], 256u << 10);
  EXPECT_LE(s["used_bytes"].get<std::uint64_t>(), 256u << 10);
  EXPECT_LE(s["pages"].get<std::uint64_t>(), 3u);  // 4 pages' bytes, less what each is charged
  EXPECT_GE(s["evictions"].get<std::uint64_t>(), static_cast<std::uint64_t>(others - 3));
  EXPECT_EQ(stats_json(c->node(0).port())["memory"]["capacity_bytes"], (64u << 20) - (256u << 10));
}

TEST_F(HotCopiesTest, APurgeOnEveryMemberDropsEveryCopyBeforeItAnswers) {
  auto c = cluster();
  const std::string old_data = put("purge.bin", 2 * kPage, 3);
  // Page 0 hot on both of its non-owners.
  const int owner = c->index_of(c->owner_of(kBucket, "purge.bin", 0));
  for (int i = 0; i < 3; ++i) {
    if (i != owner) read_slices(*c, i, "purge.bin", old_data, 0, 12);
  }
  for (int i = 0; i < 3; ++i) {
    if (i == owner) continue;
    ASSERT_TRUE(wait_for_admissions(*c, i, 1)) << "node " << i;
  }
  // The object changes at the origin; the operator purges it from the cluster.
  const std::string new_data = put("purge.bin", 2 * kPage, 4);
  Process ctl = Process::spawn(
      {bin_dir() + "/shoalctl", "--node", "127.0.0.1:" + std::to_string(c->node(0).port()),
       "--token-file", token_, "purge", kBucket, "purge.bin"},
      {}, dir_.path() + "/ctl.out");
  ASSERT_EQ(ctl.wait(60s).value_or(-1), 0) << ctl.log();
  for (int i = 0; i < 3; ++i) {  // gone everywhere as soon as shoalctl returned
    const json s = copies(*c, i);
    EXPECT_EQ(s["pages"], 0u) << "node " << i;
    EXPECT_EQ(s["purged"].get<std::uint64_t>(), i == owner ? 0u : 1u) << "node " << i;
  }
  for (int i = 0; i < 3; ++i) {
    auto r = c->node(i).fetch(kBucket, "purge.bin", range(7, kPage + 7));
    ASSERT_EQ(r.status, 206);
    EXPECT_TRUE(r.body == new_data.substr(7, kPage + 1)) << "node " << i;
  }
  // And the node-local route answers with what it dropped.
  auto direct = http_request(c->node((owner + 1) % 3).port(), "POST", "/admin/purge",
                             {{"Authorization", "Bearer " + kToken}},
                             R"({"kind": ")" + kBucket + R"(", "object": "purge.bin"})");
  ASSERT_EQ(direct.status, 200) << direct.body;
  EXPECT_TRUE(json::parse(direct.body).contains("copies_dropped")) << direct.body;
}

TEST_F(HotCopiesTest, WithTheShareZeroNothingIsCopied) {
  auto c = cluster({"--hot-copy-memory", "0"});
  const std::string data = put("off.bin", 2 * kPage, 5);
  const int reader = non_owner(*c, "off.bin", 0);
  const int owner = c->index_of(c->owner_of(kBucket, "off.bin", 0));
  const std::uint64_t before = forwarded_in(*c, owner);
  read_slices(*c, reader, "off.bin", data, 0, 30);
  EXPECT_EQ(forwarded_in(*c, owner), before + 30);  // every read forwarded
  auto s = stats_json(c->node(reader).port());
  EXPECT_EQ(s["hot_copies"]["enabled"], false);
  EXPECT_EQ(s["pages"]["hit_copy"], 0u);
  EXPECT_EQ(s["memory"]["capacity_bytes"], 64u << 20);  // the whole --memory
}

TEST_F(HotCopiesTest, BadValuesOfTheFlagStopShoaldNamingIt) {
  const std::string port = std::to_string(free_port());
  const std::vector<std::string> cluster_flags = {
      "--listen", "127.0.0.1:" + port, "--peer-listen", "127.0.0.1:" + port, "--cluster-key-file",
      key_,       "--memory",          "64MiB",         "--page-size",       "1MiB"};
  for (const std::string bad : {"lots", "1KiB", "64MiB", "63.5MiB", "", "1e9"}) {
    auto args = cluster_flags;
    args.insert(args.end(), {"--hot-copy-memory", bad});
    auto [code, out] = run_shoald_to_exit(args);
    EXPECT_EQ(code, 2) << bad << ": " << out;
    EXPECT_NE(out.find("--hot-copy-memory"), std::string::npos) << bad << ": " << out;
  }
  auto [code, out] =
      run_shoald_to_exit({"--listen", "127.0.0.1:" + port, "--hot-copy-memory", "8MiB"});
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("--hot-copy-memory: needs --peer-listen"), std::string::npos) << out;
}

}  // namespace
}  // namespace shoal::test
