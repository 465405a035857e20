// Residual: x + m(x), with drop path (stochastic depth) while training. The wrapped module is
// registered as "m", as in the official EfficientViT state dict ("blocks1.0.dw0.m.c.weight").
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/pimpl.h>

namespace vitnas {

class ResidualImpl : public torch::nn::Module {
 public:
  template <typename ModuleType>
  explicit ResidualImpl(ModuleType m, double drop_path = 0.0)
      : m_(m), drop_path_(drop_path) {
    register_module("m", m.ptr());
  }

  torch::Tensor forward(const torch::Tensor& x);
  const torch::nn::AnyModule& inner() const { return m_; }

 private:
  torch::nn::AnyModule m_;
  double drop_path_;
};
TORCH_MODULE(Residual);

// Per-sample drop path on a residual branch: zero the branch for a fraction `rate` of the
// samples and rescale the rest by 1 / (1 - rate). Identity when not training or rate == 0.
torch::Tensor drop_path(const torch::Tensor& branch, double rate, bool training);

}  // namespace vitnas
