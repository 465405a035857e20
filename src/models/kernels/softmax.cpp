#include "models/kernels/softmax.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include <torch/torch.h>

namespace vitnas::kernels {

namespace {

// expf for x <= 0 (softmax after subtracting the row max): x = n ln2 + r, |r| <= ln2/2, exp(r) by
// its degree-6 Taylor/Cephes polynomial, 2^n by building the float's exponent bits.
inline float exp_nonpositive(float x) {
  x = std::max(x, -87.0f);  // below this expf underflows to (near) zero anyway
  // round to nearest with the 1.5 * 2^23 trick: plain arithmetic, so the loop vectorises
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = x - n * 0.693359375f;   // ln2 split in two (Cody-Waite) for an exact reduction
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void softmax_rows(float* s, const float* bias, int64_t rows, int64_t n, int64_t bias_rows) {
  for (int64_t i = 0; i < rows; ++i) {
    float* row = s + i * n;
    const float* b = bias ? bias + (i % bias_rows) * n : nullptr;
    if (b) {
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) row[j] += b[j];
    }
    float m = row[0];
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < n; ++j) m = std::max(m, row[j]);
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < n; ++j) {
      row[j] = exp_nonpositive(row[j] - m);
      sum += row[j];
    }
    const float inv = 1.0f / sum;
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) row[j] *= inv;
  }
}

}  // namespace

void bias_softmax_(torch::Tensor& scores, const torch::Tensor& bias) {
  TORCH_CHECK(scores.dim() == 3 && scores.is_contiguous() && scores.scalar_type() == torch::kFloat32 &&
                  scores.device().is_cpu(),
              "bias_softmax_: scores must be a contiguous float32 CPU tensor (B, N, M)");
  const int64_t n = scores.size(2), rows = scores.size(0) * scores.size(1);
  const float* b = nullptr;
  if (bias.defined()) {
    TORCH_CHECK(bias.is_contiguous() && bias.scalar_type() == torch::kFloat32 &&
                    bias.size(0) == scores.size(1) && bias.size(1) == n,
                "bias_softmax_: bias must be a contiguous float32 (N, M)");
    b = bias.data_ptr<float>();
  }
  softmax_rows(scores.data_ptr<float>(), b, rows, n, scores.size(1));
}

}  // namespace vitnas::kernels
