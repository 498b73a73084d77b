// Real S3 clients run against shoald's S3 port in integration tests: the AWS CLI, boto3 (through
// tests/tools/s3_api_client.py), rclone and the current AWS SDK for JavaScript (through
// tests/tools/s3_api_client.mjs), each in an environment without the caller's or the node's AWS
// settings. Clients that are not installed are reported as missing (the tests skip, naming the
// package; cluster/deps.sh installs them all).
#pragma once

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace shoal::test {

// A client's exit code (-1 when it did not finish in time) and its stdout and stderr together.
struct ToolRun {
  int code = -1;
  std::string out;
};

// An environment for S3 clients: HOME (and the AWS config and credentials files under it) at
// `home`, the given key pair, region us-east-1, no instance metadata, no pager.
std::map<std::string, std::string> s3_client_env(const std::string& home, const std::string& key_id,
                                                 const std::string& secret);

// Runs `argv` with `env`, its output in a file under `home` (removed afterwards).
ToolRun run_tool(const std::vector<std::string>& argv,
                 const std::map<std::string, std::string>& env, const std::string& home,
                 std::chrono::seconds timeout = std::chrono::seconds(120));

// tests/tools/s3_api_client.py ENDPOINT KEY_ID SECRET ARGS...: its JSON answer, or {"skip": ..}
// without boto3. Throws when it fails or prints no JSON.
nlohmann::json boto_call(const std::string& endpoint, const std::string& key_id,
                         const std::string& secret, const std::vector<std::string>& args);

// tests/tools/s3_api_client.mjs ENDPOINT KEY_ID SECRET ARGS... with @aws-sdk/client-s3 from
// .deps/aws-sdk: its JSON answer, or {"skip": ..} when the SDK is not installed. Throws as
// boto_call.
nlohmann::json js_sdk_call(const std::string& endpoint, const std::string& key_id,
                           const std::string& secret, const std::vector<std::string>& args);

// rclone's on-the-fly remote for `endpoint` with the key pair: ":s3,provider=Other,...:".
std::string rclone_remote(const std::string& endpoint, const std::string& key_id,
                          const std::string& secret);

inline constexpr const char* kAwsCli = "/usr/bin/aws";
inline constexpr const char* kRclone = "/usr/bin/rclone";

// Runs the AWS CLI with `args` against `endpoint` (run_tool, HOME at `home`): {exit code,
// output}.
std::pair<int, std::string> run_aws(const std::string& endpoint, const std::string& home,
                                    const std::string& key_id, const std::string& secret,
                                    std::vector<std::string> args);

}  // namespace shoal::test
