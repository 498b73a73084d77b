// Human-readable byte sizes for flags and logs: parse_size("1.5GiB") and format_size(n).
//
// Grammar accepted by parse_size (no leading or trailing whitespace, nothing else):
//
//   size   = number [ *WSP unit ]            ; WSP is a space or a horizontal tab
//   number = 1*DIGIT [ "." 1*DIGIT ]         ; decimal; no sign, no exponent, no ".5" or "5."
//   unit   = one of the suffixes below, ASCII case-insensitive ("gib" = "GiB" = "GIB")
//
//   suffix                   multiplier
//   (none), B                1
//   K,  Ki,  KiB             2^10    (a bare K/M/G/T/P/E is binary, as in GNU coreutils and nginx)
//   KB                       10^3    (a suffix ending in "B" without "i" is decimal, SI)
//   M,  Mi,  MiB   / MB      2^20 / 10^6
//   G,  Gi,  GiB   / GB      2^30 / 10^9
//   T,  Ti,  TiB   / TB      2^40 / 10^12
//   P,  Pi,  PiB   / PB      2^50 / 10^15
//   E,  Ei,  EiB   / EB      2^60 / 10^18
//
// Case-insensitivity means "mb" is 10^6 bytes (there are no bits or milli-units here).
// The value is computed exactly (no floating point) and rounded down to whole bytes:
// "1.5KiB" = 1536, "0.3KiB" = 307, "1.5" = 1, "0.5B" = 0. Zero is a valid size; callers that
// need a positive or bounded size check the result themselves.
//
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shoal::base {

// Parses `text` per the grammar above into a number of bytes. Returns nullopt for an empty
// string, a sign ("-1", "+1"), an unknown or missing-after-space unit, leading or trailing
// whitespace or other junk ("1GiB ", "1 GiB x", "1e9"), a malformed number ("", ".5", "5.",
// "1.2.3"), or a value above 2^64-1 bytes ("16EiB").
std::optional<std::uint64_t> parse_size(std::string_view text);

// Formats `bytes` in the largest binary unit (B, KiB, MiB, GiB, TiB, PiB, EiB) not above it,
// with at most two decimals, truncated (never rounded up) and without trailing zeros:
// 0 -> "0 B", 1023 -> "1023 B", 1536 -> "1.5 KiB", 1610612736 -> "1.5 GiB",
// 1073741823 -> "1023.99 MiB". The result parses back with parse_size() to a value v with
// v <= bytes and bytes - v < unit / 100 + 1 (unit: the multiplier of the unit printed).
std::string format_size(std::uint64_t bytes);

}  // namespace shoal::base
