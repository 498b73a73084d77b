#include "router/http_front.h"

#include <array>
#include <atomic>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cstdio>
#include <deque>
#include <map>
#include <thread>
#include <unordered_map>

#include "ring/base/host_port.h"
#include "ring/base/log.h"

namespace shoal::router {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

std::optional<std::string> FrontOptions::validate() const {
  if (!base::split_host_port(listen, /*allow_port_zero=*/true))
    return "listen: expected HOST:PORT, got '" + listen + "'";
  if (threads < 1 || threads > 64) return "threads: must be in [1, 64]";
  if (relay_buffer_bytes < 4096 || relay_buffer_bytes > (16u << 20)) {
    return "relay_buffer_bytes: must be in [4KiB, 16MiB]";
  }
  for (auto [name, v] :
       {std::pair{"connect_timeout", connect_timeout}, std::pair{"io_timeout", io_timeout},
        std::pair{"idle_timeout", idle_timeout}, std::pair{"pool_idle", pool_idle}}) {
    if (v.count() < 1) return std::string(name) + ": must be >= 1 ms";
  }
  if (max_header_bytes < 1024) return "max_header_bytes: must be >= 1KiB";
  return std::nullopt;
}

namespace {

// Idle keep-alive connections to nodes, by client address, newest last. One per worker thread.
class UpstreamPool {
 public:
  UpstreamPool(std::size_t max_per_node, std::chrono::milliseconds max_idle)
      : max_per_node_(max_per_node), max_idle_(max_idle) {}

  // The newest idle connection to `addr` younger than max_idle, or nullopt; older ones are closed.
  std::optional<beast::tcp_stream> take(const std::string& addr) {
    auto it = idle_.find(addr);
    if (it == idle_.end()) return std::nullopt;
    auto& q = it->second;
    const auto now = Clock::now();
    while (!q.empty() && now - q.front().since > max_idle_) q.pop_front();
    if (q.empty()) return std::nullopt;
    beast::tcp_stream s = std::move(q.back().stream);
    q.pop_back();
    return s;
  }

  void put(const std::string& addr, beast::tcp_stream stream) {
    auto& q = idle_[addr];
    q.push_back(Idle{std::move(stream), Clock::now()});
    while (q.size() > max_per_node_) q.pop_front();
  }

  void clear() { idle_.clear(); }

 private:
  struct Idle {
    beast::tcp_stream stream;
    Clock::time_point since;
  };
  std::size_t max_per_node_;
  std::chrono::milliseconds max_idle_;
  std::unordered_map<std::string, std::deque<Idle>> idle_;
};

bool iequals(std::string_view a, std::string_view b) {
  return beast::iequals(a, b);
}

// The field names listed in Connection fields (compared case-insensitively later), except TE:
// the router passes TE on because it relays chunked framing and trailers unchanged.
std::vector<std::string> connection_tokens(const http::fields& f) {
  std::vector<std::string> out;
  for (const auto& field : f) {
    if (field.name() != http::field::connection) continue;
    for (auto token : http::token_list(field.value())) {
      if (!iequals(token, "te")) out.emplace_back(token);
    }
  }
  return out;
}

// True for fields an intermediary must not pass on (RFC 9110 §7.6.1).
bool hop_by_hop(std::string_view name, const std::vector<std::string>& named) {
  for (std::string_view h : {"connection", "keep-alive", "proxy-connection", "upgrade"}) {
    if (iequals(name, h)) return true;
  }
  for (const auto& t : named) {
    if (iequals(name, t)) return true;
  }
  return false;
}

// Fields of `all` beyond `header` (trailers): Beast stores trailer fields among the header
// fields, next to those with the same name, so they are found by counting per name.
std::string trailer_block(const http::fields& all,
                          const std::vector<std::pair<std::string, std::string>>& header) {
  std::map<std::string, std::size_t, std::less<>> seen;
  auto lower = [](std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  for (const auto& h : header) ++seen[lower(h.first)];
  std::string out;
  for (const auto& field : all) {
    auto& left = seen[lower(field.name_string())];
    if (left > 0) {
      --left;
      continue;
    }
    out.append(field.name_string()).append(": ").append(field.value()).append("\r\n");
  }
  return out;
}

}  // namespace

struct HttpFront::Worker {
  explicit Worker(const FrontOptions& o) : pool(o.max_idle_per_node, o.pool_idle) {}

  UpstreamPool pool;
  std::atomic<int> sessions{0};
  std::uint64_t next_session = 0;
  std::unordered_map<std::uint64_t, std::weak_ptr<Session>> live;  // worker thread only
  // Last, so it is destroyed first: sessions its queue still holds unregister from `live`.
  net::io_context io{1};
};

// One client connection: read a request, relay it (or answer locally), repeat.
class HttpFront::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(HttpFront& front, Worker& worker, tcp::socket socket)
      : front_(front),
        worker_(worker),
        options_(front.options_),
        client_(std::move(socket)),
        piece_(front.options_.relay_buffer_bytes) {
    // Beast reads at most the buffer's free capacity per read (512 bytes when empty): a large
    // reserve keeps the upstream reads big (environment.md measured 0.31 -> 2.1 GB/s).
    up_buf_.reserve(front.options_.relay_buffer_bytes);
    ++worker_.sessions;
  }
  ~Session() {
    worker_.live.erase(id_);
    --worker_.sessions;
  }

  void start() {
    id_ = worker_.next_session++;
    worker_.live[id_] = weak_from_this();
    do_read();
  }

  // Drain: close the connection if it is waiting for a request with nothing received.
  void close_if_idle() {
    if (!idle_ || client_buf_.size() > 0) return;
    beast::error_code ec;
    client_.socket().shutdown(tcp::socket::shutdown_both, ec);
    client_.socket().close(ec);
  }

 private:
  // ---- client side ----
  void do_read() {
    req_parser_.emplace();
    req_parser_->header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
    req_parser_->body_limit(0);
    idle_ = true;
    client_.expires_after(options_.idle_timeout);
    http::async_read(
        client_, client_buf_, *req_parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    idle_ = false;
    if (ec == http::error::header_limit) {
      return respond(http::status::request_header_fields_too_large, "request header too large\n",
                     false);
    }
    if (ec == http::error::unexpected_body || ec == http::error::body_limit) {
      return respond(http::status::bad_request, "request bodies are not accepted\n", false);
    }
    if (ec) return close();  // end of stream, timeout, reset, malformed
    const auto& req = req_parser_->get();
    const std::string_view target = req.target();
    if (target.starts_with("/fetch/")) return start_exchange();
    if (target == "/router/stats" && req.method() == http::verb::get) {
      return respond(http::status::ok, front_.router_->stats_json().dump() + "\n", req.keep_alive(),
                     "application/json");
    }
    respond(http::status::not_found,
            "unknown route (shoal-router serves /fetch/ and /router/stats)\n", req.keep_alive());
  }

  // A locally made answer; then the next request (keep_alive) or close.
  void respond(http::status status, std::string body, bool keep_alive,
               const char* type = "text/plain") {
    auto res = std::make_shared<http::response<http::string_body>>(status, 11);
    res->set(http::field::server, "shoal-router");
    res->set(http::field::content_type, type);
    res->body() = std::move(body);
    keep_alive_ = keep_alive && !front_.draining_;
    res->keep_alive(keep_alive_);
    res->prepare_payload();
    client_.expires_after(options_.io_timeout);
    http::async_write(client_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
                        if (ec || !self->keep_alive_) return self->close();
                        self->do_read();
                      });
  }

  void close() {
    beast::error_code ec;
    client_.socket().shutdown(tcp::socket::shutdown_send, ec);
    client_.socket().close(ec);
  }

  // ---- one relayed exchange ----
  void start_exchange() {
    const auto& req = req_parser_->get();
    plan_ = front_.router_->plan(req.target(), req[http::field::range]);
    if (plan_.empty()) {
      return respond(http::status::service_unavailable, "no live node known\n", req.keep_alive());
    }
    attempt_ = 0;
    fresh_retry_ = false;
    last_error_.clear();
    try_candidate();
  }

  void try_candidate() {
    if (attempt_ >= plan_.size()) {
      return respond(http::status::bad_gateway, "every node failed; last: " + last_error_ + "\n",
                     req_parser_->get().keep_alive());
    }
    const Candidate& c = plan_[attempt_];
    upstream_.reset();
    if (!fresh_retry_) {
      if (auto s = worker_.pool.take(c.addr)) {
        upstream_.emplace(std::move(*s));
        reused_ = true;
        return send_upstream();
      }
    }
    reused_ = false;
    connect(c.addr);
  }

  void connect(const std::string& addr) {
    auto hp = base::split_host_port(addr);
    if (!hp) return upstream_failed("bad client address '" + addr + "'");
    upstream_.emplace(worker_.io);
    upstream_->expires_after(options_.connect_timeout);
    beast::error_code ec;
    auto ip = net::ip::make_address(hp->host, ec);
    if (!ec) {
      return upstream_->async_connect(
          tcp::endpoint(ip, hp->port),
          [self = shared_from_this()](beast::error_code ec) { self->on_connect(ec); });
    }
    resolver_.emplace(worker_.io);
    resolver_->async_resolve(
        hp->host, std::to_string(hp->port),
        [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type r) {
          if (ec) return self->upstream_failed("resolve: " + ec.message());
          self->upstream_->async_connect(
              r, [self](beast::error_code ec, const tcp::endpoint&) { self->on_connect(ec); });
        });
  }

  void on_connect(beast::error_code ec) {
    if (ec) return upstream_failed("connect: " + ec.message());
    upstream_->socket().set_option(tcp::no_delay(true), ec);
    send_upstream();
  }

  void send_upstream() {
    const auto& req = req_parser_->get();
    up_req_ = {};
    up_req_.method(req.method());
    up_req_.target(req.target());
    up_req_.version(req.version());
    const auto named = connection_tokens(req.base());
    for (const auto& f : req.base()) {
      if (!hop_by_hop(f.name_string(), named)) up_req_.insert(f.name_string(), f.value());
    }
    up_req_.keep_alive(true);
    front_.router_->begin(plan_[attempt_].id);
    counted_ = true;
    upstream_->expires_after(options_.io_timeout);
    http::async_write(*upstream_, up_req_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->upstream_failed("send: " + ec.message());
                        self->read_upstream_header();
                      });
  }

  void read_upstream_header() {
    up_buf_.clear();
    res_parser_.emplace();
    res_parser_->body_limit(boost::none);
    res_parser_->header_limit(64 * 1024);
    if (req_parser_->get().method() == http::verb::head) res_parser_->skip(true);
    upstream_->expires_after(options_.io_timeout);
    http::async_read_header(*upstream_, up_buf_, *res_parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return self->upstream_failed("response: " + ec.message());
                              self->relay_header();
                            });
  }

  // Before any byte went to the client: retry a reused connection fresh once, else move on.
  void upstream_failed(std::string what) {
    const Candidate& c = plan_[attempt_];
    release_count();
    upstream_.reset();
    if (reused_ && !fresh_retry_) {
      fresh_retry_ = true;
      return try_candidate();
    }
    last_error_ = c.id + " (" + c.addr + "): " + what;
    SHOAL_LOG(kWarn, "upstream " << last_error_ << "; trying the next node");
    front_.router_->failed(c.id);
    ++attempt_;
    fresh_retry_ = false;
    try_candidate();
  }

  void release_count() {
    if (counted_) front_.router_->end(plan_[attempt_].id);
    counted_ = false;
  }

  void relay_header() {
    front_.router_->served(plan_, attempt_);
    const auto& res = res_parser_->get();
    const auto& req = req_parser_->get();
    chunked_ = res_parser_->chunked();
    const bool has_body = !res_parser_->is_done() && req.method() != http::verb::head;
    // A body delimited by closing the connection must end the client connection too.
    const bool close_delimited = has_body && !chunked_ && !res_parser_->content_length();
    keep_alive_ = req.keep_alive() && !close_delimited && !front_.draining_;
    head_ =
        "HTTP/1.1 " + std::to_string(res.result_int()) + " " + std::string(res.reason()) + "\r\n";
    header_fields_.clear();
    const auto named = connection_tokens(res.base());
    for (const auto& f : res.base()) {
      header_fields_.emplace_back(f.name_string(), f.value());
      if (hop_by_hop(f.name_string(), named)) continue;
      head_.append(f.name_string()).append(": ").append(f.value()).append("\r\n");
    }
    head_ += "Via: 1.1 shoal-router\r\n";
    head_ += keep_alive_ ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
    client_.expires_after(options_.io_timeout);
    net::async_write(client_, net::buffer(head_),
                     [self = shared_from_this(), has_body](beast::error_code ec, std::size_t) {
                       if (ec) return self->abort();
                       if (!has_body) return self->finish_exchange();
                       self->read_piece();
                     });
  }

  void read_piece() {
    auto& body = res_parser_->get().body();
    body.data = piece_.data();
    body.size = piece_.size();
    upstream_->expires_after(options_.io_timeout);
    http::async_read(*upstream_, up_buf_, *res_parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec == http::error::need_buffer) ec = {};
                       if (ec) return self->abort();
                       self->write_piece();
                     });
  }

  void write_piece() {
    const std::size_t n = piece_.size() - res_parser_->get().body().size;
    auto next = [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->abort();
      if (self->res_parser_->is_done()) return self->finish_body();
      self->read_piece();
    };
    client_.expires_after(options_.io_timeout);
    if (n == 0) return next({}, 0);
    if (!chunked_) return net::async_write(client_, net::buffer(piece_.data(), n), next);
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", n);
    chunk_head_ = size;
    std::array<net::const_buffer, 3> bufs{net::buffer(chunk_head_), net::buffer(piece_.data(), n),
                                          net::buffer("\r\n", 2)};
    net::async_write(client_, bufs, next);
  }

  void finish_body() {
    if (!chunked_) return finish_exchange();
    last_chunk_ = "0\r\n" + trailer_block(res_parser_->get().base(), header_fields_) + "\r\n";
    client_.expires_after(options_.io_timeout);
    net::async_write(client_, net::buffer(last_chunk_),
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return self->abort();
                       self->finish_exchange();
                     });
  }

  void finish_exchange() {
    release_count();
    if (res_parser_->is_done() && res_parser_->keep_alive() && upstream_) {
      worker_.pool.put(plan_[attempt_].addr, std::move(*upstream_));
    }
    upstream_.reset();
    if (!keep_alive_) return close();
    do_read();
  }

  // After the header went out nothing can be retried: close both sides.
  void abort() {
    release_count();
    upstream_.reset();
    close();
  }

  HttpFront& front_;
  Worker& worker_;
  const FrontOptions& options_;
  beast::tcp_stream client_;
  beast::flat_buffer client_buf_;
  std::optional<http::request_parser<http::empty_body>> req_parser_;
  std::uint64_t id_ = 0;
  bool idle_ = false;
  bool keep_alive_ = false;

  std::vector<Candidate> plan_;
  std::size_t attempt_ = 0;
  bool reused_ = false;
  bool fresh_retry_ = false;
  bool counted_ = false;
  std::string last_error_;
  std::optional<tcp::resolver> resolver_;
  std::optional<beast::tcp_stream> upstream_;
  http::request<http::empty_body> up_req_;
  beast::flat_buffer up_buf_;
  std::optional<http::response_parser<http::buffer_body>> res_parser_;
  std::vector<char> piece_;
  bool chunked_ = false;
  std::string head_;
  std::vector<std::pair<std::string, std::string>> header_fields_;
  std::string chunk_head_;
  std::string last_chunk_;
};

HttpFront::HttpFront(RouterOptions router, FrontOptions front) : options_(std::move(front)) {
  for (int i = 0; i < options_.threads; ++i) workers_.push_back(std::make_unique<Worker>(options_));
  router_ = std::make_unique<Router>(workers_[0]->io.get_executor(), std::move(router));
}

HttpFront::~HttpFront() = default;

std::optional<std::string> HttpFront::open() {
  auto hp = base::split_host_port(options_.listen, /*allow_port_zero=*/true);
  if (!hp) return "listen: expected HOST:PORT, got '" + options_.listen + "'";
  beast::error_code ec;
  auto ip = net::ip::make_address(hp->host, ec);
  if (ec) return "listen " + options_.listen + ": not an IP address";
  tcp::endpoint ep(ip, hp->port);
  acceptor_.emplace(workers_[0]->io);
  acceptor_->open(ep.protocol(), ec);
  if (!ec) acceptor_->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(ep, ec);
  if (!ec) acceptor_->listen(net::socket_base::max_listen_connections, ec);
  if (ec) return "listen " + options_.listen + ": " + ec.message();
  return std::nullopt;
}

std::uint16_t HttpFront::port() const {
  beast::error_code ec;
  return acceptor_ ? acceptor_->local_endpoint(ec).port() : 0;
}

void HttpFront::do_accept() {
  Worker& w = *workers_[next_worker_];
  next_worker_ = (next_worker_ + 1) % workers_.size();
  acceptor_->async_accept(w.io, [this, &w](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || draining_) return;
    if (!ec) {
      socket.set_option(tcp::no_delay(true), ec);
      // The session lives on its worker's thread from the start.
      net::post(w.io, [this, &w, s = std::move(socket)]() mutable {
        std::make_shared<Session>(*this, w, std::move(s))->start();
      });
    } else {
      SHOAL_LOG(kWarn, "accept: " << ec.message());
    }
    do_accept();
  });
}

void HttpFront::run(std::chrono::milliseconds drain) {
  drain_ = drain;
  net::io_context& main = workers_[0]->io;
  net::signal_set signals(main, SIGTERM, SIGINT);
  signals.async_wait([this](beast::error_code ec, int sig) {
    if (ec) return;
    SHOAL_LOG(kInfo, "signal " << sig << ": draining");
    begin_drain();
  });
  router_->start();
  do_accept();
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
  for (auto& w : workers_) guards.push_back(net::make_work_guard(w->io));
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < workers_.size(); ++i) {
    threads.emplace_back([this, i] { workers_[i]->io.run(); });
  }
  main.run();
  for (auto& t : threads) t.join();
  // Sessions still referenced by queued handlers are destroyed with their io_context.
  for (auto& w : workers_) w->pool.clear();
}

void HttpFront::stop() {
  net::post(workers_[0]->io, [this] { begin_drain(); });
}

void HttpFront::begin_drain() {
  if (draining_) return;
  draining_ = true;
  beast::error_code ec;
  if (acceptor_) acceptor_->close(ec);
  router_->stop();
  for (auto& w : workers_) {
    net::post(w->io, [&w = *w] {
      for (auto& [id, weak] : w.live) {
        if (auto s = weak.lock()) s->close_if_idle();
      }
    });
  }
  drain_deadline_ = Clock::now() + drain_;
  check_drained();
}

void HttpFront::check_drained() {
  int sessions = 0;
  for (auto& w : workers_) sessions += w->sessions.load();
  if (sessions == 0 || Clock::now() >= drain_deadline_) {
    for (auto& w : workers_) w->io.stop();
    return;
  }
  auto timer = std::make_shared<net::steady_timer>(workers_[0]->io, std::chrono::milliseconds(50));
  timer->async_wait([this, timer](beast::error_code ec) {
    if (!ec) check_drained();
  });
}

}  // namespace shoal::router
