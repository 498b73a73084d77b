#include "node/admin.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "node/client_status.h"
#include "node/cluster.h"
#include "ring/base/byte_range.h"
#include "ring/base/fetch_path.h"
#include "ring/base/log.h"
#include "ring/base/page_key.h"
#include "ring/move_estimate.h"
#include "ring/rendezvous.h"
#include "router/http_client.h"
#include "router/view.h"

namespace shoal::node {
namespace http = boost::beast::http;
namespace net = boost::asio;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// Member /stats documents read at the same time by ownership().
constexpr std::size_t kStatsFanOut = 16;
// Largest /stats body accepted from another member.
constexpr std::size_t kMaxStatsBody = 4 << 20;
// Pause between two rounds of drain's confirmation polling.
constexpr std::chrono::milliseconds kDrainPoll{200};

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

AdminResponse json_response(int status, const json& j) {
  return AdminResponse{status, dump(j) + "\n", {}};
}

AdminResponse error_response(int status, const std::string& message) {
  return json_response(status, json{{"error", message}});
}

// Text rules shared by kind and object (node/fetch_path.h): valid UTF-8, no control characters.
std::optional<std::string> check_text(const char* what, const std::string& s) {
  if (!base::is_valid_utf8(s)) return std::string(what) + " is not valid UTF-8";
  for (unsigned char ch : s) {
    if (ch < 0x20 || ch == 0x7f) return std::string(what) + " contains a control character";
  }
  return std::nullopt;
}

std::optional<std::string> check_kind(const std::string& kind) {
  if (kind.empty() || kind.size() > base::kMaxKindBytes) return "kind must be 1-64 bytes";
  if (kind.find('/') != std::string::npos) return "kind must not contain '/'";
  return check_text("kind", kind);
}

std::optional<std::string> check_object(const std::string& object) {
  if (object.empty() || object.size() > base::kMaxObjectBytes) return "object must be 1-1024 bytes";
  return check_text("object", object);
}

// Parses a JSON object body whose fields are all in `allowed`; an empty body is {}.
std::optional<std::string> parse_body(const std::string& body,
                                      std::initializer_list<std::string_view> allowed, json* out) {
  if (body.empty()) {
    *out = json::object();
    return std::nullopt;
  }
  *out = json::parse(body, nullptr, false);
  if (out->is_discarded() || !out->is_object()) return "the body must be a JSON object";
  for (const auto& [key, value] : out->items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return "unknown field '" + key + "'";
    }
  }
  return std::nullopt;
}

// A string field of a parsed body: nullopt when absent, error when not a string.
std::optional<std::string> string_field(const json& body, const char* name, std::string* out,
                                        bool* present) {
  *present = body.contains(name);
  if (!*present) return std::nullopt;
  if (!body[name].is_string()) return std::string("'") + name + "' must be a string";
  *out = body[name].get<std::string>();
  return std::nullopt;
}

bool valid_weight(double w) {
  return w == 0 || (w >= ring::kMinWeight && w <= ring::kMaxWeight);
}

std::string hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// TLS for reading other members' /stats when this node's client port serves HTTPS (the members
// of one cluster share that choice), else nullopt.
std::optional<router::HttpTls> member_tls(const NodeConfig& cfg) {
  if (!cfg.tls_self && cfg.tls_cert.empty()) return std::nullopt;
  std::string unused;  // only a CA file can fail to load
  return router::make_http_tls(/*verify=*/false, "", &unused);
}

// GET /stats of one member: plain HTTP or TLS as this node's own client port, within
// kMemberStatsTimeout. TLS peers are not verified: /stats is public, and a forged answer could
// only end a drain's wait early or skew ownership's figures.
router::HttpRequest stats_request(const std::string& addr,
                                  const std::optional<router::HttpTls>& tls) {
  router::HttpRequest req;
  req.host_port = addr;
  req.target = "/stats";
  req.user_agent = "shoald";
  req.timeout = kMemberStatsTimeout;
  req.max_body_bytes = kMaxStatsBody;
  req.tls = tls;
  return req;
}

// Parses "ID" or "ID:W" (W a number; split at the last ':').
std::optional<std::string> parse_member_arg(const std::string& s, ring::Member* out) {
  out->id = s;
  out->weight = 1.0;
  if (auto colon = s.rfind(':'); colon != std::string::npos) {
    std::string_view w(s.data() + colon + 1, s.size() - colon - 1);
    double v = 0;
    auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), v);
    if (!w.empty() && ec == std::errc() && end == w.data() + w.size()) {
      out->id = s.substr(0, colon);
      out->weight = v;
    }
  }
  if (out->id.empty()) return "simulate_add: empty member id";
  if (!valid_weight(out->weight)) return "simulate_add: weight must be 0 or in [1e-06, 1e+15]";
  return std::nullopt;
}

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
  }
  return "origin";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Free helpers

std::optional<std::string> load_admin_token(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot read " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string token = ss.str();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.empty()) {
    *error = path + " is empty";
    return std::nullopt;
  }
  if (token.size() < kMinAdminTokenBytes) {
    *error =
        "token in " + path + " is shorter than " + std::to_string(kMinAdminTokenBytes) + " bytes";
    return std::nullopt;
  }
  for (unsigned char ch : token) {
    if (ch <= 0x20 || ch == 0x7f) {
      *error = "token in " + path + " contains whitespace or control characters";
      return std::nullopt;
    }
  }
  return token;
}

bool token_equals(std::string_view a, std::string_view b) {
  unsigned char da[EVP_MAX_MD_SIZE], db[EVP_MAX_MD_SIZE];
  unsigned int la = 0, lb = 0;
  EVP_Digest(a.data(), a.size(), da, &la, EVP_sha256(), nullptr);
  EVP_Digest(b.data(), b.size(), db, &lb, EVP_sha256(), nullptr);
  return la == lb && la == 32 && CRYPTO_memcmp(da, db, la) == 0;
}

std::optional<std::string_view> bearer_token(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  constexpr std::string_view kScheme = "bearer";
  if (v.size() <= kScheme.size() + 1) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(v[i])) != kScheme[i]) return std::nullopt;
  }
  if (v[kScheme.size()] != ' ') return std::nullopt;
  v.remove_prefix(kScheme.size() + 1);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  if (v.empty()) return std::nullopt;
  return v;
}

std::optional<std::vector<std::pair<std::string, std::string>>> parse_query(std::string_view q) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!q.empty()) {
    std::string_view part = q.substr(0, q.find('&'));
    q.remove_prefix(std::min(q.size(), part.size() + 1));
    if (part.empty()) continue;
    auto eq = part.find('=');
    auto name = base::percent_decode(part.substr(0, eq));
    auto value = base::percent_decode(eq == std::string_view::npos ? "" : part.substr(eq + 1));
    if (!name || !value) return std::nullopt;
    out.emplace_back(std::move(*name), std::move(*value));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// AdminApi

struct AdminApi::Call {
  AdminRequest req;
  std::string path;
  std::string query;
  net::any_io_executor ex;
  Handler done;

  // Posts the response to the session's executor. The first call answers; later ones do nothing.
  void reply(AdminResponse r) {
    if (replied.exchange(true)) return;
    net::post(ex, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
  }
  std::atomic<bool> replied{false};
};

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

AdminApi::AdminApi(AdminHost& host, std::optional<std::string> token)
    : host_(host), token_(std::move(token)) {}

AdminApi::~AdminApi() {
  stopping_ = true;
  pool_.join();
}

bool AdminApi::is_admin_target(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  return path == "/admin" || path.starts_with("/admin/");
}

void AdminApi::handle(AdminRequest req, net::any_io_executor ex, Handler done) {
  auto c = std::make_shared<Call>();
  c->req = std::move(req);
  c->ex = std::move(ex);
  c->done = std::move(done);
  const std::string& t = c->req.target;
  c->path = t.substr(0, t.find('?'));
  if (auto q = t.find('?'); q != std::string::npos) c->query = t.substr(q + 1);
  if (!token_) {
    return c->reply(error_response(
        403, "admin API disabled (start shoald with --admin-token-file to enable it)"));
  }
  auto presented = bearer_token(c->req.authorization);
  if (!presented || !token_equals(*presented, *token_)) {
    AdminResponse r = error_response(
        401, presented ? "wrong admin token" : "admin token required (Authorization: Bearer)");
    r.headers.emplace_back("WWW-Authenticate",
                           presented ? "Bearer realm=\"shoal-admin\", error=\"invalid_token\""
                                     : "Bearer realm=\"shoal-admin\"");
    return c->reply(std::move(r));
  }
  route(std::move(c));
}

template <class Fn>
void AdminApi::post_guarded(std::shared_ptr<Call> c, Fn fn) {
  net::post(pool_, [c = std::move(c), fn = std::move(fn)]() mutable {
    try {
      fn();
    } catch (const std::exception& e) {
      SHOAL_LOG(kError, "admin: " << c->path << ": " << e.what());
      c->reply(error_response(500, std::string("internal error: ") + e.what()));
    }
  });
}

void AdminApi::route(std::shared_ptr<Call> c) {
  struct Route {
    std::string_view path;
    http::verb method;
    void (AdminApi::*fn)(std::shared_ptr<Call>);
  };
  static const Route kRoutes[] = {
      {"/admin/members", http::verb::get, &AdminApi::members},
      {"/admin/locate", http::verb::get, &AdminApi::locate},
      {"/admin/ownership", http::verb::get, &AdminApi::ownership},
      {"/admin/weight", http::verb::post, &AdminApi::weight},
      {"/admin/drain", http::verb::post, &AdminApi::drain},
      {"/admin/leave", http::verb::post, &AdminApi::leave},
      {"/admin/purge", http::verb::post, &AdminApi::purge},
      {"/admin/warm", http::verb::post, &AdminApi::warm},
  };
  for (const Route& r : kRoutes) {
    if (c->path != r.path) continue;
    if (c->req.method != r.method) {
      AdminResponse res = error_response(405, "use " + std::string(http::to_string(r.method)));
      res.headers.emplace_back("Allow", std::string(http::to_string(r.method)));
      return c->reply(std::move(res));
    }
    return (this->*r.fn)(std::move(c));
  }
  c->reply(error_response(404, "no such admin route: " + c->path));
}

FetchOptions AdminApi::fetch_options(const std::string& kind) const {
  FetchOptions o;
  o.buckets = {kind};
  o.config = host_.config().origin_request;
  o.may_shed = false;  // an operator's request: queue behind other misses rather than fail
  return o;
}

// --- GET /admin/members -------------------------------------------------------------------------

void AdminApi::members(std::shared_ptr<Call> c) {
  const NodeConfig& cfg = host_.config();
  json j = {{"self", cfg.node_id}, {"cluster", host_.cluster() != nullptr}};
  if (Cluster* cl = host_.cluster()) {
    json s = cl->stats_json();
    j["epoch"] = s["epoch"];
    j["members"] = std::move(s["members"]);
  } else {
    j["epoch"] = 0;
    j["members"] =
        json::array({{{"id", cfg.node_id},
                      {"state", "alive"},
                      {"incarnation", 0},
                      {"weight", cfg.weight},
                      {"client_addr", cfg.listen_host + ":" + std::to_string(cfg.listen_port)},
                      {"peer_addr", ""},
                      {"owned_share", 1.0}}});
  }
  for (json& m : j["members"]) m["self"] = m["id"] == cfg.node_id;
  c->reply(json_response(200, j));
}

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
  if (auto e = check_kind(kind)) return c->reply(error_response(400, *e));
  if (auto e = check_object(object)) return c->reply(error_response(400, *e));
  base::ByteRange range{base::ByteRange::Kind::kOpen, 0, 0, 0};
  if (!range_text.empty() && base::parse_byte_range(range_text, &range) != base::RangeError::kOk) {
    return c->reply(error_response(400, "range: expected bytes=a-b, bytes=a- or bytes=-n"));
  }
  host_.fetcher().head(
      kind, object, fetch_options(kind), c->ex, [this, c, kind, object, range](HeadResult h) {
        if (h.outcome != base::Outcome::kOk) {
          return c->reply(error_response(node::client_status(h.outcome),
                                         "origin: " + std::string(base::outcome_name(h.outcome)) +
                                             (h.message.empty() ? "" : ": " + h.message)));
        }
        base::ResolvedRange rr{1, 0};  // empty: no pages
        if (h.meta.size > 0 &&
            base::resolve_byte_range(range, h.meta.size, &rr) != base::RangeError::kOk) {
          return c->reply(error_response(416, "range not satisfiable for an object of " +
                                                  std::to_string(h.meta.size) + " bytes"));
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

// --- GET /admin/ownership -----------------------------------------------------------------------

void AdminApi::ownership(std::shared_ptr<Call> c) {
  auto q = parse_query(c->query);
  if (!q) return c->reply(error_response(400, "bad percent escape in the query"));
  std::optional<ring::Member> add;
  std::optional<std::string> remove;
  for (auto& [name, value] : *q) {
    if (name == "simulate_add") {
      ring::Member m;
      if (auto e = parse_member_arg(value, &m)) return c->reply(error_response(400, *e));
      add = std::move(m);
    } else if (name == "simulate_remove") {
      if (value.empty()) return c->reply(error_response(400, "simulate_remove: empty member id"));
      remove = value;
    } else {
      return c->reply(error_response(400, "unknown query parameter '" + name + "'"));
    }
  }
  const NodeConfig& cfg = host_.config();
  std::shared_ptr<const peer::MembershipView> view;
  if (Cluster* cl = host_.cluster()) view = cl->view();
  ring::Ring current =
      view && view->ring ? *view->ring : *ring::Ring::make({{cfg.node_id, cfg.weight}});
  std::optional<ring::Ring> next = current;
  if (remove) {
    next = next->without_member(*remove);
    if (!next)
      return c->reply(error_response(400, "simulate_remove: no live member '" + *remove + "'"));
  }
  if (add) {
    std::string error;
    next = next->with_member(*add, &error);
    if (!next) return c->reply(error_response(400, "simulate_add: " + error));
  }
  const bool simulate = add || remove;
  post_guarded(c, [this, c, current, after = *next, simulate, add, remove,
                   epoch = view ? view->epoch : 0]() {
    // Sample the key space: who owns each hash now, and after the change.
    const ring::MoveEstimate moves =
        ring::estimate_moves(current, after, simulate ? kOwnershipSamples : 0);
    std::map<std::string, MemberStats> stats;
    for (MemberStats& s : all_member_stats()) stats[s.id] = std::move(s);
    json members = json::array();
    double moved_bytes = 0, moved_pages = 0;
    bool complete = true;
    std::uint64_t cached_bytes = 0;
    for (std::size_t i = 0; i < current.size(); ++i) {
      const ring::Member& m = current.members()[i];
      json row = {{"id", m.id}, {"weight", m.weight}, {"share", current.share(i)}};
      const MemberStats& ms = stats[m.id];
      std::string why = ms.error;
      std::optional<router::MemoryFigures> mem;
      if (why.empty() && !ms.doc.is_object()) why = "no /stats";
      if (why.empty()) mem = router::memory_figures(ms.doc, &why);
      const bool known = mem.has_value();
      row["cached_bytes"] = known ? json(mem->page_bytes) : json(nullptr);
      row["cached_pages"] = known ? json(mem->pages) : json(nullptr);
      if (!known) row["stats_error"] = why;
      if (known) cached_bytes += mem->page_bytes;
      complete = complete && known;
      if (simulate) {
        const double f = moves.moves_out_fraction(i);
        row["moves_out_fraction"] = f;
        if (known) {
          moved_bytes += f * static_cast<double>(mem->page_bytes);
          moved_pages += f * static_cast<double>(mem->pages);
        }
      }
      members.push_back(std::move(row));
    }
    json j = {{"epoch", epoch},
              {"members", std::move(members)},
              {"cached_bytes", cached_bytes},
              {"stats_complete", complete},
              {"simulation", nullptr}};
    if (simulate) {
      json next_members = json::array();
      for (std::size_t i = 0; i < after.size(); ++i) {
        const ring::Member& m = after.members()[i];
        next_members.push_back({{"id", m.id},
                                {"weight", m.weight},
                                {"share", after.share(i)},
                                {"sampled_share", moves.sampled_share_after(i)}});
      }
      j["simulation"] = {
          {"add", add ? json{{"id", add->id}, {"weight", add->weight}} : json(nullptr)},
          {"remove", remove ? json(*remove) : json(nullptr)},
          {"samples", kOwnershipSamples},
          {"moved_fraction", moves.moved_fraction()},
          {"moved_bytes", static_cast<std::uint64_t>(std::llround(moved_bytes))},
          {"moved_pages", static_cast<std::uint64_t>(std::llround(moved_pages))},
          {"members", std::move(next_members)}};
    }
    c->reply(json_response(200, j));
  });
}

std::vector<AdminApi::MemberStats> AdminApi::fetch_member_stats(
    const std::vector<std::pair<std::string, std::string>>& members) {
  const auto tls = member_tls(host_.config());
  const std::string scheme = tls ? "https://" : "http://";
  std::vector<MemberStats> out;
  for (std::size_t i = 0; i < members.size() && !stopping_; i += kStatsFanOut) {
    std::vector<router::HttpRequest> batch;
    for (std::size_t k = i; k < std::min(members.size(), i + kStatsFanOut); ++k) {
      batch.push_back(stats_request(members[k].second, tls));
    }
    std::vector<router::HttpResult> results = router::http_requests(std::move(batch), kStatsFanOut);
    for (std::size_t k = 0; k < results.size(); ++k) {
      const auto& [id, addr] = members[i + k];
      const std::string url = scheme + addr + "/stats";
      router::HttpResult& r = results[k];
      MemberStats m{id, json(), ""};
      if (!r.ok()) {
        m.error = url + ": " + r.error;
      } else if (r.status != 200) {
        m.error = url + ": HTTP " + std::to_string(r.status);
      } else {
        m.doc = json::parse(r.body, nullptr, false);
        if (m.doc.is_discarded() || !m.doc.is_object()) m.error = url + ": not a JSON object";
      }
      out.push_back(std::move(m));
    }
  }
  return out;
}

std::vector<AdminApi::MemberStats> AdminApi::all_member_stats() {
  const NodeConfig& cfg = host_.config();
  std::vector<MemberStats> out;
  out.push_back({cfg.node_id, json::parse(host_.stats_json(), nullptr, false), ""});
  std::vector<std::pair<std::string, std::string>> others;  // id, client_addr
  if (Cluster* cl = host_.cluster()) {
    // Hold the view: the peer loop may publish a new one (freeing this) while we iterate.
    const auto view = cl->view();
    for (const peer::MemberRecord& rec : view->members) {
      if (rec.id != cfg.node_id && peer::is_live(rec.state)) {
        others.emplace_back(rec.id, rec.meta.client_addr);
      }
    }
  }
  for (MemberStats& m : fetch_member_stats(others)) out.push_back(std::move(m));
  return out;
}

// --- POST /admin/weight, /admin/drain, /admin/leave ---------------------------------------------

void AdminApi::weight(std::shared_ptr<Call> c) {
  json body;
  if (auto e = parse_body(c->req.body, {"weight"}, &body)) return c->reply(error_response(400, *e));
  if (!body.contains("weight") || !body["weight"].is_number()) {
    return c->reply(error_response(400, "'weight' (a number) is required"));
  }
  const double w = body["weight"].get<double>();
  if (!valid_weight(w))
    return c->reply(error_response(400, "weight must be 0 or in [1e-06, 1e+15]"));
  Cluster* cl = host_.cluster();
  if (cl == nullptr)
    return c->reply(error_response(409, "not a cluster member (no --peer-listen)"));
  host_.post_to_peer_loop([c, cl, w] {
    auto before = cl->view();
    const peer::MemberRecord* me = before->find(cl->self_id());
    const double previous = me ? me->meta.weight : 0;
    if (auto e = cl->set_weight(w)) return c->reply(error_response(409, *e));
    c->reply(json_response(200, {{"id", cl->self_id()},
                                 {"weight", w},
                                 {"previous_weight", previous},
                                 {"epoch", cl->view()->epoch}}));
  });
}

void AdminApi::drain(std::shared_ptr<Call> c) {
  json body;
  if (auto e = parse_body(c->req.body, {"timeout_ms"}, &body))
    return c->reply(error_response(400, *e));
  std::chrono::milliseconds timeout = kDefaultDrainTimeout;
  if (body.contains("timeout_ms")) {
    if (!body["timeout_ms"].is_number_unsigned() || body["timeout_ms"].get<std::uint64_t>() < 1 ||
        body["timeout_ms"].get<std::uint64_t>() > 3'600'000) {
      return c->reply(error_response(400, "timeout_ms must be an integer in [1, 3600000]"));
    }
    timeout = std::chrono::milliseconds(body["timeout_ms"].get<std::uint64_t>());
  }
  Cluster* cl = host_.cluster();
  if (cl == nullptr)
    return c->reply(error_response(409, "not a cluster member (no --peer-listen)"));
  if (draining_.exchange(true))
    return c->reply(error_response(409, "a drain is already under way"));
  SHOAL_LOG(kInfo, "admin: draining (weight 0, then leave)");
  host_.post_to_peer_loop([this, c, cl, timeout] {
    if (auto e = cl->set_weight(0)) {
      draining_ = false;
      return c->reply(error_response(409, *e));
    }
    post_guarded(c, [this, c, timeout] {
      AdminResponse r;
      try {
        r = wait_for_weight_zero(timeout);
      } catch (...) {
        draining_ = false;
        throw;
      }
      if (r.status == 200) {
        SHOAL_LOG(kInfo, "admin: weight 0 confirmed by every live member; leaving");
        host_.begin_shutdown();
      } else {
        draining_ = false;
        SHOAL_LOG(kWarn, "admin: drain not confirmed; weight stays 0, not leaving");
      }
      c->reply(std::move(r));
    });
  });
}

AdminResponse AdminApi::wait_for_weight_zero(std::chrono::milliseconds timeout) {
  const NodeConfig& cfg = host_.config();
  const auto started = Clock::now();
  const auto deadline = started + timeout;
  std::set<std::string> confirmed;
  std::map<std::string, std::string> pending;  // id -> why not yet
  while (!stopping_) {
    pending.clear();
    std::vector<std::pair<std::string, std::string>> ask;  // id, client_addr
    {
      // Hold the view while reading it: the peer loop may publish a new one meanwhile.
      const auto view = host_.cluster()->view();
      for (const peer::MemberRecord& rec : view->members) {
        if (rec.id == cfg.node_id || rec.state != peer::MemberState::kAlive) continue;
        if (!confirmed.count(rec.id)) ask.emplace_back(rec.id, rec.meta.client_addr);
      }
    }
    for (const MemberStats& s : fetch_member_stats(ask)) {
      std::string why = s.error;
      std::optional<router::NodeInfo> me;
      if (why.empty()) me = router::find_node_info(s.doc, cfg.node_id, &why);
      if (me && me->weight == 0.0) {
        confirmed.insert(s.id);
      } else {
        pending[s.id] = me ? "still shows weight " + dump(json(me->weight)) : why;
      }
    }
    if (pending.empty() && !stopping_) {
      return json_response(
          200,
          {{"id", cfg.node_id},
           {"confirmed_by", confirmed},
           {"waited_ms",
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()},
           {"leaving", true}});
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(kDrainPoll);
  }
  std::string why;
  for (const auto& [id, reason] : pending) why += (why.empty() ? "" : "; ") + id + ": " + reason;
  return error_response(504, "weight 0 not confirmed within " + std::to_string(timeout.count()) +
                                 " ms by " + why + " (weight stays 0; not leaving)");
}

void AdminApi::leave(std::shared_ptr<Call> c) {
  if (!c->req.body.empty()) {
    json body;
    if (auto e = parse_body(c->req.body, {}, &body)) return c->reply(error_response(400, *e));
  }
  if (host_.cluster() == nullptr) {
    return c->reply(error_response(409, "not a cluster member (no --peer-listen)"));
  }
  SHOAL_LOG(kInfo, "admin: leaving the cluster and shutting down");
  host_.begin_shutdown();
  c->reply(json_response(200, {{"id", host_.config().node_id}, {"leaving", true}}));
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
  if (auto e = check_kind(kind)) return c->reply(error_response(400, *e));
  if (has_object) {
    if (auto e = check_object(object)) return c->reply(error_response(400, *e));
  }
  MemoryTier& memory = host_.fetcher().memory();
  const std::size_t dropped =
      has_object ? memory.erase_object(kind, object) : memory.erase_kind(kind);
  const std::size_t disk_dropped =
      host_.fetcher().erase_from_disk(kind, has_object ? &object : nullptr);
  SHOAL_LOG(kInfo, "admin: purged " << dropped << " pages of " << kind
                                    << (has_object ? "/" + object : std::string(" (all objects)")));
  json j = {{"id", host_.config().node_id},
            {"kind", kind},
            {"pages_dropped", dropped},
            {"disk_pages_dropped", disk_dropped}};
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
  if (auto e = check_kind(job->kind)) return c->reply(error_response(400, *e));
  if (auto e = check_object(job->object)) return c->reply(error_response(400, *e));
  job->range = base::ByteRange{base::ByteRange::Kind::kOpen, 0, 0, 0};
  if (job->has_range && base::parse_byte_range(range_text, &job->range) != base::RangeError::kOk) {
    return c->reply(error_response(400, "range: expected bytes=a-b, bytes=a- or bytes=-n"));
  }
  job->opts = fetch_options(job->kind);
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
  host_.fetcher().get(
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
    host_.fetcher().get(base::PageKey{job->kind, job->object, page}, job->opts, job->call->ex,
                        [this, job, page](PageResult r) {
                          --job->running;
                          if (r.outcome == base::Outcome::kOk) {
                            ++job->pages;
                            job->bytes += r.page->body.size;
                            ++job->sources[source_name(r.source)];
                          } else if (!job->failure) {
                            job->failure =
                                error_response(node::client_status(r.outcome),
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
  for (const char* s : {"memory", "origin", "coalesced", "peer"}) sources[s] = job->sources[s];
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
