#include "node/server.h"

#include <systemd/sd-daemon.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "node/http_session.h"
#include "node/log.h"
#include "node/tls.h"

namespace shoal::node {
namespace net = boost::asio;
using tcp = net::ip::tcp;

Server::Server(NodeConfig cfg) : cfg_(std::move(cfg)), memory_(cfg_.memory_bytes) {
  origin_ = std::make_unique<origin::S3Client>(origin_loop_, cfg_.s3);
  FetchLimits limits;
  limits.max_fetches = static_cast<std::size_t>(cfg_.max_origin_fetches);
  limits.max_inflight_bytes = cfg_.max_inflight_bytes;
  fetcher_ = std::make_unique<PageFetcher>(memory_, *origin_, cfg_.page_size, metrics_, limits);
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
    acceptor_.emplace(ioc);
    acceptor_->assign(tcp::v6(), SD_LISTEN_FDS_START, ec);
    if (ec) acceptor_->assign(tcp::v4(), SD_LISTEN_FDS_START, ec);
    if (ec) {
      SHOAL_LOG(kError, "cannot adopt socket-activated fd " << SD_LISTEN_FDS_START << ": "
                                                            << ec.message());
      return false;
    }
    SHOAL_LOG(kInfo, "serving on socket-activated fd " << SD_LISTEN_FDS_START);
    return true;
  }
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(cfg_.listen_host, std::to_string(cfg_.listen_port),
                                  tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    SHOAL_LOG(kError, "--listen: cannot resolve " << cfg_.listen_host << ": " << ec.message());
    return false;
  }
  tcp::endpoint ep = results.begin()->endpoint();
  acceptor_.emplace(ioc);
  acceptor_->open(ep.protocol(), ec);
  if (!ec) acceptor_->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(ep, ec);
  if (!ec) acceptor_->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    SHOAL_LOG(kError, "--listen: cannot listen on " << cfg_.listen_host << ":" << cfg_.listen_port
                                                    << ": " << ec.message());
    return false;
  }
  SHOAL_LOG(kInfo, "listening on " << ep << (tls_ ? " (https)" : " (http)"));
  return true;
}

void Server::do_accept() {
  net::io_context& target = *workers_[next_worker_];
  next_worker_ = (next_worker_ + 1) % workers_.size();
  acceptor_->async_accept(target, [this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || draining_) return;
    if (!ec && metrics_.connections.load() >= cfg_.max_connections) {
      refuse(std::move(socket));
    } else if (!ec) {
      if (tls_) {
        start_tls_session(std::move(socket), *tls_, *this);
      } else {
        start_plain_session(std::move(socket), *this);
      }
    } else {
      SHOAL_LOG(kWarn, "accept: " << ec.message());
    }
    do_accept();
  });
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
  set_log_level(cfg_.log_level);
  if (cfg_.tls_self || !cfg_.tls_cert.empty()) {
    if (auto e = make_tls_context(cfg_.tls_self, cfg_.tls_cert, cfg_.tls_key, cfg_.listen_host,
                                  &tls_)) {
      SHOAL_LOG(kError, *e);
      return 1;
    }
  }
  if (!open_listener()) return 1;

  auto origin_guard = net::make_work_guard(origin_loop_);
  std::thread origin_thread([this] { origin_loop_.run(); });
  {
    net::signal_set signals(*workers_[0], SIGTERM, SIGINT);
    signals.async_wait([this](boost::system::error_code ec, int sig) {
      if (ec) return;
      SHOAL_LOG(kInfo, "signal " << sig << ": draining");
      start_drain();
    });
    do_accept();
    SHOAL_LOG(kInfo, "shoald " << SHOAL_VERSION << " node " << cfg_.node_id << ", memory "
                               << cfg_.memory_bytes << " bytes, page size " << cfg_.page_size
                               << ", " << workers_.size() << " threads, origin "
                               << cfg_.s3.endpoint);
    sd_notifyf(0, "READY=1\nSTATUS=serving on %s:%u", cfg_.listen_host.c_str(),
               static_cast<unsigned>(cfg_.listen_port));

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
  shutdown(origin_guard, origin_thread);
  SHOAL_LOG(kInfo, "stopped");
  return 0;
}

// Tears down in dependency order: the origin loop (its completions post to workers), the
// origin client and fetcher, then the worker loops (destroying sessions still queued there).
void Server::shutdown(net::executor_work_guard<net::io_context::executor_type>& origin_guard,
                      std::thread& origin_thread) {
  origin_guard.reset();
  origin_loop_.stop();
  origin_thread.join();
  origin_.reset();
  acceptor_.reset();
  drain_timer_.reset();
  workers_.clear();
  fetcher_.reset();
}

void Server::start_drain() {
  if (draining_.exchange(true)) return;
  sd_notify(0, "STOPPING=1\nSTATUS=draining");
  boost::system::error_code ec;
  acceptor_->close(ec);
  drain_deadline_ = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(cfg_.drain_timeout_ms);
  {
    std::lock_guard lock(sessions_mu_);
    for (auto& [id, close] : sessions_) close();
  }
  check_drained();
}

void Server::check_drained() {
  bool empty;
  {
    std::lock_guard lock(sessions_mu_);
    empty = sessions_.empty();
  }
  if (empty || std::chrono::steady_clock::now() >= drain_deadline_) {
    if (!empty) SHOAL_LOG(kWarn, "drain timeout: closing remaining connections");
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
  if (draining_) sessions_[id]();
  return id;
}

void Server::unregister_session(std::uint64_t id) {
  std::lock_guard lock(sessions_mu_);
  sessions_.erase(id);
}

std::string Server::stats_json() {
  auto mem = memory_.stats();
  origin::ClientStats org = origin_ ? origin_->stats() : origin::ClientStats{};
  const auto& m = metrics_;
  auto pages = [&](const char* o) { return m.pages.value({o}); };
  std::uint64_t hits = pages("hit_memory");
  std::uint64_t misses = pages("miss");
  std::uint64_t coalesced = pages("coalesced");
  std::uint64_t lookups = hits + misses + coalesced;
  nlohmann::json j = {
      {"node_id", cfg_.node_id},
      {"version", SHOAL_VERSION},
      {"uptime_s", std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::steady_clock::now() - m.started)
                       .count()},
      {"draining", draining_.load()},
      {"egress_throughput_10s_bps", m.egress.bits_per_second()},
      {"ingress_throughput_10s_bps", m.ingress.bits_per_second()},
      {"page_size_bytes", cfg_.page_size},
      {"memory",
       {{"capacity_bytes", mem.capacity_bytes},
        {"used_bytes", mem.used_bytes},
        {"pages", mem.pages},
        {"page_bytes", mem.page_bytes},
        {"evictions", mem.evictions},
        {"rejected", mem.rejected},
        {"invalidations", mem.invalidations}}},
      {"pages",
       {{"hit_memory", hits},
        {"miss", misses},
        {"coalesced", coalesced},
        {"error", pages("error")},
        {"hit_ratio", lookups ? static_cast<double>(hits) / static_cast<double>(lookups) : 0.0}}},
      {"requests",
       {{"total", m.requests.total()},
        {"in_flight", m.requests_in_flight.load()},
        {"connections", m.connections.load()},
        {"connections_refused", m.connections_refused.load()},
        {"shed", fetcher_ ? fetcher_->shed() : 0}}},
      {"origin",
       {{"requests", org.requests},
        {"bytes", org.bytes},
        {"errors", org.errors},
        {"retries", org.retries},
        {"in_flight", org.in_flight},
        {"fetches_in_flight", m.origin_in_flight.load()}}},
  };
  return j.dump() + "\n";
}

std::string Server::metrics_text() {
  std::string out;
  out.reserve(16 * 1024);
  const auto& m = metrics_;
  m.requests.write(&out);
  m.pages.write(&out);
  m.origin_requests.write(&out);
  m.origin_bytes.write(&out);
  m.egress_bytes.write(&out);
  m.client_errors.write(&out);
  m.request_seconds.write(&out);
  m.first_byte_seconds.write(&out);
  m.origin_seconds.write(&out);
  auto mem = memory_.stats();
  origin::ClientStats org = origin_ ? origin_->stats() : origin::ClientStats{};
  write_gauge(&out, "shoal_memory_capacity_bytes", "Memory tier budget",
              static_cast<double>(mem.capacity_bytes));
  write_gauge(&out, "shoal_memory_used_bytes", "Bytes held by the memory tier",
              static_cast<double>(mem.used_bytes));
  write_gauge(&out, "shoal_memory_pages", "Pages in the memory tier",
              static_cast<double>(mem.pages));
  write_gauge(&out, "shoal_memory_evictions", "Entries evicted from the memory tier (since start)",
              static_cast<double>(mem.evictions));
  write_gauge(&out, "shoal_connections", "Open client connections",
              static_cast<double>(m.connections.load()));
  write_counter(&out, "shoal_connections_refused_total",
                "Connections refused over --max-connections",
                static_cast<double>(m.connections_refused.load()));
  write_counter(&out, "shoal_pages_shed_total",
                "Page misses refused with 503 because too many fetches were in progress",
                static_cast<double>(fetcher_ ? fetcher_->shed() : 0));
  write_gauge(&out, "shoal_inflight_bytes", "Page buffers of origin fetches in progress",
              static_cast<double>(fetcher_ ? fetcher_->inflight_bytes() : 0));
  write_gauge(&out, "shoal_requests_in_flight", "Client requests being served",
              static_cast<double>(m.requests_in_flight.load()));
  write_gauge(&out, "shoal_origin_in_flight", "Origin operations not yet completed",
              static_cast<double>(org.in_flight));
  write_gauge(&out, "shoal_origin_retries", "Origin attempts retried (since start)",
              static_cast<double>(org.retries));
  write_gauge(&out, "shoal_egress_throughput_10s_bps", "Bits per second sent, last 10 s",
              m.egress.bits_per_second());
  write_gauge(&out, "shoal_ingress_throughput_10s_bps",
              "Bits per second received from the origin, last 10 s",
              m.ingress.bits_per_second());
  return out;
}

}  // namespace shoal::node
