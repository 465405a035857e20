// Cascaded group attention (EfficientViT, Liu et al. CVPR 2023, section 3.2) and the local window
// attention that runs it on 7x7 windows. Generalised as the ArchSpec allows: every head has its
// own key_dim, v_dim, q-conv kernel and attention kind (MPCViT), and the cascade can be turned
// off (independent group attention, where v_dim is free). The math is attention_ops.h's.
//
// In a supernet the module is built at capacity (the largest head count, key_dim, v_dim, kernel
// and chunk of a space) and forward_active(x, spec) runs any smaller AttentionSpec on leading
// slices (AutoFormer's weight entanglement):
//   head i       is the capacity's head i; its input is chunk i of C / heads (x's C channels),
//                read by qkvs[i]'s leading input columns
//   q, k, v      rows [0, kd), [K, K + kd), [2K, 2K + v) of qkvs[i] (K: the capacity key_dim),
//                BN alike; with the largest kd and v this is the official q|k|v layout
//   dws[i]       [:kd], kernel centre-cropped to the head's
//   kind         any kind on the same q, k, v weights
//   biases       attention_biases[i] as an Rcap x Rcap table of offsets, cropped to R x R
//   proj         [:C, :sum(v)] (the heads' outputs concatenated in order)
#pragma once

#include <array>
#include <vector>

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>

#include "core/arch_spec.h"
#include "models/conv2d_bn.h"

namespace vitnas {

class CascadedGroupAttentionImpl : public torch::nn::Module {
 public:
  // dim: input channels C; window: the side R of the (square) maps it attends over; chunk:
  // each head's input width (0: the paper's dim / heads; a supernet's capacity sets its widest).
  CascadedGroupAttentionImpl(int64_t dim, const AttentionSpec& spec, int64_t window,
                             int64_t chunk = 0);

  torch::Tensor forward(const torch::Tensor& x);  // (B, C, R, R) -> (B, C, R, R)
  // A smaller AttentionSpec on leading slices (above); x (B, C', R', R') with C' <= C, R' <= R.
  torch::Tensor forward_active(const torch::Tensor& x, const AttentionSpec& active);
  // Copies the slices dst's spec, width and window run into dst.
  void copy_active(CascadedGroupAttentionImpl& dst) const;

  const AttentionSpec& spec() const { return spec_; }
  int64_t window() const { return window_; }
  torch::Tensor head_bias(int64_t i) const;  // (N, N) relative-position bias of head i
  // Head i's q, k, v convs for a head of key_dim kd and v_dim v on `chunk` input channels.
  std::array<ConvBNWeights, 3> qkv_active(int64_t i, int64_t chunk, int64_t kd, int64_t v) const;
  torch::Tensor bias_table(int64_t i, int64_t window) const;  // (R'*R') head i's biases, cropped

  torch::nn::ModuleList qkvs{nullptr};   // per head: 1x1 Conv2dBN chunk -> key + key + v
  torch::nn::ModuleList dws{nullptr};    // per head: depthwise kxk Conv2dBN on q
  torch::nn::Sequential proj{nullptr};   // ReLU, 1x1 Conv2dBN sum(v) -> C (BN weight init 0)
  torch::Tensor attention_biases;        // (heads, R*R)
  torch::Tensor attention_bias_idxs;     // (R*R, R*R) int64 buffer

  // MPCViT's head-kind search (models/kind_search.h): registers `alpha` (heads), ones; from then
  // on forward() runs every head as alpha_i RSAttn + (1 - alpha_i) ScaleAttn, whatever its kind.
  // With softmax_candidates also `gamma` (heads), zeros: gamma_i Softmax + (1 - gamma_i) (that).
  void enable_kind_search(bool softmax_candidates);
  torch::Tensor alpha, gamma;  // undefined unless searching (gamma: unless softmax is a candidate)

 private:
  AttentionSpec spec_;
  int64_t dim_, window_;
};
TORCH_MODULE(CascadedGroupAttention);

// Runs CGA on non-overlapping windows under the window rule (arch_walk.h): pads bottom/right with
// zeros to whole windows, partitions, attends, merges and crops; a map no larger than the window
// is attended whole.
class LocalWindowAttentionImpl : public torch::nn::Module {
 public:
  // resolution: the side of the input map; window: the ArchSpec's window (capped at resolution).
  LocalWindowAttentionImpl(int64_t dim, const AttentionSpec& spec, int64_t resolution,
                           int64_t window, int64_t chunk = 0);

  torch::Tensor forward(const torch::Tensor& x);  // (B, C, H, W) -> (B, C, H, W)
  // A supernet's: `active` on any map side, the window rule applied to `window`.
  torch::Tensor forward_active(const torch::Tensor& x, const AttentionSpec& active,
                               int64_t window);

  int64_t resolution() const { return resolution_; }
  int64_t window() const { return window_; }

  CascadedGroupAttention attn{nullptr};

 private:
  int64_t resolution_, window_;
};
TORCH_MODULE(LocalWindowAttention);

}  // namespace vitnas
