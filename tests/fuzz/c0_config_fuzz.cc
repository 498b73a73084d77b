// Fuzzes the C0-Config parser: any accepted header value must yield a configuration that
// passes validate(); a rejected one must leave the output untouched and give a one-line reason.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "origin/request_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  shoal::origin::RequestConfig base;
  shoal::origin::RequestConfig out;
  out.max_attempts = 77;  // a marker: must survive a rejection
  auto err = shoal::origin::apply_c0_config(text, base, &out);
  if (err) {
    if (out.max_attempts != 77) std::abort();
    if (err->empty() || err->find('\n') != std::string::npos) std::abort();
    return 0;
  }
  if (out.validate()) std::abort();
  return 0;
}
