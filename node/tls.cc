#include "node/tls.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <memory>

namespace shoal::node {
namespace ssl = boost::asio::ssl;

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};

bool add_ext(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

std::optional<std::string> self_signed(const std::string& host, std::string* cert_pem,
                                       std::string* key_pem) {
  std::unique_ptr<EVP_PKEY, PkeyFree> key(EVP_EC_gen("P-256"));
  if (!key) return "--tls-self: cannot generate an EC key";
  std::unique_ptr<X509, X509Free> cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(time(nullptr)));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("shoald"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  std::string san = "DNS:localhost,IP:127.0.0.1";
  if (!host.empty() && host != "localhost" && host.find_first_of(":,") == std::string::npos) {
    bool is_ip = host.find_first_not_of("0123456789.") == std::string::npos;
    san += (is_ip ? ",IP:" : ",DNS:") + host;
  }
  if (!add_ext(cert.get(), NID_subject_alt_name, san) ||
      !add_ext(cert.get(), NID_basic_constraints, "critical,CA:FALSE")) {
    return "--tls-self: cannot add certificate extensions";
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return "--tls-self: cannot sign the certificate";
  }
  auto to_pem = [](auto write) {
    BIO* bio = BIO_new(BIO_s_mem());
    write(bio);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string s(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return s;
  };
  *cert_pem = to_pem([&](BIO* b) { PEM_write_bio_X509(b, cert.get()); });
  *key_pem = to_pem([&](BIO* b) {
    PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  return std::nullopt;
}

}  // namespace

std::optional<std::string> make_tls_context(bool self_signed_cert, const std::string& cert_file,
                                            const std::string& key_file,
                                            const std::string& host_name,
                                            std::optional<ssl::context>* out) {
  out->emplace(ssl::context::tls_server);
  ssl::context& ctx = **out;
  boost::system::error_code ec;
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                  ec);
  if (self_signed_cert) {
    std::string cert_pem, key_pem;
    if (auto e = self_signed(host_name, &cert_pem, &key_pem)) return e;
    ctx.use_certificate_chain(boost::asio::buffer(cert_pem), ec);
    if (!ec) ctx.use_private_key(boost::asio::buffer(key_pem), ssl::context::pem, ec);
    if (ec) return "--tls-self: " + ec.message();
    return std::nullopt;
  }
  ctx.use_certificate_chain_file(cert_file, ec);
  if (ec) return "--tls-cert: " + cert_file + ": " + ec.message();
  ctx.use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec) return "--tls-key: " + key_file + ": " + ec.message();
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    return "--tls-key: " + key_file + " does not match the certificate in " + cert_file;
  }
  return std::nullopt;
}

}  // namespace shoal::node
