// The ops of the fused EfficientViT inference network (BN folded, channels-last maps
// (B, H, W, C)). FusedEfficientViT chains them; the latency profiler times each one on its own,
// built from random weights of the right shapes, so a table entry measures exactly the code the
// network runs.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <torch/types.h>

#include "core/arch_spec.h"
#include "core/arch_walk.h"
#include "models/conv2d_bn.h"
#include "models/kernels/onednn_conv.h"

namespace vitnas::fused {

// A 1x1 conv (or linear) with its BN folded. On channels-last maps it runs as a 1x1 conv in
// oneDNN (about 1.8x the GFLOP/s of the BLAS GEMM on AVX-512 machines), called directly with
// the epilogue fused in (kernels/onednn_conv.h), or through LibTorch where that is not built;
// on plain rows (B, in), e.g. after pooling, as one addmm.
struct Pointwise {
  torch::Tensor w;   // (out, in, 1, 1)
  torch::Tensor wt;  // (in, out), for rows
  torch::Tensor b;   // (out)
  std::shared_ptr<const kernels::OneDnnConv> conv;  // the same conv, run by oneDNN directly
  // relu?(conv(x) + residual): (B, H, W, in) -> (B, H, W, out); residual (B, H, W, out) or {}.
  torch::Tensor operator()(const torch::Tensor& x, const torch::Tensor& residual = {},
                           bool relu = false) const;
  torch::Tensor rows(const torch::Tensor& x) const;  // (M, in) -> (M, out)
};
Pointwise pointwise(const torch::Tensor& w, const torch::Tensor& b);  // w (out, in[, 1, 1])

// Depthwise conv on channels-last maps (B, H, W, C) -> (B, H', W', C), ReLU optionally fused.
struct Depthwise {
  torch::Tensor w, b;  // (C, 1, k, k) channels-last, (C)
  int64_t stride = 1, padding = 0;
  std::shared_ptr<const kernels::OneDnnConv> conv;  // as Pointwise's
  torch::Tensor operator()(const torch::Tensor& x, bool relu = false) const;
};
Depthwise depthwise(const FusedConv& f, double scale = 1.0);

// x + dw(x) == a single depthwise conv whose kernel has 1 added at its centre.
Depthwise residual_depthwise(FusedConv f);

// Residual FFN: x + pw2(relu(pw1(x))).
struct FFNResidual {
  Pointwise pw1, pw2;
  torch::Tensor operator()(const torch::Tensor& x) const;
};

// One head of cascaded group attention on windows: its input (Bw, R, R, chunk) -> (Bw, R, R, v).
struct AttentionHead {
  Pointwise qkv;        // chunk -> [q | k | v]
  Depthwise q_dw;       // with the scale key_dim^-0.5 folded in
  torch::Tensor bias;   // (N, N) relative-position bias of this head, N = R * R
  int64_t key_dim = 0, v_dim = 0;
  AttentionKind kind = AttentionKind::Softmax;
  torch::Tensor operator()(const torch::Tensor& feat) const;
};

// Residual local window attention: x + proj(relu(cat(heads(windows(x))))). Split into its
// frame (partition, projection, window reverse) and its heads, which the profiler times apart.
struct WindowAttentionResidual {
  std::vector<AttentionHead> heads;
  Pointwise proj;
  bool cascade = true;
  int64_t window = 7;  // the spec's window side (window_geometry caps it at the map)

  torch::Tensor operator()(const torch::Tensor& x) const;

  WindowGeometry geometry(const torch::Tensor& x) const;  // of the map x (B, H, W, C)
  // (B, H, W, C) -> (B * count, R, R, C), zero-padded to whole windows.
  torch::Tensor partition(const torch::Tensor& x) const;
  // Head i's input: its channel chunk of the windows, plus head i-1's output with cascade.
  torch::Tensor head_input(const torch::Tensor& windows, size_t i, const torch::Tensor& prev) const;
  // x + reverse(proj(relu(cat(outs)))): the heads' outputs back to (B, H, W, C).
  torch::Tensor finish(const std::vector<torch::Tensor>& outs, const torch::Tensor& x) const;
};

// PatchMerging: conv1, ReLU, stride-2 depthwise, ReLU, squeeze-excite, conv3 (not residual).
struct PatchMergingStep {
  Pointwise conv1, fc1, fc2, conv3;
  Depthwise conv2;
  torch::Tensor operator()(const torch::Tensor& x) const;
};

// The stem: 3x3 stride-2 convs with ReLU between them, images (B, C, H, W) -> (B, r, r, C1).
// With oneDNN called directly they run as one chain in oneDNN's blocked layout
// (kernels::OneDnnConvChain; m0, batch 16, AVX2: 7.2 ms against 24.4 ms through LibTorch, whose
// NCHW convs are slow). Through LibTorch, oneDNN runs them faster channels-last (M5's stem,
// batch 16: 24.8 vs 31.2 ms), except for the narrowest stems, where converting the images costs
// more than it saves (M0: 5.2 vs 5.9 ms).
struct Stem {
  std::vector<FusedConv> convs;
  std::shared_ptr<const kernels::OneDnnConvChain> chain;  // the same convs
  torch::Tensor operator()(const torch::Tensor& images) const;
};
Stem stem(std::vector<FusedConv> convs);

// Classifier: mean pool, then the folded BN1d + Linear, (B, r, r, C) -> (B, classes).
struct Head {
  Pointwise linear;
  torch::Tensor operator()(const torch::Tensor& x) const;
};

}  // namespace vitnas::fused
