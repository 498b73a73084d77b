#include "tests/integration/harness/shoald.h"

#include <algorithm>
#include <random>
#include <stdexcept>

namespace shoal::test {

Shoald::Shoald(const std::string& s3_endpoint, std::vector<std::string> flags,
               std::map<std::string, std::string> env, std::vector<std::string> launcher)
    : port_(free_port()) {
  std::vector<std::string> argv = std::move(launcher);
  const std::vector<std::string> shoald = {bin_dir() + "/shoald",
                                           "--listen",
                                           "127.0.0.1:" + std::to_string(port_),
                                           "--s3-endpoint",
                                           s3_endpoint,
                                           "--s3-region",
                                           "us-east-1"};
  argv.insert(argv.end(), shoald.begin(), shoald.end());
  argv.insert(argv.end(), flags.begin(), flags.end());
  env.emplace("AWS_ACCESS_KEY_ID", "S3RVER");
  env.emplace("AWS_SECRET_ACCESS_KEY", "S3RVER");
  env.emplace("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
  process_ = Process::spawn(argv, env, log_dir_.path() + "/shoald.log");
  if (!wait_for_port(port_, std::chrono::seconds(20))) {
    throw std::runtime_error("shoald did not open its port; log:\n" + process_.log());
  }
}

Shoald::~Shoald() {
  check_child_log(process_, "shoald :" + std::to_string(port_));
}

HttpResponse Shoald::fetch(const std::string& kind, const std::string& encoded_object,
                           const std::string& range,
                           std::vector<std::pair<std::string, std::string>> headers,
                           const std::string& method) const {
  if (!range.empty()) headers.emplace_back("Range", range);
  return http_request(port_, method, "/fetch/" + kind + "/" + encoded_object, headers);
}

RangeLoad::RangeLoad(int threads, NodeOf node, std::string kind, std::string encoded_object,
                     const std::string& data, std::uint64_t max_span) {
  for (int t = 0; t < threads; ++t) {
    threads_.emplace_back([this, t, node, kind, encoded_object, &data, max_span] {
      std::mt19937_64 rng(static_cast<std::uint64_t>(t));
      while (!stop_) {
        const std::uint64_t a = rng() % data.size();
        const std::uint64_t b = std::min<std::uint64_t>(data.size() - 1, a + rng() % max_span);
        auto r = node(t).fetch(kind, encoded_object,
                               "bytes=" + std::to_string(a) + "-" + std::to_string(b));
        const bool ok = r.status == 206 && r.complete && r.body == data.substr(a, b - a + 1);
        ++(ok ? successes_ : failures_);
      }
    });
  }
}

void RangeLoad::stop() {
  stop_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

std::pair<int, std::string> run_shoald_to_exit(std::vector<std::string> args) {
  TempDir dir;
  std::vector<std::string> argv = {bin_dir() + "/shoald"};
  argv.insert(argv.end(), args.begin(), args.end());
  Process p = Process::spawn(argv, {}, dir.path() + "/out.log");
  auto code = p.wait(std::chrono::seconds(10));
  if (!code) {
    p.kill();
    return {-1, p.log()};
  }
  return {*code, p.log()};
}

std::string encode_path(const std::string& key) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : key) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace shoal::test
