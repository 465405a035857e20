// The interface every network of vitnas implements (timm's split forward), and build_model(),
// which turns any valid ArchSpec into a trainable LibTorch module.
#pragma once

#include <memory>
#include <optional>

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/linear.h>

#include "core/arch_spec.h"

namespace vitnas {

struct ModelOptions {
  double drop_path = 0.0;  // stochastic depth; the rate grows linearly to this over the blocks
};

class ClassifierImpl : public torch::nn::Module {
 public:
  explicit ClassifierImpl(ArchSpec spec) : spec_(std::move(spec)) {}

  // efficientvit: (B, C, H, W) -> feature map (B, C_last, h, w); vit: -> tokens (B, T, D).
  virtual torch::Tensor forward_features(const torch::Tensor& x) = 0;
  // Pools and classifies. With a distillation head: in eval the mean of the two heads' logits,
  // in training the class head alone (use forward_heads for distillation).
  torch::Tensor forward_head(const torch::Tensor& features);
  // {class logits, distillation logits (undefined without a distillation head)}.
  virtual std::pair<torch::Tensor, torch::Tensor> forward_heads(const torch::Tensor& features) = 0;

  torch::Tensor forward(const torch::Tensor& x) { return forward_head(forward_features(x)); }

  const ArchSpec& spec() const { return spec_; }

 private:
  ArchSpec spec_;
};

using Classifier = std::shared_ptr<ClassifierImpl>;

// Validates the spec (InputError naming the JSON path) and builds the network in train mode.
Classifier build_model(const ArchSpec& spec, const ModelOptions& options = {});

// Moves a module like PyTorch's Module.to(device, dtype): floating-point parameters and buffers
// take `dtype`, integer buffers (BN's num_batches_tracked, attention bias indices) keep theirs.
// (LibTorch's Module::to(dtype) would convert those too.)
void move_to(torch::nn::Module& module, torch::Device device, torch::Dtype dtype);

// BatchNorm1d followed by Linear: EfficientViT's classifier head ("head.bn", "head.l"). On
// fewer input features C than it was built for (a supernet's active width) it runs the leading
// slices: bn [:C], l.weight [:, :C], the whole bias.
class BNLinearImpl : public torch::nn::Module {
 public:
  BNLinearImpl(int64_t in, int64_t out);
  torch::Tensor forward(const torch::Tensor& x);
  void copy_active(BNLinearImpl& dst) const;  // the slices dst's width runs
  // Folds the BN into the Linear: W' = W * s (per input column), b' = W t + b.
  std::pair<torch::Tensor, torch::Tensor> fuse() const;
  void fold_batchnorm() { folded_ = fuse(); }  // see Conv2dBNImpl::fold_batchnorm

  torch::nn::BatchNorm1d bn{nullptr};
  torch::nn::Linear l{nullptr};

 private:
  std::optional<std::pair<torch::Tensor, torch::Tensor>> folded_;
};
TORCH_MODULE(BNLinear);

}  // namespace vitnas
