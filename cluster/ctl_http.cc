#include "cluster/ctl_http.h"

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <cctype>
#include <fstream>
#include <sstream>

#include "router/http_client.h"

namespace shoal::ctl {
namespace http = boost::beast::http;

namespace {

// Set by set_tls() before any call: the TLS settings, or why --cacert could not be loaded.
std::optional<router::HttpTls> g_tls;
std::string g_tls_error;

router::HttpRequest request(const std::string& host_port, http::verb method,
                            const std::string& target, const std::string& token,
                            const nlohmann::json& body, std::chrono::milliseconds timeout) {
  if (!g_tls_error.empty()) throw CtlError("--cacert: " + g_tls_error);
  router::HttpRequest req;
  req.host_port = host_port;
  req.method = method;
  req.target = target;
  if (!token.empty()) req.authorization = "Bearer " + token;
  if (!body.is_null()) req.body = body.dump();
  req.user_agent = "shoalctl";
  req.timeout = timeout;
  req.max_body_bytes = 64u << 20;
  req.tls = g_tls;
  return req;
}

// call_json()'s rules for one result.
nlohmann::json reply_json(const std::string& host_port, const router::HttpResult& r) {
  if (!r.ok()) throw CtlError(host_port + ": " + r.error);
  nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
  if (r.status != 200) {
    std::string why = !j.is_discarded() && j.is_object() && j.contains("error")
                          ? j["error"].get<std::string>()
                          : r.body.substr(0, r.body.find('\n'));
    throw CtlError(host_port + ": HTTP " + std::to_string(r.status) + ": " + why);
  }
  if (j.is_discarded()) throw CtlError(host_port + ": the answer is not JSON");
  return j;
}

}  // namespace

void set_tls(TlsOptions options) {
  g_tls.reset();
  g_tls_error.clear();
  if (options.enabled) g_tls = router::make_http_tls(options.verify, options.ca_file, &g_tls_error);
}

nlohmann::json call_json(const std::string& host_port, http::verb method, const std::string& target,
                         const std::string& token, const nlohmann::json& body,
                         std::chrono::milliseconds timeout) {
  return reply_json(host_port,
                    router::http_request(request(host_port, method, target, token, body, timeout)));
}

std::vector<nlohmann::json> get_json_all(const std::vector<std::string>& host_ports,
                                         const std::string& target,
                                         std::chrono::milliseconds timeout) {
  std::vector<router::HttpRequest> reqs;
  for (const auto& hp : host_ports) {
    reqs.push_back(request(hp, http::verb::get, target, "", nullptr, timeout));
  }
  const std::vector<router::HttpResult> results =
      router::http_requests(std::move(reqs), std::max<std::size_t>(host_ports.size(), 1));
  std::vector<nlohmann::json> out;
  for (std::size_t i = 0; i < results.size(); ++i) {
    try {
      out.push_back(reply_json(host_ports[i], results[i]));
    } catch (const CtlError& e) {
      out.push_back({{"error", e.what()}});
    }
  }
  return out;
}

std::string query_encode(const std::string& s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

std::string read_token_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CtlError("--token-file: cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string token = ss.str();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.empty()) throw CtlError("--token-file: " + path + " is empty");
  return token;
}

}  // namespace shoal::ctl
