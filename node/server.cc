#include "node/server.h"

#include <systemd/sd-daemon.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <ctime>

#include "node/client_socket.h"
#include "node/http_session.h"
#include "node/tls.h"
#include "ring/base/buffer_pool.h"
#include "ring/base/log.h"

namespace shoal::node {
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {
// Writes through the S3 port running at once (each a thread blocked on its upload); more are
// answered SlowDown.
constexpr std::size_t kMaxOriginWrites = 32;

// How often this node's stats summary is gossiped and the members' figures are taken in.
constexpr std::chrono::seconds kStatsInterval{2};

// "HOST:PORT", or "[v6]:PORT".
std::string endpoint_text(const tcp::endpoint& ep) {
  const std::string host = ep.address().to_string();
  return (ep.address().is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(ep.port());
}

// Opens the disk tier before the client port: recovery reads every slot header. While it runs,
// systemd hears EXTEND_TIMEOUT_USEC (10 s, renewed every second) so a large disk does not hit
// TimeoutStartSec; READY=1 follows once serving. Errors are logged naming the flag.
bool open_disk_tier(PageFetcher& fetcher, const NodeConfig& cfg) {
  using Clock = std::chrono::steady_clock;
  Clock::time_point last = Clock::now() - std::chrono::seconds(1);
  auto progress = [&last](std::uint64_t scanned, std::uint64_t total) {
    if (Clock::now() - last < std::chrono::seconds(1) && scanned != total) return;
    last = Clock::now();
    sd_notifyf(0, "EXTEND_TIMEOUT_USEC=10000000\nSTATUS=disk recovery: %llu of %llu slots",
               static_cast<unsigned long long>(scanned), static_cast<unsigned long long>(total));
  };
  std::string error;
  if (!fetcher.open_disk(cfg.disk_config(), &error, progress)) {
    SHOAL_LOG(kError, with_disk_flag(error));
    return false;
  }
  const store::DiskStats s = fetcher.disk()->stats();
  SHOAL_LOG(kInfo, "disk tier " << fetcher.disk()->device_path() << ": " << s.slots << " slots, "
                                << s.capacity_bytes << " bytes, " << s.pages_recovered
                                << " pages recovered in " << s.recovery_seconds << " s");
  if (!s.direct_io) {
    SHOAL_LOG(kWarn, "disk tier: O_DIRECT refused by the file system at "
                         << cfg.disk_path
                         << "; using buffered I/O (pages also fill the page cache)");
  }
  return true;
}

// Binds and listens on HOST:PORT into *out; errors are logged naming `flag`.
bool listen_on(net::io_context& ioc, const std::string& host, std::uint16_t port, const char* flag,
               std::optional<tcp::acceptor>* out) {
  boost::system::error_code ec;
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    SHOAL_LOG(kError, flag << ": cannot resolve " << host << ": " << ec.message());
    return false;
  }
  tcp::endpoint ep = results.begin()->endpoint();
  out->emplace(ioc);
  (*out)->open(ep.protocol(), ec);
  if (!ec) (*out)->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) (*out)->bind(ep, ec);
  if (!ec) (*out)->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    SHOAL_LOG(kError, flag << ": cannot listen on " << host << ":" << port << ": " << ec.message());
    return false;
  }
  return true;
}

}  // namespace

// The memory tier gets --memory less the hot copies' share (NodeConfig::hot_copy_bytes()).
Server::Server(NodeConfig cfg)
    : cfg_(std::move(cfg)), memory_(cfg_.memory_bytes - cfg_.hot_copy_bytes()) {
  // Idle slice buffers kept for reuse (ring/base/buffer_pool.h): a small share of --memory.
  base::BufferPool::instance().set_idle_limit(
      std::min<std::uint64_t>(base::BufferPool::kDefaultIdleBytes, cfg_.memory_bytes / 8));
  origin_ = std::make_unique<origin::S3Client>(origin_loop_, cfg_.s3);
  writer_ = std::make_unique<origin::OriginWriter>(cfg_.s3, kMaxOriginWrites);
  origin::PageFetchOptions hedging;
  hedging.hedge_quantile = cfg_.hedge_quantile;
  hedging.hedge_budget = cfg_.hedge_budget;
  hedging.health.cooldown = std::chrono::milliseconds(cfg_.breaker_cooldown_ms);
  page_fetch_ = std::make_unique<origin::PageFetch>(origin_loop_, *origin_, hedging);
  lister_ = std::make_unique<OriginLister>(*page_fetch_,
                                           static_cast<std::size_t>(cfg_.max_origin_fetches));
  FetchLimits limits;
  limits.max_fetches = static_cast<std::size_t>(cfg_.max_origin_fetches);
  limits.max_inflight_bytes = cfg_.max_inflight_bytes;
  fetcher_ = std::make_unique<PageFetcher>(memory_, std::make_unique<PageFetchOrigin>(*page_fetch_),
                                           cfg_.page_size, metrics_, limits);
  int n = cfg_.threads > 0 ? cfg_.threads
                           : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < n; ++i) workers_.push_back(std::make_unique<net::io_context>(1));
}

Server::~Server() = default;

bool Server::open_listener() {
  net::io_context& ioc = *workers_[0];
  boost::system::error_code ec;
  // Socket activation (systemd.socket(5), sd_listen_fds(3)): adopt the first passed socket.
  int passed = sd_listen_fds(1);
  if (passed > 0) {
    if (passed > 1) SHOAL_LOG(kWarn, passed << " sockets passed; serving on the first only");
    if (sd_is_socket(SD_LISTEN_FDS_START, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
      SHOAL_LOG(kError, "socket-activated fd " << SD_LISTEN_FDS_START
                                               << " is not a listening stream socket");
      return false;
    }
    const bool v6 = sd_is_socket_inet(SD_LISTEN_FDS_START, AF_INET6, SOCK_STREAM, 1, 0) > 0;
    acceptor_.emplace(ioc);
    acceptor_->assign(v6 ? tcp::v6() : tcp::v4(), SD_LISTEN_FDS_START, ec);
    if (!ec) listen_desc_ = endpoint_text(acceptor_->local_endpoint(ec));
    if (ec) {
      SHOAL_LOG(kError,
                "cannot adopt socket-activated fd " << SD_LISTEN_FDS_START << ": " << ec.message());
      return false;
    }
    SHOAL_LOG(kInfo, "serving on socket-activated fd " << SD_LISTEN_FDS_START);
    return true;
  }
  if (!listen_on(ioc, cfg_.listen_host, cfg_.listen_port, "--listen", &acceptor_)) return false;
  listen_desc_ = endpoint_text(acceptor_->local_endpoint(ec));
  SHOAL_LOG(kInfo, "listening on " << listen_desc_ << (tls_ ? " (https)" : " (http)"));
  return true;
}

// The S3 port (--s3-api-listen); errors are logged naming the flag.
bool Server::open_s3_listener() {
  if (!listen_on(*workers_[0], cfg_.s3_api_host, cfg_.s3_api_port, "--s3-api-listen",
                 &s3_acceptor_)) {
    return false;
  }
  boost::system::error_code ec;
  SHOAL_LOG(kInfo, "S3 port on " << endpoint_text(s3_acceptor_->local_endpoint(ec))
                                 << (tls_ ? " (https)" : " (http)") << ", "
                                 << (s3_credentials_ ? s3_credentials_->size() : 0)
                                 << " credentials"
                                 << (cfg_.s3_api_anonymous ? ", anonymous reads allowed" : ""));
  return true;
}

// Reads --s3-api-credentials-file (an error there is logged naming the flag).
bool Server::load_s3_credentials() {
  if (cfg_.s3_api_credentials_file.empty()) return true;
  std::string error;
  s3_credentials_ = s3api::CredentialStore::load_file(cfg_.s3_api_credentials_file, &error);
  if (!s3_credentials_) SHOAL_LOG(kError, "--s3-api-credentials-file: " << error);
  return s3_credentials_.has_value();
}

// READY=1 now, then STATUS= and WATCHDOG=1 from worker 0 (node/service_notifier.h). The
// watchdog vouches for every worker, the origin loop and the peer loop.
void Server::start_notifier() {
  std::vector<net::io_context*> watched{&origin_loop_};
  for (auto& w : workers_) watched.push_back(w.get());
  if (cluster_) watched.push_back(&peer_loop_);
  notifier_ = std::make_unique<ServiceNotifier>(
      *workers_[0], std::move(watched), [this] { return status_line(); },
      ServiceNotifier::Options{});
  notifier_->start();
  notifier_->ready();
  if (notifier_->watchdog_interval().count() > 0) {
    SHOAL_LOG(kInfo, "systemd watchdog: WATCHDOG=1 every "
                         << notifier_->watchdog_interval().count() / 1000 << " ms");
  }
}

// The STATUS= line: "serving on HOST:PORT" or "draining", and with a cluster
// "; members A/N alive, epoch E".
std::string Server::status_line() const {
  std::string s = draining_ ? "draining" : "serving on " + listen_desc_;
  if (cluster_) {
    auto v = cluster_->view();
    std::size_t alive = 0;
    for (const auto& m : v->members) alive += m.state == peer::MemberState::kAlive;
    s += "; members " + std::to_string(alive) + "/" + std::to_string(v->members.size()) +
         " alive, epoch " + std::to_string(v->epoch);
  }
  return s;
}

void Server::do_accept(tcp::acceptor& acceptor, bool s3_port) {
  net::io_context& target = *workers_[next_worker_];
  next_worker_ = (next_worker_ + 1) % workers_.size();
  acceptor.async_accept(
      target, [this, &acceptor, s3_port](boost::system::error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
        if (ec) {
          SHOAL_LOG(kWarn, "accept: " << ec.message());
        } else if (metrics_.connections.load() >= cfg_.max_connections) {
          refuse(std::move(socket));
        } else {
          start_session(std::move(socket), s3_port);
        }
        do_accept(acceptor, s3_port);
      });
}

// An accepted client connection: the socket options of the client ports, then a session.
void Server::start_session(tcp::socket socket, bool s3_port) {
  apply_client_socket_options(socket, cfg_);
  if (tls_) {
    start_tls_session(std::move(socket), *tls_, *this, s3_port);
  } else {
    start_plain_session(std::move(socket), *this, s3_port);
  }
}

// Over --max-connections: a short 503 (best effort, the socket is non-blocking) and close.
void Server::refuse(tcp::socket socket) {
  metrics_.connections_refused.fetch_add(1, std::memory_order_relaxed);
  static constexpr std::string_view kBusy =
      "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n"
      "Content-Type: text/plain\r\nContent-Length: 25\r\n\r\ntoo many open connections\n";
  boost::system::error_code ec;
  socket.non_blocking(true, ec);
  socket.write_some(net::buffer(kBusy), ec);
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

int Server::run() {
  base::set_log_level(cfg_.log_level);
  if (cfg_.bucket_policy.trusts_client()) {
    SHOAL_LOG(kWarn,
              "--trust-client-buckets: C0-Bucket may name ANY bucket the node's credentials "
              "reach; any client can fill what every client reads for a kind from a bucket of "
              "its choice (use --bucket-policy-file)");
  } else {
    SHOAL_LOG(kInfo, cfg_.bucket_policy.summary());
  }
  // Files and secrets first, before any port opens: a bad one is a configuration error (exit 2,
  // as parse_command_line() gives; it checked them already, so this is a file changed since).
  if (!start_admin()) return 2;
  if (cfg_.tls_self || !cfg_.tls_cert.empty()) {
    if (auto e =
            make_tls_context(cfg_.tls_self, cfg_.tls_cert, cfg_.tls_key, cfg_.listen_host, &tls_)) {
      SHOAL_LOG(kError, *e);
      return 2;
    }
  }
  std::optional<peer::ClusterKey> key;
  if (cfg_.cluster_enabled() && !(key = load_cluster_key())) return 2;
  if (!load_s3_credentials()) return 2;
  if (cfg_.disk_enabled() && !open_disk_tier(*fetcher_, cfg_)) return 1;
  if (!open_listener()) return 1;
  if (cfg_.s3_api_enabled() && !open_s3_listener()) return 1;
  auto peer_guard = net::make_work_guard(peer_loop_);
  std::thread peer_thread;
  if (cfg_.cluster_enabled()) {
    if (!start_cluster(*key)) return 1;
    peer_thread = std::thread([this] { peer_loop_.run(); });
  }

  auto origin_guard = net::make_work_guard(origin_loop_);
  std::thread origin_thread([this] { origin_loop_.run(); });
  {
    net::signal_set signals(*workers_[0], SIGTERM, SIGINT);
    signals.async_wait([this](boost::system::error_code ec, int sig) {
      if (ec) return;
      SHOAL_LOG(kInfo, "signal " << sig << ": draining");
      start_drain();
    });
    do_accept(*acceptor_, false);
    if (s3_acceptor_) do_accept(*s3_acceptor_, true);
    SHOAL_LOG(kInfo, "shoald " << SHOAL_VERSION << " node " << cfg_.node_id << ", memory "
                               << cfg_.memory_bytes << " bytes, page size " << cfg_.page_size
                               << ", " << workers_.size() << " threads, origin "
                               << cfg_.s3.endpoint);
    start_notifier();

    // Work guards keep idle workers running; start_drain() stops them all once drained.
    std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
    for (auto& w : workers_) guards.push_back(net::make_work_guard(*w));
    std::vector<std::thread> threads;
    for (std::size_t i = 1; i < workers_.size(); ++i) {
      threads.emplace_back([this, i] { workers_[i]->run(); });
    }
    workers_[0]->run();
    for (auto& t : threads) t.join();
  }
  if (cluster_) {
    net::post(peer_loop_, [this] {
      stats_timer_.reset();
      cluster_->stop();
    });
  }
  peer_guard.reset();
  peer_loop_.stop();
  if (peer_thread.joinable()) peer_thread.join();
  shutdown(origin_guard, origin_thread);
  SHOAL_LOG(kInfo, "stopped");
  return 0;
}

// Tears down in dependency order: the origin loop (its completions post to workers), the disk
// tier (memory pages written to it, its I/O finished; its completions may still start origin
// fetches, which go nowhere once the loop stopped), the origin client and fetcher, then the
// worker loops (destroying sessions still queued there).
void Server::shutdown(net::executor_work_guard<net::io_context::executor_type>& origin_guard,
                      std::thread& origin_thread) {
  admin_.reset();
  origin_guard.reset();
  origin_loop_.stop();
  origin_thread.join();
  if (fetcher_ && fetcher_->disk()) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg_.drain_timeout_ms);
    const std::uint64_t written = fetcher_->close_disk(deadline);
    SHOAL_LOG(kInfo, "disk tier closed; " << written << " memory pages written to it");
  }
  origin_.reset();
  cluster_.reset();
  acceptor_.reset();
  s3_acceptor_.reset();
  drain_timer_.reset();
  notifier_.reset();
  workers_.clear();
  fetcher_.reset();
}

// Creates the admin API, reading --admin-token-file (an error there is logged naming the flag).
bool Server::start_admin() {
  std::optional<std::string> token;
  if (!cfg_.admin_token_file.empty()) {
    std::string error;
    token = load_admin_token(cfg_.admin_token_file, &error);
    if (!token) {
      SHOAL_LOG(kError, "--admin-token-file: " << error);
      return false;
    }
  }
  admin_ = std::make_unique<AdminApi>(*this, std::move(token));
  return true;
}

void Server::invalidate_everywhere(const std::string& kind, const std::string& object,
                                   boost::asio::any_io_executor ex,
                                   std::function<void(InvalidateReport)> done) {
  fetcher_->purge(kind, &object);
  auto reply = [ex, done = std::move(done)](InvalidateReport r) mutable {
    boost::asio::post(ex,
                      [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
  };
  if (!cluster_) return reply(InvalidateReport{});
  cluster_->invalidate_members(kind, object, kInvalidateTimeout, std::move(reply));
}

void Server::post_to_peer_loop(std::function<void()> fn) {
  net::post(peer_loop_, std::move(fn));
}

void Server::begin_shutdown() {
  net::post(*workers_[0], [this] { start_drain(); });
}

// The peer port's key from --cluster-key-file, or open mode for --insecure-peer (with a
// warning). A key file that cannot be used is logged naming the flag: nullopt.
std::optional<peer::ClusterKey> Server::load_cluster_key() const {
  if (cfg_.cluster_key_file.empty()) {
    SHOAL_LOG(kWarn,
              "--insecure-peer: the peer port accepts UNAUTHENTICATED packets and frames; "
              "anyone who reaches it can join, read pages and inject gossip");
    return peer::ClusterKey::open();
  }
  std::string error;
  auto key = peer::ClusterKey::load_file(cfg_.cluster_key_file, &error);
  if (!key) SHOAL_LOG(kError, "--cluster-key-file: " << error);
  return key;
}

// Starts the membership and forwarding on the peer loop (not yet running). Errors (binding the
// peer port) are logged naming the flag.
bool Server::start_cluster(const peer::ClusterKey& key) {
  ClusterConfig cc;
  auto& m = cc.membership;
  m.node_id = cfg_.node_id;
  m.client_addr = cfg_.client_advertise.empty()
                      ? cfg_.listen_host + ":" + std::to_string(cfg_.listen_port)
                      : cfg_.client_advertise;
  m.listen = cfg_.peer_listen;
  m.advertise = cfg_.peer_advertise;
  m.weight = cfg_.weight;
  // A restarted node starts above any incarnation of its earlier life.
  m.initial_incarnation = static_cast<std::uint64_t>(std::time(nullptr));
  m.probe_interval = std::chrono::milliseconds(cfg_.probe_interval_ms);
  m.probe_timeout = std::chrono::milliseconds(cfg_.probe_timeout_ms);
  m.gossip_interval = std::chrono::milliseconds(cfg_.gossip_interval_ms);
  m.push_pull_interval = std::chrono::milliseconds(cfg_.push_pull_interval_ms);
  cc.seeds = cfg_.seeds;
  cc.forward = cfg_.forward_deadlines();
  cc.forward_hedge_budget = cfg_.hedge_budget;
  if (auto e = m.validate()) {
    SHOAL_LOG(kError, "--peer-listen: " << *e);
    return false;
  }
  try {
    cluster_ = std::make_unique<Cluster>(peer_loop_, std::move(cc), key, *fetcher_,
                                         cfg_.fetch_rules(), metrics_, cfg_.page_size);
    cluster_->start();
  } catch (const std::exception& e) {
    SHOAL_LOG(kError,
              "--peer-listen: cannot start the peer port " << cfg_.peer_listen << ": " << e.what());
    cluster_.reset();
    return false;
  }
  fetcher_->set_router(cluster_.get());
  fetcher_->enable_hot_copies(cfg_.hot_copy_bytes());
  bucket_gossip_ =
      std::make_unique<BucketGossip>(page_fetch_->latency(), page_fetch_->health(), cfg_.node_id);
  stats_timer_.emplace(peer_loop_);
  publish_stats();
  return true;
}

// Gossips this node's load and per-bucket origin figures, and takes in the figures the other
// members gossiped (node/bucket_gossip.h). Peer loop, every kStatsInterval; the latency tracker
// and bucket health are thread-safe, so the origin loop keeps using them meanwhile.
void Server::publish_stats() {
  const auto now = std::chrono::steady_clock::now();
  peer::StatsSummary s;
  s.in_flight =
      static_cast<std::uint64_t>(std::max<std::int64_t>(0, metrics_.requests_in_flight.load()));
  s.egress_bps = metrics_.egress.bits_per_second() / 8;
  s.ingress_bps = metrics_.ingress.bits_per_second() / 8;
  s.buckets = bucket_gossip_->export_buckets(now);
  if (auto e = cluster_->set_stats(std::move(s))) {
    SHOAL_LOG(kWarn, "stats not gossiped: " << *e);
  }
  bucket_gossip_->apply(*cluster_->view(), now);
  stats_timer_->expires_after(kStatsInterval);
  stats_timer_->async_wait([this](boost::system::error_code ec) {
    if (!ec && cluster_) publish_stats();
  });
}

// The client port stays open while draining: /stats says "draining": true to load balancers'
// checks, and requests that still arrive are served (each connection closed after its
// response), so nothing fails while a balancer takes the node out (docs/operations.md, "Load
// balancers in front").
void Server::start_drain() {
  if (draining_.exchange(true)) return;
  notifier_->stopping();
  if (cluster_) {
    // Leave first so the others stop routing pages here while requests drain.
    left_ = false;
    net::post(peer_loop_, [this] { cluster_->leave([this] { left_ = true; }); });
  }
  const auto now = std::chrono::steady_clock::now();
  notice_until_ = now + std::chrono::milliseconds(cfg_.drain_notice_ms);
  drain_deadline_ = notice_until_ + std::chrono::milliseconds(cfg_.drain_timeout_ms);
  {
    std::lock_guard lock(sessions_mu_);
    for (auto& [id, close] : sessions_) close();
  }
  check_drained();
}

// Done once the notice has passed, no request is in flight and the leave reached the others,
// or at the deadline: then the client port closes (later connections are refused) and the
// workers stop.
void Server::check_drained() {
  const auto now = std::chrono::steady_clock::now();
  const bool idle = metrics_.requests_in_flight.load() == 0 && (!cluster_ || left_.load());
  if ((idle && now >= notice_until_) || now >= drain_deadline_) {
    if (!idle) SHOAL_LOG(kWarn, "drain timeout: closing remaining connections");
    boost::system::error_code ec;
    acceptor_->close(ec);
    if (s3_acceptor_) s3_acceptor_->close(ec);
    notifier_->stop();
    for (auto& w : workers_) w->stop();
    return;
  }
  drain_timer_.emplace(*workers_[0], std::chrono::milliseconds(50));
  drain_timer_->async_wait([this](boost::system::error_code ec) {
    if (!ec) check_drained();
  });
}

std::uint64_t Server::register_session(std::function<void()> close_if_idle) {
  std::lock_guard lock(sessions_mu_);
  std::uint64_t id = next_session_id_++;
  sessions_.emplace(id, std::move(close_if_idle));
  return id;
}

void Server::unregister_session(std::uint64_t id) {
  std::lock_guard lock(sessions_mu_);
  sessions_.erase(id);
}

std::string Server::stats_json() {
  return stats_report(report_sources());
}

std::string Server::metrics_text() {
  return metrics_report(report_sources());
}

ReportSources Server::report_sources() const {
  // Draining as a load balancer should see it: from a /admin/drain's weight-0 phase or SIGTERM
  // until exit.
  const bool draining = draining_.load() || (admin_ && admin_->draining());
  return ReportSources{cfg_,           metrics_,       memory_, origin_.get(), page_fetch_.get(),
                       fetcher_.get(), cluster_.get(), draining};
}

}  // namespace shoal::node
