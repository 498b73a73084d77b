// shoalctl: the Shoal admin CLI. This version knows --help and --version; the cluster commands
// (members, status, locate, ...) arrive with the admin API.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  CLI::App app{"shoalctl: administer a Shoal cluster through any node's admin API."};
  app.set_version_flag("-V,--version", std::string("shoalctl ") + SHOAL_VERSION);
  std::string node = "127.0.0.1:8080";
  app.add_option("--node", node, "A node's client address HOST:PORT")->capture_default_str();
  app.require_subcommand(0, 1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  std::fputs(app.help().c_str(), stdout);
  return 0;
}
