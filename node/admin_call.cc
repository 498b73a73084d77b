#include "node/admin_call.h"

#include <algorithm>
#include <boost/url/grammar/lut_chars.hpp>
#include <boost/url/parse_query.hpp>
#include <boost/url/rfc/pchars.hpp>

#include "ring/rendezvous.h"

namespace shoal::node {
namespace urls = boost::urls;
using json = nlohmann::json;

namespace {

// The bytes of a query Boost.URL parses as they are: RFC 3986's query characters (pchar, '/',
// '?') and the '%' of escapes. (urls::encode cannot keep '%': it asserts the set excludes it.)
constexpr urls::grammar::lut_chars kQueryText = urls::pchars + urls::grammar::lut_chars("/?%");

}  // namespace

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

AdminResponse json_response(int status, const json& j) {
  return AdminResponse{status, dump(j) + "\n", {}};
}

AdminResponse error_response(int status, const std::string& message) {
  return json_response(status, json{{"error", message}});
}

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

std::optional<std::string> string_field(const json& body, const char* name, std::string* out,
                                        bool* present) {
  *present = body.contains(name);
  if (!*present) return std::nullopt;
  if (!body[name].is_string()) return std::string("'") + name + "' must be a string";
  *out = body[name].get<std::string>();
  return std::nullopt;
}

bool parse_admin_range(std::string_view text, base::ByteRange* out) {
  // With a unit ("bytes=", any case) it is a Range value as it is; without, bytes are meant.
  const std::string header =
      text.find('=') != std::string_view::npos ? std::string(text) : "bytes=" + std::string(text);
  return base::parse_byte_range(header, out) == base::RangeError::kOk;
}

bool valid_weight(double w) {
  return w == 0 || (w >= ring::kMinWeight && w <= ring::kMaxWeight);
}

std::optional<std::vector<std::pair<std::string, std::string>>> parse_query(std::string_view q) {
  // Escape first what Boost.URL's query grammar would refuse but a request target may carry
  // raw: decoding gives those bytes back unchanged, and '%' stays, so a bad escape still fails.
  std::string text;
  text.reserve(q.size());
  for (const char ch : q) {
    if (kQueryText(ch)) {
      text += ch;
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      const auto b = static_cast<unsigned char>(ch);
      text += '%';
      text += kHex[b >> 4];
      text += kHex[b & 15];
    }
  }
  const auto params = urls::parse_query(text);  // a view of `text`
  if (!params) return std::nullopt;
  urls::encoding_opts opts;
  opts.space_as_plus = false;
  std::vector<std::pair<std::string, std::string>> out;
  for (const urls::param_pct_view p : *params) {
    if (p.key.empty() && !p.has_value) continue;  // an empty part: "a=1&&b=2", or ""
    out.emplace_back(p.key.decode(opts), p.value.decode(opts));
  }
  return out;
}

}  // namespace shoal::node
