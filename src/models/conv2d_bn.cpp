#include "models/conv2d_bn.h"

#include <torch/torch.h>

namespace vitnas {

torch::Tensor FusedConv::operator()(const torch::Tensor& x) const {
  return torch::conv2d(x, weight, bias, stride, padding, 1, groups);
}

Conv2dBNImpl::Conv2dBNImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride,
                           int64_t groups, double bn_weight_init)
    : stride_(stride), padding_(kernel / 2), groups_(groups) {
  c = register_module("c", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel)
                                                 .stride(stride)
                                                 .padding(kernel / 2)
                                                 .groups(groups)
                                                 .bias(false)));
  bn = register_module("bn", torch::nn::BatchNorm2d(out));
  torch::NoGradGuard no_grad;
  bn->weight.fill_(bn_weight_init);
  bn->bias.zero_();
}

torch::Tensor Conv2dBNImpl::forward(const torch::Tensor& x) {
  return folded_ ? (*folded_)(x) : bn(c(x));
}

template <typename BN>
static std::pair<torch::Tensor, torch::Tensor> scale_shift(const BN& bn) {
  torch::NoGradGuard no_grad;
  auto s = bn->weight / torch::sqrt(bn->running_var + bn->options.eps());
  auto t = bn->bias - bn->running_mean * s;
  return {s.detach().clone(), t.detach().clone()};
}

std::pair<torch::Tensor, torch::Tensor> bn_scale_shift(const torch::nn::BatchNorm2d& bn) {
  return scale_shift(bn);
}
std::pair<torch::Tensor, torch::Tensor> bn_scale_shift(const torch::nn::BatchNorm1d& bn) {
  return scale_shift(bn);
}

FusedConv Conv2dBNImpl::fuse() const {
  torch::NoGradGuard no_grad;
  auto [s, t] = bn_scale_shift(bn);
  return FusedConv{(c->weight * s.view({-1, 1, 1, 1})).contiguous(), t.contiguous(), stride_,
                   padding_, groups_};
}

}  // namespace vitnas
