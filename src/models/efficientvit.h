// EfficientViT (Liu et al., "EfficientViT: Memory Efficient Vision Transformer with Cascaded
// Group Attention", CVPR 2023), built from an ArchSpec by walking it (arch_walk.h). With a preset
// (m0..m5) the module tree and its state-dict keys are exactly the official implementation's, so
// weights move both ways.
//
//   patch_embed  stride-2 3x3 Conv2dBN stem, ReLU between       (B, 3, 224, 224) -> (B, C1, 14, 14)
//   blocksK      [subsample: DW+FFN, PatchMerging, DW+FFN] + EfficientViTBlocks
//   head         global average pool, BN1d, Linear               -> (B, classes)
#pragma once

#include "models/chain.h"

#include "models/classifier.h"

namespace vitnas {

// One block: residual parts in forward order, named as the official block (dw0, ffn0, mixer,
// dw1, ffn1): per FFN a 3x3 depthwise conv "dwI" then the FFN "ffnI", the mixer (local window
// attention) between the FFNs before and after it.
class EfficientViTBlockImpl : public torch::nn::Module {
 public:
  torch::Tensor forward(torch::Tensor x);

  // Registers `part` under `name` and runs it after the parts added before.
  template <typename ModuleType>
  void add(const std::string& name, ModuleType part) {
    parts_.emplace_back(name, torch::nn::AnyModule(register_module(name, part)));
  }
  const std::vector<std::pair<std::string, torch::nn::AnyModule>>& parts() const { return parts_; }

 private:
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

}  // namespace vitnas
