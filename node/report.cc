#include "node/report.h"

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "node/metrics.h"
#include "ring/base/buffer_pool.h"

namespace shoal::node {
namespace {

// A latency in milliseconds, or null when unknown.
nlohmann::json ms_or_null(const std::optional<std::chrono::microseconds>& v) {
  return v ? nlohmann::json(static_cast<double>(v->count()) / 1000.0) : nlohmann::json(nullptr);
}

// /stats "origin.buckets": per-bucket latency, health and hedges (origin/page_fetch.h).
nlohmann::json buckets_json(const std::vector<origin::BucketReport>& reports) {
  nlohmann::json out = nlohmann::json::object();
  for (const origin::BucketReport& r : reports) {
    out[r.bucket] = {
        {"latency_samples", r.latency_samples},
        {"ttfb_p50_ms", ms_or_null(r.first_byte_p50)},
        {"ttfb_p99_ms", ms_or_null(r.first_byte_p99)},
        {"page_p50_ms", ms_or_null(r.page_p50)},
        {"page_p99_ms", ms_or_null(r.page_p99)},
        {"hedge_delay_ms", ms_or_null(r.hedge_delay)},
        {"error_rate", r.error_rate},
        {"effective_error_rate", r.effective_error_rate},
        {"source", r.latency_with_peers || r.errors_with_peers ? "peers" : "local"},
        {"peers",
         {{"members", r.peer_count},
          {"latency_samples", r.peer_latency_samples},
          {"page_p50_ms", ms_or_null(r.peer_page_p50)},
          {"page_p99_ms", ms_or_null(r.peer_page_p99)},
          {"error_rate", r.peer_error_rate},
          {"evidence", r.peer_evidence},
          {"latency_used", r.latency_with_peers},
          {"error_rate_used", r.errors_with_peers}}},
        {"breaker", origin::breaker_state_name(r.breaker)},
        {"consecutive_failures", r.consecutive_failures},
        {"hedges",
         {{"sent", r.hedges_sent}, {"won", r.hedges_won}, {"refused", r.hedges_refused}}}};
  }
  return out;
}

// /stats "disk": the disk tier's figures, or {"enabled": false}.
nlohmann::json disk_json(const PageFetcher& fetcher) {
  const store::DiskTier* disk = fetcher.disk();
  if (disk == nullptr) return {{"enabled", false}};
  const store::DiskStats s = disk->stats();
  const store::AdmissionStats a = fetcher.admission_stats();
  return {{"enabled", true},
          {"path", disk->device_path()},
          {"direct_io", s.direct_io},
          {"capacity_bytes", s.capacity_bytes},
          {"used_bytes", s.used_bytes},
          {"page_bytes", s.page_bytes},
          {"slots", s.slots},
          {"slots_used", s.slots_used},
          {"slots_bad", s.slots_bad},
          {"hits", s.hits},
          {"misses", s.misses},
          {"writes", s.writes},
          {"bytes_written", s.bytes_written},
          {"writes_rejected", s.writes_rejected},
          {"admitted", a.admitted},
          {"not_admitted", a.rejected},
          {"part_promotions", fetcher.part_promotions()},
          {"evictions", s.evictions},
          {"bytes_read", s.bytes_read},
          {"checksum_failures", s.checksum_failures},
          {"header_cache_hits", s.header_cache_hits},
          {"headers_cached", s.headers_cached},
          {"header_cache_bytes", s.header_cache_bytes},
          {"blocks_bad", s.blocks_bad},
          {"io_errors", s.io_errors},
          {"recovery_seconds", s.recovery_seconds},
          {"pages_recovered", s.pages_recovered},
          {"old_format_slots", s.old_format_slots}};
}

// /stats "hot_copies": the copies of pages other members own (node/hot_copies.h), or
// {"enabled": false}.
nlohmann::json hot_copies_json(const PageFetcher& fetcher) {
  const HotCopies* copies = fetcher.hot_copies();
  if (copies == nullptr) return {{"enabled", false}};
  const HotCopyStats s = copies->stats();
  return {{"enabled", true},
          {"capacity_bytes", s.capacity_bytes},
          {"used_bytes", s.used_bytes},
          {"pages", s.pages},
          {"page_bytes", s.page_bytes},
          {"hits", s.hits},
          {"admissions", s.admissions},
          {"evictions", s.evictions},
          {"invalidations", s.invalidations},
          {"purged", s.purged},
          {"promotions_failed", s.promotions_failed},
          {"promotions_in_flight", s.promotions_in_flight}};
}

// The hot copies' /metrics series (none when off).
void write_hot_copy_metrics(PrometheusWriter& out, const PageFetcher& fetcher) {
  const HotCopies* copies = fetcher.hot_copies();
  if (copies == nullptr) return;
  const HotCopyStats s = copies->stats();
  auto d = [](std::uint64_t v) { return static_cast<double>(v); };
  out.gauge("shoal_hot_copy_capacity_bytes", "Share of --memory for hot copies",
            d(s.capacity_bytes));
  out.gauge("shoal_hot_copy_used_bytes",
            "Bytes charged by hot copies held and copies being fetched", d(s.used_bytes));
  out.gauge("shoal_hot_copy_pages", "Hot copies held", d(s.pages));
  out.counter("shoal_hot_copy_hits_total", "Reads served from a hot copy (no forward)", d(s.hits));
  out.counter("shoal_hot_copy_admissions_total", "Hot copies made", d(s.admissions));
  out.counter("shoal_hot_copy_evictions_total", "Hot copies evicted for room", d(s.evictions));
  out.counter("shoal_hot_copy_invalidations_total",
              "Hot copies dropped because a forward showed another ETag or failed its If-Match",
              d(s.invalidations));
  out.counter("shoal_hot_copy_purged_total", "Hot copies dropped by purges", d(s.purged));
  out.counter("shoal_hot_copy_promotions_failed_total",
              "Whole-page fetches for a hot copy that failed or were fenced by a purge",
              d(s.promotions_failed));
}

// A latency in seconds.
double seconds(std::chrono::microseconds v) {
  return static_cast<double>(v.count()) / 1e6;
}

// The per-bucket origin families of /metrics, each with its series in report order.
void write_bucket_metrics(PrometheusWriter& out, const std::vector<origin::BucketReport>& reports) {
  // Runs fn(report, its bucket label) for every bucket.
  auto each = [&reports](auto&& fn) {
    for (const origin::BucketReport& r : reports) fn(r, Labels{{"bucket", r.bucket}});
  };
  out.family("shoal_origin_bucket_latency_seconds",
             "Decaying origin latency quantile q by bucket and kind: first_byte or whole page",
             "gauge");
  each([&out](const origin::BucketReport& r, const Labels& b) {
    auto add = [&](const char* kind, const char* q,
                   const std::optional<std::chrono::microseconds>& v) {
      if (v) out.sample(Labels(b).add("kind", kind).add("q", q), seconds(*v));
    };
    add("first_byte", "0.5", r.first_byte_p50);
    add("first_byte", "0.99", r.first_byte_p99);
    add("page", "0.5", r.page_p50);
    add("page", "0.99", r.page_p99);
  });
  out.family("shoal_origin_bucket_hedge_delay_seconds",
             "Page fetches from this bucket running longer than this are hedged", "gauge");
  each([&out](const origin::BucketReport& r, const Labels& b) {
    if (r.hedge_delay) out.sample(b, seconds(*r.hedge_delay));
  });
  out.family("shoal_origin_bucket_error_rate", "Error-rate EWMA of origin page fetches by bucket",
             "gauge");
  each([&out](const origin::BucketReport& r, const Labels& b) { out.sample(b, r.error_rate); });
  out.family("shoal_origin_bucket_effective_error_rate",
             "Error rate bucket order uses: own EWMA, blended with peers' while own evidence is "
             "short",
             "gauge");
  each([&out](const origin::BucketReport& r, const Labels& b) {
    out.sample(b, r.effective_error_rate);
  });
  out.family("shoal_origin_bucket_uses_peers",
             "1 when the figure in use (latency or error_rate) includes peers' gossiped figures",
             "gauge");
  each([&out](const origin::BucketReport& r, const Labels& b) {
    out.sample(Labels(b).add("figure", "latency"), r.latency_with_peers ? 1 : 0);
    out.sample(Labels(b).add("figure", "error_rate"), r.errors_with_peers ? 1 : 0);
  });
  out.family("shoal_origin_bucket_peer_latency_seconds",
             "Whole-page origin latency quantile q by bucket from peers' gossiped figures alone",
             "gauge");
  each([&out](const origin::BucketReport& r, const Labels& b) {
    if (r.peer_page_p50) out.sample(Labels(b).add("q", "0.5"), seconds(*r.peer_page_p50));
    if (r.peer_page_p99) out.sample(Labels(b).add("q", "0.99"), seconds(*r.peer_page_p99));
  });
  out.family("shoal_origin_bucket_peer_error_rate",
             "Evidence-weighted error rate by bucket from peers' gossiped figures alone", "gauge");
  each([&out](const origin::BucketReport& r, const Labels& b) {
    if (r.peer_evidence > 0) out.sample(b, r.peer_error_rate);
  });
  out.family("shoal_origin_bucket_breaker_state",
             "Circuit breaker by bucket: 0 closed, 1 half-open, 2 open", "gauge");
  each([&out](const origin::BucketReport& r, const Labels& b) {
    out.sample(b, static_cast<double>(r.breaker));
  });
  out.family("shoal_origin_hedges_total",
             "Hedged origin requests by bucket of the slow attempt: sent, won, refused (budget)",
             "counter");
  each([&out](const origin::BucketReport& r, const Labels& b) {
    out.sample(Labels(b).add("result", "sent"), static_cast<double>(r.hedges_sent));
    out.sample(Labels(b).add("result", "won"), static_cast<double>(r.hedges_won));
    out.sample(Labels(b).add("result", "refused"), static_cast<double>(r.hedges_refused));
  });
}

// The disk tier's /metrics series (none when memory-only).
void write_disk_metrics(PrometheusWriter& out, const PageFetcher& fetcher) {
  const store::DiskTier* disk = fetcher.disk();
  if (disk == nullptr) return;
  const store::DiskStats s = disk->stats();
  const store::AdmissionStats a = fetcher.admission_stats();
  auto d = [](std::uint64_t v) { return static_cast<double>(v); };
  out.gauge("shoal_disk_capacity_bytes", "Disk tier size (slots times slot size)",
            d(s.capacity_bytes));
  out.gauge("shoal_disk_used_bytes", "Disk tier bytes in slots holding pages", d(s.used_bytes));
  out.gauge("shoal_disk_slots", "Disk tier slots", d(s.slots));
  out.gauge("shoal_disk_slots_used", "Disk tier slots holding pages", d(s.slots_used));
  out.gauge("shoal_disk_slots_bad", "Disk tier slots marked bad after EIO", d(s.slots_bad));
  out.counter("shoal_disk_hits_total", "Pages read from the disk tier and verified", d(s.hits));
  out.counter("shoal_disk_writes_total", "Pages written to the disk tier", d(s.writes));
  out.counter("shoal_disk_written_bytes_total",
              "Bytes written to the disk tier's device (headers, payloads, invalidations)",
              d(s.bytes_written));
  out.counter("shoal_disk_writes_rejected_total",
              "Disk writes refused (already stored, queue full, no free slot)",
              d(s.writes_rejected));
  out.counter("shoal_disk_not_admitted_total",
              "Pages evicted from memory that the admission rule kept off disk", d(a.rejected));
  out.counter("shoal_disk_evictions_total", "Disk pages displaced to make room", d(s.evictions));
  out.counter("shoal_disk_part_promotions_total",
              "Pages read whole into memory because their parts were read often",
              d(fetcher.part_promotions()));
  out.counter("shoal_disk_read_bytes_total",
              "Bytes read from the disk tier's device by page reads (headers, payload blocks)",
              d(s.bytes_read));
  out.counter("shoal_disk_checksum_failures_total",
              "Disk reads that found a bad header or payload block (not served, refetched)",
              d(s.checksum_failures));
  out.counter("shoal_disk_header_cache_hits_total",
              "Disk reads that took their slot header from memory (payload blocks only read)",
              d(s.header_cache_hits));
  out.gauge("shoal_disk_headers_cached", "Verified slot headers kept in memory",
            d(s.headers_cached));
  out.gauge("shoal_disk_header_cache_bytes", "RAM the slot headers kept in memory take",
            d(s.header_cache_bytes));
  out.gauge("shoal_disk_blocks_bad", "Payload blocks on disk marked bad after a checksum failure",
            d(s.blocks_bad));
  out.counter("shoal_disk_io_errors_total", "Failed disk tier reads and writes", d(s.io_errors));
  out.gauge("shoal_disk_recovery_seconds", "Time the last start spent scanning slot headers",
            s.recovery_seconds);
  out.gauge("shoal_disk_pages_recovered", "Pages found on disk at the last start",
            d(s.pages_recovered));
  out.gauge("shoal_disk_old_format_slots",
            "Slots of another disk format version dropped at the last start",
            d(s.old_format_slots));
}

// The S3 port's part of /stats: whether it is on, and its requests by operation and status
// ({"GetObject": {"200": 12, "206": 3}}).
nlohmann::json s3_api_stats(const ReportSources& in) {
  nlohmann::json by_op = nlohmann::json::object();
  for (const auto& [labels, n] : in.metrics.s3_requests.snapshot()) by_op[labels[0]][labels[1]] = n;
  return {{"enabled", in.cfg.s3_api_enabled()},
          {"requests_total", in.metrics.s3_requests.total()},
          {"requests", by_op}};
}

}  // namespace

std::string stats_report(const ReportSources& in) {
  auto mem = in.memory.stats();
  origin::ClientStats org = in.origin ? in.origin->stats() : origin::ClientStats{};
  const NodeMetrics& m = in.metrics;
  auto pages = [&](const char* o) { return m.pages.value({o}); };
  std::uint64_t hits = pages("hit_memory");
  std::uint64_t disk_hits = pages("hit_disk");
  std::uint64_t copy_hits = pages("hit_copy");
  const std::uint64_t fills = m.origin_page_fills.load();
  std::uint64_t misses = pages("miss");
  std::uint64_t coalesced = pages("coalesced");
  std::uint64_t lookups = hits + disk_hits + copy_hits + misses + coalesced;
  const auto pool = base::BufferPool::instance().stats();
  nlohmann::json j = {
      {"node_id", in.cfg.node_id},
      {"version", SHOAL_VERSION},
      {"uptime_s", std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::steady_clock::now() - m.started)
                       .count()},
      {"draining", in.draining},
      {"egress_throughput_10s_bps", m.egress.bits_per_second()},
      {"ingress_throughput_10s_bps", m.ingress.bits_per_second()},
      {"page_size_bytes", in.cfg.page_size},
      {"memory",
       {{"capacity_bytes", mem.capacity_bytes},
        {"used_bytes", mem.used_bytes},
        {"reserved_bytes", mem.reserved_bytes},
        {"pages", mem.pages},
        {"page_bytes", mem.page_bytes},
        {"evictions", mem.evictions},
        {"rejected", mem.rejected},
        {"invalidations", mem.invalidations},
        {"slice_buffers_idle_bytes", pool.idle_bytes},
        {"slice_buffers_reused", pool.reused},
        {"slice_buffers_allocated", pool.allocated},
        {"stale_refused", mem.stale_refused}}},
      {"pages",
       {{"hit_memory", hits},
        {"hit_disk", disk_hits},
        {"hit_copy", copy_hits},
        {"miss", misses},
        {"coalesced", coalesced},
        {"error", pages("error")},
        {"hit_ratio",
         lookups ? static_cast<double>(hits + disk_hits + copy_hits) / static_cast<double>(lookups)
                 : 0.0}}},
      {"requests",
       {{"total", m.requests.total()},
        {"in_flight", m.requests_in_flight.load()},
        {"connections", m.connections.load()},
        {"connections_refused", m.connections_refused.load()},
        {"shed", in.fetcher ? in.fetcher->shed() : 0}}},
      {"s3_api", s3_api_stats(in)},
      {"origin",
       {{"requests", org.requests},
        {"bytes", org.bytes},
        {"errors", org.errors},
        {"retries", org.retries},
        {"in_flight", org.in_flight},
        {"fetches_in_flight", m.origin_in_flight.load()},
        {"pages_filled", fills},
        {"gets_per_page",
         fills ? static_cast<double>(m.origin_page_gets.load()) / static_cast<double>(fills) : 0.0},
        {"bytes_per_page",
         fills ? static_cast<double>(org.bytes) / static_cast<double>(fills) : 0.0}}},
  };
  if (in.fetcher) {
    j["disk"] = disk_json(*in.fetcher);
    j["hot_copies"] = hot_copies_json(*in.fetcher);
  }
  if (in.page_fetch) {
    j["origin"]["buckets"] = buckets_json(in.page_fetch->report());
    j["origin"]["hedges"] = {{"sent", in.page_fetch->hedges_sent()},
                             {"refused", in.page_fetch->hedges_refused()},
                             {"quantile", in.cfg.hedge_quantile},
                             {"budget", in.cfg.hedge_budget}};
  }
  if (in.cluster) {
    nlohmann::json c = in.cluster->stats_json();
    j["members"] = std::move(c["members"]);
    j["epoch"] = c["epoch"];
    c.erase("members");
    c.erase("epoch");
    j["cluster"] = std::move(c);
  } else {
    j["members"] = nlohmann::json::array();
    j["epoch"] = 0;
  }
  return j.dump() + "\n";
}

std::string metrics_report(const ReportSources& in) {
  std::string text;
  text.reserve(16 * 1024);
  PrometheusWriter out(&text);
  const NodeMetrics& m = in.metrics;
  m.requests.write(out);
  m.s3_requests.write(out);
  m.pages.write(out);
  m.origin_requests.write(out);
  m.origin_bytes.write(out);
  m.egress_bytes.write(out);
  m.client_errors.write(out);
  m.request_seconds.write(out);
  m.first_byte_seconds.write(out);
  m.origin_seconds.write(out);
  m.origin_pages.write(out);
  if (in.page_fetch) write_bucket_metrics(out, in.page_fetch->report());
  auto mem = in.memory.stats();
  origin::ClientStats org = in.origin ? in.origin->stats() : origin::ClientStats{};
  out.gauge("shoal_memory_capacity_bytes", "Memory tier budget",
            static_cast<double>(mem.capacity_bytes));
  out.gauge("shoal_memory_used_bytes", "Bytes held by the memory tier",
            static_cast<double>(mem.used_bytes));
  out.gauge("shoal_memory_pages", "Pages in the memory tier", static_cast<double>(mem.pages));
  out.gauge("shoal_memory_evictions", "Entries evicted from the memory tier (since start)",
            static_cast<double>(mem.evictions));
  out.gauge("shoal_connections", "Open client connections",
            static_cast<double>(m.connections.load()));
  out.counter("shoal_connections_refused_total", "Connections refused over --max-connections",
              static_cast<double>(m.connections_refused.load()));
  out.counter("shoal_pages_shed_total",
              "Page misses refused with 503 because too many fetches were in progress",
              static_cast<double>(in.fetcher ? in.fetcher->shed() : 0));
  out.gauge("shoal_inflight_bytes", "Page buffers of origin fetches in progress",
            static_cast<double>(in.fetcher ? in.fetcher->inflight_bytes() : 0));
  out.gauge("shoal_requests_in_flight", "Client requests being served",
            static_cast<double>(m.requests_in_flight.load()));
  out.gauge("shoal_origin_in_flight", "Origin operations not yet completed",
            static_cast<double>(org.in_flight));
  out.gauge("shoal_origin_retries", "Origin attempts retried (since start)",
            static_cast<double>(org.retries));
  out.counter("shoal_origin_page_fills_total", "Pages filled from the origin (complete or failed)",
              static_cast<double>(m.origin_page_fills.load()));
  out.counter("shoal_origin_page_gets_total",
              "Origin GET requests of page fills (parts, hedges, resumes, retries)",
              static_cast<double>(m.origin_page_gets.load()));
  out.gauge("shoal_memory_reserved_bytes", "Memory set aside for pages being fetched",
            static_cast<double>(in.fetcher ? in.fetcher->memory().stats().reserved_bytes : 0));
  const auto pool = base::BufferPool::instance().stats();
  out.gauge("shoal_slice_buffers_idle_bytes", "Slice buffers kept for reuse (outside --memory)",
            static_cast<double>(pool.idle_bytes));
  out.counter("shoal_slice_buffers_reused_total", "Slice buffers taken from the reuse pool",
              static_cast<double>(pool.reused));
  out.counter("shoal_slice_buffers_allocated_total",
              "Slice buffers allocated because none was idle", static_cast<double>(pool.allocated));
  if (in.cluster) in.cluster->write_metrics(out);
  if (in.fetcher) {
    write_disk_metrics(out, *in.fetcher);
    write_hot_copy_metrics(out, *in.fetcher);
  }
  out.gauge("shoal_egress_throughput_10s_bps", "Bits per second sent, last 10 s",
            m.egress.bits_per_second());
  out.gauge("shoal_ingress_throughput_10s_bps",
            "Bits per second received from the origin, last 10 s", m.ingress.bits_per_second());
  return text;
}

}  // namespace shoal::node
