#pragma once
/// The random numbers of the demo tools (dataset maker, trainer). The draws are written here
/// rather than taken from <random>'s distributions, whose output the standard leaves to each
/// library: the same seed must give the same dataset and model with libstdc++ and libc++.
#include <cmath>
#include <cstdint>
#include <random>

namespace lv::demo {

/// SplitMix64 finaliser: spreads (seed, stream) pairs into unrelated generator seeds.
inline uint64_t mix_seed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// A seeded generator with portable draws. std::mt19937_64's sequence is fixed by the standard.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  /// An independent generator for sub-stream `stream` of `seed` (one per scene, per epoch...).
  Rng(uint64_t seed, uint64_t stream) : engine_(mix_seed(seed, stream)) {}

  uint64_t next() { return engine_(); }
  /// Uniform in [0, 1).
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  /// Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [lo, hi], both included (lo <= hi); the modulo bias is below 2^-40.
  int uniform_int(int lo, int hi) {
    return lo + static_cast<int>(engine_() % static_cast<uint64_t>(static_cast<int64_t>(hi) - lo + 1));
  }
  /// True with probability p.
  bool bernoulli(double p) { return uniform() < p; }
  /// Standard normal (Box-Muller; the second value of each pair is dropped for simplicity).
  double normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]: log stays finite
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace lv::demo
