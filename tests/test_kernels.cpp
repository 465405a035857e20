// Hand-written kernels agree with the ATen ops they replace.
#include <catch2/catch.hpp>

#include <torch/torch.h>

#include "models/kernels/softmax.h"
#include "models/kernels/stem_conv.h"

TEST_CASE("bias_softmax_ equals softmax(scores + bias)", "[kernels]") {
  torch::manual_seed(0);
  for (int64_t n : {1, 7, 16, 49, 64, 100}) {
    INFO("n = " << n);
    auto scores = torch::randn({5, n, n}) * 8;  // wide range: exercises the exp reduction
    auto bias = torch::randn({n, n});
    auto expected = (scores + bias).softmax(-1);
    auto s = scores.clone();
    vitnas::kernels::bias_softmax_(s, bias);
    CHECK((s - expected).abs().max().item<double>() < 1e-6);
    auto s2 = scores.clone();
    vitnas::kernels::bias_softmax_(s2, torch::Tensor());
    CHECK((s2 - scores.softmax(-1)).abs().max().item<double>() < 1e-6);
  }
  // Very negative scores underflow to zero instead of producing NaN.
  auto s = torch::tensor({{{0.0f, -200.0f, -1e30f}}});
  vitnas::kernels::bias_softmax_(s, torch::Tensor());
  CHECK(s[0][0][0].item<float>() == Approx(1.0f));
  CHECK(torch::isfinite(s).all().item<bool>());
}

TEST_CASE("window_softmax_attention equals softmax(q k^T + bias) v on strided slices",
          "[kernels]") {
  torch::manual_seed(1);
  for (auto [B, n, d, e] : std::vector<std::array<int64_t, 4>>{{3, 49, 16, 16}, {2, 16, 8, 24}, {1, 1, 4, 4}}) {
    auto qkv = torch::randn({B, n, 2 * d + e});
    auto q = qkv.narrow(2, 0, d).contiguous(), k = qkv.narrow(2, d, d), v = qkv.narrow(2, 2 * d, e);
    auto bias = torch::randn({n, n});
    auto expected = torch::matmul(torch::softmax(torch::matmul(q, k.transpose(1, 2)) + bias, -1), v);
    auto out = vitnas::kernels::window_softmax_attention(q, k, v, bias);
    CHECK(out.sizes() == expected.sizes());
    CHECK((out - expected).abs().max().item<double>() < 1e-5);
  }
}

TEST_CASE("stem_conv3x3_s2 equals conv2d(stride 2, padding 1) [+ ReLU]", "[kernels]") {
  torch::manual_seed(2);
  for (auto [cin, cout, side] : std::vector<std::array<int64_t, 3>>{{3, 8, 224}, {3, 16, 31}, {1, 8, 5}, {4, 24, 18}}) {
    INFO(cin << " -> " << cout << " at " << side);
    auto x = torch::randn({2, cin, side, side});
    auto w = torch::randn({cout, cin, 3, 3});
    auto b = torch::randn({cout});
    REQUIRE(vitnas::kernels::stem_conv_supported(x, w));
    auto expected = torch::conv2d(x, w, b, 2, 1);
    CHECK((vitnas::kernels::stem_conv3x3_s2(x, w, b, false) - expected).abs().max().item<double>() < 1e-4);
    CHECK((vitnas::kernels::stem_conv3x3_s2(x, w, b, true) - expected.relu()).abs().max().item<double>() < 1e-4);
  }
  CHECK_FALSE(vitnas::kernels::stem_conv_supported(torch::randn({1, 3, 8, 8}), torch::randn({12, 3, 3, 3})));
}
