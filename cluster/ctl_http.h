// shoalctl's HTTP calls: router/http_client.h (one request per connection, plain or TLS, under
// one deadline) with shoalctl's TLS flags, its bearer token, and the admin API's JSON
// conventions on top.
//
// Thread rules: set_tls() first, from one thread; afterwards every call may run on any thread.
#pragma once

#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace shoal::ctl {

// A command failed (exit code 1): a node could not be reached, or answered with an error.
class CtlError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// How shoalctl reaches nodes whose client port serves HTTPS (shoald --tls-cert / --tls-self).
struct TlsOptions {
  bool enabled = false;  // https instead of http
  bool verify = true;    // check the certificate chain and that it names the host
  std::string ca_file;   // trust these CAs (PEM); empty: the system's
};

// Sets the TLS options of every later call (process-wide; call before any request). A --cacert
// that cannot be loaded is reported by the first call.
void set_tls(TlsOptions options);

// The admin API as JSON: one request to `host_port` ("HOST:PORT" or "[v6]:PORT"), over TLS when
// set_tls() enabled it, with "Authorization: Bearer <token>" when `token` is not empty and
// `body` as JSON when not null; its answer must be 200 with a JSON body, read within `timeout`
// (answers up to 64 MiB). Throws CtlError "NODE: <reason>" when the request fails (bad address,
// resolve, connect, TLS handshake: certificate not trusted or wrong host, send, read, deadline:
// router/http_client.h's reasons), "NODE: HTTP STATUS: <the answer's "error" field, or its
// first line>" for another status, "NODE: the answer is not JSON", and "--cacert: cannot load CA
// file F: reason".
nlohmann::json call_json(const std::string& host_port, boost::beast::http::verb method,
                         const std::string& target, const std::string& token,
                         const nlohmann::json& body = nullptr,
                         std::chrono::milliseconds timeout = std::chrono::seconds(30));

// GET `target` (no token) from every node of `host_ports` at once; the answers in the same
// order, each as call_json() returns it, or {"error": "<what call_json() would throw>"}.
std::vector<nlohmann::json> get_json_all(const std::vector<std::string>& host_ports,
                                         const std::string& target,
                                         std::chrono::milliseconds timeout);

// RFC 3986 percent-encoding of a query value (Boost.URL): unreserved characters kept, every
// other byte as %XX with upper-case hex digits.
std::string query_encode(const std::string& s);

// Reads a token file: its contents without trailing whitespace. Throws CtlError when it cannot
// be read or is empty.
std::string read_token_file(const std::string& path);

}  // namespace shoal::ctl
