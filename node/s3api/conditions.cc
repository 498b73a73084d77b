#include "node/s3api/conditions.h"

#include <array>

#include "node/s3api/text.h"

namespace shoal::s3api {

namespace {

using text::trim;

std::string_view bare_etag(std::string_view e) {
  e = trim(e);
  if (e.starts_with("W/")) e.remove_prefix(2);
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
  return e;
}

// True when one element of the comma-separated `list` is "*" or equals `etag`.
bool etag_matches(std::string_view list, std::string_view etag) {
  const std::string_view want = bare_etag(etag);
  while (true) {
    auto comma = list.find(',');
    std::string_view item = trim(list.substr(0, comma));
    if (item == "*" || (!item.empty() && bare_etag(item) == want)) return true;
    if (comma == std::string_view::npos) return false;
    list.remove_prefix(comma + 1);
  }
}

// -1: unknown; else whether the object (modified at `lm`) is newer than the date `since`.
int newer_than(std::string_view lm, const std::string& since) {
  auto t = parse_http_date(lm);
  auto s = parse_http_date(since);
  if (!t || !s) return -1;
  return *t > *s ? 1 : 0;
}

}  // namespace

Precondition evaluate(const Conditions& c, std::string_view etag, std::string_view last_modified) {
  if (c.if_match) {
    if (!etag_matches(*c.if_match, etag)) return Precondition::kFailed;
  } else if (c.if_unmodified_since && newer_than(last_modified, *c.if_unmodified_since) == 1) {
    return Precondition::kFailed;
  }
  if (c.if_none_match) {
    if (etag_matches(*c.if_none_match, etag)) return Precondition::kNotModified;
  } else if (c.if_modified_since && newer_than(last_modified, *c.if_modified_since) == 0) {
    return Precondition::kNotModified;
  }
  return Precondition::kProceed;
}

std::optional<std::time_t> parse_http_date(std::string_view s) {
  // "Sun, 06 Nov 1994 08:49:37 GMT": 29 characters.
  s = trim(s);
  if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
      s[19] != ':' || s[22] != ':' || s.substr(25) != " GMT") {
    return std::nullopt;
  }
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int mon = -1;
  for (int i = 0; i < 12; ++i) {
    if (s.substr(8, 3) == kMonths[static_cast<std::size_t>(i)]) mon = i;
  }
  int d, y, h, mi, se;
  if (mon < 0 || !text::digits(s, 5, 2, &d) || !text::digits(s, 12, 4, &y) ||
      !text::digits(s, 17, 2, &h) || !text::digits(s, 20, 2, &mi) || !text::digits(s, 23, 2, &se)) {
    return std::nullopt;
  }
  return text::utc_time(y, mon + 1, d, h, mi, se);
}

}  // namespace shoal::s3api
