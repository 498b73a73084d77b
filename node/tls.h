// TLS for the client port: a server context from PEM files, or a freshly generated self-signed
// certificate (--tls-self: an EC P-256 key and an X.509v3 certificate valid for 365 days with
// subjectAltName DNS:localhost, IP:127.0.0.1 and the node id's host), via OpenSSL 3.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <optional>
#include <string>

namespace shoal::node {

// Builds a TLS 1.2+ server context. Returns an error message naming the file or step that
// failed (unreadable file, key not matching the certificate, OpenSSL failure).
std::optional<std::string> make_tls_context(bool self_signed, const std::string& cert_file,
                                            const std::string& key_file,
                                            const std::string& host_name,
                                            std::optional<boost::asio::ssl::context>* out);

}  // namespace shoal::node
