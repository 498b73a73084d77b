// Micro-benchmarks for ring/: the per-request placement cost (page_hash + owner or rank).
// Run: build/bin/ring_bench [--benchmark_filter=Owner]. Keys cycle through 4096 precomputed
// page hashes so that branch history cannot memorise one key.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ring/base/page_key.h"
#include "ring/rendezvous.h"

namespace shoal::ring {
namespace {

constexpr std::size_t kKeys = 4096;  // a power of two, for the index mask

Ring bench_ring(std::size_t n) {
  std::vector<Member> members;
  for (std::size_t i = 0; i < n; ++i) {
    members.push_back({"node-" + std::to_string(i), 1.0 + static_cast<double>(i % 4)});
  }
  return *Ring::make(std::move(members));
}

std::vector<std::uint64_t> bench_keys() {
  std::vector<std::uint64_t> keys(kKeys);
  for (std::size_t i = 0; i < kKeys; ++i) keys[i] = base::page_hash("data", "objects/bench.bin", i);
  return keys;
}

void BM_Owner(benchmark::State& state) {
  const Ring ring = bench_ring(static_cast<std::size_t>(state.range(0)));
  const auto keys = bench_keys();
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(ring.owner(keys[i++ & (kKeys - 1)]));
}
BENCHMARK(BM_Owner)->Arg(3)->Arg(8)->Arg(16)->Arg(64)->Arg(256);

void BM_Rank3(benchmark::State& state) {
  const Ring ring = bench_ring(static_cast<std::size_t>(state.range(0)));
  const auto keys = bench_keys();
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(ring.rank(keys[i++ & (kKeys - 1)], 3));
}
BENCHMARK(BM_Rank3)->Arg(8)->Arg(64);

void BM_PageHash(benchmark::State& state) {
  const std::string object(static_cast<std::size_t>(state.range(0)), 'o');
  std::uint64_t page = 0;
  for (auto _ : state) benchmark::DoNotOptimize(base::page_hash("data", object, page++));
}
BENCHMARK(BM_PageHash)->Arg(16)->Arg(256)->Arg(1024);

}  // namespace
}  // namespace shoal::ring

BENCHMARK_MAIN();
