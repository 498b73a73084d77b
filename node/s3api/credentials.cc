#include "node/s3api/credentials.h"

#include <nlohmann/json.hpp>

#include "ring/base/names.h"
#include "ring/base/private_file.h"

namespace shoal::s3api {

namespace {

using json = nlohmann::json;

bool valid_key_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

bool valid_secret(std::string_view s) {
  if (s.empty() || s.size() > 256) return false;
  for (char c : s) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

// A bucket entry: "*", a bucket name, or a prefix of one followed by "*".
std::optional<std::string> check_entry(std::string_view b) {
  if (b == "*") return std::nullopt;
  if (b.ends_with('*')) {
    std::string_view prefix = b.substr(0, b.size() - 1);
    if (prefix.empty() || prefix.find('*') != std::string_view::npos) {
      return "a '*' may only end a prefix, got \"" + std::string(b) + "\"";
    }
    for (char c : prefix) {
      if (!std::islower(static_cast<unsigned char>(c)) &&
          !std::isdigit(static_cast<unsigned char>(c)) && c != '-' && c != '.') {
        return "bucket prefix \"" + std::string(prefix) + "\" has a character not in [a-z0-9.-]";
      }
    }
    return std::nullopt;
  }
  return base::check_bucket(b);
}

std::optional<Credential> parse_one(const json& j, const std::string& where, std::string* error) {
  if (!j.is_object()) {
    *error = where + ": expected an object";
    return std::nullopt;
  }
  Credential c;
  for (const auto& [k, v] : j.items()) {
    if (k == "access_key_id" && v.is_string()) {
      c.access_key_id = v.get<std::string>();
    } else if (k == "secret_access_key" && v.is_string()) {
      c.secret = v.get<std::string>();
    } else if (k == "buckets" && v.is_array()) {
      for (const auto& b : v) {
        if (!b.is_string()) {
          *error = where + ".buckets: expected a list of bucket names";
          return std::nullopt;
        }
        if (auto e = check_entry(b.get<std::string>())) {
          *error = where + ".buckets: " + *e;
          return std::nullopt;
        }
        c.buckets.push_back(b.get<std::string>());
      }
    } else if (k == "write" && v.is_boolean()) {
      c.write = v.get<bool>();
    } else if (k == "write") {
      *error = where + ".write: expected true or false";
      return std::nullopt;
    } else if (k == "access_key_id" || k == "secret_access_key") {
      *error = where + "." + k + ": expected a string";
      return std::nullopt;
    } else if (k == "buckets") {
      *error = where + ".buckets: expected a list of bucket names";
      return std::nullopt;
    } else {
      *error = where + ": unknown key \"" + k + "\"";
      return std::nullopt;
    }
  }
  if (!valid_key_id(c.access_key_id)) {
    *error = where + ".access_key_id: 1-128 characters of [A-Za-z0-9_.-] required";
    return std::nullopt;
  }
  if (!valid_secret(c.secret)) {
    *error = where + ".secret_access_key: 1-256 printable ASCII characters required";
    return std::nullopt;
  }
  if (c.buckets.empty()) {
    *error = where + ".buckets: at least one bucket (or \"*\") required";
    return std::nullopt;
  }
  return c;
}

}  // namespace

bool Credential::allows(std::string_view bucket) const {
  for (const std::string& b : buckets) {
    if (b == "*" || b == bucket) return true;
    if (b.ends_with('*') && bucket.starts_with(std::string_view(b).substr(0, b.size() - 1))) {
      return true;
    }
  }
  return false;
}

std::optional<CredentialStore> CredentialStore::parse(std::string_view json_text,
                                                      std::string* error) {
  json j = json::parse(json_text, nullptr, false);
  if (j.is_discarded()) {
    *error = "not valid JSON";
    return std::nullopt;
  }
  if (!j.is_object()) {
    *error = "expected a JSON object with \"credentials\"";
    return std::nullopt;
  }
  for (const auto& [k, v] : j.items()) {
    if (k != "credentials") {
      *error = "unknown key \"" + k + "\"";
      return std::nullopt;
    }
  }
  if (!j.contains("credentials") || !j["credentials"].is_array() || j["credentials"].empty()) {
    *error = "credentials: expected a non-empty list";
    return std::nullopt;
  }
  CredentialStore store;
  const json& list = j["credentials"];
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto c = parse_one(list[i], "credentials[" + std::to_string(i) + "]", error);
    if (!c) return std::nullopt;
    if (store.find(c->access_key_id)) {
      *error = "credentials[" + std::to_string(i) + "].access_key_id: duplicate \"" +
               c->access_key_id + "\"";
      return std::nullopt;
    }
    store.credentials_.push_back(std::move(*c));
  }
  return store;
}

std::optional<CredentialStore> CredentialStore::load_file(const std::string& path,
                                                          std::string* error) {
  std::string text;
  if (auto e = base::read_private_file(path, kMaxFileBytes, &text)) {
    *error = *e;
    return std::nullopt;
  }
  auto store = parse(text, error);
  if (!store) *error = path + ": " + *error;
  return store;
}

const Credential* CredentialStore::find(std::string_view access_key_id) const {
  for (const Credential& c : credentials_) {
    if (c.access_key_id == access_key_id) return &c;
  }
  return nullptr;
}

}  // namespace shoal::s3api
