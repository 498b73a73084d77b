#include <gtest/gtest.h>

#include "node/client_status.h"

namespace shoal::node {
namespace {

using base::Outcome;

TEST(ClientStatus, FollowsTheTableOfTheClientApi) {
  EXPECT_EQ(client_status(Outcome::kOk), 206);
  EXPECT_EQ(client_status(Outcome::kNotFound), 404);
  EXPECT_EQ(client_status(Outcome::kAccessDenied), 403);
  EXPECT_EQ(client_status(Outcome::kInvalidRange), 416);
  EXPECT_EQ(client_status(Outcome::kPreconditionFailed), 409);
  EXPECT_EQ(client_status(Outcome::kThrottled), 503);
  EXPECT_EQ(client_status(Outcome::kServerError), 503);
  EXPECT_EQ(client_status(Outcome::kTimeout), 504);
  EXPECT_EQ(client_status(Outcome::kMalformed), 502);
  EXPECT_EQ(client_status(Outcome::kTransportError), 502);
  EXPECT_EQ(client_status(Outcome::kCancelled), 499);
}

}  // namespace
}  // namespace shoal::node
