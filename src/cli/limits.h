// The documented bounds of the numeric flags (README, "Bad input"). A value outside them is
// refused (exit 2, naming the flag and the bound) instead of being replaced by a default,
// hanging the machine (--threads 100000, --seconds inf) or dying in the allocator (--batch 1e9).
#pragma once

#include <cstdint>

#include <CLI/CLI.hpp>

namespace vitnas::cli {

inline constexpr int64_t kMaxBatch = 65536;          // images per batch
inline constexpr double kMaxSeconds = 24 * 3600.0;   // any timed or warm-up duration
inline constexpr int64_t kMaxCount = 1'000'000;      // rounds, steps, samples, repeats, ...
inline constexpr int kMaxEpochs = 10'000;
inline constexpr int kMaxLoaderThreads = 64;

// An integer in [lo, hi] (CLI11's Range also lets NaN and 1e400 through for doubles).
CLI::Validator integer_in(int64_t lo, int64_t hi);
// A finite number in [lo, hi].
CLI::Validator number_in(double lo, double hi);
// Intra-op threads: 1 .. this machine's hardware threads (0 too where it means "all cores").
// More threads than cores only oversubscribes, and tens of thousands hang the machine.
CLI::Validator thread_count(bool zero_means_all);

}  // namespace vitnas::cli
