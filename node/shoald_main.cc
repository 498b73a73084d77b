// shoald: the Shoal node daemon. See docs/configuration.md for every flag.
#include <sys/resource.h>

#include <csignal>
#include <cstdio>

#include "node/config.h"
#include "node/memory_tier.h"
#include "node/server.h"

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  shoal::node::MemoryTier::configure_allocator();
  // Every connection is a descriptor: use all the descriptors the hard limit allows.
  struct rlimit nofile {};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  shoal::node::ParseResult parsed = shoal::node::parse_command_line(argc, argv);
  if (!parsed.config) {
    std::fputs(parsed.output.c_str(), parsed.exit_code == 0 ? stdout : stderr);
    return parsed.exit_code;
  }
  shoal::node::Server server(std::move(*parsed.config));
  return server.run();
}
