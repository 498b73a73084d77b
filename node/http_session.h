// One client connection: HTTP/1.1 keep-alive over TCP or TLS, in the shape of Boost.Beast's
// examples (do_x/on_x steps, timeouts re-armed before every operation).
//
// A /fetch response streams page by page with back-pressure: at most readahead_pages pages are
// requested ahead of the one being written, and each write is at most kWriteSlice bytes with the
// write timeout re-armed, so a slow reader holds only those pages and a stalled one is dropped.
//
// Never a wrong byte: every page after the first must carry the first page's ETag (it is asked
// for with If-Match); if one does not, or a page fails after the header went out, the
// connection is closed so the client sees a short body, never a mix.
//
// Sources: node/http_connection.h (reading requests, routing, simple responses),
// node/fetch_response.h (/fetch streaming), node/s3_api_response.h (the S3 port),
// node/http_session.cc (the plain and TLS sessions).
//
// Thread rules: a session lives on one worker io_context (one thread); page results are posted
// back to it by PageFetcher.
#pragma once

#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "node/fetch_request.h"
#include "node/server.h"

namespace shoal::node {

// Starts serving an accepted connection; `s3_port`: it came in on the S3 port
// (node/s3_api_response.h), else on the client port.
void start_plain_session(boost::asio::ip::tcp::socket socket, SessionHost& host, bool s3_port);
void start_tls_session(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context& tls,
                       SessionHost& host, bool s3_port);

}  // namespace shoal::node
