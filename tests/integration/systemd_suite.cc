// shoald under a service manager, with the test playing systemd: the sd_notify(3) datagram
// socket (NOTIFY_SOCKET) receiving READY=1, STATUS=, WATCHDOG=1 and STOPPING=1; socket
// activation (sd_listen_fds(3): a listening socket as fd 3 with LISTEN_FDS and LISTEN_PID); and
// `systemd-analyze verify` over the unit files in cluster/systemd/.
//
// LISTEN_PID and WATCHDOG_PID must hold the child's own pid, known only after fork(), so the
// children here are started by a small fork/exec launcher that writes the pid into prepared
// environment slots between fork and exec (async-signal-safe calls only).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "tests/integration/harness/harness.h"
#include "tests/integration/harness/shoald.h"

extern char** environ;

namespace shoal::test {
namespace {

// A child started with fork/exec. Environment: the parent's, plus `env`, plus for each name in
// `own_pid` NAME=<the child's pid>. `pass_fd` (>= 0) becomes the child's fd 3. Output goes to a
// log file, checked for sanitizer findings (check_child_log_text) and then SIGKILLed and reaped
// by the destructor; dies with the test thread (PDEATHSIG).
class Launched {
 public:
  Launched(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
           const std::vector<std::string>& own_pid, int pass_fd)
      : log_path_(dir_.path() + "/child.log"), argv0_(argv.empty() ? "" : argv[0]) {
    // Everything exec needs is built before fork.
    std::map<std::string, std::string> all;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string kv = *e;
      auto eq = kv.find('=');
      if (eq != std::string::npos) all[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (const auto& [k, v] : env) all[k] = v;
    for (const auto& name : own_pid) all.erase(name);
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : all) env_strings.push_back(k + "=" + v);
    std::vector<std::size_t> pid_slots;
    for (const auto& name : own_pid) {
      pid_slots.push_back(env_strings.size());
      env_strings.push_back(name + "=" + std::string(24, '\0'));
    }
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = argv;
    std::vector<char*> argp;
    for (auto& a : args) argp.push_back(a.data());
    argp.push_back(nullptr);
    int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log_fd < 0 || null_fd < 0) throw std::runtime_error("Launched: cannot open log");
    std::vector<std::size_t> name_lengths;
    for (const auto& name : own_pid) name_lengths.push_back(name.size() + 1);

    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const pid_t self = ::getpid();
      for (std::size_t i = 0; i < pid_slots.size(); ++i) {
        write_decimal(envp[pid_slots[i]] + name_lengths[i], self);
      }
      ::dup2(null_fd, 0);
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
      if (pass_fd >= 0) {
        if (pass_fd == 3) {
          ::fcntl(3, F_SETFD, 0);
        } else {
          ::dup2(pass_fd, 3);  // dup2 clears FD_CLOEXEC on the copy
        }
      }
      ::execve(argp[0], argp.data(), envp.data());
      ::_exit(127);
    }
    ::close(log_fd);
    ::close(null_fd);
    if (pid_ < 0) throw std::runtime_error("Launched: fork failed");
  }
  ~Launched() {
    check_child_log_text(log(), argv0_ + " (pid " + std::to_string(pid_) + ")");
    kill();
  }

  pid_t pid() const { return pid_; }
  void signal(int signo) {
    if (!status_) ::kill(pid_, signo);
  }
  // The exit code (128 + signal when killed), or nullopt if still running after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!status_) {
      int st = 0;
      pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      } else if (std::chrono::steady_clock::now() >= deadline) {
        return std::nullopt;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    return status_;
  }
  void kill() {
    if (status_ || pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    wait(std::chrono::seconds(10));
  }
  std::string log() const {
    std::ifstream in(log_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  // Writes `v` in decimal at `out` (which has room), async-signal-safe.
  static void write_decimal(char* out, pid_t v) {
    char digits[24];
    int n = 0;
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v > 0);
    for (int i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
    out[n] = '\0';
  }

  TempDir dir_;
  std::string log_path_;
  std::string argv0_;  // for check_child_log_text's label
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// The service manager's end of NOTIFY_SOCKET: an AF_UNIX datagram socket bound to a path.
class NotifySocket {
 public:
  NotifySocket() : path_(dir_.path() + "/notify.sock") {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("NotifySocket: cannot bind " + path_);
    }
  }
  ~NotifySocket() { ::close(fd_); }
  const std::string& path() const { return path_; }

  // The next datagram, or nullopt after `timeout`.
  std::optional<std::string> receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
    std::array<char, 4096> buf{};
    ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0) return std::nullopt;
    std::string msg(buf.data(), static_cast<std::size_t>(n));
    received_.push_back(msg);
    return msg;
  }
  // Receives until a message contains `needle`; returns it, or nullopt after `timeout`.
  std::optional<std::string> wait_for(const std::string& needle,
                                      std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      auto m = receive(left);
      if (!m) return std::nullopt;
      if (m->find(needle) != std::string::npos) return m;
    }
  }
  // Counts messages equal to `text` received within `d`.
  int count_for(const std::string& text, std::chrono::milliseconds d) {
    int n = 0;
    auto deadline = std::chrono::steady_clock::now() + d;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return n;
      auto m = receive(left);
      if (m && *m == text) ++n;
    }
  }
  const std::vector<std::string>& received() const { return received_; }

 private:
  TempDir dir_;
  std::string path_;
  int fd_ = -1;
  std::vector<std::string> received_;
};

// shoald's argv with a dead origin (these tests never miss) on 127.0.0.1:port.
std::vector<std::string> shoald_argv(std::uint16_t port, std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {bin_dir() + "/shoald",
                                   "--listen",
                                   "127.0.0.1:" + std::to_string(port),
                                   "--s3-endpoint",
                                   "http://127.0.0.1:1",
                                   "--s3-region",
                                   "us-east-1",
                                   "--memory",
                                   "64MiB",
                                   "--page-size",
                                   "64KiB",
                                   "--threads",
                                   "2",
                                   "--drain-timeout-ms",
                                   "2000"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

const std::map<std::string, std::string> kS3Env = {{"AWS_ACCESS_KEY_ID", "S3RVER"},
                                                   {"AWS_SECRET_ACCESS_KEY", "S3RVER"},
                                                   {"AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"}};

std::string messages_text(const NotifySocket& s) {
  std::string out;
  for (const auto& m : s.received()) out += "[" + m + "] ";
  return out;
}

TEST(SystemdNotify, ReadyStatusWatchdogThenStoppingOnSigterm) {
  NotifySocket notify;
  const std::uint16_t port = free_port();
  auto env = kS3Env;
  env["NOTIFY_SOCKET"] = notify.path();
  env["WATCHDOG_USEC"] = "200000";  // 200 ms: WATCHDOG=1 every 100 ms
  Launched shoald(shoald_argv(port), env, {"WATCHDOG_PID"}, -1);

  auto ready = notify.wait_for("READY=1", 20s);
  ASSERT_TRUE(ready) << messages_text(notify) << shoald.log();
  EXPECT_NE(ready->find("STATUS=serving on 127.0.0.1:" + std::to_string(port)), std::string::npos)
      << *ready;
  EXPECT_TRUE(wait_for_port(port, 1s));  // READY=1 comes after the port is open
  EXPECT_GE(notify.count_for("WATCHDOG=1", 1000ms), 5) << messages_text(notify);

  shoald.signal(SIGTERM);
  auto stopping = notify.wait_for("STOPPING=1", 10s);
  ASSERT_TRUE(stopping) << messages_text(notify) << shoald.log();
  EXPECT_NE(stopping->find("STATUS=draining"), std::string::npos) << *stopping;
  EXPECT_EQ(shoald.wait(10s), 0) << shoald.log();
}

TEST(SystemdNotify, NoWatchdogWhenWatchdogPidNamesAnotherProcess) {
  NotifySocket notify;
  const std::uint16_t port = free_port();
  auto env = kS3Env;
  env["NOTIFY_SOCKET"] = notify.path();
  env["WATCHDOG_USEC"] = "100000";
  env["WATCHDOG_PID"] = "1";
  Launched shoald(shoald_argv(port), env, {}, -1);
  ASSERT_TRUE(notify.wait_for("READY=1", 20s)) << shoald.log();
  EXPECT_EQ(notify.count_for("WATCHDOG=1", 500ms), 0) << messages_text(notify);
}

TEST(SystemdNotify, StatusCountsClusterMembers) {
  NotifySocket notify;
  const std::uint16_t port = free_port();
  auto env = kS3Env;
  env["NOTIFY_SOCKET"] = notify.path();
  Launched shoald(
      shoald_argv(port, {"--node-id", "solo", "--peer-listen",
                         "127.0.0.1:" + std::to_string(free_port()), "--insecure-peer"}),
      env, {}, -1);
  auto ready = notify.wait_for("READY=1", 20s);
  ASSERT_TRUE(ready) << shoald.log();
  EXPECT_NE(ready->find("; members 1/1 alive, epoch "), std::string::npos) << *ready;
}

// A listening TCP socket on 127.0.0.1 (any port), as systemd would create for a .socket unit.
int listening_socket(std::uint16_t* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd, 128) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("cannot create a listening socket");
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

TEST(SocketActivation, ServesFetchesOnThePassedSocket) {
  S3Server s3;
  s3.create_bucket("act");
  const std::string data = random_bytes(200 * 1024, 5);
  s3.put_object("act", "obj.bin", data);

  std::uint16_t activated = 0;
  int fd = listening_socket(&activated);
  const std::uint16_t flag_port = free_port();  // --listen names a port shoald must not bind
  auto argv = shoald_argv(flag_port);
  argv[4] = s3.endpoint();
  auto env = kS3Env;
  env["LISTEN_FDS"] = "1";
  Launched shoald(argv, env, {"LISTEN_PID"}, fd);
  ::close(fd);  // only the child holds the socket now

  ASSERT_TRUE(wait_for_port(activated, 20s)) << shoald.log();
  HttpResponse r;
  for (int i = 0; i < 200 && r.status == 0; ++i) {  // the port accepts before shoald serves
    r = http_request(activated, "GET", "/fetch/act/obj.bin", {{"Range", "bytes=1000-150000"}});
    if (r.status == 0) std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(r.status, 206) << r.body << shoald.log();
  EXPECT_TRUE(r.body == data.substr(1000, 149001));
  EXPECT_EQ(stats_json(activated)["pages"]["miss"], 3);
  EXPECT_FALSE(wait_for_port(flag_port, 300ms));  // --listen was not bound
  EXPECT_NE(shoald.log().find("serving on socket-activated fd 3"), std::string::npos)
      << shoald.log();
}

TEST(SocketActivation, IgnoresSocketsMeantForAnotherProcess) {
  std::uint16_t activated = 0;
  int fd = listening_socket(&activated);
  const std::uint16_t flag_port = free_port();
  auto env = kS3Env;
  env["LISTEN_FDS"] = "1";
  env["LISTEN_PID"] = "1";  // not shoald: sd_listen_fds() must return 0
  Launched shoald(shoald_argv(flag_port), env, {}, fd);
  ::close(fd);
  ASSERT_TRUE(wait_for_port(flag_port, 20s)) << shoald.log();
  EXPECT_EQ(http_request(flag_port, "GET", "/stats").status, 200);
}

// Runs `command` with sh, returning {exit status, stdout+stderr}.
std::pair<int, std::string> run_shell(const std::string& command) {
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  std::string out;
  std::array<char, 4096> buf{};
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

// Copies cluster/systemd/NAME into `dir` with ExecStart's /usr/local/bin/shoald pointing at the
// built binary (verify checks that the program exists); returns the copy's path.
std::string unit_copy(const TempDir& dir, const std::string& name) {
  std::ifstream in(source_dir() + "/cluster/systemd/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  EXPECT_NE(text.find("ExecStart=/usr/local/bin/shoald "), std::string::npos) << name;
  for (auto at = text.find("/usr/local/bin/shoald"); at != std::string::npos;
       at = text.find("/usr/local/bin/shoald", at)) {
    text.replace(at, 21, bin_dir() + "/shoald");
  }
  std::string path = dir.path() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(SystemdUnits, PassSystemdAnalyzeVerifyWithoutWarnings) {
  if (run_shell("command -v systemd-analyze").first != 0) {
    GTEST_SKIP() << "systemd-analyze is not installed (apt-get install systemd)";
  }
  TempDir dir;
  unit_copy(dir, "shoald.service");
  const std::string templ = unit_copy(dir, "shoald@.service");
  std::ofstream(dir.path() + "/shoald.socket")
      << std::ifstream(source_dir() + "/cluster/systemd/shoald.socket").rdbuf();
  // An instance of the template, as `systemctl start shoald@a` would load it.
  ASSERT_EQ(::symlink(templ.c_str(), (dir.path() + "/shoald@a.service").c_str()), 0);
  for (const char* units :
       {"shoald.service shoald.socket", "shoald@.service", "shoald@a.service"}) {
    auto [code, out] =
        run_shell("cd " + dir.path() + " && systemd-analyze verify " + std::string(units));
    EXPECT_EQ(code, 0) << units << ":\n" << out;
    EXPECT_EQ(out, "") << units << ": systemd-analyze printed warnings";
  }
}

}  // namespace
}  // namespace shoal::test
