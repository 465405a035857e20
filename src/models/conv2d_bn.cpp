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

ConvBNWeights slice(const ConvBNWeights& w, int64_t out, int64_t in, int64_t kernel,
                    int64_t offset) {
  const bool depthwise = w.groups > 1 && w.groups == w.conv.size(0);
  const int64_t full = w.conv.size(2);
  if (kernel == 0) kernel = full;
  TORCH_CHECK(offset + out <= w.conv.size(0) && in <= w.conv.size(1) && kernel <= full &&
                  (full - kernel) % 2 == 0,
              "slice: (", out, " at ", offset, ", ", in, ", k", kernel, ") is outside the weights ",
              w.conv.sizes());
  const int64_t crop = (full - kernel) / 2;
  auto rows = [&](const torch::Tensor& t) { return t.narrow(0, offset, out); };
  ConvBNWeights s = w;
  s.conv = rows(w.conv).narrow(1, 0, in).narrow(2, crop, kernel).narrow(3, crop, kernel);
  s.gamma = rows(w.gamma);
  s.beta = rows(w.beta);
  s.running_mean = rows(w.running_mean);
  s.running_var = rows(w.running_var);
  s.padding = kernel / 2;
  if (depthwise) s.groups = out;
  return s;
}

ConvBNWeights concat(const std::vector<ConvBNWeights>& parts) {
  auto cat = [&](torch::Tensor ConvBNWeights::*field) {
    std::vector<torch::Tensor> ts;
    for (const auto& p : parts) ts.push_back(p.*field);
    return torch::cat(ts, 0);
  };
  ConvBNWeights c = parts.at(0);
  c.conv = cat(&ConvBNWeights::conv);
  c.gamma = cat(&ConvBNWeights::gamma);
  c.beta = cat(&ConvBNWeights::beta);
  c.running_mean = cat(&ConvBNWeights::running_mean);
  c.running_var = cat(&ConvBNWeights::running_var);
  return c;
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

ConvBNWeights Conv2dBNImpl::weights(int64_t out, int64_t in, int64_t kernel) const {
  const bool depthwise = groups_ > 1 && groups_ == c->weight.size(0);
  return slice(weights(), out, depthwise ? 1 : in, kernel);
}

void Conv2dBNImpl::load(const ConvBNWeights& w) {
  torch::NoGradGuard no_grad;
  c->weight.copy_(w.conv);
  bn->weight.copy_(w.gamma);
  bn->bias.copy_(w.beta);
  bn->running_mean.copy_(w.running_mean);
  bn->running_var.copy_(w.running_var);
  if (w.num_batches_tracked.defined()) bn->num_batches_tracked.copy_(w.num_batches_tracked);
}

torch::Tensor Conv2dBNImpl::forward(const torch::Tensor& x) {
  return folded_ ? (*folded_)(x) : conv2d_bn(x, weights(), is_training());
}

torch::Tensor Conv2dBNImpl::forward_active(const torch::Tensor& x, int64_t out, int64_t kernel) {
  return conv2d_bn(x, weights(out, x.size(1), kernel), is_training());
}

std::pair<torch::Tensor, torch::Tensor> bn_scale_shift(const torch::nn::BatchNorm2d& bn) {
  return scale_shift(bn);
}
std::pair<torch::Tensor, torch::Tensor> bn_scale_shift(const torch::nn::BatchNorm1d& bn) {
  return scale_shift(bn);
}

}  // namespace vitnas
