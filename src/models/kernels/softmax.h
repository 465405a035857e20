// A fused "add the relative-position bias, then softmax along rows" kernel for the short rows of
// window attention (N = 16..49 keys). ATen's softmax costs ~7 cycles per element on such rows;
// this one is a plain loop the compiler vectorises (cloned for AVX-512, AVX2 and baseline x86-64,
// chosen at load time), with a Cephes-style expf accurate to ~2 ulp.
#pragma once

#include <torch/types.h>

namespace vitnas::kernels {

// scores (B, N, M) contiguous float32, bias (N, M) contiguous float32 (or undefined):
// scores[b] = softmax(scores[b] + bias) along the last dimension, in place.
void bias_softmax_(torch::Tensor& scores, const torch::Tensor& bias);

}  // namespace vitnas::kernels
