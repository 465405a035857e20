// The shared attention math and Conv2d+BN on weight tensors, against independent forms: explicit
// loops over windows, the unfused formulas, and LibTorch's own Conv2d + BatchNorm2d modules.
#include <catch2/catch.hpp>

#include <cmath>

#include <torch/torch.h>

#include "core/arch_walk.h"
#include "models/attention_ops.h"
#include "models/conv2d_bn.h"
#include "torch_fixtures.h"

using namespace vitnas;
using vitnas::test::max_abs_diff;

TEST_CASE("window partition: windows hold the padded map's blocks, reverse crops back", "[attention]") {
  // A (1, 10, 10, 2) map with value 100 r + c in channel 0: window 4 pads to 12, 3x3 windows.
  auto x = torch::zeros({1, 10, 10, 2});
  for (int r = 0; r < 10; ++r)
    for (int c = 0; c < 10; ++c) x[0][r][c][0] = 100 * r + c;
  const WindowGeometry g = window_geometry(10, 4);
  auto w = window_partition(x, g);
  REQUIRE(w.sizes() == torch::IntArrayRef({9, 4, 4, 2}));
  // window (1, 2) row-major = index 5: rows 4..7, cols 8..11, of which 10 and 11 are padding.
  CHECK(w[5][0][0][0].item<double>() == 408);
  CHECK(w[5][3][1][0].item<double>() == 709);
  CHECK(w[5][3][2][0].item<double>() == 0);  // padded column
  CHECK(w[8][2][0][0].item<double>() == 0);  // window (2, 2), row 10: padding
  CHECK(w[6][1][3][0].item<double>() == 903);
  CHECK(torch::equal(window_reverse(w, g, 1, 10, 10), x));
  // A map no larger than the window is its own window.
  const WindowGeometry whole = window_geometry(4, 7);
  auto small = torch::randn({2, 4, 4, 3});
  CHECK(torch::equal(window_partition(small, whole), small));
}

TEST_CASE("attend: every kind equals the formula, the inference path equals autograd's", "[attention]") {
  torch::manual_seed(0);
  const int64_t B = 3, N = 16, kd = 8, e = 12;
  auto q = torch::randn({B, N, kd}), k = torch::randn({B, N, kd}), v = torch::randn({B, N, e});
  auto bias = torch::randn({N, N}) * 0.1;
  const double scale = 1.0 / std::sqrt(double(kd));
  for (auto kind : kAttentionKinds) {
    INFO(to_string(kind));
    // The formula, one window at a time, with plain ops.
    std::vector<torch::Tensor> outs;
    for (int64_t b = 0; b < B; ++b) {
      auto s = q[b].mm(k[b].t()) * scale + bias;  // (N, N)
      torch::Tensor a;
      if (kind == AttentionKind::Softmax) a = s.exp() / s.exp().sum(1, true);
      if (kind == AttentionKind::ReluSoftmax) a = s.clamp_min(0) / (s.clamp_min(0).sum(1, true) + 1e-5);
      if (kind == AttentionKind::Scaling) a = s / double(N);
      outs.push_back(a.mm(v[b]));
    }
    auto expected = torch::stack(outs);
    CHECK(max_abs_diff(attend(q, k, v, bias, kind, scale), expected) < 1e-5);
    torch::NoGradGuard no_grad;
    CHECK(max_abs_diff(attend_inference(q * scale, k, v, bias, kind), expected) < 1e-5);
    // Strided q/k/v (slices of one qkv tensor, as the networks pass them).
    auto qkv = torch::cat({q * scale, k, v}, 2);
    CHECK(max_abs_diff(attend_inference(qkv.narrow(2, 0, kd), qkv.narrow(2, kd, kd),
                                        qkv.narrow(2, 2 * kd, e), bias, kind),
                       expected) < 1e-5);
  }
}

TEST_CASE("head input and qkv split", "[attention]") {
  auto x = torch::arange(24.0).view({1, 6, 2, 2});  // 6 channels, 3 heads of 2
  auto prev = torch::ones({1, 2, 2, 2});
  CHECK(torch::equal(head_input(x, 1, 0, 2, prev, true), x.narrow(1, 0, 2)));  // head 0: no add
  CHECK(torch::equal(head_input(x, 1, 2, 2, prev, true), x.narrow(1, 4, 2) + 1));
  CHECK(torch::equal(head_input(x, 1, 2, 2, prev, false), x.narrow(1, 4, 2)));
  auto [q, k, v] = split_qkv(x, 1, 2, 2);
  CHECK(torch::equal(q, x.narrow(1, 0, 2)));
  CHECK(torch::equal(k, x.narrow(1, 2, 2)));
  CHECK(torch::equal(v, x.narrow(1, 4, 2)));
}

TEST_CASE("conv2d_bn equals LibTorch's Conv2d + BatchNorm2d, in training and eval", "[attention]") {
  torch::manual_seed(1);
  Conv2dBN ours(6, 8, 3, 2, 2);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(6, 8, 3).stride(2).padding(1).groups(2).bias(false));
  torch::nn::BatchNorm2d bn(8);
  {
    torch::NoGradGuard no_grad;
    conv->weight.copy_(ours->c->weight);
    ours->bn->weight.uniform_(0.5, 1.5);
    ours->bn->bias.uniform_(-0.5, 0.5);
    bn->weight.copy_(ours->bn->weight);
    bn->bias.copy_(ours->bn->bias);
  }
  for (int step = 0; step < 3; ++step) {
    auto x = torch::randn({4, 6, 9, 9});
    CHECK(max_abs_diff(ours(x), bn(conv(x))) < 1e-5);
  }
  CHECK(max_abs_diff(ours->bn->running_mean, bn->running_mean) < 1e-6);
  CHECK(max_abs_diff(ours->bn->running_var, bn->running_var) < 1e-6);
  CHECK(ours->bn->num_batches_tracked.item<int64_t>() == 3);
  ours->eval();
  bn->eval();
  auto x = torch::randn({2, 6, 9, 9});
  CHECK(max_abs_diff(ours(x), bn(conv(x))) < 1e-5);
  // The folded conv: W * s, beta - mean * s.
  CHECK(max_abs_diff(ours->fuse()(x), bn(conv(x))) < 1e-5);
}

TEST_CASE("conv2d_bn on slices of larger weights trains the slice only", "[attention]") {
  // A supernet's view: the first 4 output channels of an 8-channel Conv2dBN, as a 4-channel
  // Conv2dBN holding copies of those slices.
  torch::manual_seed(2);
  Conv2dBN big(3, 8, 1), small(3, 4, 1);
  {
    torch::NoGradGuard no_grad;
    big->bn->weight.uniform_(0.5, 1.5);
    small->c->weight.copy_(big->c->weight.narrow(0, 0, 4));
    small->bn->weight.copy_(big->bn->weight.narrow(0, 0, 4));
  }
  const auto before = big->bn->running_mean.clone();
  const ConvBNWeights w = slice(big->weights(), 4, 3);
  auto x = torch::randn({5, 3, 6, 6});
  auto y = conv2d_bn(x, w, /*training=*/true);
  CHECK(max_abs_diff(y, small(x)) < 1e-5);
  CHECK(max_abs_diff(big->bn->running_mean.narrow(0, 0, 4), small->bn->running_mean) < 1e-6);
  CHECK(torch::equal(big->bn->running_mean.narrow(0, 4, 4), before.narrow(0, 4, 4)));
  y.sum().backward();
  CHECK(big->c->weight.grad().narrow(0, 4, 4).abs().sum().item<double>() == 0);
  CHECK(big->c->weight.grad().narrow(0, 0, 4).abs().sum().item<double>() > 0);
}
