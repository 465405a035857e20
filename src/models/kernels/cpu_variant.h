// The instruction-set variants the hand-written kernels are compiled for. Each kernel is built
// once per variant (GCC target attributes) and dispatched to the best one this CPU runs; tests
// call every variant the CPU supports explicitly, so the others are checked too, not only the
// one the test machine would pick.
#pragma once

#include <array>

namespace vitnas::kernels {

enum class CpuVariant { Baseline, AVX2, AVX512 };  // x86-64, AVX2, AVX-512F

constexpr std::array<CpuVariant, 3> kCpuVariants{CpuVariant::Baseline, CpuVariant::AVX2,
                                                 CpuVariant::AVX512};

inline const char* to_string(CpuVariant v) {
  switch (v) {
    case CpuVariant::Baseline: return "baseline x86-64";
    case CpuVariant::AVX2: return "AVX2";
    case CpuVariant::AVX512: return "AVX-512F";
  }
  return "?";
}

// Whether this CPU can run code built for v.
inline bool cpu_supports(CpuVariant v) {
  switch (v) {
    case CpuVariant::Baseline: return true;
    case CpuVariant::AVX2: return __builtin_cpu_supports("avx2");
    case CpuVariant::AVX512: return __builtin_cpu_supports("avx512f");
  }
  return false;
}

// The variant the kernels use by default: the widest this CPU runs (as target_clones chose).
inline CpuVariant best_cpu_variant() {
  static const CpuVariant best = cpu_supports(CpuVariant::AVX512) ? CpuVariant::AVX512
                                 : cpu_supports(CpuVariant::AVX2) ? CpuVariant::AVX2
                                                                  : CpuVariant::Baseline;
  return best;
}

}  // namespace vitnas::kernels
