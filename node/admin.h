// The admin API: /admin/... on the client port, for operators and shoalctl (cluster/). The
// routes, their JSON bodies and status codes are documented in docs/http-api.md ("Admin API").
//
// Authentication (node/admin_auth.h): every /admin/ request needs "Authorization: Bearer
// <token>" with the token of --admin-token-file; without that flag the API answers 403 to
// everything, and a missing, malformed or wrong token gets 401 with a WWW-Authenticate
// challenge. /stats and /metrics stay open (they are not under /admin/).
//
// Files: admin.cc (authentication, routing), admin_members.cc (members, ownership, reading
// other members' /stats), admin_lifecycle.cc (weight, drain, leave), admin_cache.cc (locate,
// purge, warm); admin_call.h holds what they share.
//
// Routes (JSON in and out; errors are {"error": "one line"}; a query parameter a route does not
// take is a 400 naming it):
//   GET  /admin/members                    this node's membership view
//   GET  /admin/locate?kind=&object=[&range=]   owner and ranking of each page
//   GET  /admin/ownership[?simulate_add=ID[:W]][&simulate_remove=ID]
//                                          shares, and what a change would move
//   POST /admin/weight   {"weight": W}     this node's ring weight, gossiped
//   POST /admin/drain    [{"timeout_ms": N}]   weight 0, wait until every live member shows it,
//                                          then leave and shut down (as SIGTERM does)
//   POST /admin/leave                      leave the cluster and shut down (as SIGTERM does)
//   POST /admin/purge    {"kind", "object"} | {"kind"}   drop this node's cached pages
//   POST /admin/warm     {"kind", "object", "range"?}    read pages through the normal read
//                                          path, so they are cached on their owners
//
// Thread rules: handle() may be called from any thread; `done` is posted to the executor given
// (never invoked inline), exactly once. Work that blocks (reading other members' /stats over
// HTTP, for drain and ownership) runs on the AdminApi's own two threads; the destructor stops
// it and waits (at most about kMemberStatsTimeout).
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "node/admin_auth.h"
#include "node/config.h"
#include "node/page_fetcher.h"

namespace shoal::node {

class Cluster;

// Request bodies larger than this are refused (400).
inline constexpr std::size_t kAdminBodyLimit = 64 * 1024;  // bytes
// At most this many pages per /admin/locate or /admin/warm call (larger ranges: 400).
inline constexpr std::uint64_t kAdminMaxPages = 4096;
// Pages of one /admin/warm call fetched at the same time.
inline constexpr std::size_t kWarmConcurrency = 4;
// Hashes sampled by /admin/ownership to measure which share of the key space moves.
inline constexpr std::size_t kOwnershipSamples = 1 << 18;
// Bound on one GET of another member's /stats (resolve, connect, answer).
inline constexpr std::chrono::milliseconds kMemberStatsTimeout{2000};
// Default bound on /admin/drain's wait for the others to see weight 0.
inline constexpr std::chrono::milliseconds kDefaultDrainTimeout{30000};

// What the admin API needs from the server; implemented by Server.
class AdminHost {
 public:
  virtual ~AdminHost() = default;
  virtual const NodeConfig& config() const = 0;
  virtual PageFetcher& fetcher() = 0;
  // The cluster, or nullptr without --peer-listen. Stays valid while the AdminApi exists.
  virtual Cluster* cluster() = 0;
  // Runs `fn` on the peer loop (Cluster::set_weight must run there). Any thread.
  virtual void post_to_peer_loop(std::function<void()> fn) = 0;
  // The /stats document. Any thread.
  virtual std::string stats_json() = 0;
  // Starts the graceful shutdown SIGTERM starts: leave the cluster, drain, exit 0. Any thread.
  virtual void begin_shutdown() = 0;
};

struct AdminRequest {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string target;         // origin-form, with the query
  std::string authorization;  // the Authorization field value ("" when absent)
  std::string body;           // at most kAdminBodyLimit bytes
};

struct AdminResponse {
  int status = 200;
  std::string body;  // JSON, ending in a newline
  std::vector<std::pair<std::string, std::string>>
      headers;  // extra fields (WWW-Authenticate, Allow)
};

class AdminApi {
 public:
  using Handler = std::function<void(AdminResponse)>;

  // `token` nullopt disables the API (403). `host` must outlive this object.
  AdminApi(AdminHost& host, std::optional<std::string> token);
  // Stops background work and waits for it.
  ~AdminApi();
  AdminApi(const AdminApi&) = delete;
  AdminApi& operator=(const AdminApi&) = delete;

  // True for targets this API serves: the path is "/admin" or starts with "/admin/".
  static bool is_admin_target(std::string_view target);
  // The answer every admin error has: `status` with the body {"error": message}. For errors the
  // connection finds before handle() sees the request (a body over kAdminBodyLimit).
  static AdminResponse error_answer(int status, const std::string& message);

  // Authenticates and serves one request; see the route list above.
  void handle(AdminRequest req, boost::asio::any_io_executor ex, Handler done);

  // True from a /admin/drain's start (the weight-0 phase) on, until the drain is not confirmed
  // in time (then false again: the node stays). Any thread.
  bool draining() const { return draining_.load(); }

 private:
  struct Call;  // node/admin_call.h
  struct WarmJob;
  // One member's /stats document, or why there is none.
  struct MemberStats {
    std::string id;
    nlohmann::json doc;  // a JSON object when error is ""
    std::string error;   // "URL: reason" when the GET failed or did not give a JSON object
  };

  // admin.cc
  void route(std::shared_ptr<Call> c);
  // Options for reading `kind`'s pages: the buckets the node's bucket policy gives the kind, the
  // node's origin defaults, never shed. Returns the policy's refusal (status and reason) instead
  // when it refuses the kind.
  std::optional<AdminResponse> fetch_options(const std::string& kind, FetchOptions* out) const;
  // Runs fn() on pool_. An exception escaping it (a bug: handlers check what they read) is
  // logged and answered 500 on `c` (unless fn replied already) instead of ending the process.
  template <class Fn>
  void post_guarded(std::shared_ptr<Call> c, Fn fn);  // defined in node/admin_call.h

  // admin_members.cc
  void members(std::shared_ptr<Call> c);
  void ownership(std::shared_ptr<Call> c);
  // Every member's /stats (pool thread): this node's own directly, the other live members' over
  // HTTP (fetch_member_stats()).
  std::vector<MemberStats> all_member_stats();
  // GET /stats of each (id, client address) pair, 16 at a time, each within
  // kMemberStatsTimeout (pool thread); stops early once the API is stopping.
  std::vector<MemberStats> fetch_member_stats(
      const std::vector<std::pair<std::string, std::string>>& members);

  // admin_lifecycle.cc
  void weight(std::shared_ptr<Call> c);
  void drain(std::shared_ptr<Call> c);
  void leave(std::shared_ptr<Call> c);
  // Waits (pool thread) until every other live member's /stats shows this node at weight 0.
  AdminResponse wait_for_weight_zero(std::chrono::milliseconds timeout);

  // admin_cache.cc
  void locate(std::shared_ptr<Call> c);
  void locate_pages(std::shared_ptr<Call> c, const std::string& kind, const std::string& object,
                    std::uint64_t first, std::uint64_t last, std::uint64_t size);
  void purge(std::shared_ptr<Call> c);
  void warm(std::shared_ptr<Call> c);
  void warm_first_page(std::shared_ptr<WarmJob> job);
  void warm_next(std::shared_ptr<WarmJob> job);
  void warm_done(std::shared_ptr<WarmJob> job);

  AdminHost& host_;
  const std::optional<std::string> token_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> draining_{false};
  boost::asio::thread_pool pool_{2};
};

}  // namespace shoal::node
