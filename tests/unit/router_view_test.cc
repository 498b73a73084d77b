// Tests for router/view.h and router/choose.h: the membership view a router builds from /stats,
// the /stats member schema read record by record, page owners computed with the cluster's own
// ring code, and the candidate order (ranking, bounded load, quarantine, round-robin).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "ring/base/page_key.h"
#include "ring/rendezvous.h"
#include "router/choose.h"
#include "router/view.h"

namespace shoal::test {
namespace {

using router::Candidate;
using router::ChooseOptions;
using router::MemberState;
using router::NodeInfo;
using router::RouteKey;
using router::View;

nlohmann::json member(const std::string& id, const std::string& state, double weight = 1.0,
                      std::uint64_t in_flight = 0) {
  return {{"id", id},
          {"state", state},
          {"incarnation", 7},
          {"weight", weight},
          {"client_addr", "10.0.0." + id.substr(id.size() - 1) + ":8080"},
          {"peer_addr", "10.0.0.9:7947"},
          {"owned_share", 0.25},
          {"in_flight", in_flight}};
}

nlohmann::json stats(std::vector<nlohmann::json> members, std::uint64_t page = 65536) {
  return {{"node_id", "node1"},
          {"page_size_bytes", page},
          {"epoch", 12},
          {"members", std::move(members)}};
}

View make_view(const nlohmann::json& doc) {
  std::string error;
  auto v = View::from_stats(doc, "10.0.0.1:8080", &error);
  EXPECT_TRUE(v.has_value()) << error;
  return std::move(*v);
}

// The owner as the cluster computes it (node/cluster.cc): rank over the ring of alive + suspect
// members, skip the ones that are not alive.
std::string cluster_owner(const std::vector<ring::Member>& live,
                          const std::map<std::string, bool>& alive, std::uint64_t h) {
  auto r = ring::Ring::make(live);
  for (std::size_t i : r->rank(h, r->size())) {
    if (alive.at(r->members()[i].id)) return r->members()[i].id;
  }
  return "";
}

std::vector<std::string> ids(const std::vector<Candidate>& cs) {
  std::vector<std::string> out;
  for (const auto& c : cs) out.push_back(c.id);
  return out;
}

TEST(RouterView, ReadsMembersEpochAndPageSize) {
  View v = make_view(stats({member("node2", "alive", 2.0, 5), member("node1", "alive")}));
  EXPECT_EQ(v.epoch(), 12u);
  EXPECT_EQ(v.page_size(), 65536u);
  EXPECT_EQ(v.source(), "10.0.0.1:8080");
  ASSERT_EQ(v.nodes().size(), 2u);
  EXPECT_EQ(v.nodes()[0].id, "node1");  // sorted by id
  const NodeInfo* n2 = v.find("node2");
  ASSERT_NE(n2, nullptr);
  EXPECT_EQ(n2->weight, 2.0);
  EXPECT_EQ(n2->in_flight, 5u);
  EXPECT_EQ(n2->client_addr, "10.0.0.2:8080");
  EXPECT_EQ(v.find("node9"), nullptr);
}

TEST(RouterView, OwnersMatchTheClusterRingForEveryPage) {
  // Weighted, with a suspect member (in the ring, but skipped) and a dead one (not in the ring).
  View v = make_view(stats({member("node1", "alive", 1.0), member("node2", "alive", 3.0),
                            member("node3", "suspect", 1.0), member("node4", "dead", 5.0),
                            member("node5", "alive", 0.5)}));
  const std::vector<ring::Member> live = {
      {"node1", 1.0}, {"node2", 3.0}, {"node3", 1.0}, {"node5", 0.5}};
  const std::map<std::string, bool> alive = {
      {"node1", true}, {"node2", true}, {"node3", false}, {"node5", true}};
  std::map<std::string, int> owned;
  for (int obj = 0; obj < 200; ++obj) {
    for (std::uint64_t page = 0; page < 50; ++page) {
      const std::uint64_t h = base::page_hash("videos", "clip-" + std::to_string(obj), page);
      const NodeInfo* o = v.owner(h);
      ASSERT_NE(o, nullptr);
      ASSERT_EQ(o->id, cluster_owner(live, alive, h));
      ASSERT_EQ(v.ranking(h).front(), o);
      ++owned[o->id];
    }
  }
  EXPECT_EQ(owned.count("node3"), 0u);        // suspect: owns nothing while suspect
  EXPECT_EQ(owned.count("node4"), 0u);        // dead: not in the ring
  EXPECT_GT(owned["node2"], owned["node1"]);  // weight 3 vs 1
}

TEST(RouterView, RankingListsOnlyAliveMembersInRingOrder) {
  View v = make_view(stats({member("node1", "alive"), member("node2", "suspect"),
                            member("node3", "alive"), member("node4", "left")}));
  auto r = ring::Ring::make({{"node1", 1.0}, {"node2", 1.0}, {"node3", 1.0}});
  for (std::uint64_t page = 0; page < 100; ++page) {
    const std::uint64_t h = base::page_hash("k", "o", page);
    std::vector<std::string> want;
    for (std::size_t i : r->rank(h, 3)) {
      if (r->members()[i].id != "node2") want.push_back(r->members()[i].id);
    }
    std::vector<std::string> got;
    for (const NodeInfo* n : v.ranking(h)) got.push_back(n->id);
    ASSERT_EQ(got, want);
  }
}

TEST(RouterView, NodeWithoutClusterIsItsOwnView) {
  nlohmann::json doc = stats({});
  doc["epoch"] = 0;
  View v = make_view(doc);
  ASSERT_EQ(v.nodes().size(), 1u);
  EXPECT_EQ(v.nodes()[0].id, "node1");
  EXPECT_EQ(v.nodes()[0].client_addr, "10.0.0.1:8080");
  EXPECT_EQ(v.owner(base::page_hash("a", "b", 3))->id, "node1");
}

TEST(RouterView, RejectsDocumentsWithoutRequiredFields) {
  std::string error;
  EXPECT_FALSE(View::from_stats(nlohmann::json::array(), "a:1", &error));
  EXPECT_EQ(error, "/stats: not a JSON object");
  auto doc = stats({member("node1", "alive")});
  doc.erase("page_size_bytes");
  EXPECT_FALSE(View::from_stats(doc, "a:1", &error));
  EXPECT_EQ(error, "/stats: no non-negative integer \"page_size_bytes\"");
  doc = stats({member("node1", "alive")});
  doc["members"][0].erase("client_addr");
  EXPECT_FALSE(View::from_stats(doc, "a:1", &error));
  EXPECT_EQ(error, "/stats: member without string \"client_addr\"");
  doc = stats({member("node1", "alive")});
  doc["members"][0]["weight"] = "heavy";
  EXPECT_FALSE(View::from_stats(doc, "a:1", &error));
  EXPECT_EQ(error, "/stats: member without number \"weight\"");
  doc = stats({member("node1", "alive"), member("node1", "alive")});
  EXPECT_FALSE(View::from_stats(doc, "a:1", &error));
  EXPECT_NE(error.find("duplicate member id 'node1'"), std::string::npos) << error;
  doc = stats({member("node1", "alive")});
  doc["page_size_bytes"] = 0;
  EXPECT_FALSE(View::from_stats(doc, "a:1", &error));
  EXPECT_EQ(error, "/stats: \"page_size_bytes\" is 0");
}

// ---- the member schema on its own (what the admin API reads from another member) -----------

TEST(RouterStatsSchema, ParsesOneMemberRecord) {
  auto n = router::parse_node_info(member("node3", "suspect", 0.5, 9));
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->id, "node3");
  EXPECT_EQ(n->state, "suspect");
  EXPECT_EQ(n->weight, 0.5);
  EXPECT_EQ(n->client_addr, "10.0.0.3:8080");
  EXPECT_EQ(n->in_flight, 9u);
  nlohmann::json m = member("node3", "alive");
  m["in_flight"] = -1;  // not a count: ignored
  EXPECT_EQ(router::parse_node_info(m)->in_flight, 0u);
  std::string error;
  EXPECT_FALSE(router::parse_node_info("node3", &error));
  EXPECT_EQ(error, "/stats: a member is not an object");
  m.erase("state");
  EXPECT_FALSE(router::parse_node_info(m, &error));
  EXPECT_EQ(error, "/stats: member without string \"state\"");
}

TEST(RouterStatsSchema, FindsOneMemberAndIgnoresTheOtherRecords) {
  nlohmann::json doc = stats({member("node1", "alive", 0.0)});
  doc["members"].push_back(42);
  doc["members"].push_back({{"id", 7}, {"weight", "zero"}});
  std::string error;
  auto n = router::find_node_info(doc, "node1", &error);
  ASSERT_TRUE(n.has_value()) << error;
  EXPECT_EQ(n->weight, 0.0);
  EXPECT_FALSE(router::find_node_info(doc, "node2", &error));
  EXPECT_EQ(error, "/stats: no member 'node2'");
  doc["members"].push_back({{"id", "node2"}, {"weight", "zero"}});
  EXPECT_FALSE(router::find_node_info(doc, "node2", &error));
  EXPECT_EQ(error, "/stats: member without string \"state\"");
  for (const nlohmann::json& bad :
       {nlohmann::json(nullptr), nlohmann::json::array(), nlohmann::json{{"members", "x"}}}) {
    EXPECT_FALSE(router::find_node_info(bad, "node1", &error)) << bad.dump();
    EXPECT_EQ(error, "/stats: no member 'node1'");
  }
}

TEST(RouterStatsSchema, ReadsMemoryFiguresOrSaysWhichIsMissing) {
  nlohmann::json doc = {{"memory", {{"page_bytes", 4096}, {"pages", 2}, {"used_bytes", 5000}}}};
  auto f = router::memory_figures(doc);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->page_bytes, 4096u);
  EXPECT_EQ(f->pages, 2u);
  std::string error;
  doc["memory"]["pages"] = -2;
  EXPECT_FALSE(router::memory_figures(doc, &error));
  EXPECT_EQ(error, "/stats: no non-negative integer memory.pages");
  doc["memory"] = nlohmann::json::array({1, 2});
  EXPECT_FALSE(router::memory_figures(doc, &error));
  EXPECT_EQ(error, "/stats: no non-negative integer memory.page_bytes");
  EXPECT_FALSE(router::memory_figures(nlohmann::json("text"), &error));
  EXPECT_EQ(error, "/stats: no non-negative integer memory.page_bytes");
}

TEST(RouteKey, FirstPageComesFromTheRangeStart) {
  auto k = router::route_key("/fetch/videos/a%20b.bin?x=1", "bytes=131072-999999", 65536);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->kind, "videos");
  EXPECT_EQ(k->object, "a b.bin");  // decoded once, like the node does
  EXPECT_EQ(k->first_page, 2u);
  EXPECT_EQ(router::route_key("/fetch/v/o", "bytes=65535-", 65536)->first_page, 0u);
  EXPECT_EQ(router::route_key("/fetch/v/o", "bytes=65536-65536", 65536)->first_page, 1u);
}

TEST(RouteKey, SuffixMissingOrBadRangeHasNoFirstPage) {
  EXPECT_EQ(router::route_key("/fetch/v/o", "bytes=-100", 65536)->first_page, std::nullopt);
  EXPECT_EQ(router::route_key("/fetch/v/o", "", 65536)->first_page, std::nullopt);
  EXPECT_EQ(router::route_key("/fetch/v/o", "bytes=5-1", 65536)->first_page, std::nullopt);
  EXPECT_EQ(router::route_key("/fetch/v/o", "bytes=0-1,5-6", 65536)->first_page, std::nullopt);
}

TEST(RouteKey, RejectsTargetsTheNodeWouldReject) {
  EXPECT_FALSE(router::route_key("/stats", "bytes=0-1", 65536));
  EXPECT_FALSE(router::route_key("/fetch/only-kind", "bytes=0-1", 65536));
  EXPECT_FALSE(router::route_key("/fetch/v/bad%zz", "bytes=0-1", 65536));
}

TEST(BoundedLoad, CapIsCeilOfCTimesAverageIncludingTheNewRequest) {
  // 3 members, total 0: cap = ceil(1.25 * 1 / 3) = 1, so an idle member qualifies.
  EXPECT_TRUE(router::under_bounded_load(0, 0, 3, 1.25));
  EXPECT_FALSE(router::under_bounded_load(1, 1, 3, 1.25));  // cap ceil(2.5/3) = 1
  // Total 30 over 3: cap = ceil(1.25 * 31 / 3) = 13.
  EXPECT_TRUE(router::under_bounded_load(12, 30, 3, 1.25));
  EXPECT_FALSE(router::under_bounded_load(13, 30, 3, 1.25));
  // c = 2: cap = ceil(2 * 31 / 3) = 21.
  EXPECT_TRUE(router::under_bounded_load(20, 30, 3, 2.0));
  EXPECT_FALSE(router::under_bounded_load(21, 30, 3, 2.0));
}

class Choose : public ::testing::Test {
 protected:
  View view_ = make_view(stats({member("node1", "alive"), member("node2", "alive"),
                                member("node3", "alive"), member("node4", "dead")}));
  RouteKey key_{"videos", "movie.bin", 7};
  std::uint64_t hash_ = base::page_hash("videos", "movie.bin", 7);

  std::vector<std::string> ranking() const {
    std::vector<std::string> out;
    for (const NodeInfo* n : view_.ranking(hash_)) out.push_back(n->id);
    return out;
  }
};

TEST_F(Choose, OwnerFirstThenTheRestOfTheRanking) {
  auto cs = router::choose(view_, key_, 0, ChooseOptions{}, MemberState{});
  EXPECT_EQ(ids(cs), ranking());
  ASSERT_EQ(cs.size(), 3u);  // the dead member is never a candidate
  EXPECT_TRUE(cs[0].owner);
  EXPECT_FALSE(cs[1].owner);
  EXPECT_EQ(cs[0].addr, view_.find(cs[0].id)->client_addr);
}

TEST_F(Choose, OverloadedOwnerIsSkippedButKeptAsALastResort) {
  const auto rank = ranking();
  MemberState state;
  state.load = [&](const NodeInfo& n) -> std::uint64_t { return n.id == rank[0] ? 10 : 1; };
  auto cs = router::choose(view_, key_, 0, ChooseOptions{1.25}, state);
  // Total 12 over 3: cap = ceil(1.25 * 13 / 3) = 6; the owner carries 10.
  EXPECT_EQ(ids(cs), (std::vector<std::string>{rank[1], rank[2], rank[0]}));
  EXPECT_TRUE(cs[2].owner);
  EXPECT_TRUE(cs[2].overloaded);
  // Off (c = 0): the owner stays first whatever its load.
  EXPECT_EQ(ids(router::choose(view_, key_, 0, ChooseOptions{0}, state)), rank);
}

TEST_F(Choose, QuarantinedMembersGoLast) {
  const auto rank = ranking();
  MemberState state;
  state.quarantined = [&](const NodeInfo& n) { return n.id == rank[0]; };
  state.load = [&](const NodeInfo& n) -> std::uint64_t { return n.id == rank[1] ? 10 : 0; };
  auto cs = router::choose(view_, key_, 0, ChooseOptions{1.25}, state);
  // rank[1] is overloaded (still before the quarantined owner).
  EXPECT_EQ(ids(cs), (std::vector<std::string>{rank[2], rank[1], rank[0]}));
  EXPECT_TRUE(cs[2].quarantined);
}

TEST_F(Choose, UnknownFirstPageIsSpreadRoundRobin) {
  RouteKey suffix{"videos", "movie.bin", std::nullopt};
  std::map<std::string, int> first;
  for (std::uint64_t i = 0; i < 30; ++i) {
    auto cs = router::choose(view_, suffix, i, ChooseOptions{}, MemberState{});
    ASSERT_EQ(cs.size(), 3u);
    EXPECT_FALSE(cs[0].owner);
    ++first[cs[0].id];
  }
  EXPECT_EQ(first, (std::map<std::string, int>{{"node1", 10}, {"node2", 10}, {"node3", 10}}));
  // An invalid target (no key at all) is spread the same way.
  EXPECT_EQ(router::choose(view_, std::nullopt, 1, ChooseOptions{}, MemberState{}).size(), 3u);
}

TEST_F(Choose, NoAliveMemberGivesNoCandidate) {
  View dead = make_view(stats({member("node1", "dead"), member("node2", "suspect")}));
  EXPECT_TRUE(router::choose(dead, key_, 0, ChooseOptions{}, MemberState{}).empty());
  EXPECT_EQ(dead.owner(hash_), nullptr);
}

}  // namespace
}  // namespace shoal::test
