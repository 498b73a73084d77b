// ProxiedOriginTest: the fixture of suites whose nodes read from s3rver through the fault proxy
// (tests/tools/fault_proxy.py), so a test can hold bodies back, cut them and count requests.
// SetUp starts s3rver with one bucket and the proxy in front of it; put() stores a random object.
// Both processes stop with the fixture.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "tests/integration/harness/harness.h"

namespace shoal::test {

class ProxiedOriginTest : public ::testing::Test {
 protected:
  explicit ProxiedOriginTest(std::string bucket) : bucket_(std::move(bucket)) {}

  void SetUp() override {
    s3_ = std::make_unique<S3Server>();
    s3_->create_bucket(bucket_);
    proxy_ = std::make_unique<FaultProxy>(s3_->port());
  }

  // Stores `size` random bytes (from `seed`) as `key` in the bucket; returns them.
  std::string put(const std::string& key, std::uint64_t size, std::uint64_t seed) {
    std::string data = random_bytes(size, seed);
    s3_->put_object(bucket_, key, data);
    return data;
  }

  std::string bucket_;
  std::unique_ptr<S3Server> s3_;
  std::unique_ptr<FaultProxy> proxy_;
};

}  // namespace shoal::test
