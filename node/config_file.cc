#include "node/config_file.h"

#include <algorithm>
#include <array>

namespace shoal::node {
namespace {

// The text CLI11 gets for one scalar JSON value; throws naming `key` for other values.
std::string scalar_text(const std::string& key, const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number()) return v.dump();
  throw CLI::ConfigError("--config: key '" + key +
                         "' must be a string, number, boolean or an array of those");
}

// A switch (add_flag): CLI11 marks it expected(0), it takes no value.
bool is_flag(const CLI::Option& opt) {
  return opt.get_expected_max() == 0;
}
bool is_repeatable(const CLI::Option& opt) {
  return opt.get_items_expected_max() > 1;
}
bool is_number_type(const CLI::Option& opt) {
  const std::string t = opt.get_type_name();
  return t == "INT" || t == "UINT" || t == "FLOAT" || t == "NUMBER";
}

// One value of `opt` as JSON: a number for numeric options when it parses as one.
nlohmann::json typed(const CLI::Option& opt, const std::string& text) {
  if (is_number_type(opt) && !text.empty()) {
    auto v = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (v.is_number()) return v;
  }
  return text;
}

nlohmann::json option_value(const CLI::Option& opt) {
  if (is_flag(opt)) return opt.count() > 0 && opt.as<bool>();
  if (is_repeatable(opt)) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : opt.results()) out.push_back(typed(opt, r));
    return out;
  }
  if (opt.count() > 0) return typed(opt, opt.results().back());
  return typed(opt, opt.get_default_str());
}

bool left_out(const std::string& name) {
  return name == "help" || name == "version" || name == "config" || name == "print-config";
}

}  // namespace

std::vector<CLI::ConfigItem> JsonConfigFile::from_config(std::istream& input) const {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(input);
  } catch (const nlohmann::json::parse_error& e) {
    throw CLI::ConfigError(std::string("--config: not valid JSON: ") + e.what());
  }
  if (!doc.is_object()) throw CLI::ConfigError("--config: the file must hold one JSON object");
  std::vector<CLI::ConfigItem> items;
  for (const auto& [key, value] : doc.items()) {
    CLI::ConfigItem item;
    item.name = key;
    if (value.is_array()) {
      if (value.empty()) continue;  // an empty list leaves the option unset
      for (const auto& v : value) item.inputs.push_back(scalar_text(key, v));
    } else {
      item.inputs.push_back(scalar_text(key, value));
    }
    items.push_back(std::move(item));
  }
  return items;
}

std::string JsonConfigFile::to_config(const CLI::App* app, bool, bool, std::string) const {
  return effective_config(*app).dump(2) + "\n";
}

nlohmann::json effective_config(const CLI::App& app,
                                const std::map<std::string, nlohmann::json>& resolved) {
  nlohmann::json out = nlohmann::json::object();
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->get_lnames().empty() || !opt->get_configurable()) continue;
    const std::string& name = opt->get_lnames().front();
    if (left_out(name)) continue;
    out[name] = option_value(*opt);
  }
  for (const auto& [key, value] : resolved) out[key] = value;
  return mask_secrets(std::move(out));
}

bool is_secret_key(std::string_view key) {
  if (key.ends_with("-file")) return false;
  std::string lower(key);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static constexpr std::array<std::string_view, 6> kWords = {"secret", "token",      "password",
                                                             "passwd", "credential", "access-key"};
  return std::any_of(kWords.begin(), kWords.end(),
                     [&](std::string_view w) { return lower.find(w) != std::string::npos; });
}

std::string mask_url_password(std::string_view text) {
  const auto scheme = text.find("://");
  if (scheme == std::string_view::npos) return std::string(text);
  const auto authority = scheme + 3;
  const auto end = text.find_first_of("/?#", authority);
  const auto at = text.substr(0, end).rfind('@');
  if (at == std::string_view::npos || at < authority) return std::string(text);
  const auto colon = text.substr(0, at).find(':', authority);
  if (colon == std::string_view::npos) return std::string(text);
  return std::string(text.substr(0, colon + 1)) + "***" + std::string(text.substr(at));
}

nlohmann::json mask_secrets(nlohmann::json config) {
  auto mask_value = [](nlohmann::json& v, bool secret) {
    if (!v.is_string()) return;
    if (secret && !v.get_ref<const std::string&>().empty()) {
      v = "***";
    } else {
      v = mask_url_password(v.get<std::string>());
    }
  };
  for (auto& [key, value] : config.items()) {
    const bool secret = is_secret_key(key);
    if (value.is_array()) {
      for (auto& v : value) mask_value(v, secret);
    } else {
      mask_value(value, secret);
    }
  }
  return config;
}

}  // namespace shoal::node
