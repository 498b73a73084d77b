#include "ring/move_estimate.h"

namespace shoal::ring {
namespace {

double ratio(std::uint64_t part, std::uint64_t whole) {
  return whole == 0 ? 0 : static_cast<double>(part) / static_cast<double>(whole);
}

std::size_t index_of(const Ring& r, const Member* m) {
  return static_cast<std::size_t>(m - r.members().data());
}

}  // namespace

std::uint64_t sample_hash(std::uint64_t i) {
  std::uint64_t z = i * 0x9e3779b97f4a7c15ull + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

double MoveEstimate::moved_fraction() const {
  double f = 0;
  for (std::uint64_t m : moved_out) f += ratio(m, samples);
  return f;
}

double MoveEstimate::moves_out_fraction(std::size_t i) const {
  return ratio(moved_out[i], owned_before[i]);
}

double MoveEstimate::sampled_share_after(std::size_t i) const {
  return ratio(owned_after[i], samples);
}

MoveEstimate estimate_moves(const Ring& before, const Ring& after, std::size_t samples) {
  MoveEstimate e;
  e.samples = samples;
  e.owned_before.assign(before.size(), 0);
  e.moved_out.assign(before.size(), 0);
  e.owned_after.assign(after.size(), 0);
  for (std::size_t s = 0; s < samples; ++s) {
    const std::uint64_t h = sample_hash(s);
    const Member* a = before.owner(h);
    const Member* b = after.owner(h);
    if (b != nullptr) ++e.owned_after[index_of(after, b)];
    if (a == nullptr) continue;
    ++e.owned_before[index_of(before, a)];
    if (b == nullptr || a->id != b->id) ++e.moved_out[index_of(before, a)];
  }
  return e;
}

}  // namespace shoal::ring
