// Invalidation (issue 14): a purge, or a write through the S3 port, must leave no old bytes in
// any cache. Real shoald processes in front of s3rver through the fault proxy, which holds an
// origin response back (stall_mid_body) so a page fetch is still running when the purge comes.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness/harness.h"
#include "tests/integration/harness/proxied_origin.h"
#include "tests/integration/harness/shoald.h"

namespace shoal::test {
namespace {

using namespace std::chrono_literals;
const std::string kBucket = "inval";
const std::string kToken = "invalidation-admin-token-0123456789";
// Small enough that s3rver hands the whole body to the socket at once: the proxy's stall
// then holds back bytes of the version read before the overwrite, never a mix.
constexpr std::uint64_t kSize = 32 * 1024;

class Invalidation : public ProxiedOriginTest {
 protected:
  Invalidation() : ProxiedOriginTest(kBucket) {}
  std::string token_file() { return write_file(dir_.path() + "/admin.token", kToken + "\n"); }
  HttpResponse purge(const Shoald& node, const std::string& key) {
    return http_request(node.port(), "POST", "/admin/purge",
                        {{"Authorization", "Bearer " + kToken}},
                        R"({"kind": ")" + kBucket + R"(", "object": ")" + key + R"("})");
  }
  // Holds the next origin GET of `key` back for `ms` after its first body byte.
  void stall_next_get(const std::string& key, int ms) {
    proxy_->add_rule({{"match", {{"method", "GET"}, {"path_contains", "/" + kBucket + "/" + key}}},
                      {"action", "stall_mid_body"},
                      {"after_bytes", 1},
                      {"ms", ms},
                      {"times", 1}});
  }
  int gets(const std::string& key) { return proxy_->count("GET", "/" + kBucket + "/" + key); }

  TempDir dir_;
};

// A fetch running when /admin/purge comes, then the object overwritten at the origin: the
// reader that was waiting gets the old bytes (they were on their way), but neither a read during
// the stalled fetch nor any read after it gets them: the stale fetch caches nothing and nobody
// joins it after the purge.
TEST_F(Invalidation, AFetchInFlightDuringAPurgeCachesNothing) {
  const std::string old_bytes = put("race.bin", kSize, 1);
  Shoald node(proxy_->endpoint(), {"--admin-token-file", token_file()});
  stall_next_get("race.bin", 2000);
  const std::string whole = "bytes=0-" + std::to_string(kSize - 1);
  auto first =
      std::async(std::launch::async, [&] { return node.fetch(kBucket, "race.bin", whole); });
  for (int i = 0; i < 100 && gets("race.bin") == 0; ++i) std::this_thread::sleep_for(20ms);
  ASSERT_EQ(gets("race.bin"), 1);
  std::this_thread::sleep_for(200ms);  // the fetch is under way, held by the proxy
  auto purged = purge(node, "race.bin");
  ASSERT_EQ(purged.status, 200) << purged.body;
  EXPECT_EQ(nlohmann::json::parse(purged.body)["fetches_detached"], 1) << purged.body;
  const std::string new_bytes = put("race.bin", kSize, 2);
  // During the stall: a fetch of its own, with the new bytes.
  auto during = node.fetch(kBucket, "race.bin", whole);
  ASSERT_EQ(during.status, 206);
  EXPECT_TRUE(during.body == new_bytes);
  auto r1 = first.get();
  ASSERT_EQ(r1.status, 206);
  EXPECT_TRUE(r1.body == old_bytes);
  ASSERT_TRUE(wait_for_origin_fetches_to_end(node.port()));
  const int before = gets("race.bin");
  auto after = node.fetch(kBucket, "race.bin", whole);
  ASSERT_EQ(after.status, 206);
  EXPECT_TRUE(after.body == new_bytes);
  EXPECT_EQ(gets("race.bin"), before) << "the new version was cached, the old one was not";
  EXPECT_EQ(stats_json(node.port())["memory"]["stale_refused"].get<int>(), 1);
}

}  // namespace
}  // namespace shoal::test
