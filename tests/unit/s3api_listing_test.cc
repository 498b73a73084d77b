#include <gtest/gtest.h>

#include "node/s3api/listing.h"
#include "node/s3api/request.h"

namespace shoal::s3api {
namespace {

QueryList forwarded(Operation op, const QueryList& q) {
  auto r = list_objects_query(op, q);
  EXPECT_TRUE(std::holds_alternative<QueryList>(r))
      << (std::holds_alternative<ListError>(r) ? std::get<ListError>(r).message : "");
  return std::holds_alternative<QueryList>(r) ? std::get<QueryList>(r) : QueryList{};
}

ListError refused(Operation op, const QueryList& q) {
  auto r = list_objects_query(op, q);
  EXPECT_TRUE(std::holds_alternative<ListError>(r));
  return std::holds_alternative<ListError>(r) ? std::get<ListError>(r) : ListError{};
}

TEST(ListObjectsQuery, ForwardsWhatMattersAndDropsSignatures) {
  EXPECT_EQ(forwarded(Operation::kListObjectsV2, {{"list-type", "2"},
                                                  {"prefix", "dir/"},
                                                  {"delimiter", "/"},
                                                  {"max-keys", "7"},
                                                  {"continuation-token", "tok"},
                                                  {"start-after", "dir/a"},
                                                  {"fetch-owner", "TRUE"},
                                                  {"encoding-type", "URL"},
                                                  {"X-Amz-Signature", "abc"},
                                                  {"x-id", "ListObjectsV2"}}),
            (QueryList{{"list-type", "2"},
                       {"prefix", "dir/"},
                       {"delimiter", "/"},
                       {"max-keys", "7"},
                       {"continuation-token", "tok"},
                       {"start-after", "dir/a"},
                       {"fetch-owner", "true"},
                       {"encoding-type", "url"}}));
  EXPECT_EQ(forwarded(Operation::kListObjects, {{"marker", "m"}, {"prefix", ""}}),
            (QueryList{{"marker", "m"}, {"prefix", ""}}));
  EXPECT_EQ(forwarded(Operation::kListObjects, {}), QueryList{});
}

TEST(ListObjectsQuery, MaxKeysRange) {
  EXPECT_EQ(forwarded(Operation::kListObjects, {{"max-keys", "0"}}),
            (QueryList{{"max-keys", "0"}}));
  EXPECT_EQ(forwarded(Operation::kListObjects, {{"max-keys", "2147483647"}}),
            (QueryList{{"max-keys", "1000"}}));
  for (const char* bad :
       {"", "-1", "2147483648", "99999999999999999999", "1e3", " 5", "0x10", "5 "}) {
    ListError e = refused(Operation::kListObjectsV2, {{"list-type", "2"}, {"max-keys", bad}});
    EXPECT_EQ(e.code, ErrorCode::kInvalidArgument) << bad;
    EXPECT_EQ(e.argument, "max-keys") << bad;
  }
}

TEST(ListObjectsQuery, HostileInputIsRefused) {
  const Operation v2 = Operation::kListObjectsV2;
  struct Case {
    QueryList q;
    ErrorCode code;
    std::string argument;
  };
  const std::vector<Case> cases = {
      {{{"prefix", std::string(1025, 'a')}}, ErrorCode::kInvalidArgument, "prefix"},
      {{{"delimiter", std::string(5000, '/')}}, ErrorCode::kInvalidArgument, "delimiter"},
      {{{"start-after", std::string("a\0b", 3)}}, ErrorCode::kInvalidArgument, "start-after"},
      {{{"prefix", "a\r\nHost: evil"}}, ErrorCode::kInvalidArgument, "prefix"},
      {{{"continuation-token", std::string(4097, 'x')}},
       ErrorCode::kInvalidArgument,
       "continuation-token"},
      {{{"prefix", "a"}, {"prefix", "b"}}, ErrorCode::kInvalidArgument, "prefix"},
      {{{"encoding-type", "base64"}}, ErrorCode::kInvalidArgument, "encoding-type"},
      {{{"fetch-owner", "yes"}}, ErrorCode::kInvalidArgument, "fetch-owner"},
      {{{"marker", "m"}}, ErrorCode::kInvalidArgument, "marker"},
      {{{"list-type", "3"}}, ErrorCode::kInvalidArgument, "list-type"},
      {{{"acl", ""}}, ErrorCode::kNotImplemented, "acl"},
  };
  for (const Case& c : cases) {
    ListError e = refused(v2, c.q);
    EXPECT_EQ(e.code, c.code) << c.argument;
    EXPECT_EQ(e.argument, c.argument);
    EXPECT_FALSE(e.message.empty());
  }
  // Parameters of the other version, and too many parameters.
  EXPECT_EQ(refused(Operation::kListObjects, {{"continuation-token", "t"}}).argument,
            "continuation-token");
  EXPECT_EQ(refused(Operation::kListObjects, {{"start-after", "a"}}).argument, "start-after");
  EXPECT_EQ(refused(Operation::kListObjects, {{"list-type", "1"}}).argument, "list-type");
  QueryList many;
  for (int i = 0; i < 33; ++i) many.emplace_back("X-Amz-P" + std::to_string(i), "");
  EXPECT_EQ(refused(v2, many).code, ErrorCode::kInvalidArgument);
  // Exactly at the limits is fine.
  EXPECT_EQ(forwarded(v2, {{"prefix", std::string(1024, 'p')},
                           {"continuation-token", std::string(4096, 't')}})
                .size(),
            2u);
}

TEST(RenameListedBucket, OnlyTheResultsOwnName) {
  std::string xml =
      "<?xml version=\"1.0\"?><ListBucketResult><Name>origin-b</Name><Prefix>x</Prefix>"
      "<Contents><Key>origin-b</Key></Contents></ListBucketResult>";
  EXPECT_TRUE(rename_listed_bucket(&xml, "origin-b", "client-b"));
  EXPECT_EQ(xml,
            "<?xml version=\"1.0\"?><ListBucketResult><Name>client-b</Name><Prefix>x</Prefix>"
            "<Contents><Key>origin-b</Key></Contents></ListBucketResult>");
  std::string other = "<ListBucketResult><Name>another</Name></ListBucketResult>";
  EXPECT_FALSE(rename_listed_bucket(&other, "origin-b", "client-b"));
  EXPECT_EQ(other, "<ListBucketResult><Name>another</Name></ListBucketResult>");
  std::string broken = "<ListBucketResult><Name>origin-b";
  EXPECT_FALSE(rename_listed_bucket(&broken, "origin-b", "client-b"));
  std::string none = "<Error><Name>origin-b</Name></Error>";
  EXPECT_FALSE(rename_listed_bucket(&none, "origin-b", "client-b"));
}

TEST(ListBuckets, QueryAndXml) {
  auto q = list_buckets_query({{"prefix", "da"}, {"max-buckets", "1"}, {"x-id", "ListBuckets"}});
  ASSERT_TRUE(std::holds_alternative<ListBucketsQuery>(q));
  const ListBucketsQuery lq = std::get<ListBucketsQuery>(q);
  EXPECT_EQ(lq.prefix, "da");
  EXPECT_EQ(lq.max_buckets, 1u);
  const std::string xml = list_buckets_xml({"data-2", "other", "data-1", "data-1"}, lq, "CLIENT1",
                                           "1970-01-01T00:00:00.000Z");
  EXPECT_NE(xml.find("<ListAllMyBucketsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                     "<Owner><ID>CLIENT1</ID><DisplayName>CLIENT1</DisplayName></Owner><Buckets>"
                     "<Bucket><Name>data-1</Name><CreationDate>1970-01-01T00:00:00.000Z"
                     "</CreationDate></Bucket></Buckets><ContinuationToken>data-1"
                     "</ContinuationToken><Prefix>da</Prefix></ListAllMyBucketsResult>"),
            std::string::npos)
      << xml;
  ListBucketsQuery next = lq;
  next.after = "data-1";
  const std::string page2 = list_buckets_xml({"data-2", "other", "data-1"}, next, "C", "d");
  EXPECT_NE(page2.find("<Name>data-2</Name>"), std::string::npos);
  EXPECT_EQ(page2.find("data-1"), std::string::npos);
  EXPECT_EQ(page2.find("ContinuationToken"), std::string::npos);
  for (const QueryList& bad : std::vector<QueryList>{{{"max-buckets", "0"}},
                                                     {{"max-buckets", "10001"}},
                                                     {{"max-buckets", "-1"}},
                                                     {{"prefix", std::string(2000, 'a')}},
                                                     {{"prefix", "a"}, {"prefix", "a"}}}) {
    auto e = list_buckets_query(bad);
    ASSERT_TRUE(std::holds_alternative<ListError>(e)) << bad[0].first;
    EXPECT_EQ(std::get<ListError>(e).code, ErrorCode::kInvalidArgument);
  }
  auto unknown = list_buckets_query({{"acl", ""}});
  ASSERT_TRUE(std::holds_alternative<ListError>(unknown));
  EXPECT_EQ(std::get<ListError>(unknown).code, ErrorCode::kNotImplemented);
}

TEST(ListClassify, SdkParametersAndSubResources) {
  auto op = [](std::string_view method, std::string_view target) {
    auto r = classify(method, target, "h:1", "");
    return std::holds_alternative<S3Request>(r) ? std::get<S3Request>(r).op : Operation::kOther;
  };
  EXPECT_EQ(op("GET", "/?x-id=ListBuckets&max-buckets=5"), Operation::kListBuckets);
  EXPECT_EQ(op("GET", "/?X-Amz-Signature=x"), Operation::kListBuckets);
  EXPECT_EQ(op("GET", "/?acl"), Operation::kOther);
  EXPECT_EQ(op("GET", "/b-1?list-type=2&x-id=ListObjectsV2"), Operation::kListObjectsV2);
  EXPECT_EQ(op("GET", "/b-1?list-type=2&acl"), Operation::kOther);
  EXPECT_EQ(op("GET", "/b-1/k?x-id=GetObject"), Operation::kGetObject);
}

}  // namespace
}  // namespace shoal::s3api
