// PageFetcher: a page filled from the origin (node/page_fetcher.h, "A miss starts one
// flight"). One or two PageOrigin fetches, one per part of the page's PageFill: with a split,
// part 1 (from the split to the page's end: the bytes the first request asked for) starts first
// and part 0 (the bytes before it) beside it. The first validated head makes the page, which is
// published to the flight's waiters at once; every part's bytes then land in the page's buffer
// as they arrive. The page is cached and the flight finished when every part is complete; any
// failure fails the fill (readers abort), cancels the other part and finishes the flight.
//
// Everything here runs on the origin loop (the sink and the handlers of PageOrigin).
#include <algorithm>
#include <chrono>

#include "node/page_fetcher.h"
#include "node/page_fetcher_attempt.h"
#include "ring/base/log.h"

namespace shoal::node {

void PageFetcher::fetch_from_origin(std::shared_ptr<Attempt> a) {
  auto f = std::make_shared<OriginFill>();
  f->a = std::move(a);
  if (f->a->split == 0) f->parts[1].done = true;  // one part: the whole page
  if (f->a->split > 0) start_part(f, 1);
  start_part(f, 0);
  // Every reader gone before any was served: stop both parts (on_part_done then fails the fill).
  std::vector<std::uint64_t> ids;
  for (const OriginFill::Part& p : f->parts) {
    if (p.started) ids.push_back(p.id);
  }
  set_cancel(f->a->flight, [this, ids] {
    for (std::uint64_t id : ids) origin_->cancel(id);
  });
}

// Starts part `part`: [split, P) for part 1, [0, split) (or the whole page) for part 0.
void PageFetcher::start_part(std::shared_ptr<OriginFill> f, std::size_t part) {
  const Attempt& a = *f->a;
  const std::uint64_t page_start = a.key.page * page_size_;
  const std::uint64_t from = part == 0 ? 0 : a.split;
  const std::uint64_t to = part == 0 && a.split > 0 ? a.split : page_size_;
  origin::PageSink sink;
  sink.on_head = [this, f, part](const origin::ObjectInfo& info, std::uint64_t length,
                                 const std::string& bucket) {
    return on_part_head(*f, part, info, length, bucket);
  };
  sink.on_progress = [f, part](std::uint64_t written) {
    if (f->page) f->page->fill->advance(part, written);
  };
  f->parts[part].started = true;
  f->parts[part].id = origin_->fetch_page(
      a.opts.buckets, a.key.object, page_start + from, to - from, a.opts.config, a.opts.if_match,
      std::move(sink),
      [this, f, part](origin::PageFetchResult r) { on_part_done(f, part, std::move(r)); });
}

// A part's first validated head: the page is made (and published) by the first one; a later
// one must describe the same object. Returns where the part's bytes go, or nullptr to refuse.
char* PageFetcher::on_part_head(OriginFill& f, std::size_t part, const origin::ObjectInfo& info,
                                std::uint64_t length, const std::string& bucket) {
  if (f.ended) return nullptr;
  if (!f.page) {
    const std::uint64_t n = page_length(info.size, page_size_, f.a->key.page);
    if (n == 0) return nullptr;
    auto page = std::make_shared<Page>();
    page->body.data = std::make_unique_for_overwrite<char[]>(n);
    page->body.size = n;
    page->object_size = info.size;
    page->etag = info.etag;
    page->last_modified = info.last_modified;
    page->bucket = bucket;
    page->cached_at = unix_now();
    page->fill = std::make_shared<PageFill>(n, f.a->split > 0 ? f.a->split : n);
    f.page = page;
    if (auto known = memory_.find_meta(f.a->key.kind, f.a->key.object);
        known && known->etag != info.etag) {
      drop_stale(f.a->key, known->etag);  // before anyone can meet the old and the new together
    }
    adjust_reservation(f.a->flight, n);
    publish(f.a->flight, page, PageSource::kOrigin);
  } else if (info.etag != f.page->etag || info.size != f.page->object_size) {
    return nullptr;  // the other part saw another version: the fetch fails
  }
  const PageFill& fill = *f.page->fill;
  if (length != fill.part_end(part) - fill.part_start(part)) return nullptr;
  return f.page->body.data.get() + fill.part_start(part);
}

void PageFetcher::on_part_done(std::shared_ptr<OriginFill> f, std::size_t part,
                               origin::PageFetchResult r) {
  for (const origin::AttemptRecord& at : r.attempts) {
    metrics_.origin_requests.add({at.bucket, "get", std::string(base::outcome_name(at.outcome))});
  }
  metrics_.origin_page_gets.fetch_add(r.gets, std::memory_order_relaxed);
  OriginFill::Part& p = f->parts[part];
  p.done = true;
  p.outcome = r.get.outcome;
  p.message = r.get.message;
  if (f->ended) return;
  if (r.get.outcome == base::Outcome::kOk) {
    metrics_.origin_pages.add({r.bucket, std::string(origin::served_as_name(r.served_as))});
    metrics_.origin_bytes.add({r.bucket}, r.get.delivered);
  }
  // Part 1 starting at or past the object's end holds nothing (the object ends before the
  // split): S3 answers InvalidRange; part 0 decides.
  const bool empty_tail = part == 1 && r.get.outcome == base::Outcome::kInvalidRange &&
                          (!f->page || f->page->fill->part_start(1) == f->page->body.size);
  if (r.get.outcome == base::Outcome::kPreconditionFailed && !f->a->opts.if_match.empty()) {
    drop_stale(f->a->key, f->a->opts.if_match);
  }
  if (r.get.outcome != base::Outcome::kOk && !empty_tail) {
    return fail_origin_fill(*f, r.get.outcome, r.get.message);
  }
  if (!f->parts[0].done || !f->parts[1].done) return;
  if (!f->page) {  // part 0 ended without a head (it failed, handled above) or held nothing
    return fail_origin_fill(*f, base::Outcome::kInvalidRange, "the page starts past the object");
  }
  complete_origin_fill(*f);
}

// The origin no longer holds version `etag` of the object (a reader asked for that version and
// the origin answered with another): its cached pages of that version are dropped, so the next
// read fetches the new version instead of meeting the old one again.
void PageFetcher::drop_stale(const base::PageKey& key, const std::string& etag) {
  const auto known = memory_.find_meta(key.kind, key.object);
  if (!known || known->etag != etag) return;
  // Dropped, not purged: fetches of the object in flight (of the new version) may still cache.
  if (copies_) copies_->erase_object(key.kind, key.object);
  const std::size_t dropped = memory_.erase_object(key.kind, key.object);
  if (disk_) disk_->erase_object(key.kind, key.object);
  SHOAL_LOG(kInfo, "origin: " << key.kind << "/" << key.object << " changed from ETag " << etag
                              << "; dropped " << dropped << " cached pages");
}

void PageFetcher::complete_origin_fill(OriginFill& f) {
  const Attempt& a = *f.a;
  const std::shared_ptr<Page> page = f.page;
  if (page->fill->ready(0) != page->body.size) {  // a part ended short: never cache a gap
    return fail_origin_fill(f, base::Outcome::kMalformed, "the page ended with bytes missing");
  }
  f.ended = true;
  metrics_.ingress.add(page->body.size);
  metrics_.origin_page_fills.fetch_add(1, std::memory_order_relaxed);
  metrics_.origin_seconds.observe(
      {page->bucket},
      std::chrono::duration<double>(std::chrono::steady_clock::now() - a.started).count());
  // Cached before its readers are woken and before the flight ends, so whoever learns that the
  // page is complete finds it in memory, and a get() in between finds one or the other.
  if (a.cache) {
    take_reservation(a.flight);
    memory_.insert(a.key, page, false, a.flight->epoch);
  }
  page->fill->complete();
  finish(a.flight, PageResult{base::Outcome::kOk, page, PageSource::kOrigin, {}});
}

void PageFetcher::fail_origin_fill(OriginFill& f, base::Outcome o, std::string message) {
  if (f.ended) return;
  f.ended = true;
  for (OriginFill::Part& p : f.parts) {
    if (p.started && !p.done) origin_->cancel(p.id);
  }
  if (f.page) f.page->fill->fail(o, message);
  metrics_.origin_page_fills.fetch_add(1, std::memory_order_relaxed);
  PageResult r;
  r.outcome = o;
  r.message = std::move(message);
  finish(f.a->flight, std::move(r));
}

}  // namespace shoal::node
