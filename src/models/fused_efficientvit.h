// EfficientViT with every BatchNorm folded, for inference: a chain of the ops in fused_ops.h.
// Activations live as channels-last maps (B, H, W, C), so each 1x1 conv is one oneDNN GEMM over
// all B*H*W tokens, depthwise convs run channels-last, and window partition is a single copy.
// Exact rewrites on top of BN folding: a residual depthwise conv x + dw(x) becomes one conv with
// 1 added at the kernel centre; the attention scale key_dim^-0.5 is folded into q's depthwise
// conv; a distillation head is averaged into the classifier.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "models/efficientvit.h"
#include "models/fused_ops.h"
#include "models/inference.h"

namespace vitnas {

class FusedEfficientViT : public InferenceNet {
 public:
  explicit FusedEfficientViT(EfficientViTImpl& model);

  torch::Tensor forward(const torch::Tensor& images) const override;

  // One step of the network on channels-last maps (B, H, W, C) (the stem takes the images).
  // The op is kept typed, so that exporters (export/onnx_export.cpp) read the very weights the
  // network runs.
  using Op = std::variant<fused::Stem, fused::Depthwise, fused::FFNResidual,
                          fused::WindowAttentionResidual, fused::PatchMergingStep, fused::Head>;
  struct Step {
    std::string name;  // the module path in the unfused network, e.g. "blocks2.3.mixer"
    Op op;
    torch::Tensor run(const torch::Tensor& x) const {
      return std::visit([&](const auto& f) { return f(x); }, op);
    }
  };
  const std::vector<Step>& steps() const { return steps_; }

 private:
  std::vector<Step> steps_;
};

}  // namespace vitnas
