// PageFetcher (node/page_fetcher.h) alone: its rules driven through a scripted origin
// (PageOrigin) and a scripted cluster router (PageRouter) on a real io_context, with the real
// MemoryTier and, for disk promotion, a real DiskTier on a scratch directory. The scripts record
// every call and answer only when a test tells them to, so each test decides the order of events.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "node/page_fetcher.h"
#include "tests/unit/store_test_util.h"

namespace shoal::node {
namespace {

namespace net = boost::asio;
using base::Outcome;
using base::PageKey;

// Four 64 KiB payload blocks per page on disk (slices of a page read only their blocks).
constexpr std::uint64_t kPage = 256 << 10;
constexpr std::uint64_t kObjectSize = 10 * kPage;
const std::string kEtag = "\"e1\"";

// Deterministic bytes of page `page` of an object with ETag `etag`.
std::string bytes_of(std::uint64_t page, const std::string& etag = kEtag) {
  return store::test::page_bytes(PageKey{"kind", "obj", page}, etag, kPage);
}

base::Bytes to_bytes(const std::string& s) {
  base::Bytes b;
  b.data = std::make_unique_for_overwrite<char[]>(s.size());
  std::memcpy(b.data.get(), s.data(), s.size());
  b.size = s.size();
  return b;
}

// What the origin answers for page `page`: its bytes, served by "b1".
origin::PageFetchResult origin_page(std::uint64_t page, const std::string& etag = kEtag) {
  origin::PageFetchResult r;
  r.get.outcome = Outcome::kOk;
  r.get.body = to_bytes(bytes_of(page, etag));
  r.get.info = origin::ObjectInfo{kObjectSize, etag, "Sat, 01 Jan 2000 00:00:00 GMT"};
  r.bucket = "b1";
  return r;
}

origin::PageFetchResult origin_failure(Outcome o, std::string message) {
  origin::PageFetchResult r;
  r.get.outcome = o;
  r.get.message = std::move(message);
  r.bucket = "b1";
  return r;
}

// What a peer answers for page `page`.
PageResult peer_page(std::uint64_t page) {
  auto p = std::make_shared<Page>();
  p->body = to_bytes(bytes_of(page));
  p->object_size = kObjectSize;
  p->etag = kEtag;
  p->bucket = "b1";
  p->cached_at = 946684800;
  return PageResult{Outcome::kOk, std::move(p), PageSource::kPeer, {}};
}

PageResult peer_unreachable() {
  PageResult r;
  r.outcome = Outcome::kTransportError;
  r.message = "connection refused";
  return r;
}

// A PageOrigin that records every call and answers when told to. Calls may arrive on any
// thread (a disk read's completion starts the origin fetch on an I/O thread), so it locks.
class ScriptedOrigin : public PageOrigin {
 public:
  struct PageCall {
    std::vector<std::string> buckets;
    std::string key;
    std::uint64_t offset = 0, length = 0;
    std::string if_match;
    origin::PageSink sink;
    PageHandler done;
  };
  struct HeadCall {
    std::string bucket, key;
    HeadHandler done;
  };

  std::uint64_t fetch_page(std::vector<std::string> buckets, std::string key, std::uint64_t offset,
                           std::uint64_t length, origin::RequestConfig, std::string if_match,
                           origin::PageSink sink, PageHandler done) override {
    std::lock_guard lock(mu_);
    pages_.push_back(PageCall{std::move(buckets), std::move(key), offset, length,
                              std::move(if_match), std::move(sink), std::move(done)});
    return pages_.size() - 1;
  }
  // A cancelled call is answered with kCancelled at once (as origin::PageFetch does, posted).
  void cancel(std::uint64_t id) override {
    {
      std::lock_guard lock(mu_);
      cancelled_.push_back(id);
      if (!pages_.at(id).done) return;
    }
    origin::PageFetchResult r;
    r.get.outcome = Outcome::kCancelled;
    answer(pages_, id, std::move(r));
  }
  std::vector<std::uint64_t> cancelled() const {
    std::lock_guard lock(mu_);
    return cancelled_;
  }
  std::vector<std::string> head_order(const std::vector<std::string>& buckets) const override {
    std::lock_guard lock(mu_);
    return head_order_.empty() ? buckets : head_order_;
  }
  void head(std::string bucket, std::string key, origin::RequestConfig, HeadHandler done) override {
    std::lock_guard lock(mu_);
    heads_.push_back(HeadCall{std::move(bucket), std::move(key), std::move(done)});
  }

  // The order head_order() returns from now on (empty: the buckets as given).
  void set_head_order(std::vector<std::string> order) {
    std::lock_guard lock(mu_);
    head_order_ = std::move(order);
  }
  std::size_t page_calls() const {
    std::lock_guard lock(mu_);
    return pages_.size();
  }
  std::size_t head_calls() const {
    std::lock_guard lock(mu_);
    return heads_.size();
  }
  // A copy of page call `i` (without its handler).
  PageCall page_call(std::size_t i) const {
    std::lock_guard lock(mu_);
    PageCall c = pages_.at(i);
    c.sink = {};
    c.done = nullptr;
    return c;
  }
  std::string head_bucket(std::size_t i) const {
    std::lock_guard lock(mu_);
    return heads_.at(i).bucket;
  }
  // Answers page call `i` (head call `i`) on this thread, as the origin loop would: a page's
  // bytes (r.get.body) go through the call's sink first, as origin::PageFetch streams them.
  void answer_page(std::size_t i, origin::PageFetchResult r) {
    if (r.get.outcome == Outcome::kOk) {
      origin::PageSink sink;
      {
        std::lock_guard lock(mu_);
        sink = pages_.at(i).sink;
      }
      char* dest = sink.on_head(r.get.info, r.get.body.size, r.bucket);
      ASSERT_NE(dest, nullptr) << "the page fetcher refused the head";
      std::memcpy(dest, r.get.body.data.get(), r.get.body.size);
      sink.on_progress(r.get.body.size);
      r.get.delivered = r.get.body.size;
      r.get.body = {};
    }
    answer(pages_, i, std::move(r));
  }
  void answer_head(std::size_t i, origin::HeadResult r) { answer(heads_, i, std::move(r)); }

  // Step by step, as a page streams: the validated head of page call `i` (the object `info`,
  // `length` bytes of the asked range, bucket "b1"); returns the destination (nullptr: refused).
  char* stream_head(std::size_t i, const origin::ObjectInfo& info, std::uint64_t length) {
    return sink_of(i).on_head(info, length, "b1");
  }
  // `bytes` more of page call `i`'s range are in its destination (`written` in all).
  void stream_progress(std::size_t i, std::uint64_t written) { sink_of(i).on_progress(written); }
  // Ends page call `i`: kOk with `delivered` bytes, or a failure.
  void stream_end(std::size_t i, Outcome o, std::uint64_t delivered) {
    origin::PageFetchResult r;
    r.get.outcome = o;
    r.get.delivered = delivered;
    r.bucket = "b1";
    answer(pages_, i, std::move(r));
  }

 private:
  template <class Call, class R>
  void answer(std::vector<Call>& calls, std::size_t i, R r) {
    decltype(Call::done) done;
    {
      std::lock_guard lock(mu_);
      done = std::move(calls.at(i).done);
    }
    ASSERT_TRUE(done) << "call " << i << " answered twice";
    done(std::move(r));
  }

  origin::PageSink sink_of(std::size_t i) {
    std::lock_guard lock(mu_);
    return pages_.at(i).sink;
  }

  mutable std::mutex mu_;
  std::vector<PageCall> pages_;
  std::vector<HeadCall> heads_;
  std::vector<std::string> head_order_;
  std::vector<std::uint64_t> cancelled_;
};

// A PageRouter with a fixed ranking for every page that records forwards and answers when told.
class ScriptedRouter : public PageRouter {
 public:
  struct Forward {
    Target target;
    PageKey key;
    FetchOptions opts;
    std::function<void(PageResult)> done;
  };

  std::vector<Target> targets(const PageKey&) const override { return ranking; }
  std::optional<Target> previous_owner(const PageKey&) const override { return previous; }
  void forward(const Target& target, const PageKey& key, const FetchOptions& opts,
               std::function<void(PageResult)> done) override {
    EXPECT_FALSE(target.self) << "forwarded to this node itself";
    forwards.push_back(Forward{target, key, opts, std::move(done)});
  }
  void answer(std::size_t i, PageResult r) {
    auto done = std::move(forwards.at(i).done);
    ASSERT_TRUE(done) << "forward " << i << " answered twice";
    done(std::move(r));
  }

  std::vector<Target> ranking;
  std::optional<Target> previous;
  std::vector<Forward> forwards;
};

PageRouter::Target peer(std::string id) {
  return PageRouter::Target{id, id + ":7000", false};
}
PageRouter::Target self() {
  return PageRouter::Target{"me", "me:7000", true};
}

class PageFetcherTest : public ::testing::Test {
 protected:
  using Result = std::shared_ptr<std::optional<PageResult>>;

  PageFetcherTest() { make_fetcher(); }
  // Closes the disk tier (if any) while everything it calls back into still exists.
  void TearDown() override {
    if (fetcher_ && fetcher_->disk()) fetcher_->close_disk(std::chrono::steady_clock::now());
  }

  void make_fetcher(FetchLimits limits = {}, std::uint64_t memory_bytes = 64 << 20,
                    std::uint64_t page_size = kPage) {
    fetcher_.reset();
    memory_ = std::make_unique<MemoryTier>(memory_bytes);
    auto origin = std::make_unique<ScriptedOrigin>();
    origin_ = origin.get();
    fetcher_ =
        std::make_unique<PageFetcher>(*memory_, std::move(origin), page_size, metrics_, limits);
  }

  static PageKey key(std::uint64_t page) { return PageKey{"kind", "obj", page}; }
  static FetchOptions opts() {
    FetchOptions o;
    o.buckets = {"b1"};
    return o;
  }
  // Options asking for `length` bytes of the page from `offset`.
  static FetchOptions slice_opts(std::uint64_t offset, std::uint64_t length) {
    FetchOptions o = opts();
    o.slice_offset = offset;
    o.slice_length = length;
    return o;
  }
  // Makes this node a cluster member whose every page has `ranking`.
  void route(std::vector<PageRouter::Target> ranking) {
    router_.ranking = std::move(ranking);
    fetcher_->set_router(&router_);
  }

  // Starts get(key(page), o); the result appears after the loop ran (poll()).
  Result get(std::uint64_t page, FetchOptions o = opts()) {
    auto out = std::make_shared<std::optional<PageResult>>();
    fetcher_->get(key(page), o, ioc_.get_executor(), [out](PageResult r) { *out = std::move(r); });
    return out;
  }
  std::shared_ptr<std::optional<HeadResult>> head(std::vector<std::string> buckets) {
    auto out = std::make_shared<std::optional<HeadResult>>();
    FetchOptions o = opts();
    o.buckets = std::move(buckets);
    fetcher_->head("kind", "obj", o, ioc_.get_executor(),
                   [out](HeadResult r) { *out = std::move(r); });
    return out;
  }

  // Runs the handlers posted so far.
  void poll() { ioc_.poll(); }
  // Runs the loop until `done()` holds (results from disk I/O threads arrive by post); false
  // after 10 s.
  bool run_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      ioc_.run_for(std::chrono::milliseconds(2));
    }
    return true;
  }

  // Fetches page `page` from the (scripted) origin through a get(), answering the origin call.
  PageRef fetch_through_origin(std::uint64_t page) {
    const std::size_t call = origin_->page_calls();
    Result r = get(page);
    EXPECT_TRUE(run_until([&] { return origin_->page_calls() == call + 1; }));
    origin_->answer_page(call, origin_page(page));
    poll();
    EXPECT_TRUE(r->has_value());
    EXPECT_EQ((*r)->outcome, Outcome::kOk);
    return (*r)->page;
  }

  void expect_page(const Result& r, std::uint64_t page, PageSource source) {
    ASSERT_TRUE(r->has_value());
    const PageResult& got = **r;
    ASSERT_EQ(got.outcome, Outcome::kOk) << got.message;
    EXPECT_EQ(got.source, source);
    ASSERT_TRUE(got.page);
    EXPECT_EQ(got.page->bytes(), bytes_of(page));
    EXPECT_EQ(got.page->etag, kEtag);
    EXPECT_EQ(got.page->object_size, kObjectSize);
  }

  net::io_context ioc_;
  net::executor_work_guard<net::io_context::executor_type> work_{ioc_.get_executor()};
  NodeMetrics metrics_;
  std::unique_ptr<MemoryTier> memory_;
  ScriptedOrigin* origin_ = nullptr;  // owned by fetcher_
  ScriptedRouter router_;
  std::unique_ptr<PageFetcher> fetcher_;
};

// ---- coalescing and the memory tier --------------------------------------------------------

TEST_F(PageFetcherTest, ConcurrentGetsOfAPageShareOneOriginFetch) {
  Result a = get(3), b = get(3), c = get(3);
  ASSERT_EQ(origin_->page_calls(), 1u);
  const auto call = origin_->page_call(0);
  EXPECT_EQ(call.key, "obj");
  EXPECT_EQ(call.buckets, std::vector<std::string>{"b1"});
  EXPECT_EQ(call.offset, 3 * kPage);
  EXPECT_EQ(call.length, kPage);
  poll();
  EXPECT_FALSE(a->has_value());  // nobody is answered before the origin is

  origin_->answer_page(0, origin_page(3));
  EXPECT_FALSE(a->has_value());  // results are posted to the caller's executor, never inline
  poll();
  expect_page(a, 3, PageSource::kOrigin);
  expect_page(b, 3, PageSource::kCoalesced);
  expect_page(c, 3, PageSource::kCoalesced);
  EXPECT_EQ((*a)->page, (*b)->page);  // the same page object, not copies
  EXPECT_EQ((*a)->page, (*c)->page);
  EXPECT_EQ(fetcher_->coalesced(), 2u);
  EXPECT_EQ(origin_->page_calls(), 1u);
  EXPECT_EQ(memory_->peek(key(3)), (*a)->page);
}

TEST_F(PageFetcherTest, AMemoryHitNeverReachesTheOrigin) {
  PageRef cached = fetch_through_origin(0);
  Result r = get(0);
  EXPECT_FALSE(r->has_value());  // posted, not inline
  poll();
  expect_page(r, 0, PageSource::kMemory);
  EXPECT_EQ((*r)->page, cached);
  EXPECT_EQ(origin_->page_calls(), 1u);
}

TEST_F(PageFetcherTest, AnIfMatchMismatchInMemoryRefetchesWithIfMatch) {
  fetch_through_origin(0);
  FetchOptions o = opts();
  o.if_match = "\"e2\"";
  Result r = get(0, o);
  ASSERT_EQ(origin_->page_calls(), 2u);
  EXPECT_EQ(origin_->page_call(1).if_match, "\"e2\"");
  origin_->answer_page(1, origin_page(0, "\"e2\""));
  poll();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->source, PageSource::kOrigin);
  EXPECT_EQ((*r)->page->etag, "\"e2\"");

  Result same = get(0);  // memory now holds the new version
  poll();
  ASSERT_TRUE(same->has_value());
  EXPECT_EQ((*same)->source, PageSource::kMemory);
  EXPECT_EQ((*same)->page->etag, "\"e2\"");
}

// ---- errors ---------------------------------------------------------------------------------

TEST_F(PageFetcherTest, AnErrorReachesEveryWaiterAndIsNotCached) {
  Result a = get(1), b = get(1);
  ASSERT_EQ(origin_->page_calls(), 1u);
  origin_->answer_page(0, origin_failure(Outcome::kServerError, "500 from b1"));
  poll();
  for (const Result& r : {a, b}) {
    ASSERT_TRUE(r->has_value());
    EXPECT_EQ((*r)->outcome, Outcome::kServerError);
    EXPECT_EQ((*r)->message, "500 from b1");
    EXPECT_FALSE((*r)->page);
    EXPECT_FALSE((*r)->shed);
  }
  EXPECT_EQ(memory_->peek(key(1)), nullptr);

  Result again = get(1);  // a new flight, not the failed one's result
  ASSERT_EQ(origin_->page_calls(), 2u);
  origin_->answer_page(1, origin_page(1));
  poll();
  expect_page(again, 1, PageSource::kOrigin);
}

// ---- shedding -------------------------------------------------------------------------------

TEST_F(PageFetcherTest, AMissBeyondMaxFetchesIsShedButJoiningAFlightIsNot) {
  FetchLimits limits;
  limits.max_fetches = 2;
  make_fetcher(limits);
  Result a = get(0), b = get(1);
  Result shed = get(2);
  Result joins = get(1);
  poll();
  ASSERT_TRUE(shed->has_value());
  EXPECT_EQ((*shed)->outcome, Outcome::kThrottled);
  EXPECT_TRUE((*shed)->shed);
  EXPECT_EQ(fetcher_->shed(), 1u);
  EXPECT_EQ(origin_->page_calls(), 2u);
  EXPECT_FALSE(joins->has_value());  // joined page 1's flight

  origin_->answer_page(1, origin_page(1));
  poll();
  expect_page(joins, 1, PageSource::kCoalesced);
  Result now = get(2);  // a flight ended: room for another
  EXPECT_EQ(origin_->page_calls(), 3u);
  poll();
  EXPECT_FALSE(now->has_value());
}

TEST_F(PageFetcherTest, AMissBeyondMaxInflightBytesIsShed) {
  FetchLimits limits;
  limits.max_inflight_bytes = 2 * kPage;  // two page buffers
  make_fetcher(limits);
  Result a = get(0), b = get(1), c = get(2);
  poll();
  EXPECT_EQ(origin_->page_calls(), 2u);
  ASSERT_TRUE(c->has_value());
  EXPECT_TRUE((*c)->shed);
  EXPECT_EQ((*c)->outcome, Outcome::kThrottled);
  EXPECT_FALSE(a->has_value());
  EXPECT_FALSE(b->has_value());
}

TEST_F(PageFetcherTest, APageOfAResponseUnderWayIsNeverShed) {
  FetchLimits limits;
  limits.max_fetches = 1;
  limits.max_inflight_bytes = kPage;
  make_fetcher(limits);
  Result a = get(0);
  FetchOptions o = opts();
  o.may_shed = false;
  Result b = get(1, o);
  poll();
  EXPECT_EQ(origin_->page_calls(), 2u);
  EXPECT_FALSE(b->has_value());
  EXPECT_EQ(fetcher_->shed(), 0u);
}

TEST_F(PageFetcherTest, AHitIsNeverShed) {
  FetchLimits limits;
  limits.max_fetches = 1;
  make_fetcher(limits);
  fetch_through_origin(0);
  Result busy = get(1);  // the one flight allowed
  Result hit = get(0);
  Result shed = get(2);
  poll();
  expect_page(hit, 0, PageSource::kMemory);
  ASSERT_TRUE(shed->has_value());
  EXPECT_TRUE((*shed)->shed);
  EXPECT_FALSE(busy->has_value());
}

// ---- forwarding in a cluster ----------------------------------------------------------------

TEST_F(PageFetcherTest, AMissGoesToTheOwnerFirstAndIsNotCachedHere) {
  route({peer("a"), peer("b"), self()});
  Result r = get(4), joins = get(4);
  ASSERT_EQ(router_.forwards.size(), 1u);
  EXPECT_EQ(router_.forwards[0].target.id, "a");
  EXPECT_EQ(router_.forwards[0].key, key(4));
  EXPECT_FALSE(router_.forwards[0].opts.hop);
  router_.answer(0, peer_page(4));
  poll();
  expect_page(r, 4, PageSource::kPeer);
  expect_page(joins, 4, PageSource::kPeer);
  EXPECT_EQ(origin_->page_calls(), 0u);
  EXPECT_EQ(memory_->peek(key(4)), nullptr);  // the owner keeps it
}

TEST_F(PageFetcherTest, ANewOwnerTakesAPageFromItsPreviousOwnerAndCachesIt) {
  route({self(), peer("a")});
  router_.previous = peer("old");
  Result r = get(4), joins = get(4);
  ASSERT_EQ(router_.forwards.size(), 1u);  // concurrent misses: one peer read
  EXPECT_EQ(router_.forwards[0].target.id, "old");
  EXPECT_TRUE(router_.forwards[0].opts.cache_only);
  router_.answer(0, peer_page(4));
  poll();
  expect_page(r, 4, PageSource::kPeer);
  expect_page(joins, 4, PageSource::kPeer);
  EXPECT_EQ(origin_->page_calls(), 0u);
  ASSERT_NE(memory_->peek(key(4)), nullptr);  // the new owner keeps it
  EXPECT_EQ(metrics_.handoffs_asked.load(), 1u);
  EXPECT_EQ(metrics_.handoffs_taken.load(), 1u);
  Result again = get(4);
  poll();
  expect_page(again, 4, PageSource::kMemory);
}

TEST_F(PageFetcherTest, APageThePreviousOwnerDoesNotHoldComesFromTheOrigin) {
  route({self(), peer("a")});
  router_.previous = peer("old");
  Result r = get(4);
  PageResult missing;
  missing.outcome = Outcome::kNotFound;
  missing.message = "not cached";
  router_.answer(0, std::move(missing));
  ASSERT_TRUE(run_until([&] { return origin_->page_calls() == 1; }));
  origin_->answer_page(0, origin_page(4));
  poll();
  expect_page(r, 4, PageSource::kOrigin);
  EXPECT_EQ(metrics_.handoffs_taken.load(), 0u);
}

TEST_F(PageFetcherTest, APartOrAnotherVersionFromThePreviousOwnerIsNotTaken) {
  route({self(), peer("a")});
  router_.previous = peer("old");
  Result part = get(5);
  PageResult half = peer_page(5);
  std::const_pointer_cast<Page>(half.page)->body.size = kPage / 2;  // not the whole page
  router_.answer(0, std::move(half));
  ASSERT_TRUE(run_until([&] { return origin_->page_calls() == 1; }));
  origin_->answer_page(0, origin_page(5));
  poll();
  expect_page(part, 5, PageSource::kOrigin);
  memory_->put_meta("kind", "obj", ObjectMeta{kObjectSize, "\"newer\"", "", 0});
  Result r = get(4);
  router_.answer(1, peer_page(4));  // version e1, older than the one this node saw
  ASSERT_TRUE(run_until([&] { return origin_->page_calls() == 2; }));
  origin_->answer_page(1, origin_page(4, "\"newer\""));
  poll();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->source, PageSource::kOrigin);
  EXPECT_EQ((*r)->page->etag, "\"newer\"");
  EXPECT_EQ(metrics_.handoffs_taken.load(), 0u);
}

TEST_F(PageFetcherTest, ACacheOnlyReadNeverReachesTheOriginNorAPeerNorAFlight) {
  route({peer("a"), self()});
  FetchOptions peek = opts();
  peek.cache_only = true;
  peek.hop = true;
  Result running = get(4);  // a flight for the page, waiting on its owner
  Result r = get(4, peek);
  poll();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->outcome, Outcome::kNotFound);
  EXPECT_EQ((*r)->message, "not cached");
  EXPECT_EQ(router_.forwards.size(), 1u);
  EXPECT_EQ(origin_->page_calls(), 0u);
  router_.ranking = {self()};
  fetch_through_origin(7);
  Result hit = get(7, peek);
  poll();
  expect_page(hit, 7, PageSource::kMemory);
}

TEST_F(PageFetcherTest, AnUnreachableMemberHandsTheMissToTheNextRank) {
  route({peer("a"), peer("b"), self()});
  Result r = get(4);
  router_.answer(0, peer_unreachable());
  ASSERT_EQ(router_.forwards.size(), 2u);
  EXPECT_EQ(router_.forwards[1].target.id, "b");
  EXPECT_EQ(metrics_.forward_failovers.load(), 1u);
  router_.answer(1, peer_page(4));
  poll();
  expect_page(r, 4, PageSource::kPeer);
  EXPECT_EQ(origin_->page_calls(), 0u);
}

TEST_F(PageFetcherTest, AnErrorFromAReachedMemberIsTheAnswer) {
  route({peer("a"), self()});
  Result r = get(4);
  PageResult failed;
  failed.outcome = Outcome::kNotFound;
  failed.source = PageSource::kPeer;
  router_.answer(0, failed);
  poll();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->outcome, Outcome::kNotFound);
  EXPECT_EQ(router_.forwards.size(), 1u);  // not handed on: the member answered
  EXPECT_EQ(origin_->page_calls(), 0u);
}

TEST_F(PageFetcherTest, ReachingThisNodeInTheRankingFetchesFromTheOriginAndCaches) {
  route({peer("a"), self(), peer("b")});
  Result r = get(4);
  router_.answer(0, peer_unreachable());
  EXPECT_EQ(router_.forwards.size(), 1u);  // b ranks below this node: never asked
  ASSERT_EQ(origin_->page_calls(), 1u);
  origin_->answer_page(0, origin_page(4));
  poll();
  expect_page(r, 4, PageSource::kOrigin);
  EXPECT_EQ(memory_->peek(key(4)), (*r)->page);
  EXPECT_EQ(metrics_.forward_uncached.load(), 0u);
}

TEST_F(PageFetcherTest, WithNoMemberReachableTheOriginPageIsNotCached) {
  route({peer("a"), peer("b")});
  Result r = get(4);
  router_.answer(0, peer_unreachable());
  router_.answer(1, peer_unreachable());
  ASSERT_EQ(origin_->page_calls(), 1u);
  origin_->answer_page(0, origin_page(4));
  poll();
  expect_page(r, 4, PageSource::kOrigin);
  EXPECT_EQ(memory_->peek(key(4)), nullptr);
  EXPECT_EQ(metrics_.forward_uncached.load(), 1u);
  EXPECT_EQ(metrics_.forward_failovers.load(), 2u);
}

TEST_F(PageFetcherTest, AForwardedRequestIsNeverForwardedAgain) {
  route({peer("a"), self()});
  FetchOptions o = opts();
  o.hop = true;
  o.slice_offset = 100;
  o.slice_length = 200;
  Result r = get(4, o);
  EXPECT_TRUE(router_.forwards.empty());
  ASSERT_EQ(origin_->page_calls(), 1u);
  origin_->answer_page(0, origin_page(4));
  poll();
  expect_page(r, 4, PageSource::kOrigin);
  EXPECT_EQ(memory_->peek(key(4)), (*r)->page);  // cached on the member asked
}

TEST_F(PageFetcherTest, ASliceOwnedElsewhereIsForwardedWithoutALocalFlight) {
  route({peer("a"), self()});
  Result slice = get(4, slice_opts(1000, 500));
  ASSERT_EQ(router_.forwards.size(), 1u);
  EXPECT_EQ(router_.forwards[0].opts.slice_offset, 1000u);
  EXPECT_EQ(router_.forwards[0].opts.slice_length, 500u);
  EXPECT_EQ(metrics_.origin_in_flight.load(), 0);

  Result whole = get(4);  // no flight to join: its own, forwarded for the whole page
  ASSERT_EQ(router_.forwards.size(), 2u);
  EXPECT_EQ(router_.forwards[1].opts.slice_length, 0u);
  EXPECT_EQ(fetcher_->coalesced(), 0u);

  auto part = std::make_shared<Page>();
  part->body = to_bytes(bytes_of(4).substr(1000, 500));
  part->body_offset = 1000;
  part->object_size = kObjectSize;
  part->etag = kEtag;
  router_.answer(0, PageResult{Outcome::kOk, part, PageSource::kPeer, {}});
  poll();
  ASSERT_TRUE(slice->has_value());
  EXPECT_EQ((*slice)->source, PageSource::kPeer);
  EXPECT_EQ((*slice)->page, part);
  EXPECT_FALSE(whole->has_value());
}

TEST_F(PageFetcherTest, ASliceWhoseOwnerIsUnreachableJoinsAWholePageFlight) {
  route({peer("a"), self()});
  Result slice = get(4, slice_opts(1000, 500));
  router_.answer(0, peer_unreachable());
  // The flight that takes over asks the ranking again, for the whole page.
  ASSERT_EQ(router_.forwards.size(), 2u);
  EXPECT_EQ(router_.forwards[1].target.id, "a");
  EXPECT_EQ(router_.forwards[1].opts.slice_offset, 0u);
  EXPECT_EQ(router_.forwards[1].opts.slice_length, 0u);
  Result whole = get(4);  // joins that flight
  router_.answer(1, peer_unreachable());
  ASSERT_EQ(origin_->page_calls(), 1u);
  EXPECT_EQ(origin_->page_call(0).offset, 4 * kPage);
  EXPECT_EQ(origin_->page_call(0).length, kPage);
  origin_->answer_page(0, origin_page(4));
  poll();
  expect_page(slice, 4, PageSource::kOrigin);
  expect_page(whole, 4, PageSource::kCoalesced);
}

TEST_F(PageFetcherTest, AFlightFetchesTheWholePageWhateverSliceStartedIt) {
  Result first = get(2, slice_opts(4096, 10));
  Result second = get(2);
  ASSERT_EQ(origin_->page_calls(), 1u);
  EXPECT_EQ(origin_->page_call(0).offset, 2 * kPage);
  EXPECT_EQ(origin_->page_call(0).length, kPage);
  origin_->answer_page(0, origin_page(2));
  poll();
  expect_page(first, 2, PageSource::kOrigin);
  expect_page(second, 2, PageSource::kCoalesced);
  EXPECT_EQ((*second)->page->body_offset, 0u);
}

// ---- the disk tier --------------------------------------------------------------------------

class PageFetcherDiskTest : public PageFetcherTest {
 protected:
  // Memory for one page at a time, and a disk tier of 16 slots.
  void SetUp() override {
    make_fetcher({}, kPage + kPage / 2);
    store::DiskConfig c;
    c.path = dir_.path();
    c.capacity_bytes = 16 * (kPage + 4096);
    c.page_size = kPage;
    c.io_threads = 2;
    std::string error;
    ASSERT_TRUE(fetcher_->open_disk(c, &error)) << error;
  }

  // Page 0 fetched, hit once (so the admission rule keeps it), then pushed out of memory by
  // page 1 and written to disk.
  void put_page_0_on_disk() {
    fetch_through_origin(0);
    Result hit = get(0);
    poll();
    expect_page(hit, 0, PageSource::kMemory);
    fetch_through_origin(1);
    ASSERT_EQ(memory_->peek(key(0)), nullptr) << "page 0 was not evicted";
    ASSERT_TRUE(run_until([&] { return fetcher_->disk()->stats().writes == 1; }));
    ASSERT_TRUE(fetcher_->disk()->contains(key(0), kEtag));
  }

  store::test::ScratchDir dir_;
};

TEST_F(PageFetcherDiskTest, APageEvictedFromMemoryIsServedFromDiskOnTheNextMiss) {
  put_page_0_on_disk();
  const std::size_t origin_calls = origin_->page_calls();
  Result r = get(0);
  ASSERT_TRUE(run_until([&] { return r->has_value(); }));
  expect_page(r, 0, PageSource::kDisk);
  EXPECT_EQ((*r)->page->bucket, "b1");
  EXPECT_EQ(origin_->page_calls(), origin_calls);
  EXPECT_EQ(fetcher_->disk()->stats().hits, 1u);

  Result again = get(0);  // promoted to memory
  poll();
  expect_page(again, 0, PageSource::kMemory);
}

TEST_F(PageFetcherDiskTest, APageReadOnceIsKeptOnDiskWhileTheDiskHasFreeSlots) {
  fetch_through_origin(0);  // never hit again
  fetch_through_origin(1);  // pushes page 0 out of memory
  ASSERT_EQ(memory_->peek(key(0)), nullptr);
  ASSERT_TRUE(run_until([&] { return fetcher_->disk()->stats().writes == 1; }));
  EXPECT_TRUE(fetcher_->disk()->contains(key(0), kEtag));
  EXPECT_EQ(fetcher_->admission_stats().rejected, 0u);  // the rule was not asked
}

TEST_F(PageFetcherDiskTest, AFullDiskKeepsOnlyPagesTheAdmissionRuleAdmits) {
  const std::uint64_t slots = fetcher_->disk()->stats().slots;
  const origin::ObjectInfo big{(slots + 4) * kPage, kEtag, "Sat, 01 Jan 2000 00:00:00 GMT"};
  // Page p of an object of slots + 4 pages, fetched through the origin and read once.
  auto fetch_once = [&](std::uint64_t p) {
    const std::size_t call = origin_->page_calls();
    Result r = get(p);
    ASSERT_TRUE(run_until([&] { return origin_->page_calls() == call + 1; }));
    char* dest = origin_->stream_head(call, big, kPage);
    ASSERT_NE(dest, nullptr);
    std::memcpy(dest, bytes_of(p).data(), kPage);
    origin_->stream_progress(call, kPage);
    origin_->stream_end(call, Outcome::kOk, kPage);
    poll();
  };
  for (std::uint64_t p = 0; p <= slots; ++p) fetch_once(p);  // fills every slot
  ASSERT_TRUE(run_until([&] { return fetcher_->disk()->stats().writes == slots; }));
  const std::uint64_t writes = slots;
  fetch_once(slots + 1);  // page `slots`, read once, leaves memory: not admitted
  ASSERT_TRUE(run_until([&] { return fetcher_->admission_stats().rejected == 1; }));
  EXPECT_EQ(fetcher_->disk()->stats().writes, writes);
  EXPECT_FALSE(fetcher_->disk()->contains(key(slots), kEtag));
}

TEST_F(PageFetcherDiskTest, ADiskPageOfAnOlderVersionThanMemoryKnowsIsDroppedAndRefetched) {
  put_page_0_on_disk();
  memory_->put_meta("kind", "obj", ObjectMeta{kObjectSize, "\"e2\"", "", 0});
  const std::size_t origin_calls = origin_->page_calls();
  Result r = get(0);
  ASSERT_TRUE(run_until([&] { return origin_->page_calls() == origin_calls + 1; }));
  EXPECT_FALSE(fetcher_->disk()->contains(key(0), kEtag));
  origin_->answer_page(origin_calls, origin_page(0, "\"e2\""));
  poll();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->source, PageSource::kOrigin);
  EXPECT_EQ((*r)->page->etag, "\"e2\"");
}

TEST_F(PageFetcherDiskTest, ADiskPageNotMatchingIfMatchGoesToTheOriginAndStaysOnDisk) {
  put_page_0_on_disk();
  const std::size_t origin_calls = origin_->page_calls();
  FetchOptions o = opts();
  o.if_match = "\"e2\"";
  Result r = get(0, o);
  ASSERT_TRUE(run_until([&] { return origin_->page_calls() == origin_calls + 1; }));
  EXPECT_EQ(origin_->page_call(origin_calls).if_match, "\"e2\"");
  EXPECT_TRUE(fetcher_->disk()->contains(key(0), kEtag));
  origin_->answer_page(origin_calls, origin_failure(Outcome::kPreconditionFailed, "412"));
  poll();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->outcome, Outcome::kPreconditionFailed);
}

// ---- slices from disk -----------------------------------------------------------------------

constexpr std::uint64_t kBlock = store::payload_block_bytes(kPage);
static_assert(kPage / kBlock >= 4, "slice tests need a page of several payload blocks");

// Where page 0's payload starts in the store file: found by its bytes (the slot is the disk
// tier's choice).
std::uint64_t payload_offset_of_page_0(const std::string& store_file) {
  const std::string file =
      store::test::read_raw(store_file, 0, std::filesystem::file_size(store_file));
  const std::size_t at = file.find(bytes_of(0).substr(0, 4096));
  EXPECT_NE(at, std::string::npos);
  return at;
}

TEST_F(PageFetcherDiskTest, ASliceDiskHitReadsAndVerifiesOnlyTheBlocksItCovers) {
  put_page_0_on_disk();
  const std::size_t origin_calls = origin_->page_calls();
  const std::uint64_t read_before = fetcher_->disk()->stats().bytes_read;
  // 1000 bytes inside block 2, at an offset no O_DIRECT read could start at.
  const std::uint64_t offset = 2 * kBlock + 4097;
  Result r = get(0, slice_opts(offset, 1000));
  ASSERT_TRUE(run_until([&] { return r->has_value(); }));
  ASSERT_EQ((*r)->outcome, Outcome::kOk) << (*r)->message;
  EXPECT_EQ((*r)->source, PageSource::kDisk);
  const Page& p = *(*r)->page;
  EXPECT_EQ(p.body_offset, offset);
  EXPECT_EQ(std::string(p.body.view()), bytes_of(0).substr(offset, 1000));
  EXPECT_EQ(p.etag, kEtag);
  EXPECT_EQ(p.object_size, kObjectSize);
  EXPECT_EQ(p.bucket, "b1");
  EXPECT_TRUE(p.complete());
  // Block 2, nothing else (the slot's header is in the disk tier's header cache: this process
  // wrote it); the page stays out of memory.
  EXPECT_EQ(fetcher_->disk()->stats().bytes_read - read_before, kBlock);
  EXPECT_EQ(fetcher_->disk()->stats().header_cache_hits, 1u);
  EXPECT_EQ(memory_->peek(key(0)), nullptr);
  EXPECT_EQ(origin_->page_calls(), origin_calls);

  // A slice across a block boundary reads both blocks.
  const std::uint64_t read_mid = fetcher_->disk()->stats().bytes_read;
  Result across = get(0, slice_opts(kBlock - 10, 20));
  ASSERT_TRUE(run_until([&] { return across->has_value(); }));
  ASSERT_EQ((*across)->outcome, Outcome::kOk);
  EXPECT_EQ(std::string((*across)->page->body.view()), bytes_of(0).substr(kBlock - 10, 20));
  EXPECT_EQ(fetcher_->disk()->stats().bytes_read - read_mid, 2 * kBlock);

  // The whole page (no slice) is read whole and promoted, as before.
  Result whole = get(0);
  ASSERT_TRUE(run_until([&] { return whole->has_value(); }));
  expect_page(whole, 0, PageSource::kDisk);
  EXPECT_NE(memory_->peek(key(0)), nullptr);
}

TEST_F(PageFetcherDiskTest,
       ABadBlockSendsItsSliceToTheOriginWhileOtherBlocksAreStillServedFromDisk) {
  put_page_0_on_disk();
  const std::string store_file = fetcher_->disk()->device_path();
  store::test::flip_byte(store_file, payload_offset_of_page_0(store_file) + 77);

  // The slice in block 0 (its origin fetch is not split): the flipped byte is found, the bytes
  // never served; the page goes to the origin. Its answer fails here, so nothing reaches memory.
  std::size_t call = origin_->page_calls();
  Result bad = get(0, slice_opts(10, 100));
  ASSERT_TRUE(run_until([&] { return origin_->page_calls() == call + 1; }));
  EXPECT_EQ(fetcher_->disk()->stats().checksum_failures, 1u);
  EXPECT_EQ(fetcher_->disk()->stats().blocks_bad, 1u);
  origin_->answer_page(call, origin_failure(Outcome::kServerError, "502"));
  ASSERT_TRUE(run_until([&] { return bad->has_value(); }));
  EXPECT_EQ((*bad)->outcome, Outcome::kServerError);
  ASSERT_EQ(memory_->peek(key(0)), nullptr);

  // Slices of the page's other blocks are still served from the same slot, byte-exact.
  for (std::uint64_t offset : {kBlock + 5, 2 * kBlock, 3 * kBlock + 100}) {
    Result good = get(0, slice_opts(offset, 500));
    ASSERT_TRUE(run_until([&] { return good->has_value(); }));
    ASSERT_EQ((*good)->outcome, Outcome::kOk) << offset;
    EXPECT_EQ((*good)->source, PageSource::kDisk) << offset;
    EXPECT_EQ(std::string((*good)->page->body.view()), bytes_of(0).substr(offset, 500)) << offset;
  }
  EXPECT_EQ(origin_->page_calls(), call + 1);

  // The bad block's slice again: the origin at once (the block is known bad), exact bytes.
  call = origin_->page_calls();
  Result again = get(0, slice_opts(10, 100));
  ASSERT_TRUE(run_until([&] { return origin_->page_calls() == call + 1; }));
  origin_->answer_page(call, origin_page(0));
  ASSERT_TRUE(run_until([&] { return again->has_value(); }));
  expect_page(again, 0, PageSource::kOrigin);
  EXPECT_EQ(fetcher_->disk()->stats().checksum_failures, 1u);
}

// ---- head() ---------------------------------------------------------------------------------

origin::HeadResult head_answer(Outcome o) {
  origin::HeadResult r;
  r.outcome = o;
  if (o == Outcome::kOk) r.info = origin::ObjectInfo{kObjectSize, kEtag, "Sat"};
  return r;
}

TEST_F(PageFetcherTest, HeadTriesBucketsInTheOriginsOrderAndFallsThroughOnNotFound) {
  origin_->set_head_order({"b2", "b1", "b3"});
  auto r = head({"b1", "b2", "b3"});
  ASSERT_EQ(origin_->head_calls(), 1u);
  EXPECT_EQ(origin_->head_bucket(0), "b2");
  origin_->answer_head(0, head_answer(Outcome::kNotFound));
  ASSERT_EQ(origin_->head_calls(), 2u);
  EXPECT_EQ(origin_->head_bucket(1), "b1");
  origin_->answer_head(1, head_answer(Outcome::kOk));
  poll();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->outcome, Outcome::kOk);
  EXPECT_EQ((*r)->meta.size, kObjectSize);
  EXPECT_EQ((*r)->meta.etag, kEtag);
  EXPECT_EQ(origin_->head_calls(), 2u);
  EXPECT_EQ(origin_->page_calls(), 0u);  // a HEAD is never a page GET

  auto cached = head({"b1", "b2", "b3"});  // metadata is now in memory
  poll();
  ASSERT_TRUE(cached->has_value());
  EXPECT_EQ((*cached)->meta.etag, kEtag);
  EXPECT_EQ(origin_->head_calls(), 2u);
}

TEST_F(PageFetcherTest, HeadStopsAtAnInvalidRange) {
  auto r = head({"b1", "b2"});
  origin_->answer_head(0, head_answer(Outcome::kInvalidRange));
  poll();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->outcome, Outcome::kInvalidRange);
  EXPECT_EQ(origin_->head_calls(), 1u);
}

TEST_F(PageFetcherTest, HeadReportsTheLastBucketsAnswerWhenAllFail) {
  auto r = head({"b1", "b2"});
  origin_->answer_head(0, head_answer(Outcome::kServerError));
  ASSERT_EQ(origin_->head_calls(), 2u);
  origin_->answer_head(1, head_answer(Outcome::kNotFound));
  poll();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->outcome, Outcome::kNotFound);
  EXPECT_FALSE(memory_->find_meta("kind", "obj"));
}

// ---- progressive pages -----------------------------------------------------------------------

const origin::ObjectInfo kInfo{kObjectSize, kEtag, "Sat, 01 Jan 2000 00:00:00 GMT"};

TEST_F(PageFetcherTest, APageIsPublishedAtItsHeadAndItsBytesBecomeReadyAsTheyLand) {
  Result r = get(2);
  ASSERT_EQ(origin_->page_calls(), 1u);
  char* dest = origin_->stream_head(0, kInfo, kPage);
  ASSERT_NE(dest, nullptr);
  poll();
  ASSERT_TRUE(r->has_value());  // before any byte arrived
  ASSERT_EQ((*r)->outcome, Outcome::kOk);
  PageRef page = (*r)->page;
  EXPECT_FALSE(page->complete());
  EXPECT_EQ(page->ready(0), 0u);
  const std::string bytes = bytes_of(2);
  std::memcpy(dest, bytes.data(), 1000);
  origin_->stream_progress(0, 1000);
  EXPECT_EQ(page->ready(0), 1000u);
  EXPECT_FALSE(memory_->peek(key(2)));  // not cached while filling
  std::memcpy(dest + 1000, bytes.data() + 1000, kPage - 1000);
  origin_->stream_progress(0, kPage);
  origin_->stream_end(0, Outcome::kOk, kPage);
  poll();
  EXPECT_TRUE(page->complete());
  EXPECT_EQ(page->bytes(), bytes);
  EXPECT_EQ(memory_->peek(key(2)), page);
}

TEST_F(PageFetcherTest, AReaderThatJoinsAFillingPageGetsItAtOnceFromItsStart) {
  Result first = get(1);
  char* dest = origin_->stream_head(0, kInfo, kPage);
  origin_->stream_progress(0, 0);
  poll();
  Result joiner = get(1);
  poll();
  ASSERT_TRUE(joiner->has_value());
  EXPECT_EQ((*joiner)->source, PageSource::kCoalesced);
  EXPECT_EQ((*joiner)->page, (*first)->page);
  EXPECT_EQ(origin_->page_calls(), 1u);
  const std::string bytes = bytes_of(1);
  std::memcpy(dest, bytes.data(), kPage);
  origin_->stream_progress(0, kPage);
  origin_->stream_end(0, Outcome::kOk, kPage);
  EXPECT_EQ((*joiner)->page->bytes(), bytes);
}

TEST_F(PageFetcherTest, AFailureAfterTheHeadFailsThePageAndCachesNothing) {
  Result r = get(3);
  char* dest = origin_->stream_head(0, kInfo, kPage);
  std::memcpy(dest, bytes_of(3).data(), 100);
  origin_->stream_progress(0, 100);
  origin_->stream_end(0, Outcome::kPreconditionFailed, 100);
  poll();
  ASSERT_TRUE(r->has_value());
  EXPECT_TRUE((*r)->page->failed());
  EXPECT_EQ((*r)->page->ready(0), 100u);  // what was there stays readable, never more
  EXPECT_FALSE(memory_->peek(key(3)));
  Result again = get(3);  // errors are not cached: a new fetch
  EXPECT_EQ(origin_->page_calls(), 2u);
}

TEST_F(PageFetcherTest, ARequestDeepInAPageFetchesItsPartFirstBesideThePartBeforeIt) {
  constexpr std::uint64_t kBig = 1 << 20;
  make_fetcher({}, 64 << 20, kBig);
  const std::uint64_t offset = 300000;  // rounded down to a multiple of kSplitAlign
  const std::uint64_t split = offset / PageFetcher::kSplitAlign * PageFetcher::kSplitAlign;
  Result r = get(0, slice_opts(offset, 1000));
  ASSERT_EQ(origin_->page_calls(), 2u);
  EXPECT_EQ(origin_->page_call(0).offset, split);  // the part holding the slice first
  EXPECT_EQ(origin_->page_call(0).length, kBig - split);
  EXPECT_EQ(origin_->page_call(1).offset, 0u);
  EXPECT_EQ(origin_->page_call(1).length, split);
  // Either head makes the page; the slice's part lands first and is readable at once.
  const origin::ObjectInfo info{4 * kBig, kEtag, "Sat, 01 Jan 2000 00:00:00 GMT"};
  char* tail = origin_->stream_head(0, info, kBig - split);
  ASSERT_NE(tail, nullptr);
  std::memset(tail, 'T', kBig - split);
  origin_->stream_progress(0, kBig - split);
  poll();
  ASSERT_TRUE(r->has_value());
  const Page& page = *(*r)->page;
  EXPECT_EQ(page.ready(offset), kBig - offset);
  EXPECT_EQ(page.ready(0), 0u);  // the part before it has not arrived
  char* head = origin_->stream_head(1, info, split);
  ASSERT_EQ(head, page.body.data.get());
  std::memset(head, 'H', split);
  origin_->stream_progress(1, split);
  EXPECT_EQ(page.ready(0), kBig);
  origin_->stream_end(0, Outcome::kOk, kBig - split);
  origin_->stream_end(1, Outcome::kOk, split);
  EXPECT_TRUE(page.complete());
}

TEST_F(PageFetcherTest, AFetchWhoseReadersAllLeftBeforeBeingServedIsCancelled) {
  Result a = get(4);
  Result b = get(4);
  origin_->stream_head(0, kInfo, kPage);
  poll();
  ASSERT_TRUE(a->has_value() && b->has_value());
  a->reset();  // both clients go away without their bytes
  EXPECT_TRUE(origin_->cancelled().empty());
  b->reset();
  ASSERT_EQ(origin_->cancelled(), std::vector<std::uint64_t>{0});
  EXPECT_EQ(metrics_.fetches_abandoned.load(), 1u);
  Result c = get(4);  // a later reader starts afresh
  EXPECT_EQ(origin_->page_calls(), 2u);
}

TEST_F(PageFetcherTest, AFetchGoesOnAndCachesWhenAReaderWasServed) {
  Result a = get(5);
  char* dest = origin_->stream_head(0, kInfo, kPage);
  poll();
  ASSERT_TRUE(a->has_value());
  (*a)->demand->satisfy();  // it had what it needed
  a->reset();
  EXPECT_TRUE(origin_->cancelled().empty());
  std::memcpy(dest, bytes_of(5).data(), kPage);
  origin_->stream_progress(0, kPage);
  origin_->stream_end(0, Outcome::kOk, kPage);
  EXPECT_TRUE(memory_->peek(key(5)));
}

TEST_F(PageFetcherTest, PagesInFlightReserveTheirBytesInTheMemoryTier) {
  Result r = get(6);
  EXPECT_EQ(memory_->stats().reserved_bytes, kPage);
  char* dest = origin_->stream_head(0, kInfo, kPage);
  std::memcpy(dest, bytes_of(6).data(), kPage);
  origin_->stream_progress(0, kPage);
  origin_->stream_end(0, Outcome::kOk, kPage);
  EXPECT_EQ(memory_->stats().reserved_bytes, 0u);
  EXPECT_TRUE(memory_->peek(key(6)));
}

TEST_F(PageFetcherTest, AMissIsShedWhenTheMemoryTierCannotMakeRoomForIt) {
  make_fetcher({}, kPage / 2);  // not even one page fits
  Result r = get(7);
  poll();
  ASSERT_TRUE(r->has_value());
  EXPECT_TRUE((*r)->shed);
  EXPECT_EQ(origin_->page_calls(), 0u);
  FetchOptions under_way = opts();
  under_way.may_shed = false;  // a page of a response already under way is fetched anyway
  Result forced = get(7, under_way);
  EXPECT_EQ(origin_->page_calls(), 1u);
}

}  // namespace
}  // namespace shoal::node
