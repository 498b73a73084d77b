// The admin API's cache operations: GET /admin/locate (owner and ranking of each page), POST
// /admin/purge (drop this node's pages) and /admin/warm (read pages through the read path).
#include <algorithm>
#include <cstdio>
#include <map>

#include "node/admin.h"
#include "node/admin_call.h"
#include "node/client_status.h"
#include "node/cluster.h"
#include "ring/base/byte_range.h"
#include "ring/base/names.h"
#include "ring/base/page_key.h"

namespace shoal::node {
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// `v` as 16 lowercase hex digits.
std::string hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// The name /admin/warm's "sources" counts a page under.
const char* source_name(PageSource s) {
  switch (s) {
    case PageSource::kMemory:
      return "memory";
    case PageSource::kOrigin:
      return "origin";
    case PageSource::kCoalesced:
      return "coalesced";
    case PageSource::kPeer:
      return "peer";
    case PageSource::kDisk:
      return "disk";
    case PageSource::kCopy:
      return "copy";
  }
  return "origin";
}

}  // namespace

// One /admin/warm call: the range, the pages requested and in flight, and what they came from.
struct AdminApi::WarmJob {
  std::shared_ptr<Call> call;
  std::string kind, object;
  bool has_range = false;
  base::ByteRange range;
  FetchOptions opts;
  std::uint64_t first_page = 0, next_page = 0, last_page = 0;
  base::ResolvedRange resolved;
  std::uint64_t size = 0;
  std::size_t running = 0;
  std::optional<AdminResponse> failure;
  std::uint64_t pages = 0, bytes = 0;
  std::map<std::string, std::uint64_t> sources;
  Clock::time_point started = Clock::now();
};

// --- GET /admin/locate --------------------------------------------------------------------------

void AdminApi::locate(std::shared_ptr<Call> c) {
  auto q = parse_query(c->query);
  if (!q) return c->reply(error_response(400, "bad percent escape in the query"));
  std::string kind, object, range_text;
  bool has_kind = false, has_object = false;
  for (auto& [name, value] : *q) {
    if (name == "kind")
      kind = value, has_kind = true;
    else if (name == "object")
      object = value, has_object = true;
    else if (name == "range")
      range_text = value;
    else
      return c->reply(error_response(400, "unknown query parameter '" + name + "'"));
  }
  if (!has_kind || !has_object)
    return c->reply(error_response(400, "kind and object are required"));
  if (auto e = base::check_kind(kind)) return c->reply(error_response(400, *e));
  if (auto e = base::check_object(object)) return c->reply(error_response(400, *e));
  base::ByteRange range{base::ByteRange::Kind::kOpen, 0, 0, 0};
  if (!range_text.empty() && !parse_admin_range(range_text, &range)) {
    return c->reply(error_response(400, kAdminRangeError));
  }
  FetchOptions opts;
  if (auto refused = fetch_options(kind, &opts)) return c->reply(std::move(*refused));
  host_.fetcher().head(kind, object, opts, c->ex, [this, c, kind, object, range](HeadResult h) {
    if (h.outcome != base::Outcome::kOk) {
      return c->reply(error_response(node::client_status(h.outcome),
                                     "origin: " + std::string(base::outcome_name(h.outcome)) +
                                         (h.message.empty() ? "" : ": " + h.message)));
    }
    base::ResolvedRange rr{1, 0};  // empty: no pages
    if (h.meta.size > 0 &&
        base::resolve_byte_range(range, h.meta.size, &rr) != base::RangeError::kOk) {
      return c->reply(error_response(
          416, "range not satisfiable for an object of " + std::to_string(h.meta.size) + " bytes"));
    }
    locate_pages(c, kind, object, rr.first, rr.last, h.meta.size);
  });
}

void AdminApi::locate_pages(std::shared_ptr<Call> c, const std::string& kind,
                            const std::string& object, std::uint64_t first, std::uint64_t last,
                            std::uint64_t size) {
  const NodeConfig& cfg = host_.config();
  const std::uint64_t p = cfg.page_size;
  const bool empty = first > last;
  if (!empty && last / p - first / p + 1 > kAdminMaxPages) {
    return c->reply(error_response(400, "the range spans more than " +
                                            std::to_string(kAdminMaxPages) +
                                            " pages; ask for a smaller range"));
  }
  std::shared_ptr<const peer::MembershipView> view;
  if (Cluster* cl = host_.cluster()) view = cl->view();
  const bool ranked = view && view->ring && !view->ring->empty();
  json pages = json::array();
  for (std::uint64_t page = first / p; !empty && page <= last / p; ++page) {
    const std::uint64_t h = base::page_hash(kind, object, page);
    json ranking = json::array();
    json owner = nullptr;
    if (ranked) {
      for (std::size_t i : view->ring->rank(h, view->ring->size())) {
        const ring::Member& m = view->ring->members()[i];
        const peer::MemberRecord* rec = view->find(m.id);
        const std::string state = rec ? std::string(peer::state_name(rec->state)) : "unknown";
        ranking.push_back({{"id", m.id}, {"state", state}, {"weight", m.weight}});
        if (owner.is_null() && rec && rec->state == peer::MemberState::kAlive) owner = m.id;
      }
    } else {
      ranking.push_back({{"id", cfg.node_id}, {"state", "alive"}, {"weight", cfg.weight}});
      owner = cfg.node_id;
    }
    pages.push_back({{"page", page},
                     {"first", std::max(first, page * p)},
                     {"last", std::min(last, page * p + p - 1)},
                     {"hash", hex64(h)},
                     {"owner", owner},
                     {"ranking", std::move(ranking)},
                     {"cached_here", host_.fetcher().memory().peek(
                                         base::PageKey{kind, object, page}) != nullptr}});
  }
  json j = {{"kind", kind},
            {"object", object},
            {"size", size},
            {"page_size", p},
            {"first", empty ? json(nullptr) : json(first)},
            {"last", empty ? json(nullptr) : json(last)},
            {"epoch", view ? view->epoch : 0},
            {"pages", std::move(pages)}};
  c->reply(json_response(200, j));
}

// --- POST /admin/purge --------------------------------------------------------------------------

void AdminApi::purge(std::shared_ptr<Call> c) {
  json body;
  if (auto e = parse_body(c->req.body, {"kind", "object"}, &body)) {
    return c->reply(error_response(400, *e));
  }
  std::string kind, object;
  bool has_kind = false, has_object = false;
  if (auto e = string_field(body, "kind", &kind, &has_kind))
    return c->reply(error_response(400, *e));
  if (auto e = string_field(body, "object", &object, &has_object)) {
    return c->reply(error_response(400, *e));
  }
  if (!has_kind) return c->reply(error_response(400, "'kind' is required"));
  if (auto e = base::check_kind(kind)) return c->reply(error_response(400, *e));
  if (has_object) {
    if (auto e = base::check_object(object)) return c->reply(error_response(400, *e));
  }
  const PurgeCounts n = host_.fetcher().purge(kind, has_object ? &object : nullptr);
  SHOAL_LOG(kInfo, "admin: purged " << n.memory << " pages and " << n.copies << " hot copies of "
                                    << kind
                                    << (has_object ? "/" + object : std::string(" (all objects)")));
  json j = {{"id", host_.config().node_id}, {"kind", kind},
            {"pages_dropped", n.memory},    {"disk_pages_dropped", n.disk},
            {"copies_dropped", n.copies},   {"fetches_detached", n.flights}};
  j["object"] = has_object ? json(object) : json(nullptr);
  c->reply(json_response(200, j));
}

// --- POST /admin/warm ---------------------------------------------------------------------------

void AdminApi::warm(std::shared_ptr<Call> c) {
  json body;
  if (auto e = parse_body(c->req.body, {"kind", "object", "range"}, &body)) {
    return c->reply(error_response(400, *e));
  }
  auto job = std::make_shared<WarmJob>();
  job->call = c;
  bool has_kind = false, has_object = false;
  std::string range_text;
  if (auto e = string_field(body, "kind", &job->kind, &has_kind))
    return c->reply(error_response(400, *e));
  if (auto e = string_field(body, "object", &job->object, &has_object)) {
    return c->reply(error_response(400, *e));
  }
  if (auto e = string_field(body, "range", &range_text, &job->has_range)) {
    return c->reply(error_response(400, *e));
  }
  if (!has_kind || !has_object)
    return c->reply(error_response(400, "'kind' and 'object' are required"));
  if (auto e = base::check_kind(job->kind)) return c->reply(error_response(400, *e));
  if (auto e = base::check_object(job->object)) return c->reply(error_response(400, *e));
  job->range = base::ByteRange{base::ByteRange::Kind::kOpen, 0, 0, 0};
  if (job->has_range && !parse_admin_range(range_text, &job->range)) {
    return c->reply(error_response(400, kAdminRangeError));
  }
  if (auto refused = fetch_options(job->kind, &job->opts)) return c->reply(std::move(*refused));
  if (job->range.kind != base::ByteRange::Kind::kSuffix) return warm_first_page(std::move(job));
  // A suffix needs the size first (cached metadata, else one HeadObject).
  host_.fetcher().head(job->kind, job->object, job->opts, c->ex, [this, job](HeadResult h) {
    base::ResolvedRange rr;
    if (h.outcome != base::Outcome::kOk) {
      return job->call->reply(error_response(
          node::client_status(h.outcome), "origin: " + std::string(base::outcome_name(h.outcome))));
    }
    if (base::resolve_byte_range(job->range, h.meta.size, &rr) != base::RangeError::kOk) {
      return job->call->reply(error_response(416, "range not satisfiable"));
    }
    job->range = base::ByteRange{base::ByteRange::Kind::kClosed, rr.first, rr.last, 0};
    warm_first_page(job);
  });
}

// The first page tells the object's size and ETag; the rest must have that ETag.
void AdminApi::warm_first_page(std::shared_ptr<WarmJob> job) {
  const std::uint64_t p = host_.config().page_size;
  job->first_page = job->range.first / p;
  host_.fetcher().get_complete(
      base::PageKey{job->kind, job->object, job->first_page}, job->opts, job->call->ex,
      [this, job, p](PageResult r) {
        if (r.outcome == base::Outcome::kInvalidRange && !job->has_range) {
          job->last_page = job->first_page;
          job->next_page = job->first_page + 1;
          return warm_done(job);  // an empty object: nothing to warm
        }
        if (r.outcome != base::Outcome::kOk) {
          return job->call->reply(error_response(node::client_status(r.outcome),
                                                 "page " + std::to_string(job->first_page) + ": " +
                                                     std::string(base::outcome_name(r.outcome)) +
                                                     (r.message.empty() ? "" : ": " + r.message)));
        }
        job->size = r.page->object_size;
        if (base::resolve_byte_range(job->range, job->size, &job->resolved) !=
            base::RangeError::kOk) {
          return job->call->reply(error_response(416, "range not satisfiable for an object of " +
                                                          std::to_string(job->size) + " bytes"));
        }
        job->last_page = job->resolved.last / p;
        if (job->last_page - job->first_page + 1 > kAdminMaxPages) {
          return job->call->reply(error_response(400, "the range spans more than " +
                                                          std::to_string(kAdminMaxPages) +
                                                          " pages; warm it in parts"));
        }
        job->opts.if_match = r.page->etag;
        ++job->pages;
        job->bytes += r.page->body.size;
        ++job->sources[source_name(r.source)];
        job->next_page = job->first_page + 1;
        warm_next(job);
      });
}

void AdminApi::warm_next(std::shared_ptr<WarmJob> job) {
  while (!job->failure && job->running < kWarmConcurrency && job->next_page <= job->last_page) {
    const std::uint64_t page = job->next_page++;
    ++job->running;
    host_.fetcher().get_complete(base::PageKey{job->kind, job->object, page}, job->opts,
                                 job->call->ex, [this, job, page](PageResult r) {
                                   --job->running;
                                   if (r.outcome == base::Outcome::kOk) {
                                     ++job->pages;
                                     job->bytes += r.page->body.size;
                                     ++job->sources[source_name(r.source)];
                                   } else if (!job->failure) {
                                     job->failure = error_response(
                                         node::client_status(r.outcome),
                                         "page " + std::to_string(page) + ": " +
                                             std::string(base::outcome_name(r.outcome)) +
                                             (r.message.empty() ? "" : ": " + r.message));
                                   }
                                   warm_next(job);
                                 });
  }
  if (job->running == 0 && (job->failure || job->next_page > job->last_page)) warm_done(job);
}

void AdminApi::warm_done(std::shared_ptr<WarmJob> job) {
  if (job->failure) return job->call->reply(std::move(*job->failure));
  json sources = json::object();
  for (const char* s : {"memory", "disk", "origin", "coalesced", "peer"}) {
    sources[s] = job->sources[s];
  }
  const bool empty = job->pages == 0;
  json j = {
      {"kind", job->kind},
      {"object", job->object},
      {"size", job->size},
      {"first", empty ? json(nullptr) : json(job->resolved.first)},
      {"last", empty ? json(nullptr) : json(job->resolved.last)},
      {"pages", job->pages},
      {"bytes", job->bytes},
      {"sources", sources},
      {"elapsed_ms",
       std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - job->started).count()}};
  job->call->reply(json_response(200, j));
}

}  // namespace shoal::node
