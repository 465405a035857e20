// Counter-based seeding and portable draws. std::uniform_*_distribution differ between standard
// libraries; these do not, so a checkpoint's data order replays the same anywhere.
#pragma once

#include <cstdint>
#include <random>

namespace vitnas::data {

// SplitMix64's finaliser: a well-mixed 64-bit hash of x.
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A seed for stream (a, b, c), e.g. (seed, epoch, position).
inline uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c = 0) {
  return splitmix64(splitmix64(splitmix64(a) ^ b) ^ c);
}

// Uniform in [0, 1) with 53 random bits.
inline double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1p-53; }

// Uniform integer in [0, n), n > 0 (modulo bias below 2^-40 for any realistic n).
inline int64_t uniform_int(std::mt19937_64& rng, int64_t n) {
  return static_cast<int64_t>(rng() % static_cast<uint64_t>(n));
}

}  // namespace vitnas::data
