// Cascaded group attention (EfficientViT, Liu et al. CVPR 2023, section 3.2) and the local window
// attention that runs it on 7x7 windows. Generalised as the ArchSpec allows: every head has its
// own key_dim, v_dim, q-conv kernel and attention kind (MPCViT), and the cascade can be turned
// off (independent group attention, where v_dim is free). The math is attention_ops.h's.
#pragma once

#include <vector>

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>

#include "core/arch_spec.h"
#include "models/conv2d_bn.h"

namespace vitnas {

class CascadedGroupAttentionImpl : public torch::nn::Module {
 public:
  // dim: input channels C; window: the side R of the (square) maps it attends over.
  CascadedGroupAttentionImpl(int64_t dim, const AttentionSpec& spec, int64_t window);

  torch::Tensor forward(const torch::Tensor& x);  // (B, C, R, R) -> (B, C, R, R)

  const AttentionSpec& spec() const { return spec_; }
  int64_t window() const { return window_; }
  torch::Tensor head_bias(int64_t i) const;  // (N, N) relative-position bias of head i

  torch::nn::ModuleList qkvs{nullptr};   // per head: 1x1 Conv2dBN chunk -> key + key + v
  torch::nn::ModuleList dws{nullptr};    // per head: depthwise kxk Conv2dBN on q
  torch::nn::Sequential proj{nullptr};   // ReLU, 1x1 Conv2dBN sum(v) -> C (BN weight init 0)
  torch::Tensor attention_biases;        // (heads, R*R)
  torch::Tensor attention_bias_idxs;     // (R*R, R*R) int64 buffer

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
                           int64_t window);

  torch::Tensor forward(const torch::Tensor& x);  // (B, C, H, W) -> (B, C, H, W)

  int64_t resolution() const { return resolution_; }
  int64_t window() const { return window_; }

  CascadedGroupAttention attn{nullptr};

 private:
  int64_t resolution_, window_;
};
TORCH_MODULE(LocalWindowAttention);

}  // namespace vitnas
