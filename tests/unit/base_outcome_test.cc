#include <gtest/gtest.h>

#include <set>
#include <string>

#include "ring/base/outcome.h"

namespace shoal::base {
namespace {

constexpr Outcome kAll[] = {
    Outcome::kOk,
    Outcome::kNotFound,
    Outcome::kAccessDenied,
    Outcome::kInvalidRange,
    Outcome::kPreconditionFailed,
    Outcome::kThrottled,
    Outcome::kServerError,
    Outcome::kTimeout,
    Outcome::kMalformed,
    Outcome::kTransportError,
    Outcome::kCancelled,
};

TEST(Outcome, NamesAreUniqueLowerSnake) {
  std::set<std::string> names;
  for (Outcome o : kAll) {
    const std::string name(outcome_name(o));
    EXPECT_FALSE(name.empty());
    for (char c : name) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << name;
    EXPECT_TRUE(names.insert(name).second) << name;
  }
  EXPECT_EQ(outcome_name(Outcome::kTransportError), "transport_error");
}

TEST(Outcome, OnlyTransientFailuresAreRetryable) {
  const std::set<Outcome> retryable = {Outcome::kThrottled, Outcome::kServerError,
                                       Outcome::kTimeout, Outcome::kMalformed,
                                       Outcome::kTransportError};
  for (Outcome o : kAll) {
    EXPECT_EQ(is_retryable(o), retryable.count(o) == 1) << outcome_name(o);
  }
}

}  // namespace
}  // namespace shoal::base
