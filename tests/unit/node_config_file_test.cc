// Tests for shoald's configuration file (--config, node/config_file.h) and --print-config:
// file values, command-line precedence, errors that name the key, the effective configuration
// and its round trip, and masking of secrets.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "node/config.h"
#include "node/config_file.h"

namespace shoal::test {
namespace {

// A config file in /tmp, removed at the end of the test.
class ConfigFile {
 public:
  explicit ConfigFile(const std::string& text) {
    char path[] = "/tmp/shoal-config-test-XXXXXX";
    int fd = mkstemp(path);
    EXPECT_GE(fd, 0);
    close(fd);
    path_ = path;
    std::ofstream(path_) << text;
  }
  ~ConfigFile() { unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// parse_command_line over "shoald" + args + a fixed S3 origin (so the environment does not
// matter).
node::ParseResult parse(std::vector<std::string> args) {
  std::vector<std::string> all = {"shoald", "--s3-endpoint", "http://127.0.0.1:9000", "--s3-region",
                                  "us-east-1"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<const char*> argv;
  for (const auto& a : all) argv.push_back(a.c_str());
  return node::parse_command_line(static_cast<int>(argv.size()), argv.data());
}

TEST(ConfigFile, SetsEveryKindOfFlag) {
  ConfigFile f(R"({"listen": "127.0.0.1:9100", "memory": "2GiB", "page-size": "1MiB",
                   "threads": 3, "weight": 2.5, "seed": ["10.0.0.1:7947", "10.0.0.2:7947"],
                   "peer-listen": "127.0.0.1:7947", "insecure-peer": true,
                   "hedge-budget": "10%", "node-id": "cache-a"})");
  auto r = parse({"--config", f.path()});
  ASSERT_TRUE(r.config) << r.output;
  const auto& c = *r.config;
  EXPECT_EQ(c.listen_host, "127.0.0.1");
  EXPECT_EQ(c.listen_port, 9100);
  EXPECT_EQ(c.memory_bytes, 2ull << 30);
  EXPECT_EQ(c.page_size, 1ull << 20);
  EXPECT_EQ(c.threads, 3);
  EXPECT_EQ(c.weight, 2.5);
  EXPECT_EQ(c.seeds, (std::vector<std::string>{"10.0.0.1:7947", "10.0.0.2:7947"}));
  EXPECT_TRUE(c.insecure_peer);
  EXPECT_DOUBLE_EQ(c.hedge_budget, 0.10);
  EXPECT_EQ(c.node_id, "cache-a");
}

TEST(ConfigFile, CommandLineFlagsWinOverTheFile) {
  ConfigFile f(R"({"memory": "2GiB", "threads": 3, "peer-listen": "127.0.0.1:7947",
                   "insecure-peer": true, "seed": ["10.0.0.1:7947", "10.0.0.2:7947"]})");
  auto r = parse({"--memory", "1GiB", "--config", f.path(), "--seed", "10.0.0.9:7947"});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->memory_bytes, 1ull << 30);
  EXPECT_EQ(r.config->threads, 3);  // not on the command line: from the file
  EXPECT_EQ(r.config->seeds, (std::vector<std::string>{"10.0.0.9:7947"}));
}

TEST(ConfigFile, UnknownKeyIsAnErrorNamingIt) {
  ConfigFile f(R"({"memory": "1GiB", "memroy": "2GiB"})");
  auto r = parse({"--config", f.path()});
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.output, "shoald: --config: unknown key 'memroy'\n");
}

TEST(ConfigFile, ValuesOfTheWrongShapeAreErrorsNamingTheKey) {
  for (const char* text :
       {R"({"listen": null})", R"({"listen": {"host": "a"}})", R"({"seed": [["a:1"]]})"}) {
    ConfigFile f(text);
    auto r = parse({"--config", f.path()});
    EXPECT_FALSE(r.config) << text;
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.output.find("--config: key '"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("must be a string, number, boolean or an array of those"),
              std::string::npos)
        << r.output;
  }
}

TEST(ConfigFile, BadValuesAreCheckedLikeFlags) {
  ConfigFile f(R"({"memory": "lots"})");
  auto r = parse({"--config", f.path()});
  EXPECT_FALSE(r.config);
  EXPECT_NE(r.output.find("--memory: not a size"), std::string::npos) << r.output;
}

// --hot-copy-memory is a file key too, checked as the flag is.
TEST(ConfigFile, HotCopyMemoryIsAKeyCheckedLikeTheFlag) {
  ConfigFile good(R"({"peer-listen": "127.0.0.1:7947", "insecure-peer": true,
                      "memory": "1GiB", "hot-copy-memory": "200MiB"})");
  auto r = parse({"--config", good.path()});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->hot_copy_bytes(), 200ull << 20);
  ConfigFile bad(R"({"peer-listen": "127.0.0.1:7947", "insecure-peer": true,
                     "memory": "1GiB", "hot-copy-memory": "2GiB"})");
  r = parse({"--config", bad.path()});
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.output.rfind("shoald: --hot-copy-memory: must be 0 (off)", 0), 0u) << r.output;
}

TEST(ConfigFile, RejectsMalformedJsonNonObjectsAndMissingFiles) {
  ConfigFile broken(R"({"memory": "1GiB",)");
  auto r = parse({"--config", broken.path()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--config: not valid JSON"), std::string::npos) << r.output;
  ConfigFile array(R"(["memory", "1GiB"])");
  r = parse({"--config", array.path()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--config: the file must hold one JSON object"), std::string::npos);
  r = parse({"--config", "/nonexistent/shoald.json"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("/nonexistent/shoald.json"), std::string::npos) << r.output;
}

TEST(ConfigFile, PrintConfigIsNotAFileKey) {
  ConfigFile f(R"({"print-config": true})");
  auto r = parse({"--config", f.path()});
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("print-config"), std::string::npos) << r.output;
}

TEST(PrintConfig, ShowsTheEffectiveConfigurationAndExits) {
  ConfigFile f(R"({"threads": 3, "seed": ["10.0.0.1:7947"], "peer-listen": "127.0.0.1:7947",
                   "insecure-peer": true})");
  auto r = parse({"--config", f.path(), "--memory", "1GiB", "--print-config"});
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.exit_code, 0);
  auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["memory"], "1GiB");
  EXPECT_EQ(j["threads"], 3);
  EXPECT_EQ(j["page-size"], "16MiB");  // default
  EXPECT_EQ(j["listen"], "0.0.0.0:8080");
  EXPECT_EQ(j["seed"], nlohmann::json::array({"10.0.0.1:7947"}));
  EXPECT_EQ(j["insecure-peer"], true);
  EXPECT_EQ(j["tls-self"], false);
  EXPECT_EQ(j["weight"], 1.0);
  EXPECT_EQ(j["s3-endpoint"], "http://127.0.0.1:9000");
  EXPECT_EQ(j["s3-region"], "us-east-1");
  EXPECT_FALSE(j["node-id"].get<std::string>().empty());  // resolved: HOSTNAME:8080
  for (const char* gone : {"help", "version", "config", "print-config"}) {
    EXPECT_FALSE(j.contains(gone)) << gone;
  }
}

TEST(PrintConfig, OutputFedBackAsAConfigFileGivesTheSameConfiguration) {
  ConfigFile f(R"({"threads": 3, "seed": ["10.0.0.1:7947", "10.0.0.2:7947"],
                   "peer-listen": "127.0.0.1:7947", "insecure-peer": true, "weight": 0.5,
                   "hedge-quantile": "0.95", "node-id": "n1"})");
  auto first = parse({"--config", f.path(), "--memory", "3GiB", "--print-config"});
  ASSERT_EQ(first.exit_code, 0) << first.output;
  ConfigFile printed(first.output);
  auto second = parse({"--config", printed.path(), "--print-config"});
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_EQ(second.output, first.output);
  auto run = parse({"--config", printed.path()});
  ASSERT_TRUE(run.config) << run.output;
  EXPECT_EQ(run.config->memory_bytes, 3ull << 30);
  EXPECT_EQ(run.config->seeds.size(), 2u);
  EXPECT_EQ(run.config->weight, 0.5);
  EXPECT_DOUBLE_EQ(run.config->hedge_quantile, 0.95);
  EXPECT_EQ(run.config->hot_copy_bytes(), (3ull << 30) / 8);  // "auto" round-trips
}

TEST(Secrets, KeysNamingSecretsAreMaskedButFilePathsAreNot) {
  EXPECT_TRUE(node::is_secret_key("admin-token"));
  EXPECT_TRUE(node::is_secret_key("s3-secret-access-key"));
  EXPECT_TRUE(node::is_secret_key("Password"));
  EXPECT_TRUE(node::is_secret_key("aws-access-key"));
  EXPECT_FALSE(node::is_secret_key("admin-token-file"));
  EXPECT_FALSE(node::is_secret_key("cluster-key-file"));
  EXPECT_FALSE(node::is_secret_key("tls-key"));  // a path to a PEM file
  EXPECT_FALSE(node::is_secret_key("memory"));
}

TEST(Secrets, UrlPasswordsAreMasked) {
  EXPECT_EQ(node::mask_url_password("https://user:hunter2@s3.example.com:9000/path?q=a@b"),
            "https://user:***@s3.example.com:9000/path?q=a@b");
  EXPECT_EQ(node::mask_url_password("http://user@host/x"), "http://user@host/x");
  EXPECT_EQ(node::mask_url_password("http://host/a:b@c"), "http://host/a:b@c");
  EXPECT_EQ(node::mask_url_password("10.0.0.1:7947"), "10.0.0.1:7947");
}

TEST(Secrets, EffectiveConfigMasksSecretOptions) {
  CLI::App app;
  std::string token, token_file, endpoint;
  std::vector<std::string> passwords;
  app.add_option("--api-token", token);
  app.add_option("--api-token-file", token_file);
  app.add_option("--endpoint", endpoint);
  app.add_option("--password", passwords);
  const char* argv[] = {"x",
                        "--api-token",
                        "s3cr3t",
                        "--api-token-file",
                        "/etc/t.txt",
                        "--endpoint",
                        "http://u:p@h:1",
                        "--password",
                        "a",
                        "--password",
                        "b"};
  app.parse(11, argv);
  auto j = node::effective_config(app);
  EXPECT_EQ(j["api-token"], "***");
  EXPECT_EQ(j["api-token-file"], "/etc/t.txt");
  EXPECT_EQ(j["endpoint"], "http://u:***@h:1");
  EXPECT_EQ(j["password"], nlohmann::json::array({"***", "***"}));
  EXPECT_EQ(j.dump().find("s3cr3t"), std::string::npos);
}

}  // namespace
}  // namespace shoal::test
