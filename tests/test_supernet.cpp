// The weight-sharing supernet: every choice kind slices as documented (hand-written slices),
// extract() reproduces the supernet's output for the presets of the shipped spaces and for random
// subnets (the standalone EfficientViT and its fused network are the independent forms), and BN
// recalibration equals the hand-computed statistics and a standalone network's.
#include <catch2/catch.hpp>

#include <random>

#include <torch/torch.h>

#include "core/arch_spec.h"
#include "core/complexity.h"
#include "core/search_space.h"
#include "models/attention_ops.h"
#include "models/elastic/supernet.h"
#include "models/ffn.h"
#include "models/fused_efficientvit.h"
#include "models/residual.h"
#include "models/efficientvit.h"
#include "train/bn_recalibration.h"
#include "fixtures.h"
#include "torch_fixtures.h"

using namespace vitnas;
using vitnas::test::input_error;
using vitnas::test::max_abs_diff;
using vitnas::test::perturb;

namespace {

SearchSpace shipped_space(const std::string& name) {
  return load_space(std::string(VITNAS_SOURCE_DIR) + "/experiments/spaces/" + name + ".json");
}

// The supernet of a space with random BN statistics, biases and attention biases, in eval mode.
Supernet perturbed_supernet(const SearchSpace& space, uint64_t seed) {
  torch::manual_seed(seed);
  Supernet net(space);
  perturb(*net, seed);
  net->eval();
  return net;
}

torch::Tensor images(const ArchSpec& a, int batch, uint64_t seed) {
  torch::manual_seed(seed);
  return torch::randn({batch, a.in_chans, a.img_size, a.img_size});
}

// Supernet output for `a` against its extracted EfficientViT and that network fused: within
// 1e-5 (relative to the logits' scale when they exceed 1).
void check_exact(Supernet& net, const ArchSpec& a, int batch = 2) {
  INFO(arch_to_json(a).dump());
  torch::NoGradGuard no_grad;
  const auto x = images(a, batch, 7);
  const auto y = net->forward(x, a);
  auto model = extract(*net, a);
  auto* evit = dynamic_cast<EfficientViTImpl*>(model.get());
  REQUIRE(evit);
  const double scale = std::max(1.0, y.abs().max().item<double>());
  CHECK(max_abs_diff(model->forward(x), y) <= 1e-5 * scale);
  CHECK(max_abs_diff(FusedEfficientViT(*evit).forward(x), y) <= 1e-5 * scale);
}

}  // namespace

TEST_CASE("largest and smallest are in the space and bound its samples' size", "[supernet]") {
  for (const char* name : {"small", "fmnist", "efficientvit_m"}) {
    INFO(name);
    const SearchSpace s = shipped_space(name);
    const ArchSpec big = largest(s), tiny = smallest(s);
    CHECK(contains(s, big));
    CHECK(contains(s, tiny));
    std::mt19937_64 rng(3);
    for (int i = 0; i < 50; ++i) {
      const ArchSpec a = sample(s, rng);
      const Complexity c = complexity(a);
      CHECK(c.params <= complexity(big).params);
      CHECK(c.params >= complexity(tiny).params);
      CHECK(c.macs <= complexity(big).macs);
      CHECK(c.macs >= complexity(tiny).macs);
    }
  }
}

TEST_CASE("the fmnist space contains the Fashion-MNIST recipe's network", "[supernet]") {
  const ArchSpec a = load_arch(std::string(VITNAS_SOURCE_DIR) +
                               "/experiments/train/efficientvit_fmnist.json");
  const SearchSpace s = shipped_space("fmnist");
  INFO(outside(s, a).value_or("inside"));
  CHECK(contains(s, a));
}

TEST_CASE("outside() names the first value a space does not offer, with its JSON path", "[supernet]") {
  const SearchSpace s = shipped_space("small");
  ArchSpec a = largest(s);
  CHECK_FALSE(outside(s, a).has_value());
  a.efficientvit.stages[1].blocks[0].attention->heads[1].key_dim = 24;
  CHECK(outside(s, a).value() ==
        "stages[1].blocks[0].attention.heads[1].key_dim: 24 is not a choice of the space (8, 16)");
  a = largest(s);
  a.efficientvit.stages[2].blocks.push_back(a.efficientvit.stages[2].blocks[0]);
  CHECK(outside(s, a).value() == "stages[2].blocks (depth): 3 is not a choice of the space (1, 2)");
  a = largest(s);
  a.efficientvit.stages[0].blocks[0].ffn_before = {48};
  CHECK(outside(s, a).value() == "stages[0].blocks[0].ffn_before[0] (hidden width at 32 channels): "
                                 "48 is not a choice of the space (32, 64)");
  Supernet net(s);
  const std::string e = input_error([&] { net->forward(images(a, 1, 1), a); });
  CHECK(e.find("is not in the space small: stages[0].blocks[0].ffn_before[0]") != std::string::npos);
}

TEST_CASE("Conv2dBN slice: leading channels and a centre-cropped kernel", "[supernet]") {
  torch::manual_seed(4);
  Conv2dBN big(6, 8, 5);
  perturb(*big, 4);
  big->eval();
  const auto x = torch::randn({2, 4, 9, 9});
  // By hand: W[:3, :4, 1:4, 1:4], padding 1, then BN with entries [:3].
  torch::NoGradGuard no_grad;
  const auto w = big->c->weight.index({torch::indexing::Slice(0, 3), torch::indexing::Slice(0, 4),
                                       torch::indexing::Slice(1, 4), torch::indexing::Slice(1, 4)});
  auto expect = torch::conv2d(x, w, {}, 1, 1);
  const auto bn = [&](const torch::Tensor& t) { return t.narrow(0, 0, 3).view({1, 3, 1, 1}); };
  expect = (expect - bn(big->bn->running_mean)) / torch::sqrt(bn(big->bn->running_var) + 1e-5) *
               bn(big->bn->weight) + bn(big->bn->bias);
  CHECK(max_abs_diff(big->forward_active(x, 3, 3), expect) < 1e-5);
  // A depthwise conv stays depthwise: channel c sees only input channel c.
  Conv2dBN dw(8, 8, 3, 1, 8);
  const auto y = dw->forward_active(torch::randn({1, 5, 6, 6}), 5);
  CHECK(y.size(1) == 5);
}

TEST_CASE("attention slices: q, k, v rows at the capacity offsets, biases by offset", "[supernet]") {
  // Capacity: 2 heads, key_dim 16, v 24, kernel 5, window 4; a head of key_dim 8, v 12, kernel 3
  // on a 2x2 window.
  torch::manual_seed(5);
  AttentionSpec cap{false, {{16, 24, 5, AttentionKind::Softmax}, {16, 24, 5, AttentionKind::Softmax}}};
  CascadedGroupAttention net(48, cap, 4, 24);
  perturb(*net, 5);
  AttentionSpec small{true, {{8, 12, 3, AttentionKind::ReluSoftmax}, {8, 12, 3, AttentionKind::Scaling}}};
  CascadedGroupAttention dst(24, small, 2);
  net->copy_active(*dst);
  torch::NoGradGuard no_grad;
  const auto W = net->qkvs[1]->as<Conv2dBN>()->c->weight;  // (2*16 + 24, 24, 1, 1)
  const auto got = dst->qkvs[1]->as<Conv2dBN>()->c->weight;  // (8 + 8 + 12, 12, 1, 1)
  CHECK(torch::equal(got.narrow(0, 0, 8), W.narrow(0, 0, 8).narrow(1, 0, 12)));
  CHECK(torch::equal(got.narrow(0, 8, 8), W.narrow(0, 16, 8).narrow(1, 0, 12)));
  CHECK(torch::equal(got.narrow(0, 16, 12), W.narrow(0, 32, 12).narrow(1, 0, 12)));
  const auto dwk = dst->dws[0]->as<Conv2dBN>()->c->weight;  // (8, 1, 3, 3): centre of 5x5
  CHECK(torch::equal(dwk, net->dws[0]->as<Conv2dBN>()->c->weight.narrow(0, 0, 8)
                              .narrow(2, 1, 3).narrow(3, 1, 3)));
  // Every pair of positions of the 2x2 window reads the bias of its offset (|dr|, |dc|) in the
  // 4x4 capacity window.
  for (int p = 0; p < 4; ++p)
    for (int q = 0; q < 4; ++q) {
      const int dr = std::abs(p / 2 - q / 2), dc = std::abs(p % 2 - q % 2);
      CHECK(dst->head_bias(1)[p][q].item<float>() ==
            net->attention_biases[1][dr * 4 + dc].item<float>());
    }
  // And the module runs the same as its extract, in eval mode.
  net->eval();
  dst->eval();
  const auto x = torch::randn({3, 24, 2, 2});
  CHECK(max_abs_diff(net->forward_active(x, small), dst->forward(x)) < 1e-5);
}

TEST_CASE("extract reproduces the supernet for the presets of the shipped spaces", "[supernet]") {
  const SearchSpace s = shipped_space("efficientvit_m");
  Supernet net = perturbed_supernet(s, 11);
  int presets = 0;
  for (const auto& name : preset_names()) {
    const ArchSpec p = preset(name);
    if (!contains(s, p)) continue;
    ++presets;
    check_exact(net, p, 1);
  }
  CHECK(presets == 6);  // m0..m5
  const SearchSpace f = shipped_space("fmnist");
  Supernet fnet = perturbed_supernet(f, 12);
  check_exact(fnet, load_arch(std::string(VITNAS_SOURCE_DIR) +
                              "/experiments/train/efficientvit_fmnist.json"));
}

TEST_CASE("extract reproduces the supernet for 50 random subnets of small.json", "[supernet]") {
  const SearchSpace s = shipped_space("small");
  Supernet net = perturbed_supernet(s, 13);
  check_exact(net, largest(s));
  check_exact(net, smallest(s));
  std::mt19937_64 rng(14);
  for (int i = 0; i < 50; ++i) check_exact(net, sample(s, rng));
}

TEST_CASE("supernet training touches only the subnet's slices", "[supernet]") {
  const SearchSpace s = shipped_space("small");
  torch::manual_seed(15);
  Supernet net(s);
  net->train();
  const ArchSpec a = smallest(s);  // stage widths 16, 32, 48 of capacity 32, 48, 64
  const auto mean_before = net->stem[1]->bn->running_mean.clone();
  net->forward(images(a, 4, 15), a).sum().backward();
  const auto& bn = net->stem[1]->bn;  // capacity 32, active 16
  CHECK_FALSE(torch::equal(bn->running_mean.narrow(0, 0, 16), mean_before.narrow(0, 0, 16)));
  CHECK(torch::equal(bn->running_mean.narrow(0, 16, 16), mean_before.narrow(0, 16, 16)));
  const auto g = net->stem[1]->c->weight.grad();
  CHECK(g.narrow(0, 16, 16).abs().sum().item<double>() == 0);
  CHECK(g.narrow(0, 0, 16).abs().sum().item<double>() > 0);
  // Blocks beyond the subnet's depth and the skipped mixer get no gradient.
  CHECK_FALSE(net->stages[0]->blocks[1]->after->ffn[0]->pw1->c->weight.grad().defined());
}

TEST_CASE("BN recalibration: the plain mean of the batch statistics", "[supernet]") {
  // By hand for the first stem conv: running mean/var = mean over batches of the per-channel
  // mean and unbiased variance of conv(x).
  torch::manual_seed(16);
  const ArchSpec a = smallest(shipped_space("small"));
  auto model = build_model(a);
  perturb(*model, 16);
  model->eval();
  std::vector<torch::Tensor> batches;
  for (int i = 0; i < 3; ++i) batches.push_back(images(a, 5, 100 + i));
  recalibrate(*model, [&](const torch::Tensor& x) { model->forward(x); }, batches);
  CHECK_FALSE(model->is_training());
  auto* stem0 = dynamic_cast<EfficientViTImpl&>(*model).patch_embed[0]->as<Conv2dBN>();
  torch::Tensor mean = torch::zeros({stem0->c->weight.size(0)}), var = torch::zeros_like(mean);
  for (const auto& x : batches) {
    const auto y = torch::conv2d(x, stem0->c->weight, {}, 2, 1);
    mean += y.mean({0, 2, 3}) / 3;
    var += y.transpose(0, 1).flatten(1).var(1, /*unbiased=*/true) / 3;
  }
  CHECK(max_abs_diff(stem0->bn->running_mean, mean) < 1e-5);
  CHECK(max_abs_diff(stem0->bn->running_var, var) < 1e-4);
  CHECK(stem0->bn->options.momentum().value() == 0.1);
}

TEST_CASE("BN recalibration of a subnet equals a standalone network's on the same batches", "[supernet]") {
  const SearchSpace s = shipped_space("small");
  Supernet net = perturbed_supernet(s, 17);
  std::mt19937_64 rng(18);
  const ArchSpec a = sample(s, rng);
  std::vector<torch::Tensor> batches;
  for (int i = 0; i < 3; ++i) batches.push_back(images(a, 6, 200 + i));
  auto standalone = extract(*net, a);  // before: the supernet's statistics
  recalibrate(*standalone, [&](const torch::Tensor& x) { standalone->forward(x); }, batches);
  recalibrate(*net, [&](const torch::Tensor& x) { net->forward(x, a); }, batches);
  auto after = extract(*net, a);
  const auto want = state_dict(*standalone), got = state_dict(*after);
  REQUIRE(want.size() == got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    INFO(want[i].first);
    if (want[i].second.is_floating_point())
      CHECK(max_abs_diff(want[i].second, got[i].second) <= 1e-4 * std::max(1.0, want[i].second.abs().max().item<double>()));
  }
  torch::NoGradGuard no_grad;
  const auto x = images(a, 2, 19);
  CHECK(max_abs_diff(net->forward(x, a), standalone->forward(x)) < 1e-4);
}

TEST_CASE("extract takes each part from the capacity module the header's rule names", "[supernet]") {
  // The exactness tests compare the supernet with extract(), which share the part-to-module
  // mapping; this pins the mapping itself: FFNs after the mixer come from the block's `after`
  // pairs even when the subnet has none before it, blocks by index, the subsample's pairs, the
  // stem and head by leading slices.
  const SearchSpace s = shipped_space("small");
  Supernet net = perturbed_supernet(s, 20);
  ArchSpec a = smallest(s);  // widths 16, 32, 48; no FFN before any mixer
  a.efficientvit.stages[0].blocks[0].ffn_before.clear();
  a.efficientvit.stages[0].blocks[0].ffn_after = {32};  // ratio 2 at width 16
  auto model = extract(*net, a);
  auto& evit = dynamic_cast<EfficientViTImpl&>(*model);
  torch::NoGradGuard no_grad;
  // blocks1.0.ffn0 is the block's only FFN, after the (absent) mixer.
  const auto& block = evit.stages[0]->ptr(0)->as<EfficientViTBlockImpl>()->parts();
  REQUIRE(block.size() == 2);
  auto* ffn = block[1].second.ptr()->as<ResidualImpl>()->inner().ptr()->as<FFNImpl>();
  REQUIRE(ffn);
  const auto& cap = net->stages[0]->blocks[0]->after->ffn[0];
  CHECK(torch::equal(ffn->pw1->c->weight, cap->pw1->c->weight.narrow(0, 0, 32).narrow(1, 0, 16)));
  CHECK(torch::equal(ffn->pw2->bn->running_var, cap->pw2->bn->running_var.narrow(0, 0, 16)));
  // The stem's second conv: [:16, :8] of the capacity's (32, 16).
  auto* stem1 = evit.patch_embed[2]->as<Conv2dBN>();
  CHECK(torch::equal(stem1->c->weight, net->stem[1]->c->weight.narrow(0, 0, 16).narrow(1, 0, 8)));
  // The head: BN [:48], Linear [:, :48], the whole bias.
  CHECK(torch::equal(evit.head->l->weight, net->head->l->weight.narrow(1, 0, 48)));
  CHECK(torch::equal(evit.head->bn->running_mean, net->head->bn->running_mean.narrow(0, 0, 48)));
  CHECK(torch::equal(evit.head->l->bias, net->head->l->bias));
}
