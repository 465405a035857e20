// Hand-written kernels agree with the ATen ops they replace.
#include <catch2/catch.hpp>

#include <tuple>
#include <vector>

#include <torch/torch.h>

#include "models/kernels/onednn_conv.h"
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

TEST_CASE("OneDnnConv equals conv2d + bias [+ residual] [+ ReLU] on channels-last maps", "[kernels]") {
  using vitnas::kernels::OneDnnConv;
  if (!OneDnnConv::available(torch::zeros({1}))) {
    WARN("this build has no oneDNN: the fused network's convs go through at::conv2d");
    return;
  }
  torch::manual_seed(3);
  struct Case { int64_t B, H, in, out, k, stride, groups; };
  for (const Case c : std::vector<Case>{{16, 14, 64, 128, 1, 1, 1},  // FFN pw1
                                        {1, 4, 384, 192, 1, 1, 1},   // batch 1, 4x4 map
                                        {3, 7, 16, 96, 1, 1, 1},     // a head's qkv
                                        {3, 14, 64, 64, 3, 1, 64},   // DW
                                        {2, 13, 32, 32, 3, 2, 32},   // PatchMerging's stride 2, odd side
                                        {4, 7, 16, 16, 5, 1, 16},    // q's DW
                                        {2, 4, 8, 8, 7, 1, 8}}) {     // kernel wider than the map
    INFO("B " << c.B << " H " << c.H << " in " << c.in << " out " << c.out << " k " << c.k
              << " stride " << c.stride << " groups " << c.groups);
    const int64_t pad = c.k / 2;
    auto w = torch::randn({c.out, c.in / c.groups, c.k, c.k}), b = torch::randn({c.out});
    auto x = torch::randn({c.B, c.H, c.H, c.in});
    const OneDnnConv conv(w, b, c.stride, pad, c.groups);
    auto plain = torch::conv2d(x.permute({0, 3, 1, 2}), w, b, c.stride, pad, 1, c.groups)
                     .permute({0, 2, 3, 1});
    for (const bool with_residual : {false, true})
      for (const bool relu : {false, true}) {
        INFO("residual " << with_residual << " relu " << relu);
        auto r = with_residual ? torch::randn(plain.sizes()) : torch::Tensor();
        auto expected = with_residual ? plain + r : plain;
        if (relu) expected = expected.relu();
        auto y = conv(x, r, relu);
        CHECK(y.is_contiguous());
        REQUIRE(y.sizes() == expected.sizes());
        CHECK((y - expected).abs().max().item<double>() < 1e-4 * std::max(1.0, expected.abs().max().item<double>()));
        // A JIT kernel for this CPU, not oneDNN's slow reference one.
        CHECK(conv.implementation(x, with_residual, relu).find("ref") == std::string::npos);
      }
  }
  // A channel slice (q of a fused qkv) is read as its values, not as the buffer behind it.
  auto qkv = torch::randn({2, 7, 7, 48});
  auto q = qkv.narrow(3, 8, 16);
  auto w = torch::randn({16, 1, 3, 3}), b = torch::randn({16});
  auto expected = torch::conv2d(q.permute({0, 3, 1, 2}), w, b, 1, 1, 1, 16).permute({0, 2, 3, 1});
  CHECK((OneDnnConv(w, b, 1, 1, 16)(q) - expected).abs().max().item<double>() < 1e-4);
}

TEST_CASE("OneDnnConvChain equals the stem's convs with ReLU between them, channels-last out, no reference kernel", "[kernels]") {
  using vitnas::kernels::OneDnnConvChain;
  if (!vitnas::kernels::OneDnnConv::available(torch::zeros({1}))) {
    WARN("this build has no oneDNN: the stem goes through at::conv2d");
    return;
  }
  torch::manual_seed(4);
  for (auto [B, side, widths] : std::vector<std::tuple<int64_t, int64_t, std::vector<int64_t>>>{
           {2, 64, {8, 16, 32, 64}}, {1, 35, {24, 48}}, {3, 28, {16}}}) {
    INFO("B " << B << " side " << side << " convs " << widths.size());
    std::vector<OneDnnConvChain::Conv> convs;
    auto x = torch::randn({B, 3, side, side});
    auto expected = x;
    int64_t in = 3;
    for (size_t i = 0; i < widths.size(); ++i) {
      auto w = torch::randn({widths[i], in, 3, 3}) * 0.3, b = torch::randn({widths[i]});
      convs.push_back({w, b, 2, 1});
      expected = torch::conv2d(expected, w, b, 2, 1);
      if (i + 1 < widths.size()) expected = expected.relu();
      in = widths[i];
    }
    expected = expected.permute({0, 2, 3, 1});
    const OneDnnConvChain chain(convs);
    auto y = chain(x);
    CHECK(y.is_contiguous());
    // No conv on oneDNN's reference kernel (m0's 8 -> 16 conv was, on AVX-512: 1.4 s a batch).
    for (const std::string& impl : chain.implementations(x)) CHECK(impl.rfind("ref", 0) != 0);
    REQUIRE(y.sizes() == expected.sizes());
    CHECK((y - expected).abs().max().item<double>() < 1e-4 * std::max(1.0, expected.abs().max().item<double>()));
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

// Every instruction-set variant this CPU runs, against ATen (the default calls above test only
// the one the machine picks). Variants the CPU lacks are reported and skipped, never run.
namespace {

std::vector<vitnas::kernels::CpuVariant> runnable_variants() {
  std::vector<vitnas::kernels::CpuVariant> out;
  for (auto v : vitnas::kernels::kCpuVariants) {
    if (vitnas::kernels::cpu_supports(v))
      out.push_back(v);
    else
      WARN("this CPU cannot run the " << vitnas::kernels::to_string(v) << " kernels: not tested");
  }
  return out;
}

}  // namespace

TEST_CASE("bias_softmax_: every runnable CPU variant equals torch::softmax", "[kernels]") {
  torch::manual_seed(3);
  for (auto variant : runnable_variants()) {
    for (int64_t n : {1, 3, 15, 16, 17, 33, 49, 50, 97}) {
      INFO(vitnas::kernels::to_string(variant) << ", n = " << n);
      auto scores = torch::randn({3, 5, n}) * 8;
      auto bias = torch::randn({5, n});
      auto s = scores.clone();
      vitnas::kernels::bias_softmax_(s, bias, variant);
      CHECK((s - torch::softmax(scores + bias, -1)).abs().max().item<double>() < 1e-6);
      auto s2 = scores.clone();
      vitnas::kernels::bias_softmax_(s2, torch::Tensor(), variant);
      CHECK((s2 - torch::softmax(scores, -1)).abs().max().item<double>() < 1e-6);
    }
  }
}

TEST_CASE("stem_conv3x3_s2: every runnable CPU variant equals torch::conv2d", "[kernels]") {
  torch::manual_seed(4);
  for (auto variant : runnable_variants()) {
    // Odd sizes: a last strip narrower than 16 columns, odd heights and widths, 1..4 channels.
    for (auto [cin, cout, h, w] : std::vector<std::array<int64_t, 4>>{
             {3, 8, 37, 29}, {1, 16, 7, 3}, {4, 24, 18, 35}, {2, 8, 1, 1}, {3, 8, 65, 64}}) {
      INFO(vitnas::kernels::to_string(variant) << ": " << cin << " -> " << cout << " at " << h
                                               << "x" << w);
      auto x = torch::randn({3, cin, h, w});
      auto weight = torch::randn({cout, cin, 3, 3});
      auto b = torch::randn({cout});
      REQUIRE(vitnas::kernels::stem_conv_supported(x, weight));
      auto expected = torch::conv2d(x, weight, b, 2, 1);
      auto y = vitnas::kernels::stem_conv3x3_s2(x, weight, b, false, variant);
      REQUIRE(y.sizes() == expected.sizes());
      CHECK((y - expected).abs().max().item<double>() < 1e-4);
      auto yr = vitnas::kernels::stem_conv3x3_s2(x, weight, b, true, variant);
      CHECK((yr - expected.relu()).abs().max().item<double>() < 1e-4);
    }
  }
}

TEST_CASE("kernels refuse a CPU variant this CPU cannot run", "[kernels]") {
  using vitnas::kernels::CpuVariant;
  if (vitnas::kernels::cpu_supports(CpuVariant::AVX512)) {
    WARN("this CPU runs every variant: nothing to refuse");
    return;
  }
  auto s = torch::randn({1, 2, 4});
  CHECK_THROWS_WITH(vitnas::kernels::bias_softmax_(s, torch::Tensor(), CpuVariant::AVX512),
                    Catch::Contains("AVX-512F"));
  CHECK_THROWS_WITH(vitnas::kernels::stem_conv3x3_s2(torch::randn({1, 3, 8, 8}),
                                                     torch::randn({8, 3, 3, 3}), torch::randn({8}),
                                                     false, CpuVariant::AVX512),
                    Catch::Contains("AVX-512F"));
}
