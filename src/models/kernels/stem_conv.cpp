#include "models/kernels/stem_conv.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include <torch/torch.h>

namespace vitnas::kernels {

namespace {

constexpr int64_t kLanes = 16;  // output columns per strip
constexpr int64_t kGroup = 8;   // output channels accumulated together, in registers

// 16 floats: one AVX-512 register, two AVX2 ones, four SSE ones (GCC splits as the clone needs).
typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));

struct StemArgs {
  const float *x, *w, *b;
  float* y;
  int64_t batch, cin, h, w_in, cout, ho, wo;
  bool relu;
};

// Forced inline: each variant below compiles the body for its own instruction set (the Vec
// arithmetic becomes AVX-512, AVX2 or SSE code).
inline __attribute__((always_inline)) void stem_conv_body(const StemArgs& a) {
  const int64_t wp = (a.wo + kLanes - 1) / kLanes * kLanes + kLanes;  // padded, +1 strip of slack
  const int64_t taps = a.cin * 9;
  // For one output row and each (c, ky): the even columns x[2ox] and the odd ones x[2ox + 1] of
  // input row 2oy + ky - 1, the odd ones stored one slot late so that x[2ox - 1] is the same
  // array read one slot earlier (slot 0 is the left zero padding).
  std::vector<float> even(size_t(a.cin * 3 * wp)), odd(size_t(a.cin * 3 * wp));
  std::vector<const float*> tap(static_cast<size_t>(taps));
  for (int64_t c = 0; c < a.cin; ++c)
    for (int64_t ky = 0; ky < 3; ++ky) {
      const int64_t r = (c * 3 + ky) * wp;
      tap[size_t((c * 3 + ky) * 3 + 0)] = odd.data() + r;       // x[2ox - 1]
      tap[size_t((c * 3 + ky) * 3 + 1)] = even.data() + r;      // x[2ox]
      tap[size_t((c * 3 + ky) * 3 + 2)] = odd.data() + r + 1;   // x[2ox + 1]
    }
  for (int64_t n = 0; n < a.batch; ++n) {
    for (int64_t oy = 0; oy < a.ho; ++oy) {
      std::fill(even.begin(), even.end(), 0.0f);  // zero padding: rows off the image, right edge
      std::fill(odd.begin(), odd.end(), 0.0f);
      for (int64_t c = 0; c < a.cin; ++c)
        for (int64_t ky = 0; ky < 3; ++ky) {
          const int64_t iy = 2 * oy + ky - 1;
          if (iy < 0 || iy >= a.h) continue;
          const float* src = a.x + ((n * a.cin + c) * a.h + iy) * a.w_in;
          float* e = even.data() + (c * 3 + ky) * wp;
          float* o = odd.data() + (c * 3 + ky) * wp + 1;
          const int64_t pairs = a.w_in / 2;  // full (even, odd) column pairs
          for (int64_t i = 0; i < pairs; ++i) {
            e[i] = src[2 * i];
            o[i] = src[2 * i + 1];
          }
          if (a.w_in % 2) e[pairs] = src[2 * pairs];
        }
      for (int64_t g = 0; g < a.cout; g += kGroup) {
        const float* wg = a.w + g * taps;
        for (int64_t x0 = 0; x0 < a.wo; x0 += kLanes) {
          Vec acc[kGroup];
          for (int64_t k = 0; k < kGroup; ++k) acc[k] = Vec{} + a.b[g + k];
          for (int64_t t = 0; t < taps; ++t) {
            Vec v;
            std::memcpy(&v, tap[size_t(t)] + x0, sizeof(v));
            for (int64_t k = 0; k < kGroup; ++k) acc[k] += wg[k * taps + t] * v;
          }
          const int64_t lanes = std::min(kLanes, a.wo - x0);
          for (int64_t k = 0; k < kGroup; ++k) {
            if (a.relu) acc[k] = acc[k] > 0.0f ? acc[k] : Vec{};
            float* dst = a.y + ((n * a.cout + g + k) * a.ho + oy) * a.wo + x0;
            if (lanes == kLanes) {
              std::memcpy(dst, &acc[k], sizeof(Vec));  // one vector store
            } else {
              for (int64_t l = 0; l < lanes; ++l) dst[l] = acc[k][l];
            }
          }
        }
      }
    }
  }
}

__attribute__((target("avx512f"))) void stem_conv_avx512(const StemArgs& a) { stem_conv_body(a); }
__attribute__((target("avx2"))) void stem_conv_avx2(const StemArgs& a) { stem_conv_body(a); }
void stem_conv_baseline(const StemArgs& a) { stem_conv_body(a); }

}  // namespace

bool stem_conv_supported(const torch::Tensor& x, const torch::Tensor& weight) {
  return x.device().is_cpu() && x.scalar_type() == torch::kFloat32 && x.dim() == 4 &&
         weight.dim() == 4 && weight.size(2) == 3 && weight.size(3) == 3 &&
         weight.size(1) == x.size(1) && x.size(1) <= 4 && weight.size(0) % kGroup == 0;
}

torch::Tensor stem_conv3x3_s2(const torch::Tensor& x, const torch::Tensor& weight,
                              const torch::Tensor& bias, bool relu) {
  return stem_conv3x3_s2(x, weight, bias, relu, best_cpu_variant());
}

torch::Tensor stem_conv3x3_s2(const torch::Tensor& x, const torch::Tensor& weight,
                              const torch::Tensor& bias, bool relu, CpuVariant variant) {
  TORCH_CHECK(stem_conv_supported(x, weight), "stem_conv3x3_s2: unsupported input or weight");
  TORCH_CHECK(cpu_supports(variant), "stem_conv3x3_s2: this CPU cannot run the ",
              to_string(variant), " variant");
  auto xc = x.contiguous();
  auto w = weight.contiguous().to(torch::kFloat32);
  auto b = bias.contiguous().to(torch::kFloat32);
  const int64_t B = xc.size(0), cin = xc.size(1), h = xc.size(2), wi = xc.size(3);
  const int64_t ho = (h - 1) / 2 + 1, wo = (wi - 1) / 2 + 1, cout = w.size(0);
  auto y = torch::empty({B, cout, ho, wo}, xc.options());
  const StemArgs args{xc.data_ptr<float>(), w.data_ptr<float>(), b.data_ptr<float>(),
                      y.data_ptr<float>(), B, cin, h, wi, cout, ho, wo, relu};
  switch (variant) {
    case CpuVariant::AVX512: stem_conv_avx512(args); break;
    case CpuVariant::AVX2: stem_conv_avx2(args); break;
    case CpuVariant::Baseline: stem_conv_baseline(args); break;
  }
  return y;
}

}  // namespace vitnas::kernels
