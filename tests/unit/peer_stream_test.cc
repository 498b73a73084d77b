// Tests for peer/stream.h over loopback sockets: frames both ways (large payloads go out in
// encrypted chunks), the two-phase read (header, then the payload decrypted in the caller's
// buffer) in keyed and open mode, the bytes on the wire (no plaintext with a key), refusal of
// tampered, forged and oversized frames (the stream stays broken), wrong keys, open/keyed and
// version mismatches, and frames before the handshake.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "peer/auth.h"
#include "peer/codec.h"
#include "peer/stream.h"

namespace shoal::test {
namespace {

using namespace shoal::peer;
namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

ClusterKey key_of(std::string_view secret) {
  return *ClusterKey::from_secret(secret);
}

// Two FrameStreams (or a stream and a raw socket) over loopback.
class StreamPair : public ::testing::Test {
 protected:
  StreamPair() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}

  // Connects a client socket and accepts the server side.
  std::pair<tcp::socket, tcp::socket> connect() {
    tcp::socket client(io_), server(io_);
    client.connect(acceptor_.local_endpoint());
    acceptor_.accept(server);
    return {std::move(client), std::move(server)};
  }

  void run() {
    io_.restart();
    io_.run_for(std::chrono::seconds(5));
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
};

TEST_F(StreamPair, ExchangesFramesBothWays) {
  ClusterKey key = key_of("cluster-secret-0001");
  auto [c, s] = connect();
  auto client = FrameStream::create(std::move(c), key, FrameStream::Role::kClient);
  auto server = FrameStream::create(std::move(s), key, FrameStream::Role::kServer);
  std::string big(3 << 20, 'z');
  std::vector<std::string> got;
  error_code client_ec = asio::error::would_block, server_ec = asio::error::would_block;
  server->async_handshake([&](error_code ec) {
    server_ec = ec;
    server->async_read_frame(16 << 20, [&](error_code ec, Frame f) {
      server_ec = ec;
      got.push_back(f.header + "|" + std::to_string(f.payload.size));
      server->async_read_frame(16 << 20, [&](error_code ec, Frame f) {
        server_ec = ec;
        got.push_back(f.header + "|" + std::string(f.payload.view()));
        server->async_write_frame("reply", "done", nullptr, [&](error_code ec) { server_ec = ec; });
      });
    });
  });
  client->async_handshake([&](error_code ec) {
    client_ec = ec;
    // Two writes queued back to back go out in order.
    client->async_write_frame("first", big, nullptr, [](error_code) {});
    client->async_write_frame("second", "small", nullptr, [&](error_code ec) {
      client_ec = ec;
      client->async_read_frame(100, [&](error_code ec, Frame f) {
        client_ec = ec;
        got.push_back(f.header + "|" + std::string(f.payload.view()));
      });
    });
  });
  run();
  EXPECT_FALSE(client_ec) << client_ec.message();
  EXPECT_FALSE(server_ec) << server_ec.message();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], "first|" + std::to_string(big.size()));
  EXPECT_EQ(got[1], "second|small");
  EXPECT_EQ(got[2], "reply|done");
}

TEST_F(StreamPair, ClientRefusesServerWithWrongKey) {
  auto [c, s] = connect();
  auto client =
      FrameStream::create(std::move(c), key_of("cluster-secret-0001"), FrameStream::Role::kClient);
  auto server =
      FrameStream::create(std::move(s), key_of("cluster-secret-0002"), FrameStream::Role::kServer);
  error_code client_ec, write_ec;
  client->async_handshake([&](error_code ec) {
    client_ec = ec;
    client->async_write_frame("x", "", nullptr, [&](error_code ec) { write_ec = ec; });
  });
  server->async_handshake([](error_code) {});
  run();
  EXPECT_EQ(client_ec, make_error_code(Error::kBadProof));
  EXPECT_EQ(write_ec, make_error_code(Error::kBadProof));  // a broken stream stays broken
}

TEST_F(StreamPair, ServerRefusesForgedAndOversizedFrames) {
  ClusterKey key = key_of("cluster-secret-0001");
  for (bool oversized : {false, true}) {
    auto [c, s] = connect();
    auto server = FrameStream::create(std::move(s), key, FrameStream::Role::kServer);
    error_code server_ec;
    bool handshaken = false;
    server->async_handshake([&](error_code ec) {
      ASSERT_FALSE(ec);
      handshaken = true;
      server->async_read_frame(10, [&](error_code ec, Frame) { server_ec = ec; });
    });
    // A client that skips the proof and sends a frame with a made-up tag.
    std::string hello = encode_client_hello(key, random_nonce());
    asio::write(c, asio::buffer(hello));
    io_.restart();
    while (!handshaken && io_.run_one_for(std::chrono::seconds(5)) > 0) {
    }
    std::string reply(kServerHelloBytes, '\0');
    asio::read(c, asio::buffer(reply));
    std::string header = encode_frame_header(PushPull{false});
    auto prefix =
        encode_frame_prefix({static_cast<std::uint32_t>(header.size()), oversized ? 11u : 0u});
    std::string frame = std::string(prefix.data(), prefix.size()) + header +
                        std::string(kFrameTagBytes, '\x5a') + std::string(oversized ? 11 : 0, 'p') +
                        std::string(oversized ? kFrameTagBytes : 0, '\x5a');
    asio::write(c, asio::buffer(frame));
    run();
    EXPECT_EQ(server_ec, make_error_code(oversized ? Error::kPayloadTooLarge : Error::kBadTag));
  }
}

TEST_F(StreamPair, OpenStreamsWorkAndRefuseKeyedPeers) {
  auto [c, s] = connect();
  auto client = FrameStream::create(std::move(c), ClusterKey::open(), FrameStream::Role::kClient);
  auto server =
      FrameStream::create(std::move(s), key_of("cluster-secret-0001"), FrameStream::Role::kServer);
  error_code client_ec, server_ec;
  client->async_handshake([&](error_code ec) { client_ec = ec; });
  server->async_handshake([&](error_code ec) {
    server_ec = ec;
    server->close();
  });
  run();
  EXPECT_EQ(server_ec, make_error_code(Error::kModeMismatch));
  EXPECT_TRUE(client_ec);  // the server hung up

  auto [c2, s2] = connect();
  auto oc = FrameStream::create(std::move(c2), ClusterKey::open(), FrameStream::Role::kClient);
  auto os = FrameStream::create(std::move(s2), ClusterKey::open(), FrameStream::Role::kServer);
  std::string got;
  oc->async_handshake([&](error_code ec) {
    ASSERT_FALSE(ec);
    oc->async_write_frame("h", "open payload", nullptr, [](error_code) {});
  });
  os->async_handshake([&](error_code ec) {
    ASSERT_FALSE(ec);
    os->async_read_frame(100, [&](error_code ec, Frame f) {
      ASSERT_FALSE(ec);
      got = std::string(f.payload.view());
    });
  });
  run();
  EXPECT_EQ(got, "open payload");
}

TEST_F(StreamPair, RefusesFramesBeforeTheHandshake) {
  auto [c, s] = connect();
  auto client =
      FrameStream::create(std::move(c), key_of("cluster-secret-0001"), FrameStream::Role::kClient);
  error_code read_ec, header_ec, payload_ec, write_ec;
  char buf[4];
  client->async_read_frame(1, [&](error_code ec, Frame) { read_ec = ec; });
  client->async_read_header(1, [&](error_code ec, std::string, std::uint32_t) { header_ec = ec; });
  client->async_read_payload(buf, [&](error_code ec) { payload_ec = ec; });
  client->async_write_frame("h", "", nullptr, [&](error_code ec) { write_ec = ec; });
  run();
  EXPECT_EQ(read_ec, make_error_code(Error::kUnexpectedMessage));
  EXPECT_EQ(header_ec, make_error_code(Error::kUnexpectedMessage));
  EXPECT_EQ(payload_ec, make_error_code(Error::kUnexpectedMessage));
  EXPECT_EQ(write_ec, make_error_code(Error::kUnexpectedMessage));
}

// Forwards bytes between two sockets in both directions, keeping a copy of what passed each
// way, and flips one bit of each direction's stream at a chosen offset (a tampering middlebox).
class Relay : public std::enable_shared_from_this<Relay> {
 public:
  Relay(tcp::socket client_side, tcp::socket server_side)
      : a_(std::move(client_side)), b_(std::move(server_side)) {}

  void start(std::optional<std::size_t> flip_c2s = {}, std::optional<std::size_t> flip_s2c = {}) {
    pump(a_, b_, c2s, flip_c2s);
    pump(b_, a_, s2c, flip_s2c);
  }

  std::string c2s, s2c;  // every byte that passed, as sent on

 private:
  void pump(tcp::socket& from, tcp::socket& to, std::string& record,
            std::optional<std::size_t> flip) {
    auto buf = std::make_shared<std::vector<char>>(64 << 10);
    from.async_read_some(asio::buffer(*buf), [self = shared_from_this(), &from, &to, &record, flip,
                                              buf](error_code ec, std::size_t n) {
      if (ec) {
        error_code ignored;
        to.shutdown(tcp::socket::shutdown_send, ignored);
        return;
      }
      const std::size_t at = record.size();
      if (flip && *flip >= at && *flip < at + n) (*buf)[*flip - at] ^= 0x01;
      record.append(buf->data(), n);
      asio::async_write(to, asio::buffer(buf->data(), n),
                        [self, &from, &to, &record, flip, buf](error_code ec, std::size_t) {
                          if (!ec) self->pump(from, to, record, flip);
                        });
    });
  }

  tcp::socket a_, b_;
};

// A client and a server FrameStream connected through a Relay.
class RelayedPair : public StreamPair {
 protected:
  void make(const ClusterKey& key, std::optional<std::size_t> flip_c2s = {},
            std::optional<std::size_t> flip_s2c = {}) {
    auto [c, ra] = connect();
    auto [rb, s] = connect();
    relay_ = std::make_shared<Relay>(std::move(ra), std::move(rb));
    relay_->start(flip_c2s, flip_s2c);
    client_ = FrameStream::create(std::move(c), key, FrameStream::Role::kClient);
    server_ = FrameStream::create(std::move(s), key, FrameStream::Role::kServer);
  }

  // Closes both ends, which ends the relay too (so run() returns).
  void done() {
    client_->close();
    server_->close();
  }

  std::shared_ptr<Relay> relay_;
  std::shared_ptr<FrameStream> client_, server_;
};

// A recognisable payload: "SHOAL-PLAINTEXT!" repeated.
std::string pattern(std::size_t n) {
  std::string out;
  while (out.size() < n) out += "SHOAL-PLAINTEXT!";
  out.resize(n);
  return out;
}

class TwoPhaseRead : public RelayedPair, public ::testing::WithParamInterface<bool> {
 protected:
  ClusterKey key() const { return GetParam() ? key_of("cluster-secret-0001") : ClusterKey::open(); }
};

// The reader decodes each header first, then has the payload decrypted straight into a buffer of
// its choice; a frame without payload needs no second phase.
TEST_P(TwoPhaseRead, DeliversHeadersThenPayloadsIntoTheCallersBuffer) {
  make(key());
  const std::string big = pattern((1 << 20) + 123);  // more than one encryption chunk
  client_->async_handshake([&](error_code ec) {
    ASSERT_FALSE(ec) << ec.message();
    client_->async_write_frame("HEADER-MARKER-1", big, nullptr, [](error_code) {});
    client_->async_write_frame("no payload", "", nullptr, [](error_code) {});
    client_->async_write_frame("small", "xyz", nullptr, [](error_code) {});
  });
  std::vector<std::string> got;
  std::vector<char> dest(big.size() + 10, '\0');
  char small[3];
  error_code last = asio::error::would_block, early_payload;
  server_->async_handshake([&](error_code ec) {
    ASSERT_FALSE(ec);
    server_->async_read_header(big.size(), [&](error_code ec, std::string h, std::uint32_t n) {
      ASSERT_FALSE(ec) << ec.message();
      got.push_back(h + "|" + std::to_string(n));
      server_->async_read_payload(dest.data(), [&](error_code ec) {
        ASSERT_FALSE(ec) << ec.message();
        got.push_back(std::string(dest.data(), big.size()) == big ? "payload ok" : "payload bad");
        server_->async_read_header(10, [&](error_code ec, std::string h, std::uint32_t n) {
          ASSERT_FALSE(ec) << ec.message();
          got.push_back(h + "|" + std::to_string(n));
          // No payload is due: asking for one is refused and changes nothing.
          server_->async_read_payload(small, [&](error_code ec) {
            early_payload = ec;
            server_->async_read_frame(10, [&](error_code ec, Frame f) {
              last = ec;
              got.push_back(f.header + "|" + std::string(f.payload.view()));
              done();
            });
          });
        });
      });
    });
  });
  run();
  EXPECT_EQ(early_payload, make_error_code(Error::kUnexpectedMessage));
  EXPECT_FALSE(last) << last.message();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0], "HEADER-MARKER-1|" + std::to_string(big.size()));
  EXPECT_EQ(got[1], "payload ok");
  EXPECT_EQ(got[2], "no payload|0");
  EXPECT_EQ(got[3], "small|xyz");
  // On the wire: ciphertext with a key, the plain bytes in open mode.
  const bool plain_seen = relay_->c2s.find("SHOAL-PLAINTEXT!") != std::string::npos;
  const bool header_seen = relay_->c2s.find("HEADER-MARKER-1") != std::string::npos;
  EXPECT_EQ(plain_seen, !GetParam());
  EXPECT_EQ(header_seen, !GetParam());
  EXPECT_GT(relay_->c2s.size(), big.size());
}

TEST_P(TwoPhaseRead, AHeaderReadWhileAPayloadIsDueBreaksTheStream) {
  make(key());
  client_->async_handshake([&](error_code ec) {
    ASSERT_FALSE(ec);
    client_->async_write_frame("h", "payload", nullptr, [](error_code) {});
  });
  error_code second = asio::error::would_block, third = asio::error::would_block;
  server_->async_handshake([&](error_code ec) {
    ASSERT_FALSE(ec);
    server_->async_read_header(100, [&](error_code ec, std::string, std::uint32_t n) {
      ASSERT_FALSE(ec);
      ASSERT_EQ(n, 7u);
      server_->async_read_header(100, [&](error_code ec, std::string, std::uint32_t) {
        second = ec;
        server_->async_read_frame(100, [&](error_code ec, Frame) {
          third = ec;
          done();
        });
      });
    });
  });
  run();
  EXPECT_EQ(second, make_error_code(Error::kUnexpectedMessage));
  EXPECT_EQ(third, make_error_code(Error::kUnexpectedMessage));  // broken for good
}

INSTANTIATE_TEST_SUITE_P(KeyedAndOpen, TwoPhaseRead, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Keyed" : "Open"; });

// One bit flipped by a middlebox anywhere after the hellos: the receiver refuses the frame with
// bad_tag before handing out a byte of it, and the stream stays broken.
TEST_F(RelayedPair, RefusesAFrameWithAnyBitFlipped) {
  const ClusterKey key = key_of("cluster-secret-0001");
  const std::string header = "HEADER";
  const std::string payload = pattern(300'000);
  const std::size_t frame_start = kClientHelloBytes;
  const std::size_t header_at = frame_start + kFramePrefixBytes;
  const std::size_t payload_at = header_at + header.size() + kFrameTagBytes;
  struct Case {
    const char* what;
    std::size_t offset;
    bool header_fails;  // else the header verifies and the payload fails
  };
  const Case cases[] = {
      {"payload length in the prefix", frame_start + 7, true},
      {"header", header_at + 2, true},
      {"header tag", header_at + header.size() + 5, true},
      {"payload start", payload_at, false},
      {"payload end", payload_at + payload.size() - 1, false},
      {"payload tag", payload_at + payload.size() + 15, false},
  };
  for (const Case& c : cases) {
    make(key, c.offset);
    client_->async_handshake([&](error_code ec) {
      ASSERT_FALSE(ec);
      client_->async_write_frame(header, payload, nullptr, [](error_code) {});
    });
    error_code header_ec = asio::error::would_block, payload_ec = asio::error::would_block;
    error_code after = asio::error::would_block;
    std::string got_header;
    std::vector<char> dest(payload.size() + 1);
    server_->async_handshake([&](error_code ec) {
      ASSERT_FALSE(ec);
      server_->async_read_header(1 << 20, [&](error_code ec, std::string h, std::uint32_t) {
        header_ec = ec;
        got_header = h;
        auto then = [&] {
          server_->async_read_header(1 << 20, [&](error_code ec, std::string, std::uint32_t) {
            after = ec;
            done();
          });
        };
        if (ec) return then();
        server_->async_read_payload(dest.data(), [&, then](error_code ec) {
          payload_ec = ec;
          then();
        });
      });
    });
    run();
    const error_code bad_tag = make_error_code(Error::kBadTag);
    if (c.header_fails) {
      EXPECT_EQ(header_ec, bad_tag) << c.what;
      EXPECT_TRUE(got_header.empty()) << c.what;
    } else {
      EXPECT_FALSE(header_ec) << c.what;
      EXPECT_EQ(got_header, header) << c.what;
      EXPECT_EQ(payload_ec, bad_tag) << c.what;
    }
    EXPECT_EQ(after, bad_tag) << c.what << ": the stream stays broken";
    EXPECT_FALSE(server_->error_detail().empty()) << c.what;
  }
}

// The same in the other direction: a page answer tampered on its way back is refused by the
// requesting side.
TEST_F(RelayedPair, ClientRefusesATamperedAnswer) {
  const ClusterKey key = key_of("cluster-secret-0001");
  const std::string payload = pattern(100'000);
  make(key, std::nullopt, kServerHelloBytes + kFramePrefixBytes + 1 + kFrameTagBytes + 50'000);
  error_code got = asio::error::would_block;
  server_->async_handshake([&](error_code ec) {
    ASSERT_FALSE(ec);
    server_->async_write_frame("a", payload, nullptr, [](error_code) {});
  });
  client_->async_handshake([&](error_code ec) {
    ASSERT_FALSE(ec);
    client_->async_read_frame(1 << 20, [&](error_code ec, Frame) {
      got = ec;
      done();
    });
  });
  run();
  EXPECT_EQ(got, make_error_code(Error::kBadTag));
}

// A peer of another protocol version (here a hand-made version-2 hello, the GMAC-only build) is
// refused with version_mismatch, and learns our version from the hello we answer with.
TEST_F(StreamPair, RefusesAnotherHelloVersionAndSaysWhich) {
  const ClusterKey key = key_of("cluster-secret-0001");
  auto [c, s] = connect();
  auto server = FrameStream::create(std::move(s), key, FrameStream::Role::kServer);
  error_code server_ec;
  server->async_handshake([&](error_code ec) { server_ec = ec; });
  std::string hello = encode_client_hello(key, random_nonce());
  hello[3] = '\x02';
  asio::write(c, asio::buffer(hello));
  run();
  EXPECT_EQ(server_ec, make_error_code(Error::kVersionMismatch));
  EXPECT_NE(server->error_detail().find("version 2"), std::string::npos) << server->error_detail();
  std::string reply(kServerHelloBytes, '\0');
  asio::read(c, asio::buffer(reply));
  EXPECT_EQ(reply.substr(0, 4), std::string("SHT\x03"));

  // And a client that gets an answer of another version says so too.
  auto [c2, s2] = connect();
  auto client = FrameStream::create(std::move(c2), key, FrameStream::Role::kClient);
  error_code client_ec;
  client->async_handshake([&](error_code ec) { client_ec = ec; });
  io_.restart();
  io_.run_for(std::chrono::milliseconds(200));
  std::string ch(kClientHelloBytes, '\0');
  asio::read(s2, asio::buffer(ch));
  std::string sh = encode_server_hello(key, random_nonce(), random_nonce());
  sh[3] = '\x04';
  asio::write(s2, asio::buffer(sh));
  run();
  EXPECT_EQ(client_ec, make_error_code(Error::kVersionMismatch));
  EXPECT_NE(client->error_detail().find("version 4"), std::string::npos);
}

}  // namespace
}  // namespace shoal::test
