// The admin API's front: authentication (node/admin_auth.h) and the route table. The routes are
// in admin_members.cc (members, ownership), admin_lifecycle.cc (weight, drain, leave) and
// admin_cache.cc (locate, purge, warm).
#include "node/admin.h"

#include <algorithm>

#include "node/admin_call.h"

namespace shoal::node {
namespace http = boost::beast::http;
namespace net = boost::asio;

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
  if (auto denied = check_admin_auth(token_, c->req.authorization)) {
    AdminResponse r = error_response(denied->status, denied->message);
    if (!denied->www_authenticate.empty()) {
      r.headers.emplace_back("WWW-Authenticate", denied->www_authenticate);
    }
    return c->reply(std::move(r));
  }
  route(std::move(c));
}

void AdminApi::route(std::shared_ptr<Call> c) {
  struct Route {
    std::string_view path;
    http::verb method;
    void (AdminApi::*fn)(std::shared_ptr<Call>);
    std::vector<std::string_view> params;  // the query parameters it takes
  };
  static const Route kRoutes[] = {
      {"/admin/members", http::verb::get, &AdminApi::members, {}},
      {"/admin/locate", http::verb::get, &AdminApi::locate, {"kind", "object", "range"}},
      {"/admin/ownership",
       http::verb::get,
       &AdminApi::ownership,
       {"simulate_add", "simulate_remove"}},
      {"/admin/weight", http::verb::post, &AdminApi::weight, {}},
      {"/admin/drain", http::verb::post, &AdminApi::drain, {}},
      {"/admin/leave", http::verb::post, &AdminApi::leave, {}},
      {"/admin/purge", http::verb::post, &AdminApi::purge, {}},
      {"/admin/warm", http::verb::post, &AdminApi::warm, {}},
  };
  for (const Route& r : kRoutes) {
    if (c->path != r.path) continue;
    if (c->req.method != r.method) {
      AdminResponse res = error_response(405, "use " + std::string(http::to_string(r.method)));
      res.headers.emplace_back("Allow", std::string(http::to_string(r.method)));
      return c->reply(std::move(res));
    }
    auto query = parse_query(c->query);
    if (!query) return c->reply(error_response(400, "bad percent escape in the query"));
    for (const auto& [name, value] : *query) {
      if (std::find(r.params.begin(), r.params.end(), name) == r.params.end()) {
        return c->reply(error_response(400, "unknown query parameter '" + name + "'"));
      }
    }
    return (this->*r.fn)(std::move(c));
  }
  c->reply(error_response(404, "no such admin route: " + c->path));
}

AdminResponse AdminApi::error_answer(int status, const std::string& message) {
  return error_response(status, message);
}

std::optional<AdminResponse> AdminApi::fetch_options(const std::string& kind,
                                                     FetchOptions* out) const {
  FetchOptions o;
  if (auto refusal = host_.config().bucket_policy.resolve(kind, {}, &o.buckets)) {
    return error_response(refusal->status, refusal->reason);
  }
  o.config = host_.config().origin_request;
  o.may_shed = false;  // an operator's request: queue behind other misses rather than fail
  *out = std::move(o);
  return std::nullopt;
}

}  // namespace shoal::node
