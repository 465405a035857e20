// EfficientViT (Liu et al., "EfficientViT: Memory Efficient Vision Transformer with Cascaded
// Group Attention", CVPR 2023), built from an ArchSpec. With a preset (m0..m5) the module tree
// and its state-dict keys are exactly the official implementation's, so weights move both ways.
//
//   patch_embed  stride-2 3x3 Conv2dBN stem, ReLU between       (B, 3, 224, 224) -> (B, C1, 14, 14)
//   blocksK      [subsample: DW+FFN, PatchMerging, DW+FFN] + EfficientViTBlocks
//   head         global average pool, BN1d, Linear               -> (B, classes)
#pragma once

#include "models/chain.h"

#include "models/classifier.h"

namespace vitnas {

// One block: per FFN a residual 3x3 depthwise conv ("dwI") then a residual FFN ("ffnI"), the
// mixer (residual local window attention) between ffn_before and ffn_after. The official block
// is dw0, ffn0, mixer, dw1, ffn1.
class EfficientViTBlockImpl : public torch::nn::Module {
 public:
  EfficientViTBlockImpl(int64_t dim, const BlockSpec& spec, int64_t resolution, int64_t window,
                        double drop_path);
  torch::Tensor forward(torch::Tensor x);

  const BlockSpec& spec() const { return spec_; }
  // The residual parts in forward order with their names ("dw0", "ffn0", "mixer", ...).
  const std::vector<std::pair<std::string, torch::nn::AnyModule>>& parts() const { return parts_; }

 private:
  BlockSpec spec_;
  std::vector<std::pair<std::string, torch::nn::AnyModule>> parts_;
};
TORCH_MODULE(EfficientViTBlock);

class EfficientViTImpl : public ClassifierImpl {
 public:
  EfficientViTImpl(const ArchSpec& spec, const ModelOptions& options);

  torch::Tensor forward_features(const torch::Tensor& x) override;
  std::pair<torch::Tensor, torch::Tensor> forward_heads(const torch::Tensor& features) override;

  Chain patch_embed{nullptr};
  std::vector<Chain> stages;  // "blocks1", "blocks2", ...
  BNLinear head{nullptr}, head_dist{nullptr};
};

// The residual DW + FFN pairs of a subsample step ("blocksK.0" / "blocksK.2"):
// children 2i (Residual DW 3x3, BN weight init 1) and 2i+1 (Residual FFN).
Chain subsample_ffns(int64_t dim, const std::vector<int>& hidden);

}  // namespace vitnas
