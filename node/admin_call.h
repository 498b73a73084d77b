// What every admin route (node/admin*.cc) shares: the call in progress, its JSON replies, the
// parsers of its query and body, and the checks of the names it is given. Internal to the
// admin API: include only from node/admin*.cc and tests.
//
// Thread rules: the free functions are pure and may run on any thread; a Call is shared by the
// threads that work on it, and reply() may be called from any of them.
#pragma once

#include <atomic>
#include <boost/asio/post.hpp>
#include <exception>
#include <initializer_list>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "node/admin.h"
#include "ring/base/byte_range.h"
#include "ring/base/log.h"

namespace shoal::node {

// One admin request in progress.
struct AdminApi::Call {
  AdminRequest req;
  std::string path;   // the target up to '?'
  std::string query;  // the target after '?', "" when none
  boost::asio::any_io_executor ex;
  Handler done;

  // Posts the response to the session's executor. The first call answers; later ones do nothing.
  void reply(AdminResponse r) {
    if (replied.exchange(true)) return;
    boost::asio::post(ex,
                      [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
  }
  std::atomic<bool> replied{false};
};

// `j` as one line of JSON (invalid UTF-8 replaced, never throws).
std::string dump(const nlohmann::json& j);
// A response with status `status` and body `j` plus a newline.
AdminResponse json_response(int status, const nlohmann::json& j);
// A response with status `status` and body {"error": message}.
AdminResponse error_response(int status, const std::string& message);

// Splits a query string ("a=1&b=x%20y", without '?') into percent-decoded pairs, in order:
// '+' stays '+', a pair without '=' has the value "", empty pairs ("a=1&&b=2") are skipped.
// Any other byte is taken as it is. Returns nullopt when a name or value has a bad percent
// escape ('%' not followed by two hex digits).
std::optional<std::vector<std::pair<std::string, std::string>>> parse_query(std::string_view q);

// Parses a JSON object body whose fields are all in `allowed` into *out; an empty body is {}.
// Returns "the body must be a JSON object" or "unknown field 'NAME'" on error.
std::optional<std::string> parse_body(const std::string& body,
                                      std::initializer_list<std::string_view> allowed,
                                      nlohmann::json* out);

// A string field of a parsed body: *present tells whether it is there; returns "'NAME' must be
// a string" when it is there but not a string, else stores it in *out (when present).
std::optional<std::string> string_field(const nlohmann::json& body, const char* name,
                                        std::string* out, bool* present);

// A range as /admin/locate and /admin/warm take it: "a-b", "a-" or "-n", with or without the
// "bytes=" of a Range header (ring/base/byte_range.h). False when it is none of those.
bool parse_admin_range(std::string_view text, base::ByteRange* out);
// The 400 message for a range parse_admin_range() refuses.
inline constexpr const char* kAdminRangeError =
    "range: expected a-b, a- or -n (bytes=a-b, bytes=a-, bytes=-n)";

// True for a weight the ring accepts: 0 or in [ring::kMinWeight, ring::kMaxWeight].
bool valid_weight(double w);

template <class Fn>
void AdminApi::post_guarded(std::shared_ptr<Call> c, Fn fn) {
  boost::asio::post(pool_, [c = std::move(c), fn = std::move(fn)]() mutable {
    try {
      fn();
    } catch (const std::exception& e) {
      SHOAL_LOG(kError, "admin: " << c->path << ": " << e.what());
      c->reply(error_response(500, std::string("internal error: ") + e.what()));
    }
  });
}

}  // namespace shoal::node
