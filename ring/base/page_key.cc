#include "ring/base/page_key.h"

#include <array>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace shoal::base {
namespace {

using Le64 = std::array<char, 8>;

// `v` as 8 little-endian bytes, independent of the host's byte order.
Le64 le64(std::uint64_t v) {
  Le64 out{};
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(v >> (8 * i));
  return out;
}

void update(XXH3_state_t* state, std::string_view bytes) {
  XXH3_64bits_update(state, bytes.data(), bytes.size());
}

void update(XXH3_state_t* state, const Le64& bytes) {
  XXH3_64bits_update(state, bytes.data(), bytes.size());
}

// Feeds the length-prefixed kind and object into a fresh state (the encoding's first four
// fields).
void start(XXH3_state_t* state, std::string_view kind, std::string_view object) {
  XXH3_INITSTATE(state);
  XXH3_64bits_reset(state);
  update(state, le64(kind.size()));
  update(state, kind);
  update(state, le64(object.size()));
  update(state, object);
}

}  // namespace

std::uint64_t page_hash(std::string_view kind, std::string_view object, std::uint64_t page) {
  // Streaming XXH3 gives the same digest as one-shot XXH3_64bits over the concatenation (xxHash
  // API contract), so this equals XXH3_64bits(page_key_bytes(...)) without building the string.
  XXH3_state_t state;
  start(&state, kind, object);
  update(&state, le64(page));
  return XXH3_64bits_digest(&state);
}

std::uint64_t object_hash(std::string_view kind, std::string_view object) {
  XXH3_state_t state;
  start(&state, kind, object);
  return XXH3_64bits_digest(&state);
}

std::string page_key_bytes(std::string_view kind, std::string_view object, std::uint64_t page) {
  std::string out;
  out.reserve(3 * sizeof(Le64) + kind.size() + object.size());
  const auto append = [&out](const Le64& b) { out.append(b.data(), b.size()); };
  append(le64(kind.size()));
  out.append(kind);
  append(le64(object.size()));
  out.append(object);
  append(le64(page));
  return out;
}

}  // namespace shoal::base
