// Hand-written kernels agree with the ATen ops they replace.
#include <catch2/catch.hpp>

#include <torch/torch.h>

#include "models/kernels/softmax.h"

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
