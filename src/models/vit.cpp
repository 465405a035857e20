#include "models/vit.h"

#include <cmath>

#include <torch/torch.h>

#include "models/attention_kind.h"
#include "models/residual.h"

namespace vitnas {

double layer_norm_eps(LayerStyle style) {
  switch (style) {
    case LayerStyle::DeiT: return 1e-6;  // timm's DeiT
    case LayerStyle::CCT: return 1e-5;   // nn.LayerNorm default, as in Compact Transformers
  }
  throw std::logic_error("layer_norm_eps: unhandled style");
}

namespace {

int64_t sum_of(const std::vector<ViTHeadSpec>& heads, int ViTHeadSpec::*field) {
  int64_t s = 0;
  for (const auto& h : heads) s += h.*field;
  return s;
}

// Applies each head's attention kind to its slice of scores (B, H, T, T).
torch::Tensor attention_maps(const torch::Tensor& scores, const std::vector<ViTHeadSpec>& heads) {
  bool same_kind = true;
  for (const auto& h : heads) same_kind = same_kind && h.kind == heads[0].kind;
  if (same_kind) return attention_map(scores, heads[0].kind);
  std::vector<torch::Tensor> maps;
  for (size_t i = 0; i < heads.size(); ++i)
    maps.push_back(attention_map(scores.select(1, int64_t(i)), heads[i].kind));
  return torch::stack(maps, 1);
}

}  // namespace

ViTAttentionImpl::ViTAttentionImpl(int64_t dim, const std::vector<ViTHeadSpec>& heads,
                                   bool qkv_bias)
    : heads_(heads), uniform_(true) {
  for (const auto& h : heads)
    uniform_ = uniform_ && h.qk_dim == heads[0].qk_dim && h.v_dim == heads[0].v_dim;
  const int64_t qk = sum_of(heads, &ViTHeadSpec::qk_dim), v = sum_of(heads, &ViTHeadSpec::v_dim);
  qkv = register_module("qkv",
                        torch::nn::Linear(torch::nn::LinearOptions(dim, 2 * qk + v).bias(qkv_bias)));
  proj = register_module("proj", torch::nn::Linear(v, dim));
}

torch::Tensor ViTAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t B = x.size(0), T = x.size(1), H = int64_t(heads_.size());
  const int64_t qk = sum_of(heads_, &ViTHeadSpec::qk_dim), vd = sum_of(heads_, &ViTHeadSpec::v_dim);
  auto parts = qkv(x).split_with_sizes({qk, qk, vd}, -1);  // (B, T, qk) x2, (B, T, v)
  if (uniform_) {
    const int64_t dq = heads_[0].qk_dim, dv = heads_[0].v_dim;
    auto q = parts[0].view({B, T, H, dq}).transpose(1, 2);  // (B, H, T, dq)
    auto k = parts[1].view({B, T, H, dq}).transpose(1, 2);
    auto v = parts[2].view({B, T, H, dv}).transpose(1, 2);  // (B, H, T, dv)
    auto scores = torch::matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt(double(dq)));
    auto out = torch::matmul(attention_maps(scores, heads_), v);  // (B, H, T, dv)
    return proj(out.transpose(1, 2).reshape({B, T, H * dv}));
  }
  // Heterogeneous heads: one head at a time.
  std::vector<torch::Tensor> outs;
  int64_t oq = 0, ov = 0;
  for (const auto& h : heads_) {
    auto q = parts[0].narrow(-1, oq, h.qk_dim), k = parts[1].narrow(-1, oq, h.qk_dim);
    auto v = parts[2].narrow(-1, ov, h.v_dim);
    auto scores = torch::matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt(double(h.qk_dim)));
    outs.push_back(torch::matmul(attention_map(scores, h.kind), v));  // (B, T, v)
    oq += h.qk_dim;
    ov += h.v_dim;
  }
  return proj(torch::cat(outs, -1));
}

MlpImpl::MlpImpl(int64_t dim, int64_t hidden, Activation act) : act_(act) {
  fc1 = register_module("fc1", torch::nn::Linear(dim, hidden));
  fc2 = register_module("fc2", torch::nn::Linear(hidden, dim));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  auto h = fc1(x);
  switch (act_) {
    case Activation::GELU: h = torch::gelu(h); break;
    case Activation::ReLU: h = torch::relu(h); break;
    case Activation::Identity: break;  // MPCViT+: the two linears could fold into one
  }
  return fc2(h);
}

ViTLayerImpl::ViTLayerImpl(int64_t dim, const ViTLayerSpec& spec, const ViTSpec& vit,
                           double drop_path)
    : style_(vit.style), drop_path_(drop_path) {
  const double eps = layer_norm_eps(vit.style);
  norm1 = register_module("norm1", torch::nn::LayerNorm(
                                       torch::nn::LayerNormOptions({dim}).eps(eps)));
  attn = register_module("attn", ViTAttention(dim, spec.heads, vit.qkv_bias));
  norm2 = register_module("norm2", torch::nn::LayerNorm(
                                       torch::nn::LayerNormOptions({dim}).eps(eps)));
  mlp = register_module("mlp", Mlp(dim, spec.mlp_hidden, spec.act));
}

torch::Tensor ViTLayerImpl::forward(const torch::Tensor& x) {
  const bool train = is_training();
  auto t = x + drop_path(attn(norm1(x)), drop_path_, train);
  switch (style_) {
    case LayerStyle::DeiT:
      return t + drop_path(mlp(norm2(t)), drop_path_, train);
    case LayerStyle::CCT:
      t = norm2(t);  // CCT normalises the residual stream itself before the MLP
      return t + drop_path(mlp(t), drop_path_, train);
  }
  throw std::logic_error("ViTLayer: unhandled style");
}

ViTImpl::ViTImpl(const ArchSpec& spec, const ModelOptions& options) : ClassifierImpl(spec) {
  const ViTSpec& v = spec.vit;
  const int64_t D = v.embed_dim, p = v.patch_size;
  const int64_t patches = (spec.img_size / p) * (spec.img_size / p);
  auto patch_embed = register_module("patch_embed", std::make_shared<torch::nn::Module>());
  patch_proj = patch_embed->register_module(
      "proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(spec.in_chans, D, p).stride(p)));
  torch::NoGradGuard no_grad;
  if (v.cls_token) cls_token = register_parameter("cls_token", torch::zeros({1, 1, D}));
  pos_embed = register_parameter(
      "pos_embed", torch::randn({1, patches + (v.cls_token ? 1 : 0), D}) * 0.02);
  blocks = register_module("blocks", torch::nn::ModuleList());
  const size_t L = v.layers.size();
  for (size_t i = 0; i < L; ++i) {
    const double rate = L > 1 ? options.drop_path * double(i) / double(L - 1) : options.drop_path;
    blocks->push_back(ViTLayer(D, v.layers[i], v, rate));
  }
  norm = register_module(
      "norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({D}).eps(layer_norm_eps(v.style))));
  head = register_module("head", torch::nn::Linear(D, spec.num_classes));
  if (spec.distillation) head_dist = register_module("head_dist", torch::nn::Linear(D, spec.num_classes));
}

torch::Tensor ViTImpl::forward_features(const torch::Tensor& x) {
  auto t = patch_proj(x).flatten(2).transpose(1, 2);  // (B, N, D)
  if (cls_token.defined()) t = torch::cat({cls_token.expand({t.size(0), -1, -1}), t}, 1);
  t = t + pos_embed;  // (B, T, D)
  for (auto& layer : *blocks) t = layer->as<ViTLayer>()->forward(t);
  return norm(t);
}

std::pair<torch::Tensor, torch::Tensor> ViTImpl::forward_heads(const torch::Tensor& features) {
  auto pooled = cls_token.defined() ? features.select(1, 0) : features.mean(1);  // (B, D)
  return {head(pooled), head_dist ? head_dist(pooled) : torch::Tensor()};
}

}  // namespace vitnas
