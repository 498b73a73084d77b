// shoald: the Shoal node daemon. See docs/configuration.md for every flag.
#include <csignal>
#include <cstdio>

#include "node/config.h"
#include "node/server.h"

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  shoal::node::ParseResult parsed = shoal::node::parse_command_line(argc, argv);
  if (!parsed.config) {
    std::fputs(parsed.output.c_str(), parsed.exit_code == 0 ? stdout : stderr);
    return parsed.exit_code;
  }
  shoal::node::Server server(std::move(*parsed.config));
  return server.run();
}
