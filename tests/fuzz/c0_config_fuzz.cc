// Fuzzes the C0-Config parser: any accepted header value must yield a configuration that
// passes validate() and stays within the operator's caps, whose forwarded text
// (c0_config_text) gives the same configuration again; a rejected one must leave the output
// untouched and give a one-line reason.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "origin/request_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  shoal::origin::RequestConfig base;
  shoal::origin::RequestConfig out;
  out.max_attempts = 77;                 // a marker: must survive a rejection
  const shoal::origin::ClientCaps caps;  // the default caps
  auto err = shoal::origin::apply_c0_config(text, base, caps, &out);
  if (err) {
    if (out.max_attempts != 77) std::abort();
    if (err->empty() || err->find('\n') != std::string::npos) std::abort();
    return 0;
  }
  if (out.validate()) std::abort();
  if (out.max_attempts > caps.max_attempts || out.operation_timeout > caps.max_timeout ||
      out.connect_timeout > caps.max_timeout || out.read_timeout > caps.max_timeout ||
      out.attempt_timeout > caps.max_timeout || out.max_backoff > caps.max_backoff) {
    std::abort();
  }
  shoal::origin::RequestConfig again;
  const std::string forwarded = shoal::origin::c0_config_text(out, base);
  if (shoal::origin::apply_c0_config(forwarded, base, caps, &again)) std::abort();
  if (shoal::origin::c0_config_text(again, base) != forwarded) std::abort();
  if (again.client_timeouts != out.client_timeouts) std::abort();
  return 0;
}
