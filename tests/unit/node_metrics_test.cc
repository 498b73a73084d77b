// Tests for node/metrics.h: the Prometheus text writer (families, labels, escaping, numbers) and
// the counter and histogram families written through it.
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "node/metrics.h"

namespace shoal::node {
namespace {

TEST(PrometheusWriter, WritesHelpAndTypeOnceThenEverySampleOfTheFamily) {
  std::string text;
  PrometheusWriter out(&text);
  out.family("shoal_x_total", "Things by color", "counter");
  out.sample({{"color", "red"}}, 3);
  out.sample({{"color", "blue"}, {"shade", "dark"}}, 4);
  out.family("shoal_empty", "A family without samples", "gauge");
  out.gauge("shoal_g", "One gauge", 0.25);
  out.counter("shoal_c_total", "One counter", 7);
  EXPECT_EQ(text,
            "# HELP shoal_x_total Things by color\n"
            "# TYPE shoal_x_total counter\n"
            "shoal_x_total{color=\"red\"} 3\n"
            "shoal_x_total{color=\"blue\",shade=\"dark\"} 4\n"
            "# HELP shoal_empty A family without samples\n"
            "# TYPE shoal_empty gauge\n"
            "# HELP shoal_g One gauge\n"
            "# TYPE shoal_g gauge\n"
            "shoal_g 0.25\n"
            "# HELP shoal_c_total One counter\n"
            "# TYPE shoal_c_total counter\n"
            "shoal_c_total 7\n");
}

TEST(PrometheusWriter, SuffixExtendsTheFamilyName) {
  std::string text;
  PrometheusWriter out(&text);
  out.family("shoal_h_seconds", "H", "histogram");
  out.sample(Labels{{"m", "GET"}}.add("le", "+Inf"), 2, "_bucket");
  out.sample({}, 1.5, "_sum");
  EXPECT_EQ(text,
            "# HELP shoal_h_seconds H\n# TYPE shoal_h_seconds histogram\n"
            "shoal_h_seconds_bucket{m=\"GET\",le=\"+Inf\"} 2\n"
            "shoal_h_seconds_sum 1.5\n");
}

TEST(PrometheusWriter, EscapesBackslashQuoteAndNewlineInLabelValuesOnly) {
  EXPECT_EQ(Labels({{"b", "a\\b\"c\nd"}}).text(), "{b=\"a\\\\b\\\"c\\nd\"}");
  EXPECT_EQ(Labels({{"b", "x y/z{}=,"}}).text(), "{b=\"x y/z{}=,\"}");
  EXPECT_EQ(Labels().text(), "");
  EXPECT_EQ(Labels({"a", "b"}, {"1", "2"}).text(), "{a=\"1\",b=\"2\"}");
}

TEST(PrometheusWriter, FormatsWholeNumbersInFullAndOthersWithNineDigits) {
  const std::pair<double, const char*> cases[] = {
      {0, "v 0\n"},
      {-3, "v -3\n"},
      {1234567890, "v 1234567890\n"},
      {999999999999999, "v 999999999999999\n"},
      {1e15, "v 1e+15\n"},
      {0.0125, "v 0.0125\n"},
      {1.0 / 3, "v 0.333333333\n"},
      {9.0665e-05, "v 9.0665e-05\n"},
      {std::numeric_limits<double>::infinity(), "v +Inf\n"},
      {-std::numeric_limits<double>::infinity(), "v -Inf\n"},
      {std::numeric_limits<double>::quiet_NaN(), "v NaN\n"},
  };
  for (const auto& [value, expected] : cases) {
    std::string text;
    PrometheusWriter out(&text);
    out.family("v", "V", "gauge");
    text.clear();
    out.sample({}, value);
    EXPECT_EQ(text, expected) << value;
  }
}

TEST(CounterFamily, WritesEverySeriesInLabelOrder) {
  CounterFamily pages("shoal_pages_total", "Pages", {"outcome", "bucket"});
  pages.add({"miss", "b\"1"}, 2);
  pages.add({"hit", "a"});
  pages.add({"hit", "a"}, 4);
  std::string text;
  PrometheusWriter out(&text);
  pages.write(out);
  EXPECT_EQ(text,
            "# HELP shoal_pages_total Pages\n# TYPE shoal_pages_total counter\n"
            "shoal_pages_total{outcome=\"hit\",bucket=\"a\"} 5\n"
            "shoal_pages_total{outcome=\"miss\",bucket=\"b\\\"1\"} 2\n");
  EXPECT_EQ(pages.value({"hit", "a"}), 5u);
  EXPECT_EQ(pages.total(), 7u);
}

TEST(CounterFamily, FoldsLabelSetsBeyondTheLimitIntoOther) {
  CounterFamily f("shoal_f_total", "F", {"k"});
  for (std::size_t i = 0; i < kMaxSeries + 3; ++i) f.add({std::to_string(i)});
  EXPECT_EQ(f.value({"_other"}), 3u);
  EXPECT_EQ(f.value({"0"}), 1u);
  EXPECT_EQ(f.total(), kMaxSeries + 3);
  std::string text;
  PrometheusWriter out(&text);
  f.write(out);
  EXPECT_NE(text.find("shoal_f_total{k=\"_other\"} 3\n"), std::string::npos);
}

TEST(HistogramFamily, WritesCumulativeBucketsThenSumAndCount) {
  HistogramFamily h("shoal_d_seconds", "D", {"method"}, {0.1, 1});
  h.observe({"GET"}, 0.05);
  h.observe({"GET"}, 0.5);
  h.observe({"GET"}, 2);
  h.observe({"GET"}, 0.1);  // on a bound: counted in that bucket (le)
  std::string text;
  PrometheusWriter out(&text);
  h.write(out);
  EXPECT_EQ(text,
            "# HELP shoal_d_seconds D\n# TYPE shoal_d_seconds histogram\n"
            "shoal_d_seconds_bucket{method=\"GET\",le=\"0.1\"} 2\n"
            "shoal_d_seconds_bucket{method=\"GET\",le=\"1\"} 3\n"
            "shoal_d_seconds_bucket{method=\"GET\",le=\"+Inf\"} 4\n"
            "shoal_d_seconds_sum{method=\"GET\"} 2.65\n"
            "shoal_d_seconds_count{method=\"GET\"} 4\n");
}

}  // namespace
}  // namespace shoal::node
