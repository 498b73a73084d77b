// Hot copies (node/hot_copies.h) and their frequency sketch (node/frequency_sketch.h): the
// sketch's bounds and aging, admission by forwarded weight, the byte bound, versions, purges
// fencing copies being made; and PageFetcher serving a copy with no forward while forwarded
// requests never read copies (a scripted router, an origin that must not be called).
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <cstring>
#include <map>
#include <memory>
#include <random>

#include "node/frequency_sketch.h"
#include "node/hot_copies.h"
#include "node/page_fetcher.h"
#include "tests/unit/node_test_pages.h"

namespace shoal::node {
namespace {

using base::Outcome;
using base::PageKey;

constexpr std::uint64_t kPage = 256 << 10;
constexpr std::uint64_t kObjectSize = 10 * kPage;
const std::string kEtag = "\"e1\"";

PageKey key(std::uint64_t page, const std::string& object = "obj") {
  return PageKey{"kind", object, page};
}

// Page `page` of a kObjectSize object, whole, with ETag `etag`.
std::shared_ptr<Page> whole_page(std::uint64_t page, const std::string& etag = kEtag,
                                 const std::string& object = "obj") {
  auto p = std::const_pointer_cast<Page>(test::make_page(key(page, object), kPage, etag));
  p->object_size = kObjectSize;
  return p;
}

// The head of a forwarded slice of page `page` (what on_forward() looks at).
Page answer(const std::string& etag = kEtag) {
  Page p;
  p.object_size = kObjectSize;
  p.etag = etag;
  return p;
}

// --- FrequencySketch --------------------------------------------------------------------------

TEST(FrequencySketchTest, EstimatesNeverFallBelowTheTrueWeightAndCollisionsStaySmall) {
  FrequencySketch sketch(1024, 1'000'000);
  std::mt19937_64 rng(7);
  std::map<std::uint64_t, std::uint32_t> truth;
  for (int i = 0; i < 2000; ++i) {
    const std::uint64_t h = rng() % 500;  // 500 keys in 1024 counters per row
    sketch.add(h, 1);
    ++truth[h];
  }
  double over = 0;
  for (const auto& [h, n] : truth) {
    const std::uint32_t e = sketch.estimate(h);
    EXPECT_GE(e, std::min(n, FrequencySketch::kMaxCount)) << h;
    over += e - n;
  }
  EXPECT_LT(over / static_cast<double>(truth.size()), 0.5);  // conservative update keeps it low
  EXPECT_EQ(sketch.estimate(123456789), 0u);                 // never added
}

TEST(FrequencySketchTest, CountersSaturateAndWeightsAdd) {
  FrequencySketch sketch(64, 1'000'000);
  EXPECT_EQ(sketch.add(1, 8), 8u);
  EXPECT_EQ(sketch.add(1, 3), 11u);
  EXPECT_EQ(sketch.add(1, 1000), FrequencySketch::kMaxCount);
  EXPECT_EQ(sketch.add(1, 1), FrequencySketch::kMaxCount);
}

TEST(FrequencySketchTest, AgingHalvesEveryWindowSoOnlyRecentHeatCounts) {
  FrequencySketch sketch(64, 100);
  for (int i = 0; i < 40; ++i) sketch.add(1, 1);
  EXPECT_EQ(sketch.estimate(1), 40u);
  EXPECT_EQ(sketch.resets(), 0u);
  for (int i = 0; i < 60; ++i) sketch.add(2, 1);  // the window (100) is reached: halved
  EXPECT_EQ(sketch.resets(), 1u);
  EXPECT_EQ(sketch.estimate(1), 20u);
  EXPECT_EQ(sketch.estimate(2), 30u);
  sketch.clear();
  EXPECT_EQ(sketch.estimate(2), 0u);
}

// --- HotCopies --------------------------------------------------------------------------------

TEST(HotCopiesTest, AWholePageForwardedThreeTimesIsPromotedAndThenServed) {
  HotCopies copies(4 * kPage, kPage);
  EXPECT_FALSE(copies.on_forward(key(1), 0, answer()));  // cold
  EXPECT_FALSE(copies.on_forward(key(1), 0, answer()));  // lukewarm
  auto p = copies.on_forward(key(1), 0, answer());
  ASSERT_TRUE(p);
  EXPECT_EQ(p->etag, kEtag);
  EXPECT_EQ(p->length, kPage);
  EXPECT_EQ(copies.stats().promotions_in_flight, 1u);
  EXPECT_FALSE(copies.on_forward(key(1), 0, answer()));  // being promoted already
  EXPECT_EQ(copies.find(key(1), ""), nullptr);

  auto page = whole_page(1);
  copies.promoted(*p, page);
  EXPECT_EQ(copies.find(key(1), ""), page);
  EXPECT_EQ(copies.find(key(1), kEtag), page);
  EXPECT_EQ(copies.find(key(1), "\"other\""), nullptr);  // If-Match of another version
  EXPECT_FALSE(copies.on_forward(key(1), 0, answer()));  // held
  const HotCopyStats s = copies.stats();
  EXPECT_EQ(s.admissions, 1u);
  EXPECT_EQ(s.hits, 2u);
  EXPECT_EQ(s.pages, 1u);
  EXPECT_EQ(s.page_bytes, kPage);
  EXPECT_EQ(s.promotions_in_flight, 0u);
}

TEST(HotCopiesTest, SlicesWeighByTheirShareOfThePage) {
  HotCopies copies(4 * kPage, kPage);
  // An eighth of a page per forward: 3 pages' worth is 24 forwards.
  for (int i = 0; i < 23; ++i) {
    ASSERT_FALSE(copies.on_forward(key(2), kPage / 8, answer())) << "forward " << i + 1;
  }
  EXPECT_TRUE(copies.on_forward(key(2), kPage / 8, answer()));
  // Tiny slices still count one unit each.
  for (int i = 0; i < 23; ++i) ASSERT_FALSE(copies.on_forward(key(3), 1, answer()));
  EXPECT_TRUE(copies.on_forward(key(3), 1, answer()));
}

TEST(HotCopiesTest, OnlyACompleteWholePageOfThePromotionsVersionBecomesACopy) {
  HotCopies copies(8 * kPage, kPage);
  auto promote = [&](std::uint64_t page) {
    for (int i = 0; i < 2; ++i) copies.on_forward(key(page), 0, answer());
    auto p = copies.on_forward(key(page), 0, answer());
    EXPECT_TRUE(p);
    return *p;
  };
  copies.promoted(promote(1), nullptr);  // the fetch failed
  auto part = whole_page(2);
  part->body_offset = 1;
  copies.promoted(promote(2), part);
  copies.promoted(promote(3), whole_page(3, "\"e2\""));  // another version than asked
  auto filling = whole_page(4);
  filling->fill = std::make_shared<PageFill>(kPage, 0);
  copies.promoted(promote(4), filling);  // not complete
  const HotCopyStats s = copies.stats();
  EXPECT_EQ(s.admissions, 0u);
  EXPECT_EQ(s.pages, 0u);
  EXPECT_EQ(s.promotions_failed, 4u);
  EXPECT_EQ(s.used_bytes, 0u);  // every reservation given back
}

TEST(HotCopiesTest, CopiesStayWithinTheirShare) {
  const std::uint64_t share = 4 * kPage + kPage / 2;  // room for 4 copies with their charges
  HotCopies copies(share, kPage);
  for (std::uint64_t page = 0; page < 10; ++page) {
    std::optional<HotCopies::Promotion> p;
    for (int i = 0; i < 3; ++i) p = copies.on_forward(key(page), 0, answer());
    ASSERT_TRUE(p) << page;
    EXPECT_LE(copies.stats().used_bytes, share);  // reservation included
    copies.promoted(*p, whole_page(page));
    EXPECT_LE(copies.stats().used_bytes, share);
  }
  const HotCopyStats s = copies.stats();
  EXPECT_EQ(s.admissions, 10u);
  EXPECT_EQ(s.pages, 4u);
  EXPECT_GE(s.evictions, 6u);  // pages, and the object's metadata entry among them
  EXPECT_LE(s.page_bytes, share);
}

TEST(HotCopiesTest, APageLargerThanTheShareIsNeverPromoted) {
  HotCopies copies(kPage / 2, kPage);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(copies.on_forward(key(1), 0, answer()));
}

TEST(HotCopiesTest, AtMostKMaxPromotionsRunAtOnce) {
  HotCopies copies(64 * kPage, kPage);
  std::vector<HotCopies::Promotion> running;
  for (std::uint64_t page = 0; page < HotCopies::kMaxPromotions + 2; ++page) {
    std::optional<HotCopies::Promotion> p;
    for (int i = 0; i < 3; ++i) p = copies.on_forward(key(page), 0, answer());
    if (p) running.push_back(*p);
  }
  EXPECT_EQ(running.size(), HotCopies::kMaxPromotions);
  copies.promoted(running[0], whole_page(running[0].key.page));
  // A slot is free again: the next forward of a hot page starts its promotion.
  EXPECT_TRUE(copies.on_forward(key(HotCopies::kMaxPromotions), 0, answer()));
}

TEST(HotCopiesTest, AForwardShowingAnotherETagDropsTheObjectsCopiesAndFencesPromotions) {
  HotCopies copies(8 * kPage, kPage);
  for (int i = 0; i < 2; ++i) copies.on_forward(key(1), 0, answer());
  copies.promoted(*copies.on_forward(key(1), 0, answer()), whole_page(1));
  for (int i = 0; i < 2; ++i) copies.on_forward(key(2), 0, answer());
  auto pending = copies.on_forward(key(2), 0, answer());
  ASSERT_TRUE(pending);
  ASSERT_NE(copies.find(key(1), ""), nullptr);

  copies.on_forward(key(5), kPage / 8, answer("\"e2\""));  // any page of the object, new ETag
  EXPECT_EQ(copies.find(key(1), ""), nullptr);
  copies.promoted(*pending, whole_page(2));  // decided before the change: not kept
  EXPECT_EQ(copies.find(key(2), ""), nullptr);
  const HotCopyStats s = copies.stats();
  EXPECT_EQ(s.invalidations, 1u);
  EXPECT_EQ(s.promotions_failed, 1u);
}

TEST(HotCopiesTest, APurgeDropsCopiesAndACopyBeingMadeNeverLandsAfterIt) {
  HotCopies copies(8 * kPage, kPage);
  for (int i = 0; i < 2; ++i) copies.on_forward(key(1), 0, answer());
  copies.promoted(*copies.on_forward(key(1), 0, answer()), whole_page(1));
  for (int i = 0; i < 2; ++i) copies.on_forward(key(0, "other"), 0, answer());
  copies.promoted(*copies.on_forward(key(0, "other"), 0, answer()), whole_page(0, kEtag, "other"));
  for (int i = 0; i < 2; ++i) copies.on_forward(key(2), 0, answer());
  auto pending = copies.on_forward(key(2), 0, answer());
  ASSERT_TRUE(pending);

  EXPECT_EQ(copies.erase_object("kind", "obj"), 1u);
  copies.promoted(*pending, whole_page(2));
  EXPECT_EQ(copies.find(key(1), ""), nullptr);
  EXPECT_EQ(copies.find(key(2), ""), nullptr);
  EXPECT_NE(copies.find(key(0, "other"), ""), nullptr);  // another object stays
  EXPECT_EQ(copies.erase_kind("kind"), 1u);
  EXPECT_EQ(copies.find(key(0, "other"), ""), nullptr);
  EXPECT_EQ(copies.stats().purged, 2u);
  EXPECT_EQ(copies.stats().pages, 0u);
}

// --- PageFetcher with hot copies --------------------------------------------------------------

// An origin that counts page fetches and never answers (client misses here go to the scripted
// owner; only a forwarded request reaches it).
class SilentOrigin : public PageOrigin {
 public:
  std::uint64_t fetch_page(std::vector<std::string>, std::string, std::uint64_t, std::uint64_t,
                           origin::RequestConfig, std::string, origin::PageSink,
                           PageHandler) override {
    return ++fetches;
  }
  void cancel(std::uint64_t) override {}
  std::vector<std::string> head_order(const std::vector<std::string>& b) const override {
    return b;
  }
  void head(std::string, std::string, origin::RequestConfig,
            std::function<void(origin::HeadResult)>) override {
    ADD_FAILURE() << "the origin was asked for a head";
  }
  std::uint64_t fetches = 0;
};

// Every page is owned by "owner"; forwards wait for answer().
class OwnerRouter : public PageRouter {
 public:
  std::vector<Target> targets(const PageKey&) const override {
    return {Target{"owner", "owner:7000", false}};
  }
  void forward(const Target&, const PageKey& k, const FetchOptions& opts,
               std::function<void(PageResult)> done) override {
    forwards.push_back({k, opts, std::move(done)});
  }
  struct Forward {
    PageKey key;
    FetchOptions opts;
    std::function<void(PageResult)> done;
  };
  std::vector<Forward> forwards;
};

class PageFetcherCopiesTest : public ::testing::Test {
 protected:
  PageFetcherCopiesTest()
      : memory_(64 << 20),
        origin_(new SilentOrigin),
        fetcher_(memory_, std::unique_ptr<PageOrigin>(origin_), kPage, metrics_) {
    fetcher_.set_router(&router_);
    fetcher_.enable_hot_copies(8 * kPage);
  }

  static FetchOptions slice(bool hop = false) {
    FetchOptions o;
    o.buckets = {"b1"};
    o.slice_offset = 1000;
    o.slice_length = kPage / 2;  // 4 units: six forwards make a page hot
    o.hop = hop;
    return o;
  }
  // The answer if it came at once; a forward answered later (answer_slice) lands in a result
  // nobody reads, which outlives this call.
  std::optional<PageResult> get(const FetchOptions& o) {
    auto out = std::make_shared<std::optional<PageResult>>();
    fetcher_.get(key(3), o, ioc_.get_executor(), [out](PageResult r) { *out = std::move(r); });
    ioc_.poll();
    ioc_.restart();
    return std::move(*out);
  }
  // Answers forward `i` with the asked slice of page 3.
  void answer_slice(std::size_t i) {
    auto part = whole_page(3);
    part->body_offset = 1000;
    router_.forwards.at(i).done(PageResult{Outcome::kOk, part, PageSource::kPeer, {}});
    ioc_.poll();
    ioc_.restart();
  }

  boost::asio::io_context ioc_;
  NodeMetrics metrics_;
  MemoryTier memory_;
  OwnerRouter router_;
  SilentOrigin* origin_;  // owned by fetcher_
  PageFetcher fetcher_;
};

TEST_F(PageFetcherCopiesTest, AHotPageIsCopiedOnceAndThenServedWithoutAForward) {
  for (std::size_t i = 0; i < 6; ++i) {
    ASSERT_FALSE(get(slice()));  // waits for the owner
    ASSERT_EQ(router_.forwards.size(), i + 1);
    answer_slice(i);
  }
  // The sixth forward made the page hot: one whole-page forward with If-Match on its ETag.
  ASSERT_EQ(router_.forwards.size(), 7u);
  EXPECT_EQ(router_.forwards[6].opts.slice_length, 0u);
  EXPECT_EQ(router_.forwards[6].opts.if_match, kEtag);
  auto page = whole_page(3);
  router_.forwards[6].done(PageResult{Outcome::kOk, page, PageSource::kPeer, {}});
  EXPECT_EQ(fetcher_.hot_copies()->stats().admissions, 1u);

  auto hit = get(slice());
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->source, PageSource::kCopy);
  EXPECT_EQ(hit->page, page);
  EXPECT_EQ(router_.forwards.size(), 7u);    // no forward
  EXPECT_EQ(memory_.peek(key(3)), nullptr);  // a copy, not a page of this node's own

  // A request forwarded here is the owner logic's: never answered from a copy (here it goes
  // to the origin, as on a member that owns the page).
  EXPECT_FALSE(get(slice(/*hop=*/true)).has_value());
  EXPECT_EQ(origin_->fetches, 1u);
  EXPECT_EQ(router_.forwards.size(), 7u);

  // The node-level purge drops the copy: the next read is forwarded again.
  EXPECT_EQ(fetcher_.purge("kind", nullptr).copies, 1u);
  const std::size_t before = router_.forwards.size();
  ASSERT_FALSE(get(slice()));
  EXPECT_EQ(router_.forwards.size(), before + 1);
}

TEST_F(PageFetcherCopiesTest, AForwardRefusedForItsIfMatchDropsTheObjectsCopies) {
  for (std::size_t i = 0; i < 6; ++i) {
    get(slice());
    answer_slice(i);
  }
  ASSERT_EQ(router_.forwards.size(), 7u);
  router_.forwards[6].done(PageResult{Outcome::kOk, whole_page(3), PageSource::kPeer, {}});
  ASSERT_EQ(get(slice())->source, PageSource::kCopy);

  // A later page of a response begun from the copy asks with If-Match on its ETag; the owner
  // no longer has that version.
  FetchOptions next = slice();
  next.if_match = kEtag;
  std::optional<PageResult> refused;
  fetcher_.get(key(4), next, ioc_.get_executor(), [&](PageResult r) { refused = std::move(r); });
  ASSERT_EQ(router_.forwards.size(), 8u);
  PageResult failed;
  failed.outcome = Outcome::kPreconditionFailed;
  router_.forwards[7].done(std::move(failed));
  ioc_.poll();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->outcome, Outcome::kPreconditionFailed);
  // The copy is gone: the next response starts from the owner, which has the new version.
  EXPECT_FALSE(get(slice()));
  EXPECT_EQ(router_.forwards.size(), 9u);
  EXPECT_EQ(fetcher_.hot_copies()->stats().invalidations, 1u);
}

}  // namespace
}  // namespace shoal::node
