// The first conv of a stem: 3x3, stride 2, padding 1, few input channels (RGB), a bias and an
// optional ReLU, NCHW in and out. oneDNN reaches only ~42 GFLOP/s on it (microbench StemConv:
// 3 input channels give it nothing to vectorise over); this kernel vectorises over output
// columns instead, with eight output channels accumulated in registers per 16-column strip, on
// rows de-interleaved into even and odd columns so every tap is a contiguous load.
#pragma once

#include <torch/types.h>

#include "models/kernels/cpu_variant.h"

namespace vitnas::kernels {

// Whether stem_conv3x3_s2 handles this conv: float32 CPU, weight (Cout, Cin, 3, 3) with
// Cout a multiple of 8 and Cin <= 4.
bool stem_conv_supported(const torch::Tensor& x, const torch::Tensor& weight);

// y = conv2d(x, weight, bias, stride 2, padding 1) (then ReLU if relu), x (B, Cin, H, W)
// contiguous; returns (B, Cout, (H-1)/2+1, (W-1)/2+1) contiguous.
torch::Tensor stem_conv3x3_s2(const torch::Tensor& x, const torch::Tensor& weight,
                              const torch::Tensor& bias, bool relu);
// The same with the instruction-set variant forced (tests); fails if the CPU cannot run it.
torch::Tensor stem_conv3x3_s2(const torch::Tensor& x, const torch::Tensor& weight,
                              const torch::Tensor& bias, bool relu, CpuVariant variant);

}  // namespace vitnas::kernels
