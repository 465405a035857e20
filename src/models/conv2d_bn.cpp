#include "models/conv2d_bn.h"

#include <torch/torch.h>

namespace vitnas {

torch::Tensor FusedConv::operator()(const torch::Tensor& x) const {
  return torch::conv2d(x, weight, bias, stride, padding, 1, groups);
}

torch::Tensor conv2d_bn(const torch::Tensor& x, const ConvBNWeights& w, bool training) {
  auto y = torch::conv2d(x, w.conv, {}, w.stride, w.padding, 1, w.groups);
  if (training && w.num_batches_tracked.defined()) {
    torch::NoGradGuard no_grad;
    w.num_batches_tracked.add_(1);  // as BatchNorm2d's forward (momentum stays 0.1)
  }
  return torch::batch_norm(y, w.gamma, w.beta, w.running_mean, w.running_var, training,
                           w.momentum, w.eps, at::globalContext().userEnabledCuDNN());
}

namespace {

// s = gamma / sqrt(var + eps), t = beta - mean * s.
std::pair<torch::Tensor, torch::Tensor> scale_shift(const torch::Tensor& gamma,
                                                    const torch::Tensor& beta,
                                                    const torch::Tensor& mean,
                                                    const torch::Tensor& var, double eps) {
  torch::NoGradGuard no_grad;
  auto s = gamma / torch::sqrt(var + eps);
  auto t = beta - mean * s;
  return {s.detach().clone(), t.detach().clone()};
}

template <typename BN>
std::pair<torch::Tensor, torch::Tensor> scale_shift(const BN& bn) {
  return scale_shift(bn->weight, bn->bias, bn->running_mean, bn->running_var, bn->options.eps());
}

}  // namespace

FusedConv fold(const ConvBNWeights& w) {
  torch::NoGradGuard no_grad;
  auto [s, t] = scale_shift(w.gamma, w.beta, w.running_mean, w.running_var, w.eps);
  return FusedConv{(w.conv * s.view({-1, 1, 1, 1})).contiguous(), t.contiguous(), w.stride,
                   w.padding, w.groups};
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

ConvBNWeights Conv2dBNImpl::weights() const {
  return {c->weight,       bn->weight, bn->bias, bn->running_mean, bn->running_var,
          bn->num_batches_tracked, stride_, padding_, groups_, bn->options.eps(),
          bn->options.momentum().value()};
}

torch::Tensor Conv2dBNImpl::forward(const torch::Tensor& x) {
  return folded_ ? (*folded_)(x) : conv2d_bn(x, weights(), is_training());
}

std::pair<torch::Tensor, torch::Tensor> bn_scale_shift(const torch::nn::BatchNorm2d& bn) {
  return scale_shift(bn);
}
std::pair<torch::Tensor, torch::Tensor> bn_scale_shift(const torch::nn::BatchNorm1d& bn) {
  return scale_shift(bn);
}

}  // namespace vitnas
