#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "origin/request_config.h"

namespace shoal::origin {
namespace {

using std::chrono::milliseconds;

const ClientCaps kNoCaps = ClientCaps::unlimited();

// A base config with distinctive values, to tell "unchanged" from "defaulted".
RequestConfig distinctive_base() {
  RequestConfig base;
  base.connect_timeout = milliseconds(1111);
  base.read_timeout = milliseconds(2222);
  base.operation_timeout = milliseconds(33333);
  base.attempt_timeout = milliseconds(4444);
  base.max_attempts = 5;
  base.initial_backoff = milliseconds(66);
  base.max_backoff = milliseconds(777);
  return base;
}

bool same(const RequestConfig& a, const RequestConfig& b) {
  return a.connect_timeout == b.connect_timeout && a.read_timeout == b.read_timeout &&
         a.operation_timeout == b.operation_timeout && a.attempt_timeout == b.attempt_timeout &&
         a.max_attempts == b.max_attempts && a.initial_backoff == b.initial_backoff &&
         a.max_backoff == b.max_backoff;
}

TEST(RequestConfig, DefaultsAreValid) {
  EXPECT_EQ(RequestConfig().validate(), std::nullopt);
}

TEST(RequestConfig, ValidateNamesTheKey) {
  RequestConfig cfg;
  cfg.connect_timeout = milliseconds(0);
  ASSERT_TRUE(cfg.validate().has_value());
  EXPECT_NE(cfg.validate()->find("ct"), std::string::npos);
  cfg = RequestConfig();
  cfg.max_attempts = 0;
  ASSERT_TRUE(cfg.validate().has_value());
  EXPECT_NE(cfg.validate()->find("ma"), std::string::npos);
  cfg = RequestConfig();
  cfg.initial_backoff = milliseconds(500);
  cfg.max_backoff = milliseconds(100);
  ASSERT_TRUE(cfg.validate().has_value());
  EXPECT_NE(cfg.validate()->find("mb"), std::string::npos);
}

TEST(C0Config, AppliesAllKeys) {
  RequestConfig out;
  ASSERT_EQ(apply_c0_config("ct=100 rt=200 ot=3000 oat=1500 ma=4 ib=10 mb=500", RequestConfig(),
                            kNoCaps, &out),
            std::nullopt);
  EXPECT_EQ(out.connect_timeout, milliseconds(100));
  EXPECT_EQ(out.read_timeout, milliseconds(200));
  EXPECT_EQ(out.operation_timeout, milliseconds(3000));
  EXPECT_EQ(out.attempt_timeout, milliseconds(1500));
  EXPECT_EQ(out.max_attempts, 4);
  EXPECT_EQ(out.initial_backoff, milliseconds(10));
  EXPECT_EQ(out.max_backoff, milliseconds(500));
}

TEST(C0Config, KeepsBaseForKeysNotGiven) {
  RequestConfig out;
  ASSERT_EQ(apply_c0_config("ma=2", distinctive_base(), kNoCaps, &out), std::nullopt);
  RequestConfig expected = distinctive_base();
  expected.max_attempts = 2;
  EXPECT_TRUE(same(out, expected));
}

TEST(C0Config, EmptyStringKeepsBase) {
  RequestConfig out;
  ASSERT_EQ(apply_c0_config("", distinctive_base(), kNoCaps, &out), std::nullopt);
  EXPECT_TRUE(same(out, distinctive_base()));
  ASSERT_EQ(apply_c0_config("   ", distinctive_base(), kNoCaps, &out), std::nullopt);
  EXPECT_TRUE(same(out, distinctive_base()));
}

TEST(C0Config, IgnoresUnknownKeys) {
  RequestConfig out;
  ASSERT_EQ(apply_c0_config("zz=5 ct=7 future=abc bare CT=9", distinctive_base(), kNoCaps, &out),
            std::nullopt);
  RequestConfig expected = distinctive_base();
  expected.connect_timeout = milliseconds(7);
  EXPECT_TRUE(same(out, expected));
}

TEST(C0Config, ToleratesExtraSpacesAndTabs) {
  RequestConfig out;
  ASSERT_EQ(apply_c0_config("  ct=5 \t  ma=2\t", distinctive_base(), kNoCaps, &out), std::nullopt);
  EXPECT_EQ(out.connect_timeout, milliseconds(5));
  EXPECT_EQ(out.max_attempts, 2);
}

TEST(C0Config, LastDuplicateWins) {
  RequestConfig out;
  ASSERT_EQ(apply_c0_config("ma=2 ma=3", RequestConfig(), kNoCaps, &out), std::nullopt);
  EXPECT_EQ(out.max_attempts, 3);
}

TEST(C0Config, AllowsZeroBackoff) {
  RequestConfig out;
  ASSERT_EQ(apply_c0_config("ib=0 mb=0", RequestConfig(), kNoCaps, &out), std::nullopt);
  EXPECT_EQ(out.initial_backoff, milliseconds(0));
  EXPECT_EQ(out.max_backoff, milliseconds(0));
}

TEST(C0Config, RejectsMalformedValuesNamingTheKey) {
  const struct {
    const char* text;
    const char* key;
  } cases[] = {
      {"ma=0", "ma"},         {"ma=101", "ma"},  {"ma=x", "ma"},
      {"ct=", "ct"},          {"ct", "ct"},      {"ct=-1", "ct"},
      {"ct=+1", "ct"},        {"ct=1.5", "ct"},  {"ct=1e3", "ct"},
      {"ct=0", "ct"},         {"rt=10ms", "rt"}, {"ot=99999999999999999999", "ot"},
      {"oat=3600001", "oat"}, {"ib=-5", "ib"},   {"mb=abc", "mb"},
      {"ct= 5", "ct"},
  };
  for (const auto& c : cases) {
    RequestConfig out = distinctive_base();
    auto reason = apply_c0_config(c.text, RequestConfig(), kNoCaps, &out);
    ASSERT_TRUE(reason.has_value()) << c.text;
    EXPECT_EQ(reason->rfind("C0-Config: ", 0), 0u) << *reason;
    EXPECT_NE(reason->find(c.key), std::string::npos) << *reason;
    EXPECT_TRUE(same(out, distinctive_base())) << c.text << " changed the output";
  }
}

TEST(C0Config, RejectsMaxBackoffBelowInitial) {
  RequestConfig out = distinctive_base();
  auto reason = apply_c0_config("ib=100 mb=50", RequestConfig(), kNoCaps, &out);
  ASSERT_TRUE(reason.has_value());
  EXPECT_EQ(*reason, "C0-Config: mb must be >= ib");
  EXPECT_TRUE(same(out, distinctive_base()));
}

TEST(C0Config, MessageGivesTheRange) {
  RequestConfig out;
  EXPECT_EQ(apply_c0_config("ma=0", RequestConfig(), kNoCaps, &out),
            "C0-Config: ma must be an integer in [1, 100]");
  EXPECT_EQ(apply_c0_config("ct=x", RequestConfig(), kNoCaps, &out),
            "C0-Config: ct must be an integer in [1, 3600000] ms");
}

// One client must not pin origin capacity: values above the operator's caps are lowered to them
// ("rt=1 oat=1 ct=1 ma=100 ib=0 mb=0" once made 100 origin GETs for one request).
TEST(C0Config, ValuesAboveTheCapsAreLoweredToThem) {
  ClientCaps caps;  // 60 s, 5 attempts, 5 s backoff
  RequestConfig out;
  ASSERT_EQ(apply_c0_config("rt=1 oat=1 ct=1 ma=100 ib=0 mb=0", RequestConfig(), caps, &out),
            std::nullopt);
  EXPECT_EQ(out.max_attempts, 5);
  ASSERT_EQ(apply_c0_config("ct=3600000 rt=3600000 ot=3600000 oat=3600000 ib=600000 mb=600000",
                            RequestConfig(), caps, &out),
            std::nullopt);
  EXPECT_EQ(out.connect_timeout, milliseconds(60000));
  EXPECT_EQ(out.read_timeout, milliseconds(60000));
  EXPECT_EQ(out.operation_timeout, milliseconds(60000));
  EXPECT_EQ(out.attempt_timeout, milliseconds(60000));
  EXPECT_EQ(out.initial_backoff, milliseconds(5000));
  EXPECT_EQ(out.max_backoff, milliseconds(5000));
  EXPECT_EQ(out.validate(), std::nullopt);
  // Values below the caps are kept.
  ASSERT_EQ(apply_c0_config("ma=4 mb=4000 ot=59000", RequestConfig(), caps, &out), std::nullopt);
  EXPECT_EQ(out.max_attempts, 4);
  EXPECT_EQ(out.max_backoff, milliseconds(4000));
  EXPECT_EQ(out.operation_timeout, milliseconds(59000));
}

TEST(C0Config, CapsAreAtLeastTheDefaultsAndNameTheirFlag) {
  const RequestConfig defaults;
  EXPECT_EQ(ClientCaps().validate(defaults), std::nullopt);
  EXPECT_EQ(ClientCaps::unlimited().validate(defaults), std::nullopt);
  ClientCaps c;
  c.max_timeout = milliseconds(29999);  // below the default ot (30 s)
  EXPECT_EQ(c.validate(defaults)->rfind("--max-client-timeout-ms: must be in [30000, ", 0), 0u);
  c = ClientCaps();
  c.max_attempts = 2;
  EXPECT_EQ(c.validate(defaults)->rfind("--max-client-attempts: must be in [3, 100]", 0), 0u);
  c = ClientCaps();
  c.max_backoff = milliseconds(600001);
  EXPECT_EQ(c.validate(defaults)->rfind("--max-client-backoff-ms: must be in [1000, 600000]", 0),
            0u);
}

// A timeout the client chose shorter than the node's own is marked, so bucket health ignores it.
TEST(C0Config, MarksTimeoutsTheClientShortened) {
  RequestConfig out;
  ASSERT_EQ(apply_c0_config("", RequestConfig(), kNoCaps, &out), std::nullopt);
  EXPECT_FALSE(out.client_timeouts);
  ASSERT_EQ(apply_c0_config("ma=1 ot=60000 rt=9000", RequestConfig(), kNoCaps, &out), std::nullopt);
  EXPECT_FALSE(out.client_timeouts);  // longer timeouts are no excuse
  for (const char* text : {"ct=1", "rt=4999", "oat=10", "ot=29999"}) {
    ASSERT_EQ(apply_c0_config(text, RequestConfig(), kNoCaps, &out), std::nullopt);
    EXPECT_TRUE(out.client_timeouts) << text;
  }
}

// What a node forwards: only the keys that differ from its defaults, short whatever was sent.
TEST(C0Config, ForwardedTextHoldsTheKeysThatDifferAndRoundTrips) {
  const RequestConfig defaults;
  EXPECT_EQ(c0_config_text(defaults, defaults), "");
  RequestConfig cfg;
  ASSERT_EQ(
      apply_c0_config(std::string(5000, ' ') + "zz=1 ma=2 rt=100 ct=2000", defaults, kNoCaps, &cfg),
      std::nullopt);
  EXPECT_EQ(c0_config_text(cfg, defaults), "rt=100 ma=2");
  RequestConfig again;
  ASSERT_EQ(apply_c0_config(c0_config_text(cfg, defaults), defaults, kNoCaps, &again),
            std::nullopt);
  EXPECT_TRUE(same(again, cfg));
  EXPECT_EQ(again.client_timeouts, cfg.client_timeouts);
}

}  // namespace
}  // namespace shoal::origin
