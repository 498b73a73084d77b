#include "tests/integration/harness/s3_clients.h"

#include <filesystem>
#include <stdexcept>

#include "tests/integration/harness/harness.h"

namespace shoal::test {

namespace {

// The last line of a client's output as JSON ({"skip": ..} for exit code 77).
nlohmann::json json_answer(const std::string& what, const ToolRun& run) {
  if (run.code == 77) return {{"skip", true}};
  const std::size_t end = run.out.find_last_not_of('\n');
  const std::size_t nl = end == std::string::npos ? std::string::npos : run.out.rfind('\n', end);
  const std::string last =
      end == std::string::npos ? "" : run.out.substr(nl == std::string::npos ? 0 : nl + 1);
  auto j = nlohmann::json::parse(last, nullptr, false);
  if (run.code != 0 || j.is_discarded()) {
    throw std::runtime_error(what + " failed (" + std::to_string(run.code) + "): " + run.out);
  }
  return j;
}

nlohmann::json script_call(const std::string& interpreter, const std::string& script,
                           const std::string& endpoint, const std::string& key_id,
                           const std::string& secret, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {interpreter, source_dir() + "/tests/tools/" + script, endpoint,
                                   key_id, secret};
  argv.insert(argv.end(), args.begin(), args.end());
  TempDir home;
  auto env = s3_client_env(home.path(), key_id, secret);
  env["SHOAL_DEPS"] = source_dir() + "/.deps";
  return json_answer(script, run_tool(argv, env, home.path()));
}

}  // namespace

std::map<std::string, std::string> s3_client_env(const std::string& home, const std::string& key_id,
                                                 const std::string& secret) {
  return {{"HOME", home},
          {"PATH", "/usr/bin:/bin"},
          {"AWS_CONFIG_FILE", home + "/config"},
          {"AWS_SHARED_CREDENTIALS_FILE", home + "/credentials"},
          {"AWS_ACCESS_KEY_ID", key_id},
          {"AWS_SECRET_ACCESS_KEY", secret},
          {"AWS_DEFAULT_REGION", "us-east-1"},
          {"AWS_REGION", "us-east-1"},
          {"AWS_EC2_METADATA_DISABLED", "true"},
          {"AWS_PAGER", ""},
          {"AWS_CA_BUNDLE", ""},  // rclone's SDK refuses a custom bundle on its HTTP transport
          {"RCLONE_CONFIG", "/dev/null"}};  // no config file: remotes are given on the line
}

ToolRun run_tool(const std::vector<std::string>& argv,
                 const std::map<std::string, std::string>& env, const std::string& home,
                 std::chrono::seconds timeout) {
  const std::string log = home + "/tool.log";
  Process p = Process::spawn(argv, env, log);
  auto code = p.wait(timeout);
  if (!code) p.kill();
  ToolRun run{code.value_or(-1), p.log()};
  std::filesystem::remove(log);
  return run;
}

nlohmann::json boto_call(const std::string& endpoint, const std::string& key_id,
                         const std::string& secret, const std::vector<std::string>& args) {
  return script_call("/usr/bin/python3", "s3_api_client.py", endpoint, key_id, secret, args);
}

nlohmann::json js_sdk_call(const std::string& endpoint, const std::string& key_id,
                           const std::string& secret, const std::vector<std::string>& args) {
  return script_call("/usr/bin/node", "s3_api_client.mjs", endpoint, key_id, secret, args);
}

std::string rclone_remote(const std::string& endpoint, const std::string& key_id,
                          const std::string& secret) {
  return ":s3,provider=Other,env_auth=false,force_path_style=true,region=us-east-1,endpoint='" +
         endpoint + "',access_key_id=" + key_id + ",secret_access_key='" + secret + "':";
}

std::pair<int, std::string> run_aws(const std::string& endpoint, const std::string& home,
                                    const std::string& key_id, const std::string& secret,
                                    std::vector<std::string> args) {
  args.insert(args.begin(), {kAwsCli, "--endpoint-url", endpoint});
  ToolRun run =
      run_tool(args, s3_client_env(home, key_id, secret), home, std::chrono::seconds(180));
  return {run.code, std::move(run.out)};
}

}  // namespace shoal::test
