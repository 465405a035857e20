#include "models/kernels/softmax.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include <torch/torch.h>

namespace vitnas::kernels {

namespace {

// Forced inline: each variant below then compiles these helpers for its own instruction set.
#define VITNAS_KERNEL_INLINE inline __attribute__((always_inline))

// Eight floats as one GCC vector: each variant below compiles its operations to its own
// instructions (one AVX2 register, half an AVX-512 one, two SSE ones). Plain loops with
// `omp simd` left the exp and max loops scalar in GCC 12's AVX2 and baseline builds.
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

VITNAS_KERNEL_INLINE v8f splat(float a) { return v8f{} + a; }
VITNAS_KERNEL_INLINE v8f load8(const float* p) {
  v8f v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
VITNAS_KERNEL_INLINE void store8(float* p, v8f v) { std::memcpy(p, &v, sizeof(v)); }

// expf for x <= 0 (softmax after subtracting the row max): x = n ln2 + r, |r| <= ln2/2, exp(r) by
// its degree-6 Taylor/Cephes polynomial, 2^n by building the float's exponent bits. T is float
// or v8f: the same arithmetic for the tail and the vectors.
template <typename T>
VITNAS_KERNEL_INLINE T exp_nonpositive(T x) {
  x = x < -87.0f ? T{} - 87.0f : x;  // below this expf underflows to (near) zero anyway
  // round to nearest with the 1.5 * 2^23 trick
  const T n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  T r = x - n * 0.693359375f;  // ln2 split in two (Cody-Waite) for an exact reduction
  r = r - n * -2.12194440e-4f;
  T p = T{} + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  if constexpr (std::is_same_v<T, float>) {
    const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, sizeof(scale));
    return p * scale;
  } else {
    const v8i bits = (__builtin_convertvector(n, v8i) + 127) << 23;
    return p * reinterpret_cast<const v8f&>(bits);
  }
}

// row = softmax(row + bias) in place, eight at a time, then the tail. kN > 0 fixes the row
// length at compile time (the windows of EfficientViT have 49 and 16 tokens).
template <int64_t kN>
VITNAS_KERNEL_INLINE void bias_softmax_row(float* row, const float* bias, int64_t runtime_n) {
  const int64_t n = kN > 0 ? kN : runtime_n, full = n / 8 * 8;
  if (bias) {
    for (int64_t j = 0; j < full; j += 8) store8(row + j, load8(row + j) + load8(bias + j));
    for (int64_t j = full; j < n; ++j) row[j] += bias[j];
  }
  v8f mv = splat(row[0]);
  for (int64_t j = 0; j < full; j += 8) {
    const v8f v = load8(row + j);
    mv = v > mv ? v : mv;
  }
  float m = row[0];
  for (int i = 0; i < 8; ++i) m = std::max(m, mv[i]);
  for (int64_t j = full; j < n; ++j) m = std::max(m, row[j]);
  v8f sv{};
  for (int64_t j = 0; j < full; j += 8) {
    const v8f e = exp_nonpositive(load8(row + j) - m);
    store8(row + j, e);
    sv += e;
  }
  float sum = 0.0f;
  for (int i = 0; i < 8; ++i) sum += sv[i];
  for (int64_t j = full; j < n; ++j) {
    row[j] = exp_nonpositive(row[j] - m);
    sum += row[j];
  }
  const float inv = 1.0f / sum;
  for (int64_t j = 0; j < full; j += 8) store8(row + j, load8(row + j) * inv);
  for (int64_t j = full; j < n; ++j) row[j] *= inv;
}

template <int64_t kN>
VITNAS_KERNEL_INLINE void softmax_rows_n(float* s, const float* bias, int64_t rows, int64_t n, int64_t bias_rows) {
  for (int64_t i = 0; i < rows; ++i)
    bias_softmax_row<kN>(s + i * n, bias ? bias + (i % bias_rows) * n : nullptr, n);
}

VITNAS_KERNEL_INLINE void softmax_rows_body(float* s, const float* bias, int64_t rows, int64_t n,
                                           int64_t bias_rows) {
  switch (n) {
    case 49: return softmax_rows_n<49>(s, bias, rows, n, bias_rows);  // 7x7 windows
    case 16: return softmax_rows_n<16>(s, bias, rows, n, bias_rows);  // 4x4 windows
    default: return softmax_rows_n<0>(s, bias, rows, n, bias_rows);
  }
}

__attribute__((target("avx512f")))
void softmax_rows_avx512(float* s, const float* bias, int64_t rows, int64_t n, int64_t bias_rows) {
  softmax_rows_body(s, bias, rows, n, bias_rows);
}

__attribute__((target("avx2")))
void softmax_rows_avx2(float* s, const float* bias, int64_t rows, int64_t n, int64_t bias_rows) {
  softmax_rows_body(s, bias, rows, n, bias_rows);
}

void softmax_rows_baseline(float* s, const float* bias, int64_t rows, int64_t n,
                           int64_t bias_rows) {
  softmax_rows_body(s, bias, rows, n, bias_rows);
}

void softmax_rows(CpuVariant variant, float* s, const float* bias, int64_t rows, int64_t n,
                  int64_t bias_rows) {
  switch (variant) {
    case CpuVariant::AVX512: return softmax_rows_avx512(s, bias, rows, n, bias_rows);
    case CpuVariant::AVX2: return softmax_rows_avx2(s, bias, rows, n, bias_rows);
    case CpuVariant::Baseline: return softmax_rows_baseline(s, bias, rows, n, bias_rows);
  }
}

#ifdef VITNAS_HAVE_BLAS
extern "C" void sgemm_(const char* transa, const char* transb, const int* m, const int* n,
                       const int* k, const float* alpha, const float* a, const int* lda,
                       const float* b, const int* ldb, const float* beta, float* c, const int* ldc);

// C (m x n) = op(A) op(B), column-major, through the system BLAS (the one LibTorch uses).
void gemm(char ta, char tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
          const float* b, int64_t ldb, float* c, int64_t ldc) {
  const int mi = int(m), ni = int(n), ki = int(k), la = int(lda), lb = int(ldb), lc = int(ldc);
  const float one = 1.0f, zero = 0.0f;
  sgemm_(&ta, &tb, &mi, &ni, &ki, &one, a, &la, b, &lb, &zero, c, &lc);
}
#endif

}  // namespace

torch::Tensor window_softmax_attention(const torch::Tensor& q, const torch::Tensor& k,
                                       const torch::Tensor& v, const torch::Tensor& bias) {
  auto ok = [](const torch::Tensor& t) {
    return t.dim() == 3 && t.scalar_type() == torch::kFloat32 && t.device().is_cpu() &&
           t.stride(2) == 1;
  };
  TORCH_CHECK(ok(q) && ok(k) && ok(v),
              "window_softmax_attention: q, k, v must be float32 CPU (B, N, C), unit channel stride");
  const int64_t B = q.size(0), n = q.size(1), d = q.size(2), e = v.size(2);
  TORCH_CHECK(k.size(0) == B && v.size(0) == B && k.size(1) == n && v.size(1) == n && k.size(2) == d,
              "window_softmax_attention: q, k, v shapes disagree");
  TORCH_CHECK(bias.is_contiguous() && bias.scalar_type() == torch::kFloat32 && bias.size(0) == n &&
                  bias.size(1) == n,
              "window_softmax_attention: bias must be a contiguous float32 (N, N)");
#ifdef VITNAS_HAVE_BLAS
  auto out = torch::empty({B, n, e}, q.options());
  std::vector<float> scores(size_t(n * n));
  const float *qp = q.data_ptr<float>(), *kp = k.data_ptr<float>(), *vp = v.data_ptr<float>();
  float* op = out.data_ptr<float>();
  for (int64_t b = 0; b < B; ++b) {
    // BLAS is column-major, where a row-major (r x c) matrix is its (c x r) transpose.
    // scores^T = k q^T (N x N)
    gemm('T', 'N', n, n, d, kp + b * k.stride(0), k.stride(1), qp + b * q.stride(0), q.stride(1),
         scores.data(), n);
    softmax_rows(best_cpu_variant(), scores.data(), bias.data_ptr<float>(), n, n, n);
    // out^T = v^T scores^T (e x N)
    gemm('N', 'N', e, n, n, vp + b * v.stride(0), v.stride(1), scores.data(), n, op + b * n * e, e);
  }
  return out;
#else  // no system BLAS to call directly (e.g. LibTorch with MKL linked in): ATen's bmm
  auto scores = torch::bmm(q, k.transpose(1, 2));
  bias_softmax_(scores, bias);
  return torch::bmm(scores, v);
#endif
}

void bias_softmax_(torch::Tensor& scores, const torch::Tensor& bias) {
  bias_softmax_(scores, bias, best_cpu_variant());
}

void bias_softmax_(torch::Tensor& scores, const torch::Tensor& bias, CpuVariant variant) {
  TORCH_CHECK(cpu_supports(variant), "bias_softmax_: this CPU cannot run the ", to_string(variant),
              " variant");
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
  softmax_rows(variant, scores.data_ptr<float>(), b, rows, n, scores.size(1));
}

}  // namespace vitnas::kernels
