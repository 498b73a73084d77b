// The cost of the peer protocol alone: page-sized frames from one FrameStream to another over
// loopback TCP, sender and receiver each on a thread and io_context of its own (as two nodes'
// peer loops), keyed or open. Reports throughput and the CPU time each side spent per GB, which
// holds up when other jobs share the machine (the wall-clock rate does not).
//
//   cmake --build build -j2 --target peer_stream_bench && build/bin/peer_stream_bench [MODE] [GB]
//
// MODE is keyed (default) or open; GB the payload gigabytes to send (default 8). Uses only
// FrameStream's async_handshake, async_write_frame and async_read_frame, so the same source
// builds against older peer/ code for A/B runs (docs/benchmarks.md shows how).
#include <time.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "peer/auth.h"
#include "peer/stream.h"

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using shoal::peer::ClusterKey;
using shoal::peer::Frame;
using shoal::peer::FrameStream;

constexpr std::size_t kPayload = 16 << 20;  // one default page
constexpr int kInFlight = 2;                // frames queued on the sender at a time

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct Sender {
  std::shared_ptr<FrameStream> stream;
  std::shared_ptr<const std::string> payload;
  std::size_t left = 0;  // frames still to queue

  void pump() {
    if (left == 0) return;
    --left;
    stream->async_write_frame("page", *payload, payload, [this](boost::system::error_code ec) {
      if (ec) {
        std::fprintf(stderr, "write: %s\n", ec.message().c_str());
        return;
      }
      pump();
    });
  }
};

struct Receiver {
  std::shared_ptr<FrameStream> stream;
  std::size_t left = 0;
  std::size_t bytes = 0;

  void pump() {
    if (left == 0) return;
    stream->async_read_frame(kPayload, [this](boost::system::error_code ec, Frame f) {
      if (ec) {
        std::fprintf(stderr, "read: %s\n", ec.message().c_str());
        return;
      }
      bytes += f.payload.size;
      --left;
      pump();
    });
  }
};

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "keyed";
  const double gb = argc > 2 ? std::stod(argv[2]) : 8.0;
  const ClusterKey key =
      mode == "open" ? ClusterKey::open() : *ClusterKey::from_secret("peer-stream-bench-secret");
  const auto frames = static_cast<std::size_t>(gb * 1e9 / kPayload) + 1;

  asio::io_context send_io, recv_io;
  tcp::acceptor acceptor(recv_io, {asio::ip::make_address("127.0.0.1"), 0});
  tcp::socket client(send_io), server(recv_io);
  client.connect(acceptor.local_endpoint());
  acceptor.accept(server);
  client.set_option(tcp::no_delay(true));

  Sender s{FrameStream::create(std::move(client), key, FrameStream::Role::kClient),
           std::make_shared<const std::string>(kPayload, 'p'), frames};
  Receiver r{FrameStream::create(std::move(server), key, FrameStream::Role::kServer), frames, 0};
  std::atomic<double> send_cpu{0}, recv_cpu{0};
  const auto start = std::chrono::steady_clock::now();
  std::thread receiver([&] {
    const double t0 = thread_cpu_seconds();
    r.stream->async_handshake([&](boost::system::error_code ec) {
      if (!ec) r.pump();
    });
    recv_io.run();
    recv_cpu = thread_cpu_seconds() - t0;
  });
  const double t0 = thread_cpu_seconds();
  s.stream->async_handshake([&](boost::system::error_code ec) {
    if (ec) return;
    for (int i = 0; i < kInFlight; ++i) s.pump();
  });
  send_io.run_for(std::chrono::minutes(5));
  send_cpu = thread_cpu_seconds() - t0;
  receiver.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double moved = static_cast<double>(r.bytes) / 1e9;
  std::printf("%s: %.2f GB in %.2f s: %.2f GB/s; CPU s/GB sender %.3f, receiver %.3f, both %.3f\n",
              mode.c_str(), moved, seconds, moved / seconds, send_cpu / moved, recv_cpu / moved,
              (send_cpu + recv_cpu) / moved);
  return r.bytes == frames * kPayload ? 0 : 1;
}
