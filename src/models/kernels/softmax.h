// A fused "add the relative-position bias, then softmax along rows" kernel for the short rows of
// window attention (N = 16..49 keys). ATen's softmax costs ~7 cycles per element on such rows;
// this one works on eight floats at a time as GCC vectors (built for AVX-512, AVX2 and baseline x86-64,
// the best one this CPU runs chosen at run time), with a Cephes-style expf accurate to ~2 ulp.
#pragma once

#include <torch/types.h>

#include "models/kernels/cpu_variant.h"

namespace vitnas::kernels {

// scores (B, N, M) contiguous float32, bias (N, M) contiguous float32 (or undefined):
// scores[b] = softmax(scores[b] + bias) along the last dimension, in place.
void bias_softmax_(torch::Tensor& scores, const torch::Tensor& bias);
// The same with the instruction-set variant forced (tests); fails if the CPU cannot run it.
void bias_softmax_(torch::Tensor& scores, const torch::Tensor& bias, CpuVariant variant);

// out[b] = softmax(q[b] k[b]^T + bias) v[b] for every window b. q (B, N, d), k (B, N, d),
// v (B, N, e): float32 CPU with unit stride along channels (rows may be strided, e.g. slices of a
// fused qkv); bias (N, N) contiguous. Returns out (B, N, e) contiguous. The attention scale must
// already be folded into q. One BLAS call per GEMM and the scores of a window stay in cache;
// ATen's bmm adds tensor bookkeeping per window that costs as much as a 49x16x49 GEMM itself.
torch::Tensor window_softmax_attention(const torch::Tensor& q, const torch::Tensor& k,
                                       const torch::Tensor& v, const torch::Tensor& bias);

}  // namespace vitnas::kernels
