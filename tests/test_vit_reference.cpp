// The ViT module and its inference network (fuse(), a copy in eval mode) against an independent
// forward: the DeiT / Compact Transformers equations written out with plain ATen ops on the
// state dict's tensors, by timm's names, with random non-trivial weights (LayerNorm scales,
// every bias, the CLS token). Comparing fuse() with the module alone would compare the module
// with itself.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/arch_spec.h"
#include "models/classifier.h"
#include "models/inference.h"
#include "models/vit.h"
#include "models/weights.h"

using namespace vitnas;

namespace {

using Weights = std::map<std::string, torch::Tensor>;

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

torch::Tensor linear(const Weights& w, const std::string& name, const torch::Tensor& x) {
  const auto y = torch::matmul(x, w.at(name + ".weight").t());
  return w.count(name + ".bias") ? y + w.at(name + ".bias") : y;  // qkv may have no bias
}

torch::Tensor layer_norm(const Weights& w, const std::string& name, const torch::Tensor& x,
                         double eps) {
  const auto mean = x.mean(-1, true);
  const auto var = (x - mean).pow(2).mean(-1, true);  // biased, as LayerNorm
  return (x - mean) / torch::sqrt(var + eps) * w.at(name + ".weight") + w.at(name + ".bias");
}

// MPCViT's attention maps: softmax, ReLU normalised by its row sum (+1e-5), scores / N.
torch::Tensor attention_map(const torch::Tensor& s, AttentionKind kind) {
  switch (kind) {
    case AttentionKind::Softmax: {
      const auto e = torch::exp(s - std::get<0>(s.max(-1, true)));
      return e / e.sum(-1, true);
    }
    case AttentionKind::ReluSoftmax: {
      const auto r = s.clamp_min(0);
      return r / (r.sum(-1, true) + 1e-5);
    }
    case AttentionKind::Scaling:
      return s / double(s.size(-1));
  }
  throw std::logic_error("unhandled kind");
}

torch::Tensor attention(const Weights& w, const std::string& name, const ViTLayerSpec& layer,
                        const torch::Tensor& x) {
  const auto qkv = linear(w, name + ".qkv", x);  // [q of every head | k of every head | v ...]
  int64_t qk = 0;
  for (const auto& h : layer.heads) qk += h.qk_dim;
  std::vector<torch::Tensor> outs;
  int64_t oq = 0, ov = 0;
  for (const auto& h : layer.heads) {
    const auto q = qkv.narrow(-1, oq, h.qk_dim), k = qkv.narrow(-1, qk + oq, h.qk_dim);
    const auto v = qkv.narrow(-1, 2 * qk + ov, h.v_dim);
    const auto scores = torch::matmul(q, k.transpose(1, 2)) / std::sqrt(double(h.qk_dim));
    outs.push_back(torch::matmul(attention_map(scores, h.kind), v));
    oq += h.qk_dim;
    ov += h.v_dim;
  }
  return linear(w, name + ".proj", torch::cat(outs, -1));
}

torch::Tensor mlp(const Weights& w, const std::string& name, const ViTLayerSpec& layer,
                  const torch::Tensor& x) {
  auto h = linear(w, name + ".fc1", x);
  switch (layer.act) {
    case Activation::GELU: h = 0.5 * h * (1 + torch::erf(h / std::sqrt(2.0))); break;
    case Activation::ReLU: h = h.clamp_min(0); break;
    case Activation::Identity: break;
  }
  return linear(w, name + ".fc2", h);
}

// Eval-mode logits of a "vit" spec with the given weights.
torch::Tensor reference_forward(const ArchSpec& spec, const Weights& w, const torch::Tensor& x) {
  const auto& vit = spec.vit;
  const double eps = vit.style == LayerStyle::DeiT ? 1e-6 : 1e-5;
  const int64_t B = x.size(0), p = vit.patch_size, n = spec.img_size / p;
  // Patches as rows: (B, C, n, p, n, p) -> (B, n, n, C, p, p) -> (B, N, C*p*p), then a matmul.
  const auto patches =
      x.reshape({B, spec.in_chans, n, p, n, p}).permute({0, 2, 4, 1, 3, 5}).reshape({B, n * n, -1});
  const auto proj = w.at("patch_embed.proj.weight");
  auto t = torch::matmul(patches, proj.reshape({proj.size(0), -1}).t()) + w.at("patch_embed.proj.bias");
  if (vit.cls_token) t = torch::cat({w.at("cls_token").expand({B, 1, -1}), t}, 1);
  t = t + w.at("pos_embed");
  for (size_t i = 0; i < vit.layers.size(); ++i) {
    const std::string b = "blocks." + std::to_string(i);
    const auto& layer = vit.layers[i];
    t = t + attention(w, b + ".attn", layer, layer_norm(w, b + ".norm1", t, eps));
    if (vit.style == LayerStyle::DeiT) {
      t = t + mlp(w, b + ".mlp", layer, layer_norm(w, b + ".norm2", t, eps));
    } else {
      t = layer_norm(w, b + ".norm2", t, eps);
      t = t + mlp(w, b + ".mlp", layer, t);
    }
  }
  t = layer_norm(w, "norm", t, eps);
  const auto pooled = vit.cls_token ? t.select(1, 0) : t.mean(1);
  const auto logits = linear(w, "head", pooled);
  return spec.distillation ? (logits + linear(w, "head_dist", pooled)) / 2 : logits;
}

// Random LayerNorm scales, biases and CLS token (fresh ones are 1, 0 and 0).
Weights randomise(torch::nn::Module& model, uint64_t seed) {
  torch::manual_seed(seed);
  torch::NoGradGuard no_grad;
  Weights w;
  for (auto& [name, t] : state_dict(model)) {
    const bool norm = name.find("norm") != std::string::npos;
    if (norm && name.find(".weight") != std::string::npos) t.uniform_(0.5, 1.5);
    if (name.find(".bias") != std::string::npos) t.normal_(0.0, 0.2);
    if (name == "cls_token") t.normal_(0.0, 1.0);
    w.emplace(name, t.clone());
  }
  return w;
}

}  // namespace

TEST_CASE("ViT module and inference network equal a plain-ATen ViT forward", "[models][vit]") {
  torch::NoGradGuard no_grad;
  // The presets (CCT and DeiT order, uniform heads: the batched path), then heterogeneous heads
  // of all three kinds, a linearised MLP, mean pooling and distillation (the per-head path).
  auto mixed = preset("vit_7_4_32");
  mixed.distillation = true;
  mixed.vit.cls_token = false;
  mixed.vit.qkv_bias = true;
  mixed.vit.layers[0].heads[0].kind = AttentionKind::ReluSoftmax;
  mixed.vit.layers[0].heads[1].kind = AttentionKind::Scaling;
  mixed.vit.layers[1].heads[2].qk_dim = 32;
  mixed.vit.layers[1].heads[3].v_dim = 16;
  mixed.vit.layers[2].act = Activation::Identity;
  mixed.vit.layers[3].act = Activation::ReLU;
  auto deit = preset("deit_tiny");
  deit.img_size = 64;  // 16 patches: the DeiT equations at a test's cost
  for (const auto& spec : {preset("vit_7_4_32"), deit, mixed}) {
    INFO(spec.name << (spec.distillation ? " (mixed)" : ""));
    auto model = build_model(spec);
    const Weights w = randomise(*model, 11);
    model->eval();
    const auto x = torch::randn({2, spec.in_chans, spec.img_size, spec.img_size});
    const auto expected = reference_forward(spec, w, x);
    REQUIRE(expected.sizes() == torch::IntArrayRef({2, spec.num_classes}));
    const double tol = 1e-4 * std::max(1.0, expected.abs().max().item<double>());
    CHECK(max_abs_diff(model->forward(x), expected) < tol);
    CHECK(max_abs_diff(fuse(*model)->forward(x), expected) < tol);
  }
}

// MPCViT+: a linearised MLP is one linear at inference. The folded layer must really replace the
// two (one matmul, the weight W2 W1) and give the unfolded output; the fused network's check
// above covers it inside a whole network (layer 2 of "mixed").
TEST_CASE("a linearised MLP folds into one linear, exactly", "[models][vit]") {
  torch::NoGradGuard no_grad;
  torch::manual_seed(3);
  vitnas::Mlp net(64, 128, Activation::Identity);
  for (auto& p : net->parameters()) p.normal_(0.0, 0.3);
  net->eval();
  const auto x = torch::randn({2, 5, 64});
  const auto expected = torch::matmul(torch::matmul(x, net->fc1->weight.t()) + net->fc1->bias,
                                      net->fc2->weight.t()) + net->fc2->bias;
  REQUIRE(net->fold_linear());
  REQUIRE(net->folded);
  CHECK(net->folded->weight.sizes() == torch::IntArrayRef({64, 64}));
  CHECK(max_abs_diff(net->forward(x), expected) < 1e-4);
  CHECK(state_dict(*net).size() == 4);  // fc1 and fc2 stay the weights' keys

  vitnas::Mlp narrow(64, 16, Activation::Identity);  // 64 x 64 > 2 x 64 x 16: folding costs more
  CHECK(!narrow->fold_linear());
  vitnas::Mlp gelu(64, 128, Activation::GELU);
  CHECK(!gelu->fold_linear());
}
