// Per-bucket latency distributions of origin page fetches: time to first byte and whole-page
// time, recent minutes weighing most. Read on every miss (hedge delay, bucket order) and by
// /stats; exported as a small summary for peers and merged from theirs.
//
// Structure: one DecayingSketch per (bucket, kind). A DecayingSketch is a DDSketch (Masson, Rim,
// Lee, "DDSketch: A Fast and Fully-Mergeable Quantile Sketch with Relative-Error Guarantees",
// VLDB 2019) over a fixed array of logarithmic bins: with a = kRelativeError = 0.02 and gamma = (1
// + a) / (1 - a), bin i holds the weight of values in (gamma^(i-1), gamma^i] microseconds, and its
// representative value 2 gamma^i / (gamma + 1) lies within a (relative) of every value in the bin.
// Values are clamped to [1 us, 2^32 us] (about 71.6 minutes), so kBins = 556 bins of 8 bytes cover
// the range (4.4 KiB per sketch, 8.9 KiB per bucket).
//
// Decay: time is cut into steps (LatencyOptions::step, 1 s). When an access finds that k steps
// have begun since the sketch was last touched, every weight is multiplied by
// 2^(-k * step / half_life) (half_life 60 s by default), so a sample recorded k steps ago weighs
// 2^(-k * step / half_life): a sample from 5 minutes ago weighs 1/32 of a new one.
//
// Error bound: quantile(q) returns x' with |x' - x| <= a * x, where x is the lower weighted
// q-quantile of the recorded values (after clamping): the smallest recorded value such that the
// decayed weight of the values <= it is at least q times the total decayed weight. Decay scales
// all weights of a sketch by the same factor, so the bound is exact for the decayed weights, up
// to floating-point rounding. Merging two sketches adds bin weights, so a merged sketch obeys the
// same bound for the union of the samples (DDSketch's full mergeability).
//
// Cost: record O(1) (plus O(kBins) once per step per bucket, for the decay); quantile O(kBins),
// a scan of 556 doubles (well under a microsecond).
//
// Peers' figures: merge_peer_summary() keeps each peer's latest summary per bucket (a new
// summary from a peer replaces its old one, so repeated gossip never counts twice), decayed like
// local data from the moment it arrived. estimate() uses local data alone when the bucket has at
// least min_local_samples (decayed) local samples, else local and all peers' data merged.
//
// Thread rules: LatencyTracker is thread-safe (one mutex; every call is short). DecayingSketch is
// a plain value type (no locking).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace shoal::origin {

using SteadyTime = std::chrono::steady_clock::time_point;

// The nonzero bins of a sketch: (bin index, weight), indices strictly increasing. 6 bytes of
// payload per bin; a latency distribution spanning 1 ms .. 2 s fills at most 191 bins.
struct SketchSummary {
  std::vector<std::pair<std::uint16_t, float>> bins;
};

class DecayingSketch {
 public:
  static constexpr double kRelativeError = 0.02;
  static constexpr double kMinMicros = 1.0;
  static constexpr double kMaxMicros = 4294967296.0;  // 2^32 us
  static constexpr std::size_t kBins = 556;           // bin_of(kMaxMicros) + 1
  // Bins lighter than this are left out of summaries (a sample 10 half-lives old weighs 1e-3).
  static constexpr double kMinExportWeight = 1e-3;

  DecayingSketch();

  // Adds `weight` (> 0) at `micros` (clamped to [kMinMicros, kMaxMicros]; NaN is ignored).
  void add(double micros, double weight = 1.0);
  // Multiplies every weight by `factor` in [0, 1] (decay).
  void scale(double factor);
  // Adds the other sketch's weights bin by bin.
  void merge(const DecayingSketch& other);
  // Total weight (the decayed sample count).
  double weight() const { return total_; }
  // The q-quantile (q clamped to [0, 1]) in microseconds, within kRelativeError of the lower
  // weighted quantile (see the file comment); nullopt when the sketch is empty.
  std::optional<double> quantile(double q) const;

  // The bin holding `micros` (clamped), and a bin's representative value in microseconds.
  static std::size_t bin_of(double micros);
  static double value_of(std::size_t bin);

  // The bins of weight >= kMinExportWeight.
  SketchSummary summary() const;
  // A sketch from a summary; nullopt (and *error set) when a bin index is >= kBins or not
  // strictly increasing, or a weight is negative, not finite, or above 1e12.
  static std::optional<DecayingSketch> from_summary(const SketchSummary& s, std::string* error);

 private:
  std::vector<double> bins_;
  double total_ = 0;
};

enum class LatencyKind {
  kFirstByte,  // request start to the first response byte, of the successful attempt
  kPage,       // the whole page fetch (all retries), request start to last byte
};

struct LatencyOptions {
  std::chrono::milliseconds step{1000};        // decay granularity
  std::chrono::milliseconds half_life{60000};  // weight halves every half_life
  std::size_t max_buckets = 256;  // buckets tracked locally; the least recently used is dropped
  std::size_t max_peers = 64;     // peers whose summaries are kept; the stalest is dropped
  double min_local_samples = 20;  // below this local weight, estimates also use peers' data

  // "latency: <field> ..." for an unusable setting, else nullopt.
  std::optional<std::string> validate() const;
};

struct LatencyEstimate {
  std::chrono::microseconds value{0};  // the quantile
  double samples = 0;                  // decayed weight it was computed from
  bool with_peers = false;             // peers' figures were merged in
};

// One bucket's figures as exported to peers.
struct BucketLatencySummary {
  std::string bucket;
  SketchSummary first_byte;
  SketchSummary page;
};

struct LatencySummary {
  std::vector<BucketLatencySummary> buckets;
};

class LatencyTracker {
 public:
  // `epoch` anchors the decay steps (any fixed time point; tests pass their own clock's).
  explicit LatencyTracker(LatencyOptions opts = {}, SteadyTime epoch = SteadyTime{});

  // Records one successful page fetch from `bucket`.
  void record(const std::string& bucket, std::chrono::microseconds first_byte,
              std::chrono::microseconds page, SteadyTime now);

  // The q-quantile of `bucket`'s `kind` latency as of `now` (see the file comment for when peers'
  // figures are used); nullopt when there is no sample at all.
  std::optional<LatencyEstimate> estimate(const std::string& bucket, LatencyKind kind, double q,
                                          SteadyTime now) const;

  // Local decayed sample weight of `bucket` (0 when unknown).
  double local_samples(const std::string& bucket, SteadyTime now) const;

  // Buckets with local data, in name order.
  std::vector<std::string> buckets() const;
  // Buckets some peer has figures for, in name order.
  std::vector<std::string> peer_buckets() const;

  // The q-quantile of `bucket`'s `kind` latency from peers' figures alone (all peers merged), as
  // of `now`; `samples` is their decayed weight and with_peers is true. nullopt when no peer has
  // a sample.
  std::optional<LatencyEstimate> peer_estimate(const std::string& bucket, LatencyKind kind,
                                               double q, SteadyTime now) const;

  // This node's figures for every bucket with local weight >= kMinExportWeight.
  LatencySummary export_summary(SteadyTime now) const;

  // Keeps `summary` as peer `peer`'s current figures (replacing the previous ones). Returns a
  // reason and changes nothing when the summary is invalid: an empty peer id or bucket name, a
  // bucket listed twice, more than max_buckets buckets, or a malformed sketch
  // (DecayingSketch::from_summary).
  std::optional<std::string> merge_peer_summary(const std::string& peer,
                                                const LatencySummary& summary, SteadyTime now);

  // Drops a peer's figures (it left the cluster).
  void forget_peer(const std::string& peer);

 private:
  struct Entry {
    DecayingSketch first_byte;
    DecayingSketch page;
    std::int64_t step = 0;  // the step the weights are decayed to
    SteadyTime last_used{};
    const DecayingSketch& get(LatencyKind k) const {
      return k == LatencyKind::kPage ? page : first_byte;
    }
  };
  using PeerBuckets = std::map<std::string, Entry>;

  std::int64_t step_of(SteadyTime t) const;
  void decay(Entry& e, std::int64_t step) const;
  Entry& local_entry(const std::string& bucket, SteadyTime now);

  const LatencyOptions opts_;
  const SteadyTime epoch_;
  mutable std::mutex mu_;
  mutable std::map<std::string, Entry> local_;
  mutable std::map<std::string, PeerBuckets> peers_;
  std::map<std::string, SteadyTime> peer_updated_;
};

}  // namespace shoal::origin
