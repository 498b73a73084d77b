// The owner-aware routing library: a fresh membership view (router/poller.h), the candidates
// for each /fetch (router/choose.h), and what the data path reports back (loads, failures).
// The sending itself is router/upstream.h; shoal-router (router/http_front.h) puts both behind an
// HTTP port, and a client program can use them directly to skip that hop too.
//
// Load, for bounded load: per member, the larger of (a) the in_flight figure the member last
// gossiped (node /stats, about every 2 s, so it includes other clients' requests but lags) and
// (b) the requests this router has in flight to it now (begin()/end(), exact but only ours).
// Quarantine: a member the data path could not reach (failed()) goes to the end of every
// candidate list for `quarantine`, and the poller is asked for an early poll, so a killed node
// costs one failed attempt per router rather than one per request until the cluster declares it
// dead.
//
// Thread rules: start() and stop() on the control executor; everything else from any thread
// (a mutex guards the load and quarantine tables; counters are atomics).
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "router/choose.h"
#include "router/poller.h"
#include "router/view.h"

namespace shoal::router {

struct RouterOptions {
  PollerOptions poller;
  double bounded_load = 0;                     // balance factor c: 0 = off, else > 1
  std::chrono::milliseconds quarantine{2000};  // how long a failed member goes last

  // The poller's reason, or "bounded_load: must be 0 (off) or > 1", "quarantine: must be >= 0";
  // nullopt when valid.
  std::optional<std::string> validate() const;
};

// Totals since start.
struct RouterCounters {
  std::uint64_t requests = 0;           // plan() calls
  std::uint64_t unrouted = 0;           // plan() found no alive member (no view yet, or none alive)
  std::uint64_t to_owner = 0;           // served by the owner of the first page
  std::uint64_t load_skips = 0;         // served elsewhere because the owner was over the load cap
  std::uint64_t fallbacks = 0;          // served by a later candidate after an earlier one failed
  std::uint64_t spread = 0;             // first page unknown (suffix or invalid range): round-robin
  std::uint64_t upstream_failures = 0;  // failed() calls
};

class Router {
 public:
  // `control` runs the poller (one thread or a strand).
  Router(boost::asio::any_io_executor control, RouterOptions options);
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  void start() { poller_.start(); }  // control executor
  void stop() { poller_.stop(); }    // control executor

  const RouterOptions& options() const { return options_; }
  ViewPoller& poller() { return poller_; }
  std::shared_ptr<const View> view() const { return poller_.view(); }

  // The members to try for a request with this target and Range field value (empty when absent),
  // best first. Empty when there is no view yet or no member is alive (counted as unrouted).
  std::vector<Candidate> plan(std::string_view target, std::string_view range);

  // A request was sent to member `id` (its local load + 1) / is over (- 1).
  void begin(const std::string& id);
  void end(const std::string& id);
  // Member `id` could not be reached or broke the exchange before a response header: quarantine
  // it and ask for an early poll.
  void failed(const std::string& id);
  // The response from candidate number `attempt` (0 = the first) of `plan` is being relayed.
  void served(const std::vector<Candidate>& plan, std::size_t attempt);

  RouterCounters counters() const;
  // {"epoch", "page_size_bytes", "view_from", "known", "polls": {"ok", "failed", "last_error"},
  //  "bounded_load", "members": [{"id", "state", "client_addr", "weight", "in_flight",
  //  "router_in_flight", "quarantined"}], and the counters by their field names}.
  nlohmann::json stats_json() const;

 private:
  std::uint64_t load_of(const NodeInfo& n) const;  // mu_ held
  bool is_quarantined(const NodeInfo& n) const;    // mu_ held

  RouterOptions options_;
  ViewPoller poller_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::uint64_t> in_flight_;  // by member id
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> quarantine_;
  std::atomic<std::uint64_t> requests_{0}, unrouted_{0}, to_owner_{0}, load_skips_{0},
      fallbacks_{0}, spread_{0}, upstream_failures_{0};
};

}  // namespace shoal::router
