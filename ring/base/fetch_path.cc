#include "ring/base/fetch_path.h"

#include <algorithm>
#include <boost/locale/utf.hpp>
#include <boost/url/pct_string_view.hpp>

#include "ring/base/names.h"

namespace shoal::base {
namespace {

constexpr std::string_view kPrefix = "/fetch/";

// Decodes one part and checks it with `check` (ring/base/names.h); returns a reason naming the
// part on failure.
std::optional<std::string> decode_part(std::string_view name, std::string_view raw,
                                       std::optional<std::string> (*check)(std::string_view),
                                       std::string* out) {
  auto decoded = percent_decode(raw);
  if (!decoded) {
    return std::string(name) + ": bad percent escape ('%' must be followed by 2 hex digits)";
  }
  if (auto reason = check(*decoded)) return reason;
  *out = std::move(*decoded);
  return std::nullopt;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view s) {
  // Boost.URL checks that every '%' starts an escape of two hex digits, then decodes each escape
  // once; '+' is not a space here (encoding_opts' default).
  const auto encoded = boost::urls::make_pct_string_view(s);
  if (!encoded) return std::nullopt;
  return encoded->decode();
}

bool is_valid_utf8(std::string_view s) {
  using Traits = boost::locale::utf::utf_traits<char>;
  const char* p = s.data();
  const char* const end = s.data() + s.size();
  while (p != end) {
    const boost::locale::utf::code_point c = Traits::decode(p, end);
    if (c == boost::locale::utf::illegal || c == boost::locale::utf::incomplete) return false;
  }
  return true;
}

std::optional<std::string> parse_fetch_target(std::string_view target, FetchTarget* out) {
  if (target.substr(0, kPrefix.size()) != kPrefix) {
    return "request target must be /fetch/{kind}/{object}";
  }
  std::string_view path = target.substr(kPrefix.size());
  path = path.substr(0, path.find('?'));
  const std::size_t slash = path.find('/');
  if (slash == std::string_view::npos) return "missing object: expected /fetch/{kind}/{object}";

  FetchTarget result;
  if (auto e = decode_part("kind", path.substr(0, slash), check_kind, &result.kind)) return e;
  if (auto e = decode_part("object", path.substr(slash + 1), check_object, &result.object)) {
    return e;
  }
  *out = std::move(result);
  return std::nullopt;
}

}  // namespace shoal::base
