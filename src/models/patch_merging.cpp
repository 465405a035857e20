#include "models/patch_merging.h"

#include <torch/torch.h>

#include "core/arch_spec.h"

namespace vitnas {

SqueezeExciteImpl::SqueezeExciteImpl(int64_t channels) {
  const int64_t rd = se_width(static_cast<int>(channels));  // timm's make_divisible
  fc1 = register_module("fc1", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, rd, 1)));
  fc2 = register_module("fc2", torch::nn::Conv2d(torch::nn::Conv2dOptions(rd, channels, 1)));
}

namespace {
// The leading [:out, :in] of a 1x1 conv with bias.
std::pair<torch::Tensor, torch::Tensor> leading(const torch::nn::Conv2d& fc, int64_t out,
                                                int64_t in) {
  return {fc->weight.narrow(0, 0, out).narrow(1, 0, in), fc->bias.narrow(0, 0, out)};
}
}  // namespace

torch::Tensor SqueezeExciteImpl::forward(const torch::Tensor& x) {
  const int64_t C = x.size(1), rd = se_width(static_cast<int>(C));
  auto s = x.mean({2, 3}, /*keepdim=*/true);  // (B, C, 1, 1)
  if (C == fc1->weight.size(1)) return x * torch::sigmoid(fc2(torch::relu(fc1(s))));
  auto [w1, b1] = leading(fc1, rd, C);
  auto [w2, b2] = leading(fc2, C, rd);
  return x * torch::sigmoid(torch::conv2d(torch::relu(torch::conv2d(s, w1, b1)), w2, b2));
}

void SqueezeExciteImpl::copy_active(SqueezeExciteImpl& dst) const {
  torch::NoGradGuard no_grad;
  const int64_t C = dst.fc1->weight.size(1), rd = dst.fc1->weight.size(0);
  auto [w1, b1] = leading(fc1, rd, C);
  auto [w2, b2] = leading(fc2, C, rd);
  dst.fc1->weight.copy_(w1);
  dst.fc1->bias.copy_(b1);
  dst.fc2->weight.copy_(w2);
  dst.fc2->bias.copy_(b2);
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

torch::Tensor PatchMergingImpl::forward_active(const torch::Tensor& x, int64_t hidden,
                                               int64_t out) {
  auto t = torch::relu(conv1->forward_active(x, hidden));
  t = torch::relu(conv2->forward_active(t, hidden));
  return conv3->forward_active(se(t), out);
}

void PatchMergingImpl::copy_active(PatchMergingImpl& dst) const {
  const int64_t in = dst.conv1->c->weight.size(1), hidden = dst.conv1->c->weight.size(0),
                out = dst.conv3->c->weight.size(0);
  dst.conv1->load(conv1->weights(hidden, in));
  dst.conv2->load(conv2->weights(hidden, 1));
  se->copy_active(*dst.se);
  dst.conv3->load(conv3->weights(out, hidden));
}

}  // namespace vitnas
