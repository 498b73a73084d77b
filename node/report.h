// The node's reports: GET /stats (one JSON object) and GET /metrics (Prometheus text, through
// node/metrics.h's PrometheusWriter). Their fields and families are listed in docs/http-api.md.
//
// Both read a snapshot of the node's parts at the time of the call; the parts are thread-safe,
// so a report may be made from any thread while the node serves. Neither fails: a part the node
// does not have (no disk tier, no cluster) leaves its fields or families out, as documented.
#pragma once

#include <string>

#include "node/cluster.h"
#include "node/config.h"
#include "node/memory_tier.h"
#include "node/node_metrics.h"
#include "node/page_fetcher.h"
#include "origin/page_fetch.h"
#include "origin/s3_client.h"

namespace shoal::node {

// What the reports read, borrowed from the Server for one call. Null pointers: the part does not
// exist (yet or any more).
struct ReportSources {
  const NodeConfig& cfg;
  const NodeMetrics& metrics;
  const MemoryTier& memory;
  const origin::S3Client* origin;       // origin counters ("origin" in /stats)
  const origin::PageFetch* page_fetch;  // per-bucket figures and hedges
  const PageFetcher* fetcher;           // shedding, in-flight bytes, the disk tier
  const Cluster* cluster;               // members, epoch, forwarding counters
  bool draining;                        // a /admin/drain under way, SIGTERM or a leave
};

// The /stats body: one JSON object and a newline (docs/http-api.md, "GET /stats").
std::string stats_report(const ReportSources& in);

// The /metrics body: every family of the node in Prometheus text format 0.0.4
// (docs/http-api.md, "GET /metrics"), accepted by `promtool check metrics`.
std::string metrics_report(const ReportSources& in);

}  // namespace shoal::node
