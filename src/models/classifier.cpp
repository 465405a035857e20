#include "models/classifier.h"

#include <torch/torch.h>

#include "core/memory.h"
#include "models/conv2d_bn.h"
#include "models/efficientvit.h"
#include "models/vit.h"

namespace vitnas {

torch::Tensor ClassifierImpl::forward_head(const torch::Tensor& features) {
  auto [cls, dist] = forward_heads(features);
  if (!dist.defined() || is_training()) return cls;
  return (cls + dist) / 2;
}

Classifier build_model(const ArchSpec& spec, const ModelOptions& options) {
  validate(spec);
  require_memory(spec, 0, Workload::Weights, "the weights of " + spec.name);
  switch (spec.family) {
    case Family::EfficientViT:
      return std::make_shared<EfficientViTImpl>(spec, options);
    case Family::ViT:
      return std::make_shared<ViTImpl>(spec, options);
  }
  throw std::logic_error("build_model: unhandled family");
}

void move_to(torch::nn::Module& module, torch::Device device, torch::Dtype dtype) {
  torch::NoGradGuard no_grad;
  module.to(device);
  auto convert = [&](torch::Tensor& t) {
    if (t.defined() && t.is_floating_point() && t.scalar_type() != dtype) t.set_data(t.to(dtype));
  };
  for (auto& p : module.parameters()) convert(p);
  for (auto& b : module.buffers()) convert(b);
}

BNLinearImpl::BNLinearImpl(int64_t in, int64_t out) {
  bn = register_module("bn", torch::nn::BatchNorm1d(in));
  l = register_module("l", torch::nn::Linear(in, out));
  torch::NoGradGuard no_grad;
  // timm's trunc_normal_(std=.02) truncates at +-2 (absolute), i.e. 100 sigma: a plain normal.
  l->weight.normal_(0.0, 0.02);
  l->bias.zero_();
}

torch::Tensor BNLinearImpl::forward(const torch::Tensor& x) {
  if (folded_) return torch::addmm(folded_->second, x, folded_->first.t());
  const int64_t C = x.size(1);
  if (C == l->weight.size(1)) return l(bn(x));
  auto rows = [&](const torch::Tensor& t) { return t.narrow(0, 0, C); };
  auto y = torch::batch_norm(x, rows(bn->weight), rows(bn->bias), rows(bn->running_mean),
                             rows(bn->running_var), is_training(), bn->options.momentum().value(),
                             bn->options.eps(), at::globalContext().userEnabledCuDNN());
  return torch::linear(y, l->weight.narrow(1, 0, C), l->bias);
}

void BNLinearImpl::copy_active(BNLinearImpl& dst) const {
  torch::NoGradGuard no_grad;
  const int64_t C = dst.l->weight.size(1);
  dst.bn->weight.copy_(bn->weight.narrow(0, 0, C));
  dst.bn->bias.copy_(bn->bias.narrow(0, 0, C));
  dst.bn->running_mean.copy_(bn->running_mean.narrow(0, 0, C));
  dst.bn->running_var.copy_(bn->running_var.narrow(0, 0, C));
  dst.bn->num_batches_tracked.copy_(bn->num_batches_tracked);
  dst.l->weight.copy_(l->weight.narrow(1, 0, C));
  dst.l->bias.copy_(l->bias);
}

std::pair<torch::Tensor, torch::Tensor> BNLinearImpl::fuse() const {
  torch::NoGradGuard no_grad;
  auto [s, t] = bn_scale_shift(bn);
  auto w = (l->weight * s.view({1, -1})).contiguous();
  auto b = (torch::mv(l->weight, t) + l->bias).contiguous();
  return {w, b};
}

}  // namespace vitnas
