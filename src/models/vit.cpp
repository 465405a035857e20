#include "models/vit.h"

#include <cmath>

#include <torch/torch.h>

#include "core/arch_walk.h"
#include "models/attention_ops.h"
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

}  // namespace

ViTAttentionImpl::ViTAttentionImpl(int64_t dim, const std::vector<ViTHeadSpec>& heads,
                                   bool qkv_bias)
    : heads_(heads), uniform_widths_(true), uniform_(true) {
  for (const auto& h : heads) {
    uniform_widths_ = uniform_widths_ && h.qk_dim == heads[0].qk_dim && h.v_dim == heads[0].v_dim;
    uniform_ = uniform_ && h.kind == heads[0].kind;
  }
  uniform_ = uniform_ && uniform_widths_;
  const int64_t qk = sum_of(heads, &ViTHeadSpec::qk_dim), v = sum_of(heads, &ViTHeadSpec::v_dim);
  qkv = register_module("qkv",
                        torch::nn::Linear(torch::nn::LinearOptions(dim, 2 * qk + v).bias(qkv_bias)));
  proj = register_module("proj", torch::nn::Linear(v, dim));
}

torch::Tensor ViTAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t B = x.size(0), T = x.size(1), H = int64_t(heads_.size());
  const int64_t qk = sum_of(heads_, &ViTHeadSpec::qk_dim), vd = sum_of(heads_, &ViTHeadSpec::v_dim);
  auto parts = qkv(x).split_with_sizes({qk, qk, vd}, -1);  // (B, T, qk) x2, (B, T, v)
  const bool search = alpha.defined();
  if (search ? uniform_widths_ : uniform_) {  // every head alike: one batched matmul over the heads
    const int64_t dq = heads_[0].qk_dim, dv = heads_[0].v_dim;
    const double scale = 1.0 / std::sqrt(double(dq));
    auto q = parts[0].view({B, T, H, dq}).transpose(1, 2);  // (B, H, T, dq)
    auto k = parts[1].view({B, T, H, dq}).transpose(1, 2);
    auto v = parts[2].view({B, T, H, dv}).transpose(1, 2);  // (B, H, T, dv)
    auto out = search ? attend_search(q, k, v, {}, alpha.view({H, 1, 1}),
                                      gamma.defined() ? gamma.view({H, 1, 1}) : gamma, scale)
                      : attend(q, k, v, {}, heads_[0].kind, scale);  // (B, H, T, dv)
    return proj(out.transpose(1, 2).reshape({B, T, H * dv}));
  }
  // Heterogeneous heads (widths or kinds): one head at a time.
  std::vector<torch::Tensor> outs;
  int64_t oq = 0, ov = 0;
  for (const auto& h : heads_) {
    auto q = parts[0].narrow(-1, oq, h.qk_dim), k = parts[1].narrow(-1, oq, h.qk_dim);
    auto v = parts[2].narrow(-1, ov, h.v_dim);
    const double scale = 1.0 / std::sqrt(double(h.qk_dim));
    const int64_t i = int64_t(outs.size());
    outs.push_back(search ? attend_search(q, k, v, {}, alpha[i],
                                          gamma.defined() ? gamma[i] : gamma, scale)
                          : attend(q, k, v, {}, h.kind, scale));  // (B, T, v)
    oq += h.qk_dim;
    ov += h.v_dim;
  }
  return proj(torch::cat(outs, -1));
}

void ViTAttentionImpl::enable_kind_search(bool softmax_candidates) {
  const auto options = qkv->weight.options();
  if (!alpha.defined()) alpha = register_parameter("alpha", torch::ones({int64_t(heads_.size())}, options));
  if (softmax_candidates && !gamma.defined())
    gamma = register_parameter("gamma", torch::zeros({int64_t(heads_.size())}, options));
}

MlpImpl::MlpImpl(int64_t dim, int64_t hidden, Activation act) : act_(act) {
  fc1 = register_module("fc1", torch::nn::Linear(dim, hidden));
  fc2 = register_module("fc2", torch::nn::Linear(hidden, dim));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  if (folded) return folded(x);
  const auto h = fc1(x);
  torch::Tensor a;
  switch (act_) {
    case Activation::GELU: a = torch::gelu(h); break;
    case Activation::ReLU: a = torch::relu(h); break;
    case Activation::Identity: a = h; break;  // MPCViT+: fold_linear() makes the two linears one
  }
  if (beta.defined()) a = beta * a + (1 - beta) * h;
  return fc2(a);
}

bool MlpImpl::enable_linearisation_search() {
  if (act_ == Activation::Identity) return false;
  if (!beta.defined()) beta = register_parameter("beta", torch::ones({1}, fc1->weight.options()));
  return true;
}

bool MlpImpl::fold_linear() {
  const int64_t dim = fc1->weight.size(1), hidden = fc1->weight.size(0);
  if (act_ != Activation::Identity || dim >= 2 * hidden) return false;
  torch::NoGradGuard no_grad;
  // Folded in float64: the product's rounding then stays below the float32 forward's.
  const auto w1 = fc1->weight.to(torch::kDouble), w2 = fc2->weight.to(torch::kDouble);
  auto linear = torch::nn::Linear(dim, fc2->weight.size(0));
  linear->weight.copy_(torch::matmul(w2, w1));                                   // (dim, dim)
  linear->bias.copy_(torch::matmul(w2, fc1->bias.to(torch::kDouble)) + fc2->bias);  // (dim)
  linear->to(fc1->weight.device());
  linear->eval();
  folded = linear;  // not registered: the state dict keeps fc1 and fc2
  return true;
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

namespace {

// Builds the module tree part by part (timm's names).
class ViTBuilder : public ArchVisitor {
 public:
  ViTBuilder(ViTImpl& model, const ArchSpec& spec, double drop_path)
      : m_(model), vit_(spec.vit), drop_path_(drop_path) {}

  void patch_embed(const Row&, const PatchEmbedPart& p) override {
    auto patch_embed = m_.register_module("patch_embed", std::make_shared<torch::nn::Module>());
    m_.patch_proj = patch_embed->register_module(
        "proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(p.in_chans, p.dim, p.patch).stride(p.patch)));
    torch::NoGradGuard no_grad;
    if (p.cls_token) m_.cls_token = m_.register_parameter("cls_token", torch::zeros({1, 1, p.dim}));
    m_.pos_embed = m_.register_parameter("pos_embed", torch::randn({1, p.tokens, p.dim}) * 0.02);
    m_.blocks = m_.register_module("blocks", torch::nn::ModuleList());
  }

  // Stochastic depth grows linearly over the layers.
  void vit_layer(const Row& row, const ViTLayerPart& l) override {
    const size_t L = vit_.layers.size();
    const double rate = L > 1 ? drop_path_ * double(row.position) / double(L - 1) : drop_path_;
    m_.blocks->push_back(ViTLayer(l.dim, *l.layer, vit_, rate));
  }

  void head(const Row&, const HeadPart& h) override {
    m_.norm = m_.register_module(
        "norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({h.dim}).eps(layer_norm_eps(vit_.style))));
    m_.head = m_.register_module("head", torch::nn::Linear(h.dim, h.classes));
    if (h.distillation) m_.head_dist = m_.register_module("head_dist", torch::nn::Linear(h.dim, h.classes));
  }

 private:
  ViTImpl& m_;
  const ViTSpec& vit_;
  double drop_path_;
};

}  // namespace

ViTImpl::ViTImpl(const ArchSpec& spec, const ModelOptions& options) : ClassifierImpl(spec) {
  ViTBuilder builder(*this, spec, options.drop_path);
  walk(spec, builder);
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
