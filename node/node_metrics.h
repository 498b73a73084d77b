// Every metric family shoald exports, in one place so /metrics and /stats agree.
#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include "node/metrics.h"

namespace shoal::node {

struct NodeMetrics {
  CounterFamily requests{"shoal_requests_total",
                         "Client requests by kind, method and status",
                         {"kind", "method", "status"}};
  CounterFamily s3_requests{"shoal_s3_requests_total",
                            "S3 port requests by operation (GetObject, HeadObject, Other...) "
                            "and status",
                            {"operation", "status"}};
  CounterFamily pages{"shoal_pages_total",
                      "Pages served by outcome: hit_memory, miss (fetched from the origin by this "
                      "request), coalesced (joined another request's fetch), error",
                      {"outcome"}};
  CounterFamily origin_requests{"shoal_origin_requests_total",
                                "Origin operations by bucket, operation and outcome",
                                {"bucket", "op", "outcome"}};
  CounterFamily origin_bytes{
      "shoal_origin_bytes_total", "Page bytes received from the origin", {"bucket"}};
  CounterFamily origin_pages{"shoal_origin_pages_total",
                             "Pages fetched from the origin by serving bucket and how: primary "
                             "(first-listed bucket), hedged_won (a hedge delivered), fallback "
                             "(another bucket)",
                             {"bucket", "outcome"}};
  CounterFamily egress_bytes{"shoal_egress_bytes_total", "Body bytes sent to clients", {}};
  CounterFamily client_errors{"shoal_client_disconnects_total",
                              "Responses cut short by the client or a timeout",
                              {"reason"}};
  HistogramFamily request_seconds{"shoal_request_duration_seconds",
                                  "Time from request to last body byte, by method",
                                  {"method"},
                                  latency_bounds()};
  HistogramFamily first_byte_seconds{"shoal_request_first_byte_seconds",
                                     "Time from request to response header, by cache outcome "
                                     "of the first page",
                                     {"outcome"},
                                     latency_bounds()};
  HistogramFamily origin_seconds{"shoal_origin_duration_seconds",
                                 "Origin page fetch time (all attempts), by bucket",
                                 {"bucket"},
                                 latency_bounds()};
  ThroughputWindow egress;   // bytes sent to clients
  ThroughputWindow ingress;  // bytes received from the origin
  std::atomic<std::int64_t> connections{0};
  std::atomic<std::uint64_t> connections_refused{0};
  // Cluster data path.
  std::atomic<std::uint64_t> forwards_out{0};       // page requests sent to owners
  std::atomic<std::uint64_t> forwards_in{0};        // page requests served for peers
  std::atomic<std::uint64_t> forward_failovers{0};  // requests that moved to a later rank
  std::atomic<std::uint64_t> forward_uncached{0};   // pages fetched here uncached: no owner up
  // Ownership changes (PageRouter::previous_owner): pages this node asked its previous owner
  // for, got from it, and cache-only reads it answered for a new owner with a page.
  std::atomic<std::uint64_t> handoffs_asked{0};
  std::atomic<std::uint64_t> handoffs_taken{0};
  std::atomic<std::uint64_t> handoffs_served{0};
  // Cluster-wide invalidations (node/invalidation.h): members that acked one sent from here,
  // members that did not (timeout, refusal), and Invalidate frames this node served.
  std::atomic<std::uint64_t> invalidations_acked{0};
  std::atomic<std::uint64_t> invalidations_failed{0};
  std::atomic<std::uint64_t> invalidations_served{0};
  std::atomic<std::uint64_t> peer_errors{0};       // malformed or refused peer frames
  std::atomic<std::uint64_t> forwards_refused{0};  // forwarded requests the bucket policy refused
  std::atomic<std::uint64_t> peer_ingress_bytes{0};
  std::atomic<std::uint64_t> peer_egress_bytes{0};
  std::atomic<std::int64_t> requests_in_flight{0};
  std::atomic<std::int64_t> origin_in_flight{0};  // page fetches started and not finished
  // Pages filled from the origin (complete or failed) and the GET requests they took (parts,
  // hedges, resumes and retries): their ratio is "origin GETs per page".
  std::atomic<std::uint64_t> origin_page_fills{0};
  std::atomic<std::uint64_t> origin_page_gets{0};
  // Page fetches stopped because every reader left before being served.
  std::atomic<std::uint64_t> fetches_abandoned{0};
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

}  // namespace shoal::node
