// Inference networks: what `bench`, `forward --fused` and the profiler run. fuse() turns a
// trained network into an eval-only network whose outputs equal the unfused eval outputs
// (within float rounding, 1e-5): for EfficientViT every BatchNorm is folded into its conv or
// linear, and the network runs on channels-last token matrices (see fused_efficientvit.cpp).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

#include "models/classifier.h"

namespace vitnas {

class InferenceNet {
 public:
  virtual ~InferenceNet() = default;
  virtual torch::Tensor forward(const torch::Tensor& images) const = 0;  // (B, C, H, W) -> logits
};

// Fuses a copy of the model's weights; the model itself is left untouched (and may keep
// training). The returned network runs under no-grad on the model's device.
std::unique_ptr<InferenceNet> fuse(ClassifierImpl& model);

// The unfused network in eval mode, behind the same interface.
std::unique_ptr<InferenceNet> unfused(const Classifier& model);

// The official speed test's network, op for op: a copy of the model with every Conv2d_BN and
// BN_Linear replaced by its folded conv / linear (replace_batchnorm), run as the module tree.
// The baseline `bench --baseline` measures vitnas's fused network against.
std::unique_ptr<InferenceNet> official_fused(const ClassifierImpl& model);

}  // namespace vitnas
