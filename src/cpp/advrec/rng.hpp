// Deterministic per-thread random streams. Every stream is derived from (seed, stream index) and
// never from the clock, so a run with one thread and a fixed seed is reproducible bit for bit.
#pragma once

#include <cstdint>

namespace advrec {

// SplitMix64: used only to expand seeds into well-mixed generator states.
inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Combines several 64-bit words into one seed (order matters).
inline std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b, std::uint64_t c = 0) {
  std::uint64_t s = a;
  std::uint64_t h = splitmix64(s);
  s = h ^ (b * 0xD6E8FEB86659FD93ULL);
  h = splitmix64(s);
  s = h ^ (c * 0xA0761D6478BD642FULL);
  return splitmix64(s);
}

// xoshiro256++ (Blackman & Vigna): fast, 256-bit state, good statistical quality.
class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0, std::uint64_t stream = 0) { reseed(seed, stream); }

  void reseed(std::uint64_t seed, std::uint64_t stream) {
    std::uint64_t sm = mix_seed(seed, stream, 0x5EEDULL);
    for (auto& word : s_) word = splitmix64(sm);
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[0] + s_[3], 23) + s_[0];
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform integer in [0, n) by Lemire's multiply-shift; the tiny bias (< n / 2^64) is far below
  // anything a recommender could detect, and it avoids a division per draw.
  std::uint64_t uniform(std::uint64_t n) {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }

  // Uniform float in [0, 1).
  float uniform_float() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f); }
  double uniform_double() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }

  // Standard normal by Box-Muller (one value per call; simplicity over speed, used for init only).
  double normal();

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

}  // namespace advrec

#include <cmath>
inline double advrec::Rng::normal() {
  double u1 = uniform_double();
  double u2 = uniform_double();
  if (u1 < 1e-300) u1 = 1e-300;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}
