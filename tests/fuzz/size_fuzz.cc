// Fuzzes the size parser (--memory, --page-size, ...): no crash, no overflow, and a parsed
// value formats to text that parses back to at most the same value (format_size rounds down).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ring/base/size.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto v = shoal::base::parse_size(text);
  if (!v) return 0;
  std::string formatted = shoal::base::format_size(*v);
  std::string compact;
  for (char c : formatted) {
    if (c != ' ') compact += c;
  }
  auto back = shoal::base::parse_size(compact);
  if (!back || *back > *v) std::abort();
  return 0;
}
