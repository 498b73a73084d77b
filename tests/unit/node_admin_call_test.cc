// Tests for node/admin_call.h: the admin routes' query and body parsers and name checks.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "node/admin_call.h"

namespace shoal::test {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;
using nlohmann::json;

Pairs query(std::string_view q) {
  auto r = node::parse_query(q);
  EXPECT_TRUE(r.has_value()) << q;
  return r ? *r : Pairs{};
}

TEST(NodeAdminQuery, SplitsAndDecodesPairsInOrder) {
  EXPECT_EQ(query(""), Pairs{});
  EXPECT_EQ(query("kind=data&object=a%20b%2Fc"), (Pairs{{"kind", "data"}, {"object", "a b/c"}}));
  EXPECT_EQ(query("a=1&a=2"), (Pairs{{"a", "1"}, {"a", "2"}}));
  EXPECT_EQ(query("%6Bind=x"), (Pairs{{"kind", "x"}}));  // names are decoded too
}

TEST(NodeAdminQuery, PlusStaysPlus) {
  EXPECT_EQ(query("add=node+1:2&x=%2B"), (Pairs{{"add", "node+1:2"}, {"x", "+"}}));
}

TEST(NodeAdminQuery, EmptyPartsAndMissingValues) {
  EXPECT_EQ(query("a=1&&b=2&"), (Pairs{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(query("flag"), (Pairs{{"flag", ""}}));
  EXPECT_EQ(query("="), (Pairs{{"", ""}}));
  EXPECT_EQ(query("=v&k="), (Pairs{{"", "v"}, {"k", ""}}));
  EXPECT_EQ(query("a==b"), (Pairs{{"a", "=b"}}));  // split at the first '='
}

TEST(NodeAdminQuery, OtherBytesAreTakenAsTheyAre) {
  // A request target may carry these raw (Beast accepts them); the query keeps them.
  EXPECT_EQ(query("object=\"x\"|[y]{z}^`\\#"), (Pairs{{"object", "\"x\"|[y]{z}^`\\#"}}));
  EXPECT_EQ(query("object=\xc3\xa9t\xc3\xa9"), (Pairs{{"object", "\xc3\xa9t\xc3\xa9"}}));
  EXPECT_EQ(query("a=%00b"), (Pairs{{"a", std::string("\0b", 2)}}));
  EXPECT_EQ(query("a=100%25"), (Pairs{{"a", "100%"}}));
}

TEST(NodeAdminQuery, ABadEscapeIsAnError) {
  for (const char* q : {"a=%", "a=%4", "a=%zz", "a=%4g", "%=1", "a=1&b=%x1", "a=%%41"}) {
    EXPECT_FALSE(node::parse_query(q).has_value()) << q;
  }
}

TEST(NodeAdminBody, EmptyIsAnEmptyObjectAndUnknownFieldsAreRefused) {
  json body;
  EXPECT_FALSE(node::parse_body("", {"kind"}, &body));
  EXPECT_EQ(body, json::object());
  EXPECT_FALSE(node::parse_body(R"({"kind": "a"})", {"kind", "object"}, &body));
  EXPECT_EQ(body["kind"], "a");
  EXPECT_EQ(node::parse_body(R"({"kind": "a", "x": 1})", {"kind"}, &body), "unknown field 'x'");
  for (const char* bad : {"[]", "1", "{", "\"kind\""}) {
    EXPECT_EQ(node::parse_body(bad, {"kind"}, &body), "the body must be a JSON object") << bad;
  }
}

TEST(NodeAdminBody, StringFieldsArePresentAbsentOrWrong) {
  const json body = {{"kind", "a"}, {"object", 7}};
  std::string out;
  bool present = false;
  EXPECT_FALSE(node::string_field(body, "kind", &out, &present));
  EXPECT_TRUE(present);
  EXPECT_EQ(out, "a");
  EXPECT_FALSE(node::string_field(body, "range", &out, &present));
  EXPECT_FALSE(present);
  EXPECT_EQ(node::string_field(body, "object", &out, &present), "'object' must be a string");
}

TEST(NodeAdminRange, TakesRangesWithOrWithoutTheUnit) {
  using base::ByteRange;
  auto parse = [](std::string_view text) {
    ByteRange r{ByteRange::Kind::kOpen, 0, 0, 0};
    EXPECT_TRUE(node::parse_admin_range(text, &r)) << text;
    return r;
  };
  for (std::string_view text : {"10-20", "bytes=10-20"}) {
    ByteRange r = parse(text);
    EXPECT_EQ(r.kind, ByteRange::Kind::kClosed) << text;
    EXPECT_EQ(r.first, 10u);
    EXPECT_EQ(r.last, 20u);
  }
  for (std::string_view text : {"70000-", "bytes=70000-"}) {
    ByteRange r = parse(text);
    EXPECT_EQ(r.kind, ByteRange::Kind::kOpen) << text;
    EXPECT_EQ(r.first, 70000u);
  }
  for (std::string_view text : {"-50", "bytes=-50"}) {
    EXPECT_EQ(parse(text).kind, ByteRange::Kind::kSuffix) << text;
  }
  ByteRange untouched{ByteRange::Kind::kClosed, 1, 2, 0};
  for (std::string_view bad : {"", "x-y", "20-10", "1-2,5-6", "items=1-2", "bytes=", "-"}) {
    EXPECT_FALSE(node::parse_admin_range(bad, &untouched)) << bad;
  }
  EXPECT_EQ(untouched.first, 1u);
}

TEST(NodeAdminNames, WeightsAreZeroOrInTheRingsRange) {
  EXPECT_TRUE(node::valid_weight(0));
  EXPECT_TRUE(node::valid_weight(1e-6));
  EXPECT_TRUE(node::valid_weight(1e15));
  EXPECT_FALSE(node::valid_weight(1e-7));
  EXPECT_FALSE(node::valid_weight(2e15));
  EXPECT_FALSE(node::valid_weight(-1));
}

}  // namespace
}  // namespace shoal::test
