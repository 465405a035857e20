#include "models/patch_merging.h"

#include <torch/torch.h>

#include "core/arch_spec.h"

namespace vitnas {

SqueezeExciteImpl::SqueezeExciteImpl(int64_t channels) {
  const int64_t rd = se_width(static_cast<int>(channels));  // timm's make_divisible
  fc1 = register_module("fc1", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, rd, 1)));
  fc2 = register_module("fc2", torch::nn::Conv2d(torch::nn::Conv2dOptions(rd, channels, 1)));
}

torch::Tensor SqueezeExciteImpl::forward(const torch::Tensor& x) {
  auto s = x.mean({2, 3}, /*keepdim=*/true);  // (B, C, 1, 1)
  return x * torch::sigmoid(fc2(torch::relu(fc1(s))));
}

PatchMergingImpl::PatchMergingImpl(int64_t dim, int64_t hidden, int64_t out_dim) {
  conv1 = register_module("conv1", Conv2dBN(dim, hidden));
  conv2 = register_module("conv2", Conv2dBN(hidden, hidden, 3, 2, /*groups=*/hidden));
  se = register_module("se", SqueezeExcite(hidden));
  conv3 = register_module("conv3", Conv2dBN(hidden, out_dim));
}

torch::Tensor PatchMergingImpl::forward(const torch::Tensor& x) {
  auto t = torch::relu(conv2(torch::relu(conv1(x))));
  return conv3(se(t));
}

}  // namespace vitnas
