// shoald's configuration file (--config FILE) and its effective configuration (--print-config).
//
// File format: one JSON object whose keys are the long flag names without the leading dashes
// and whose values are what the flag takes:
//   {"listen": "0.0.0.0:8080", "memory": "2GiB", "page-size": "16MiB", "threads": 4,
//    "seed": ["10.0.0.1:7947", "10.0.0.2:7947"], "insecure-peer": false}
//   - a string, a number (written as JSON prints it: 4, 0.99) or a boolean (for on/off flags
//     like "tls-self": true/false) sets a single-valued flag;
//   - an array of those sets a repeatable flag ("seed"); an empty array leaves it unset;
//   - null, nested objects and arrays of arrays are errors naming the key;
//   - unknown keys are errors naming the key ("--config: unknown key 'memroy'"), as are keys of
//     flags that make no sense in a file (help, version, config, print-config).
// A flag given on the command line wins over the same key in the file (CLI11's config
// processing: file values only fill options the command line left empty).
//
// Effective configuration: every configurable flag with the value in force after the command
// line, the file and the defaults (and the node id, endpoint and region as resolved), as one JSON
// object in the file format above, keys sorted, so `shoald --print-config > f.json` and
// `shoald --config f.json` give the same node. Secret-like values are masked ("***"): keys naming
// a secret (secret, token, password, passwd, credential, access-key; a key ending in "-file" is a
// path and is shown) and the password part of any URL ("http://user:***@host"). File contents
// (the key file, the token file) are never read here.
//
// Thread-safe: no shared state.
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::node {

// CLI11 config formatter for the JSON file format above (CLI::App::config_formatter).
class JsonConfigFile : public CLI::Config {
 public:
  // The effective configuration of `app` (see effective_config), pretty-printed; the other
  // arguments of CLI::Config are not used.
  std::string to_config(const CLI::App* app, bool default_also, bool write_description,
                        std::string prefix) const override;
  // Parses the file. Throws CLI::ConfigError with a message naming the problem: "--config: not
  // valid JSON: <parser message>", "--config: the file must hold one JSON object", "--config:
  // key 'K' must be a string, number, boolean or an array of those".
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;
};

// The effective configuration of a parsed `app` as a JSON object (keys: long option names without
// dashes; help, version, config, print-config and non-configurable options left out), with
// `resolved` replacing the values of the keys it names, and secrets masked (mask_secrets).
// Values: flags as booleans, repeatable options as arrays, options whose CLI11 type is a number
// (INT, UINT, FLOAT) as numbers, everything else as strings ("" for an unset option without a
// default).
nlohmann::json effective_config(const CLI::App& app,
                                const std::map<std::string, nlohmann::json>& resolved = {});

// True for a key that names a secret value (see the file comment).
bool is_secret_key(std::string_view key);
// `text` with the password of a URL's userinfo ("scheme://user:password@host...") replaced by
// "***"; other text unchanged.
std::string mask_url_password(std::string_view text);
// `config` (a JSON object) with secret keys' non-empty string values replaced by "***" and URL
// passwords masked in every string value, also inside arrays.
nlohmann::json mask_secrets(nlohmann::json config);

}  // namespace shoal::node
