// The attention math of EfficientViT's cascaded group attention and of the ViT, as functions on
// plain tensors (DESIGN.md, "One attention implementation"). The trainable modules
// (CascadedGroupAttention, LocalWindowAttention, ViTAttention), the fused inference network and
// the supernet (with sliced weights) all call these; nothing else writes a score, an attention
// map or a window partition.
//
// MPCViT's three head kinds, applied to the scores S (..., N, N) along the last dimension:
//   softmax(S); relu_softmax ("RSAttn"): ReLU(S) / (sum_j ReLU(S) + 1e-5); scaling ("ScaleAttn"): S / N.
#pragma once

#include <array>
#include <cstdint>

#include <torch/types.h>

#include "core/arch_spec.h"
#include "core/arch_walk.h"

namespace vitnas {

torch::Tensor attention_map(const torch::Tensor& scores, AttentionKind kind);
// In place, for inference (scores is overwritten and returned).
torch::Tensor attention_map_(torch::Tensor& scores, AttentionKind kind);

// kind(scale * q k^T + bias) v with autograd, in the official op order. Tokens-major:
// q, k (..., N, kd), v (..., N, e), bias (N, N) or undefined -> (..., N, e).
torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const torch::Tensor& bias, AttentionKind kind, double scale);

// MPCViT's search form of a head: (alpha * RSAttn(S) + (1 - alpha) * ScaleAttn(S)) v, S = scale
// q k^T + bias, alpha a learned weight (not clamped) that broadcasts against S: a 0-D tensor for
// one head, (H, 1, 1) for heads batched on dimension -3. With softmax as a third candidate
// (gamma defined, shaped as alpha): (gamma * Softmax(S) + (1 - gamma) * (the MPCViT map)) v.
torch::Tensor attend_search(const torch::Tensor& q, const torch::Tensor& k,
                            const torch::Tensor& v, const torch::Tensor& bias,
                            const torch::Tensor& alpha, const torch::Tensor& gamma, double scale);

// The same for inference (no autograd), with the scale already folded into q (B, N, kd); the
// scores are computed and mapped in place, and softmax heads on CPU float32 run the fused
// per-window kernel (kernels/softmax.h). -> (B, N, e).
torch::Tensor attend_inference(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const torch::Tensor& bias,
                               AttentionKind kind);

// Relative-position bias index for an R x R window: the pair (p, q) reads |dr| * R + |dc|.
// (The official code enumerates offsets in first-seen order, which yields exactly this.)
torch::Tensor attention_bias_index(int64_t window);  // (R*R, R*R) int64

// Head i's input in cascaded group attention: chunk i (of width `chunk`) of x's channels along
// dimension `dim`, plus head i-1's output `prev` when the heads cascade.
torch::Tensor head_input(const torch::Tensor& x, int64_t dim, int64_t i, int64_t chunk,
                         const torch::Tensor& prev, bool cascade);

// A head's q, k, v: its qkv projection split along `dim` into key_dim, key_dim, v_dim channels.
std::array<torch::Tensor, 3> split_qkv(const torch::Tensor& qkv, int64_t dim, int64_t key_dim,
                                       int64_t v_dim);

// Channels-last maps (B, H, W, C) <-> windows (B * count, R, R, C) under the window rule of
// arch_walk.h: zero-padded bottom/right to whole windows on the way in, cropped on the way out.
torch::Tensor window_partition(const torch::Tensor& x, const WindowGeometry& g);
torch::Tensor window_reverse(const torch::Tensor& windows, const WindowGeometry& g, int64_t B,
                             int64_t H, int64_t W);

}  // namespace vitnas
