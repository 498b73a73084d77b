// Real S3 clients for the S3 port's suites: boto3 through tests/tools/s3_api_client.py and the
// AWS CLI (/usr/bin/aws), each run in an environment of its own. Header-only.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tests/integration/harness/harness.h"

namespace shoal::test {

inline constexpr const char* kAwsCli = "/usr/bin/aws";

// An environment with only these AWS credentials: none of the node's or the user's settings.
inline std::map<std::string, std::string> s3_client_env(const std::string& home,
                                                        const std::string& key_id,
                                                        const std::string& secret) {
  return {{"HOME", home},
          {"AWS_CONFIG_FILE", home + "/config"},
          {"AWS_SHARED_CREDENTIALS_FILE", home + "/credentials"},
          {"AWS_ACCESS_KEY_ID", key_id},
          {"AWS_SECRET_ACCESS_KEY", secret},
          {"AWS_DEFAULT_REGION", "us-east-1"},
          {"AWS_EC2_METADATA_DISABLED", "true"},
          {"AWS_PAGER", ""}};
}

// Runs tests/tools/s3_api_client.py (Debian's /usr/bin/python3 and its boto3) against
// `endpoint`; its JSON answer, or {"skip": true} without boto3. Throws when it fails.
inline nlohmann::json run_boto(const std::string& endpoint, const std::string& key_id,
                               const std::string& secret, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {
      "/usr/bin/python3", source_dir() + "/tests/tools/s3_api_client.py", endpoint, key_id, secret};
  argv.insert(argv.end(), args.begin(), args.end());
  TempDir out;
  Process p =
      Process::spawn(argv, s3_client_env(out.path(), key_id, secret), out.path() + "/out.log");
  auto code = p.wait(std::chrono::seconds(120));
  if (!code) throw std::runtime_error("s3_api_client.py did not finish: " + p.log());
  std::string log = p.log();
  if (*code == 77) return {{"skip", true}};
  std::string last = log.substr(log.find_last_of('\n', log.size() - 2) + 1);
  auto j = nlohmann::json::parse(last, nullptr, false);
  if (*code != 0 || j.is_discarded()) {
    throw std::runtime_error("s3_api_client.py failed (" + std::to_string(*code) + "): " + log);
  }
  return j;
}

// Runs the AWS CLI with `args` against `endpoint`: {exit code, output}.
inline std::pair<int, std::string> run_aws(const std::string& endpoint, const std::string& home,
                                           const std::string& key_id, const std::string& secret,
                                           std::vector<std::string> args) {
  args.insert(args.begin(), {kAwsCli, "--endpoint-url", endpoint});
  Process p = Process::spawn(args, s3_client_env(home, key_id, secret), home + "/aws.log");
  auto code = p.wait(std::chrono::seconds(180));
  std::string log = p.log();
  std::remove((home + "/aws.log").c_str());
  return {code.value_or(-1), log};
}

}  // namespace shoal::test
