// Asio <-> libcurl multi socket glue; see curl_loop.h.
#include "origin/curl_loop.h"

#include <poll.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <stdexcept>
#include <unordered_map>

namespace shoal::origin {
namespace {

// Direction indexes: 0 = readable (CURL_POLL_IN), 1 = writable (CURL_POLL_OUT).
constexpr int kRead = 0;
constexpr int kWrite = 1;

int poll_mask(int dir) {
  return dir == kRead ? CURL_POLL_IN : CURL_POLL_OUT;
}
int select_flag(int dir) {
  return dir == kRead ? CURL_CSELECT_IN : CURL_CSELECT_OUT;
}

boost::asio::posix::descriptor_base::wait_type wait_type(int dir) {
  return dir == kRead ? boost::asio::posix::descriptor_base::wait_read
                      : boost::asio::posix::descriptor_base::wait_write;
}

// True when `fd` is ready for `dir` (or has an error/hang-up) right now.
bool ready_now(curl_socket_t fd, int dir) {
  pollfd p{fd, static_cast<short>(dir == kRead ? POLLIN : POLLOUT), 0};
  return ::poll(&p, 1, 0) > 0 && p.revents != 0;
}

}  // namespace

struct CurlLoop::Core : std::enable_shared_from_this<Core> {
  // One socket curl asked us to watch. `serial` tells a reused fd number from its predecessor.
  struct Socket {
    boost::asio::posix::stream_descriptor descriptor;
    std::uint64_t serial;
    int want = 0;                      // curl's latest CURL_POLL_* for this socket
    bool pending[2] = {false, false};  // a wait (or posted ready event) is outstanding
  };

  Core(boost::asio::io_context& l, DoneHandler d)
      : loop(l), timer(l), multi(curl_multi_init()), done(std::move(d)) {
    if (multi == nullptr) throw std::runtime_error("curl_multi_init failed");
  }

  void install() {
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &Core::on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &Core::on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
  }

  void shutdown() {
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, static_cast<curl_socket_callback>(nullptr));
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION,
                      static_cast<curl_multi_timer_callback>(nullptr));
    for (auto& [fd, socket] : sockets) socket->descriptor.release();
    sockets.clear();
    timer.cancel();
    curl_multi_cleanup(multi);
    multi = nullptr;
  }

  // CURLMOPT_SOCKETFUNCTION: record curl's wish for `fd` and arm the waits it needs.
  static int on_socket(CURL*, curl_socket_t fd, int what, void* userp, void*) {
    auto* core = static_cast<Core*>(userp);
    try {
      if (what == CURL_POLL_REMOVE) {
        core->forget(fd);
      } else {
        core->watch(fd, what);
      }
      return 0;
    } catch (const std::exception&) {
      return -1;  // curl fails the transfers using this socket
    }
  }

  // CURLMOPT_TIMERFUNCTION: (re)start or stop the single curl timeout.
  static int on_timer(CURLM*, long timeout_ms, void* userp) {
    static_cast<Core*>(userp)->set_timer(timeout_ms);
    return 0;
  }

  void watch(curl_socket_t fd, int what) {
    auto it = sockets.find(fd);
    if (it == sockets.end()) {
      auto socket = std::make_unique<Socket>(
          Socket{boost::asio::posix::stream_descriptor(loop, fd), next_serial++});
      it = sockets.emplace(fd, std::move(socket)).first;
    }
    Socket& socket = *it->second;
    socket.want = what;
    for (int dir : {kRead, kWrite}) {
      if ((what & poll_mask(dir)) != 0 && !socket.pending[dir]) arm(fd, socket, dir);
    }
  }

  void forget(curl_socket_t fd) {
    auto it = sockets.find(fd);
    if (it == sockets.end()) return;
    it->second->descriptor.release();  // cancels its waits; curl closes the fd itself
    sockets.erase(it);
  }

  void arm(curl_socket_t fd, Socket& socket, int dir) {
    socket.pending[dir] = true;
    auto handler = [weak = weak_from_this(), fd, serial = socket.serial,
                    dir](boost::system::error_code ec) {
      if (auto core = weak.lock()) core->on_ready(fd, serial, dir, ec);
    };
    if (ready_now(fd, dir)) {
      boost::asio::post(loop, [handler] { handler(boost::system::error_code()); });
    } else {
      socket.descriptor.async_wait(wait_type(dir), handler);
    }
  }

  Socket* find(curl_socket_t fd, std::uint64_t serial) {
    auto it = sockets.find(fd);
    return it != sockets.end() && it->second->serial == serial ? it->second.get() : nullptr;
  }

  void on_ready(curl_socket_t fd, std::uint64_t serial, int dir, boost::system::error_code ec) {
    Socket* socket = find(fd, serial);
    if (socket == nullptr) return;  // removed (and maybe the fd number reused) meanwhile
    socket->pending[dir] = false;
    if (ec == boost::asio::error::operation_aborted) return;
    if ((socket->want & poll_mask(dir)) == 0) return;  // curl no longer wants this direction
    action(fd, select_flag(dir) | (ec ? CURL_CSELECT_ERR : 0));
    socket = find(fd, serial);  // socket_action may have removed it
    if (socket != nullptr && !ec && (socket->want & poll_mask(dir)) != 0 && !socket->pending[dir]) {
      arm(fd, *socket, dir);
    }
  }

  void set_timer(long timeout_ms) {
    ++timer_generation;
    if (timeout_ms < 0) {
      timer.cancel();
      return;
    }
    timer.expires_after(std::chrono::milliseconds(timeout_ms));
    timer.async_wait(
        [weak = weak_from_this(), generation = timer_generation](boost::system::error_code ec) {
          auto core = weak.lock();
          if (core && !ec && generation == core->timer_generation) {
            core->action(CURL_SOCKET_TIMEOUT, 0);
          }
        });
  }

  void action(curl_socket_t fd, int flags) {
    int running = 0;
    curl_multi_socket_action(multi, fd, flags, &running);
    drain();
  }

  // Reports finished transfers; the message is copied before the handler may remove the handle.
  void drain() {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* easy = msg->easy_handle;
      const CURLcode result = msg->data.result;
      done(easy, result);
    }
  }

  boost::asio::io_context& loop;
  boost::asio::steady_timer timer;
  std::uint64_t timer_generation = 0;
  CURLM* multi;
  DoneHandler done;
  std::unordered_map<curl_socket_t, std::unique_ptr<Socket>> sockets;
  std::uint64_t next_serial = 1;
};

CurlLoop::CurlLoop(boost::asio::io_context& loop, DoneHandler done)
    : core_(std::make_shared<Core>(loop, std::move(done))) {
  core_->install();
}

CurlLoop::~CurlLoop() {
  core_->shutdown();
}

CURLM* CurlLoop::multi() const {
  return core_->multi;
}

CURLMcode CurlLoop::add(CURL* easy) {
  return curl_multi_add_handle(core_->multi, easy);
}

void CurlLoop::remove(CURL* easy) {
  curl_multi_remove_handle(core_->multi, easy);
}

}  // namespace shoal::origin
