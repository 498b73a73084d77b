// The shoald process: event-loop threads, the client listener, the origin loop, signal handling
// and graceful drain.
//
// Threads: `threads` workers, each running its own io_context; accepted connections are spread
// over them round-robin and stay on one thread for life (no strands needed). One more thread
// runs the origin loop (libcurl multi, origin/s3_client.h). Shared state (memory tier,
// coalescing map, metrics) is thread-safe.
//
// Lifecycle: run() binds the client port (or adopts a socket-activated one) and the S3 port
// (--s3-api-listen, same TLS; node/s3_api_response.h), notifies systemd
// (READY=1, then STATUS= lines and WATCHDOG=1: node/service_notifier.h), serves until
// SIGTERM/SIGINT (or an admin leave), then drains (STOPPING=1): leaves the cluster, closes idle
// keep-alive connections, keeps accepting and serving (each connection closed after one
// response; /stats says "draining": true) for at least drain_notice_ms and until no request is
// in flight (at most drain_timeout_ms more), then closes the client and S3 ports and returns 0.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "node/admin.h"
#include "node/bucket_gossip.h"
#include "node/cluster.h"
#include "node/config.h"
#include "node/memory_tier.h"
#include "node/node_metrics.h"
#include "node/origin_listing.h"
#include "node/page_fetcher.h"
#include "node/report.h"
#include "node/s3api/credentials.h"
#include "node/service_notifier.h"
#include "origin/s3_client.h"
#include "origin/s3_write.h"

namespace shoal::node {

// What a session needs from the server; implemented by Server.
class SessionHost {
 public:
  // How long a write waits for the other members' acknowledgements of its invalidation.
  static constexpr std::chrono::milliseconds kInvalidateTimeout{5000};
  virtual ~SessionHost() = default;
  virtual const NodeConfig& config() const = 0;
  virtual PageFetcher& fetcher() = 0;
  virtual NodeMetrics& metrics() = 0;
  virtual bool draining() const = 0;
  virtual std::string stats_json() = 0;
  virtual std::string metrics_text() = 0;
  // The /admin/ API (node/admin.h).
  virtual AdminApi& admin() = 0;
  // Writes through the S3 port to the origin (origin/s3_write.h).
  virtual origin::OriginWriter& origin_writer() = 0;
  // The S3 port's credentials (--s3-api-credentials-file), or nullptr without that file.
  virtual const s3api::CredentialStore* s3_credentials() const = 0;
  // The S3 port's listings at the origin (node/origin_listing.h).
  virtual OriginLister& lister() = 0;
  // Drops `kind`/`object` here (PageFetcher::purge, as /admin/purge) and then on every other
  // live member (Cluster::invalidate_members, at most kInvalidateTimeout); `done` is posted to
  // `ex` with the members' answers (none without a cluster). Any thread.
  virtual void invalidate_everywhere(const std::string& kind, const std::string& object,
                                     boost::asio::any_io_executor ex,
                                     std::function<void(InvalidateReport)> done) = 0;
  // Sessions register a closer so drain can close idle connections; the closer is invoked on
  // the session's own executor.
  virtual std::uint64_t register_session(std::function<void()> close_if_idle) = 0;
  virtual void unregister_session(std::uint64_t id) = 0;
};

class Server : public SessionHost, public AdminHost {
 public:
  explicit Server(NodeConfig cfg);
  ~Server() override;

  // Serves until SIGTERM/SIGINT; returns the process exit code: 0 after a drain, 2 when a file
  // the configuration names cannot be used (admin token, TLS, cluster key; checked before any
  // port opens), 1 for other start-up failures (disk tier, binding a port), all logged.
  int run();

  const NodeConfig& config() const override { return cfg_; }
  PageFetcher& fetcher() override { return *fetcher_; }
  NodeMetrics& metrics() override { return metrics_; }
  bool draining() const override { return draining_.load(); }
  std::string stats_json() override;
  std::string metrics_text() override;
  AdminApi& admin() override { return *admin_; }
  origin::OriginWriter& origin_writer() override { return *writer_; }
  const s3api::CredentialStore* s3_credentials() const override {
    return s3_credentials_ ? &*s3_credentials_ : nullptr;
  }
  OriginLister& lister() override { return *lister_; }
  Cluster* cluster() override { return cluster_.get(); }
  void invalidate_everywhere(const std::string& kind, const std::string& object,
                             boost::asio::any_io_executor ex,
                             std::function<void(InvalidateReport)> done) override;
  void post_to_peer_loop(std::function<void()> fn) override;
  void begin_shutdown() override;
  std::uint64_t register_session(std::function<void()> close_if_idle) override;
  void unregister_session(std::uint64_t id) override;

 private:
  bool open_listener();
  bool open_s3_listener();
  bool load_s3_credentials();
  bool start_admin();
  std::optional<peer::ClusterKey> load_cluster_key() const;
  bool start_cluster(const peer::ClusterKey& key);
  void start_notifier();
  std::string status_line() const;
  // The parts /stats and /metrics read (node/report.h).
  ReportSources report_sources() const;
  void publish_stats();
  // Accepts connections on `acceptor` (the client port, or the S3 port when `s3_port`).
  void do_accept(boost::asio::ip::tcp::acceptor& acceptor, bool s3_port);
  // Applies the client ports' socket options (--client-send-buffer) and starts an HTTP (or TLS)
  // session on `socket`; `s3_port` as for do_accept.
  void start_session(boost::asio::ip::tcp::socket socket, bool s3_port);
  void refuse(boost::asio::ip::tcp::socket socket);
  void start_drain();
  void check_drained();
  void shutdown(boost::asio::executor_work_guard<boost::asio::io_context::executor_type>& guard,
                std::thread& origin_thread);

  NodeConfig cfg_;
  NodeMetrics metrics_;
  MemoryTier memory_;
  boost::asio::io_context origin_loop_;
  std::unique_ptr<origin::S3Client> origin_;
  std::unique_ptr<origin::PageFetch> page_fetch_;  // buckets, hedging (origin/page_fetch.h)
  std::unique_ptr<OriginLister> lister_;           // the S3 port's ListObjects (over page_fetch_)
  std::unique_ptr<PageFetcher> fetcher_;
  boost::asio::io_context peer_loop_;
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<BucketGossip> bucket_gossip_;  // peer loop (publish_stats)
  std::optional<boost::asio::steady_timer> stats_timer_;
  std::vector<std::unique_ptr<boost::asio::io_context>> workers_;
  std::unique_ptr<origin::OriginWriter> writer_;  // after workers_: destroyed (joined) first
  std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
  std::optional<boost::asio::ip::tcp::acceptor> s3_acceptor_;  // --s3-api-listen
  std::optional<s3api::CredentialStore> s3_credentials_;       // --s3-api-credentials-file
  std::optional<boost::asio::ssl::context> tls_;
  std::size_t next_worker_ = 0;
  std::atomic<bool> draining_{false};
  std::atomic<bool> left_{true};  // the cluster leave finished (true without a cluster)
  std::mutex sessions_mu_;
  std::uint64_t next_session_id_ = 1;
  std::unordered_map<std::uint64_t, std::function<void()>> sessions_;
  std::chrono::steady_clock::time_point notice_until_;    // the drain ends no sooner
  std::chrono::steady_clock::time_point drain_deadline_;  // nor later (workers_[0] only)
  std::optional<boost::asio::steady_timer> drain_timer_;
  std::string listen_desc_;                    // the bound client address, "HOST:PORT"
  std::unique_ptr<ServiceNotifier> notifier_;  // systemd READY/STATUS/WATCHDOG/STOPPING
  std::unique_ptr<AdminApi> admin_;            // last: destroyed first (its threads use the rest)
};

}  // namespace shoal::node
