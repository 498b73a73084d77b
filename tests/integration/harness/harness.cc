// Implementation of the integration-test harness; see harness.h for the contracts.
#include "tests/integration/harness/harness.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/algorithm/string/predicate.hpp>
#include <boost/asio/connect.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

extern char** environ;

namespace shoal::test {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string find_header(const std::vector<std::pair<std::string, std::string>>& fields,
                        std::string_view name) {
  for (const auto& [key, value] : fields) {
    if (boost::algorithm::iequals(key, name)) return value;
  }
  return "";
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// One connect attempt to 127.0.0.1:port.
bool port_accepts(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr = loopback(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string loopback_endpoint(std::uint16_t port) {
  return "http://127.0.0.1:" + std::to_string(port);
}

// ---- Process helpers ----

// The path execve should run: `name` itself if it has a '/', else the first executable regular
// file called `name` in $PATH.
std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* env_path = std::getenv("PATH");
  std::string path = env_path != nullptr ? env_path : "/usr/local/bin:/usr/bin:/bin";
  std::stringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  throw std::runtime_error("spawn: program not found in PATH: " + name);
}

// "KEY=VALUE" strings: the current environment with `extra` applied on top.
std::vector<std::string> child_environment(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string_view kv(*entry);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  for (const auto& [key, value] : extra) env[key] = value;
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [key, value] : env) out.push_back(key + "=" + value);
  return out;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// An owned file descriptor, closed on destruction.
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// The descriptors a child needs, all close-on-exec in the parent: stdin (/dev/null), the log
// (stdout and stderr), and a pipe on which the child reports a failed exec.
struct ChildFds {
  UniqueFd null;
  UniqueFd log;
  UniqueFd error_read;
  UniqueFd error_write;
};

// Opens the ChildFds; `log_path` empty means /dev/null. Throws on any failure (nothing leaks).
ChildFds open_child_fds(const std::string& log_path) {
  UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (null.get() < 0) throw_errno("spawn: open /dev/null");
  UniqueFd log(log_path.empty()
                   ? ::open("/dev/null", O_WRONLY | O_CLOEXEC)
                   : ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (log.get() < 0) throw_errno("spawn: open log " + log_path);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw_errno("spawn: pipe2");
  return ChildFds{std::move(null), std::move(log), UniqueFd(pipe_fds[0]), UniqueFd(pipe_fds[1])};
}

// Runs in the forked child: only async-signal-safe calls. Never returns.
[[noreturn]] void exec_child(pid_t parent, const ChildFds& fds, const char* path, char* const* argv,
                             char* const* envp) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
  ::dup2(fds.null.get(), STDIN_FILENO);
  ::dup2(fds.log.get(), STDOUT_FILENO);
  ::dup2(fds.log.get(), STDERR_FILENO);
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);  // nothing of the test's (sockets!) leaks through
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int signo = 1; signo < NSIG; ++signo) ::sigaction(signo, &dfl, nullptr);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(path, argv, envp);
  int err = errno;
  [[maybe_unused]] auto n = ::write(fds.error_write.get(), &err, sizeof err);
  ::_exit(127);
}

// Reads the child's exec errno from the pipe: 0 when exec succeeded (EOF).
int read_exec_error(int fd) {
  int err = 0;
  ssize_t n;
  do {
    n = ::read(fd, &err, sizeof err);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof err) ? err : 0;
}

// ---- S3 (libcurl) helpers ----

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// Percent-encodes every byte except RFC 3986 unreserved characters and '/'.
std::string encode_key(const std::string& key) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : key) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

struct UploadSource {
  const std::string* data;
  std::size_t offset;
};

std::size_t read_upload(char* dest, std::size_t size, std::size_t count, void* user) {
  auto* src = static_cast<UploadSource*>(user);
  std::size_t n = std::min(size * count, src->data->size() - src->offset);
  std::memcpy(dest, src->data->data() + src->offset, n);
  src->offset += n;
  return n;
}

std::size_t append_body(char* data, std::size_t size, std::size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// One signed S3 request; returns the body. `upload` (PUT only) is the request body. Throws on a
// transport error or a status >= 300.
std::string s3_call(const std::string& method, const std::string& url, const std::string* upload) {
  init_curl_once();
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) throw std::runtime_error("S3 " + method + " " + url + ": curl_easy_init failed");
  std::unique_ptr<curl_slist, CurlDeleter> headers(
      curl_slist_append(nullptr, "x-amz-content-sha256: UNSIGNED-PAYLOAD"));
  headers.reset(curl_slist_append(headers.release(), "Expect:"));
  CURL* c = curl.get();
  std::string body;
  UploadSource source{upload, 0};
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 120000L);
  curl_easy_setopt(c, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:s3");
  curl_easy_setopt(c, CURLOPT_USERPWD, "S3RVER:S3RVER");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  if (upload != nullptr) {
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_upload);
    curl_easy_setopt(c, CURLOPT_READDATA, &source);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(upload->size()));
  } else if (method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    throw std::runtime_error("S3 " + method + " " + url + ": " + curl_easy_strerror(rc));
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 300) {
    throw std::runtime_error("S3 " + method + " " + url + ": status " + std::to_string(status) +
                             ": " + body);
  }
  return body;
}

// ---- HTTP helpers ----

// Runs `start(handler)` on `io` to completion and returns the operation's error code.
template <class Start>
beast::error_code run_op(asio::io_context& io, Start&& start) {
  beast::error_code result;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  io.restart();
  io.run();
  return result;
}

using Fields = std::vector<std::pair<std::string, std::string>>;

http::request<http::string_body> make_request(std::uint16_t port, const std::string& method,
                                              const std::string& target, const Fields& headers,
                                              const std::string* body) {
  if (method.empty() || target.empty()) {
    throw std::invalid_argument("http request: empty method or target");
  }
  http::request<http::string_body> req;
  req.version(11);
  http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) {
    req.method_string(method);
  } else {
    req.method(verb);
  }
  req.target(target);
  if (find_header(headers, "host").empty())
    req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  if (find_header(headers, "user-agent").empty()) req.set(http::field::user_agent, "shoal-test");
  for (const auto& [key, value] : headers) req.insert(key, value);
  if (body != nullptr) {
    req.body() = *body;
    req.prepare_payload();
  }
  return req;
}

Fields fields_from(const http::fields& fields, std::size_t skip) {
  Fields out;
  std::size_t index = 0;
  for (const auto& field : fields) {
    if (index++ < skip) continue;
    out.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  return out;
}

// The fields of `all` that are not in `header`: Beast inserts each trailer field next to the
// header fields of the same name, so trailers are told apart by counting per name (ASCII
// case-insensitively), not by position.
Fields trailers_from(const http::fields& all, const Fields& header) {
  std::map<std::string, std::size_t> seen_in_header;
  auto lower = [](std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  for (const auto& [name, value] : header) ++seen_in_header[lower(name)];
  Fields out;
  for (const auto& field : all) {
    auto& left = seen_in_header[lower(std::string(field.name_string()))];
    if (left > 0) {
      --left;
      continue;
    }
    out.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  return out;
}

}  // namespace

// ---- Paths, ports, bytes ----

std::string source_dir() {
  return SHOAL_SOURCE_DIR;
}

std::string bin_dir() {
  const char* env = std::getenv("SHOAL_BIN_DIR");
  return env != nullptr && *env != '\0' ? env : SHOAL_BIN_DIR;
}

namespace {

// Claims `port` among the test processes running at once (ctest -j runs several, and each one's
// bind(0) may be handed a port another has just closed and given to its shoald): an exclusive
// flock on a file named after the port, held until this process exits (the kernel drops it even
// on a crash). Returns false when another live process holds it.
bool claim_port_across_processes(std::uint16_t port) {
  static std::vector<int> held;  // the lock files' descriptors, open until exit
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "shoal-test-ports";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::string path = (dir / std::to_string(port)).string();
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return true;  // no lock directory: fall back to bind(0)'s own odds
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return false;
  }
  held.push_back(fd);
  return true;
}

}  // namespace

std::uint16_t free_port() {
  static std::mutex mutex;
  static std::set<std::uint16_t> given;
  std::lock_guard lock(mutex);
  for (int attempt = 0; attempt < 100; ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw_errno("free_port: socket");
    sockaddr_in addr = loopback(0);
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      int err = errno;
      ::close(fd);
      errno = err;
      throw_errno("free_port: bind");
    }
    ::close(fd);
    std::uint16_t port = ntohs(addr.sin_port);
    if (given.insert(port).second && claim_port_across_processes(port)) return port;
  }
  throw std::runtime_error("free_port: no unused port after 100 attempts");
}

bool wait_for_port(std::uint16_t port, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    if (port_accepts(port)) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
}

std::string write_file(const std::string& path, const std::string& contents, mode_t mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << contents;
    if (!out) throw std::runtime_error("cannot write " + path);
  }
  if (::chmod(path.c_str(), mode) != 0) {
    throw std::runtime_error("chmod " + path + ": " + std::strerror(errno));
  }
  return path;
}

std::string random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::string out(n, '\0');
  for (std::size_t i = 0; i < n; i += 8) {
    std::uint64_t draw = generator();
    for (std::size_t b = 0; b < 8 && i + b < n; ++b) {
      out[i + b] = static_cast<char>(draw >> (8 * b));
    }
  }
  return out;
}

// ---- TempDir ----

TempDir::TempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/shoal-test-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw_errno("TempDir: mkdtemp " + pattern);
  path_ = pattern;
}

TempDir::~TempDir() {
  remove();
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, "")) {}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    remove();
    path_ = std::exchange(other.path_, "");
  }
  return *this;
}

void TempDir::remove() noexcept {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  path_.clear();
}

// ---- Process ----

Process Process::spawn(std::vector<std::string> argv, std::map<std::string, std::string> extra_env,
                       std::string log_path) {
  if (argv.empty()) throw std::invalid_argument("spawn: empty argv");
  std::string program = find_program(argv[0]);
  std::vector<std::string> env = child_environment(extra_env);
  std::vector<char*> c_argv = c_strings(argv);
  std::vector<char*> c_env = c_strings(env);
  ChildFds fds = open_child_fds(log_path);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) exec_child(parent, fds, program.c_str(), c_argv.data(), c_env.data());
  if (pid < 0) throw_errno("spawn: fork");
  fds.error_write.reset();  // so the read below sees EOF once exec succeeds
  int exec_errno = read_exec_error(fds.error_read.get());
  Process process;
  process.pid_ = pid;
  process.log_path_ = std::move(log_path);
  if (exec_errno != 0) {
    process.reap(0);
    throw std::runtime_error("spawn: exec " + program + ": " + std::strerror(exec_errno));
  }
  return process;
}

Process::~Process() {
  release();
}

Process::Process(Process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      status_(std::exchange(other.status_, std::nullopt)),
      log_path_(std::move(other.log_path_)) {}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    release();
    pid_ = std::exchange(other.pid_, -1);
    status_ = std::exchange(other.status_, std::nullopt);
    log_path_ = std::move(other.log_path_);
  }
  return *this;
}

void Process::release() noexcept {
  kill();
  pid_ = -1;
  status_.reset();
}

bool Process::reap(int options) {
  if (pid_ < 0 || status_) return true;
  int raw = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &raw, options);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return false;
  if (r < 0) {
    status_ = -1;  // not our child any more (cannot happen unless someone else reaped it)
  } else if (WIFEXITED(raw)) {
    status_ = WEXITSTATUS(raw);
  } else {
    status_ = 128 + WTERMSIG(raw);
  }
  return true;
}

bool Process::running() {
  return pid_ >= 0 && !reap(WNOHANG);
}

void Process::signal(int signo) {
  if (pid_ >= 0 && !status_) ::kill(pid_, signo);
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  if (pid_ < 0) return std::nullopt;
  auto deadline = Clock::now() + timeout;
  auto pause = 1ms;
  while (!reap(WNOHANG)) {
    auto now = Clock::now();
    if (now >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::min<Clock::duration>(pause, deadline - now));
    pause = std::min(pause * 2, 20ms);
  }
  return status_;
}

void Process::kill() {
  if (pid_ < 0 || status_) return;
  ::kill(pid_, SIGKILL);
  reap(0);
}

std::string Process::log() const {
  return log_path_.empty() ? "" : read_file(log_path_);
}

std::size_t find_sanitizer_report(const std::string& log) {
  std::size_t first = std::string::npos;
  for (const char* marker :
       {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", ": runtime error: "}) {
    first = std::min(first, log.find(marker));
  }
  if (first == std::string::npos) return first;
  const std::size_t line = log.rfind('\n', first);
  return line == std::string::npos ? 0 : line + 1;
}

void check_child_log(const Process& child, const std::string& name, int tail_lines) {
  if (!child.log_path().empty()) check_child_log_text(child.log(), name, tail_lines);
}

void check_child_log_text(const std::string& log, const std::string& name, int tail_lines) {
  if (const std::size_t at = find_sanitizer_report(log); at != std::string::npos) {
    ADD_FAILURE() << name << " reported a sanitizer finding:\n" << log.substr(at);
    return;
  }
  if (!::testing::Test::HasFailure()) return;
  std::size_t from = log.size();
  for (int n = 0; n <= tail_lines && from > 0; ++n) {
    from = log.rfind('\n', from - 1);
    if (from == std::string::npos) {
      from = 0;
      break;
    }
  }
  std::cerr << "--- " << name << ": last lines of its log ---\n"
            << log.substr(from == 0 ? 0 : from + 1) << "--- end of " << name << "'s log ---\n";
}

// ---- S3 ----

S3Client::S3Client(std::string endpoint) : endpoint_(std::move(endpoint)) {}

void S3Client::create_bucket(const std::string& bucket) const {
  std::string empty;
  s3_call("PUT", endpoint_ + "/" + bucket, &empty);
}

void S3Client::put_object(const std::string& bucket, const std::string& key,
                          const std::string& data) const {
  s3_call("PUT", endpoint_ + "/" + bucket + "/" + encode_key(key), &data);
}

std::string S3Client::get_object(const std::string& bucket, const std::string& key) const {
  return s3_call("GET", endpoint_ + "/" + bucket + "/" + encode_key(key), nullptr);
}

void S3Client::delete_object(const std::string& bucket, const std::string& key) const {
  s3_call("DELETE", endpoint_ + "/" + bucket + "/" + encode_key(key), nullptr);
}

S3Server::S3Server() : port_(free_port()) {
  while (port_accepts(port_)) port_ = free_port();  // someone took it since; take another
  start();
}

std::string S3Server::endpoint() const {
  return loopback_endpoint(port_);
}

void S3Server::stop() {
  process_.kill();
}

void S3Server::start() {
  if (process_.running()) return;
  std::string script = source_dir() + "/.deps/s3rver/node_modules/s3rver/bin/s3rver.js";
  if (!std::filesystem::exists(script)) {
    throw std::runtime_error("S3Server: " + script + " is missing; run cluster/deps.sh");
  }
  if (port_accepts(port_)) {
    throw std::runtime_error("S3Server: port " + std::to_string(port_) +
                             " is taken by another process");
  }
  // s3rver encrypts ListObjectsV2 continuation tokens with DES, which Node 17+ (OpenSSL 3) has
  // only in its legacy provider: without it every truncated V2 listing is a 500.
  process_ = Process::spawn({"node", script, "-d", data_dir_.path(), "-a", "127.0.0.1", "-p",
                             std::to_string(port_), "--silent"},
                            {{"NODE_OPTIONS", "--openssl-legacy-provider"}},
                            log_dir_.path() + "/s3rver.log");
  if (!wait_for_port(port_, 20s) || !process_.running()) {
    process_.kill();
    throw std::runtime_error("S3Server: s3rver did not start on port " + std::to_string(port_) +
                             "; log:\n" + process_.log());
  }
}

// ---- HTTP client ----

struct HttpConnection::Impl {
  asio::io_context io;
  beast::tcp_stream stream{io};
  beast::flat_buffer buffer;
  std::uint16_t port = 0;
  bool open = false;

  void close() {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
    open = false;
  }

  HttpResponse exchange(http::request<http::string_body>& req, std::chrono::milliseconds timeout);
};

HttpResponse HttpConnection::Impl::exchange(http::request<http::string_body>& req,
                                            std::chrono::milliseconds timeout) {
  HttpResponse response;
  if (!open) {
    response.error = "connection closed";
    return response;
  }
  stream.expires_after(timeout);
  beast::error_code ec = run_op(io, [&](auto handler) { http::async_write(stream, req, handler); });
  if (ec) {
    response.error = "writing request: " + ec.message();
    close();
    return response;
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  parser.header_limit(1 << 20);
  parser.skip(req.method() == http::verb::head);
  ec = run_op(io, [&](auto handler) { http::async_read_header(stream, buffer, parser, handler); });
  if (ec) {
    response.error = "reading header: " + ec.message();
    close();
    return response;
  }
  auto& message = parser.get();
  response.status = message.result_int();
  response.headers = fields_from(message.base(), 0);
  if (!parser.is_done()) {
    ec = run_op(io, [&](auto handler) { http::async_read(stream, buffer, parser, handler); });
  }
  response.body = std::move(message.body());
  response.trailers = trailers_from(message.base(), response.headers);
  response.complete = !ec && parser.is_done();
  if (!response.complete) response.error = "reading body: " + ec.message();
  if (!response.complete || !message.keep_alive()) close();
  stream.expires_never();
  return response;
}

HttpConnection::HttpConnection(std::uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->port = port;
  impl_->buffer.reserve(1 << 20);
  impl_->stream.expires_after(timeout);
  tcp::endpoint endpoint(asio::ip::address_v4::loopback(), port);
  beast::error_code ec =
      run_op(impl_->io, [&](auto handler) { impl_->stream.async_connect(endpoint, handler); });
  if (ec) {
    throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + ": " + ec.message());
  }
  impl_->stream.expires_never();
  impl_->open = true;
}

HttpConnection::~HttpConnection() = default;
HttpConnection::HttpConnection(HttpConnection&&) noexcept = default;
HttpConnection& HttpConnection::operator=(HttpConnection&&) noexcept = default;

HttpResponse HttpConnection::request(const std::string& method, const std::string& target,
                                     const Fields& headers, std::chrono::milliseconds timeout) {
  auto req = make_request(impl_->port, method, target, headers, nullptr);
  return impl_->exchange(req, timeout);
}

HttpResponse HttpConnection::request(const std::string& method, const std::string& target,
                                     const Fields& headers, const std::string& body,
                                     std::chrono::milliseconds timeout) {
  auto req = make_request(impl_->port, method, target, headers, &body);
  return impl_->exchange(req, timeout);
}

bool HttpConnection::is_open() const {
  return impl_ && impl_->open;
}

std::string HttpResponse::header(std::string_view name) const {
  return find_header(headers, name);
}

std::string HttpResponse::trailer(std::string_view name) const {
  return find_header(trailers, name);
}

namespace {

std::chrono::milliseconds remaining(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return std::max(left, std::chrono::milliseconds(1));
}

}  // namespace

HttpResponse http_request(std::uint16_t port, std::string method, std::string target,
                          Fields headers, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  HttpConnection connection(port, timeout);
  return connection.request(method, target, headers, remaining(deadline));
}

HttpResponse http_request(std::uint16_t port, std::string method, std::string target,
                          Fields headers, const std::string& body,
                          std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  HttpConnection connection(port, timeout);
  return connection.request(method, target, headers, body, remaining(deadline));
}

RawSocket raw_socket(std::uint16_t port) {
  auto io = std::make_unique<asio::io_context>();
  tcp::socket socket(*io);
  beast::error_code ec;
  socket.connect(tcp::endpoint(asio::ip::address_v4::loopback(), port), ec);
  if (ec) {
    throw std::runtime_error("raw_socket: connect to 127.0.0.1:" + std::to_string(port) + ": " +
                             ec.message());
  }
  return RawSocket{std::move(io), std::move(socket)};
}

// ---- FaultProxy ----

FaultProxy::FaultProxy(std::uint16_t upstream_port, std::uint64_t seed) : port_(0) {
  std::string script = source_dir() + "/tests/tools/fault_proxy.py";
  std::string log_path = log_dir_.path() + "/fault_proxy.log";
  for (int attempt = 0; attempt < 3; ++attempt) {  // a port taken meanwhile: try another
    port_ = free_port();
    std::filesystem::remove(log_path);
    process_ = Process::spawn(
        {"/usr/bin/python3", script, "--upstream", "127.0.0.1:" + std::to_string(upstream_port),
         "--listen", "127.0.0.1:" + std::to_string(port_), "--seed", std::to_string(seed)},
        {}, log_path);
    auto deadline = Clock::now() + 10s;
    while (process_.running() && Clock::now() < deadline) {
      if (process_.log().find("ready\n") != std::string::npos) return;
      std::this_thread::sleep_for(10ms);
    }
    process_.kill();
  }
  throw std::runtime_error("FaultProxy: did not become ready; log:\n" + process_.log());
}

std::string FaultProxy::endpoint() const {
  return loopback_endpoint(port_);
}

nlohmann::json FaultProxy::control(const std::string& method, const std::string& path,
                                   const std::string& body) const {
  HttpResponse r =
      http_request(port_, method, path, {{"Content-Type", "application/json"}}, body, 10s);
  if (r.status != 200 || !r.complete) {
    throw std::runtime_error("FaultProxy " + method + " " + path + ": status " +
                             std::to_string(r.status) + " " + r.error + ": " + r.body);
  }
  return r.body.empty() ? nlohmann::json::object() : nlohmann::json::parse(r.body);
}

nlohmann::json FaultProxy::stats() const {
  return control("GET", "/__proxy/stats");
}

void FaultProxy::add_rule(const nlohmann::json& rule) const {
  control("POST", "/__proxy/rules", rule.dump());
}

void FaultProxy::clear_rules() const {
  control("DELETE", "/__proxy/rules");
}

void FaultProxy::reset() const {
  control("POST", "/__proxy/reset");
}

int FaultProxy::count(const std::string& method, const std::string& path_prefix) const {
  int n = 0;
  const nlohmann::json all = stats();  // named: a range-for over stats().at(...) would dangle
  for (const auto& request : all.at("requests")) {
    const std::string path = request.at("path").get<std::string>();
    if (request.at("method") == method && path.compare(0, path_prefix.size(), path_prefix) == 0)
      ++n;
  }
  return n;
}

// ---- Node observability ----

std::string metrics(std::uint16_t port) {
  HttpResponse r = http_request(port, "GET", "/metrics", {}, 10s);
  if (r.status != 200 || !r.complete) {
    throw std::runtime_error("GET /metrics: status " + std::to_string(r.status) + " " + r.error +
                             ": " + r.body);
  }
  return r.body;
}

nlohmann::json stats_json(std::uint16_t port) {
  HttpResponse r = http_request(port, "GET", "/stats", {}, 10s);
  if (r.status != 200 || !r.complete) {
    throw std::runtime_error("GET /stats: status " + std::to_string(r.status) + " " + r.error +
                             ": " + r.body);
  }
  return nlohmann::json::parse(r.body);
}

bool wait_for_origin_fetches_to_end(std::uint16_t port, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (stats_json(port)["origin"]["fetches_in_flight"] != 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

double metric_value(const std::string& metrics_text, const std::string& series) {
  std::istringstream lines(metrics_text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (line.size() <= series.size() || line.compare(0, series.size(), series) != 0 ||
        line[series.size()] != ' ') {
      continue;
    }
    std::istringstream rest(line.substr(series.size()));
    std::string value;
    rest >> value;
    char* end = nullptr;
    double parsed = std::strtod(value.c_str(), &end);
    if (!value.empty() && end == value.c_str() + value.size()) return parsed;
  }
  return std::numeric_limits<double>::quiet_NaN();
}

}  // namespace shoal::test
