#include "models/fused_efficientvit.h"

#include <torch/torch.h>

#include "models/cascaded_group_attention.h"
#include "models/ffn.h"
#include "models/fused_ops.h"
#include "models/patch_merging.h"
#include "models/residual.h"

namespace vitnas {

namespace {

using torch::Tensor;

fused::Pointwise pointwise(const FusedConv& f) { return fused::pointwise(f.weight, f.bias); }

fused::FFNResidual ffn_residual(FFNImpl& f) {
  return {pointwise(f.pw1->fuse()), pointwise(f.pw2->fuse())};
}

fused::WindowAttentionResidual window_attention_residual(LocalWindowAttentionImpl& lwa) {
  auto& cga = *lwa.attn;
  const int64_t R = cga.window(), N = R * R;
  torch::NoGradGuard no_grad;
  auto biases = cga.attention_biases.index({torch::indexing::Slice(), cga.attention_bias_idxs});
  fused::WindowAttentionResidual r;
  r.cascade = cga.spec().cascade;
  r.window = R;
  for (size_t i = 0; i < cga.spec().heads.size(); ++i) {
    const HeadSpec& hs = cga.spec().heads[i];
    fused::AttentionHead h;
    h.qkv = pointwise(cga.qkvs[i]->as<Conv2dBN>()->fuse());
    h.q_dw = fused::depthwise(cga.dws[i]->as<Conv2dBN>()->fuse(), 1.0 / std::sqrt(double(hs.key_dim)));
    h.bias = biases[int64_t(i)].reshape({N, N}).contiguous();
    h.key_dim = hs.key_dim;
    h.v_dim = hs.v_dim;
    h.kind = hs.kind;
    r.heads.push_back(h);
  }
  r.proj = pointwise(cga.proj[1]->as<Conv2dBN>()->fuse());
  return r;
}

fused::PatchMergingStep patch_merging(PatchMergingImpl& pm) {
  torch::NoGradGuard no_grad;
  return {pointwise(pm.conv1->fuse()), fused::pointwise(pm.se->fc1->weight, pm.se->fc1->bias),
          fused::pointwise(pm.se->fc2->weight, pm.se->fc2->bias), pointwise(pm.conv3->fuse()),
          fused::depthwise(pm.conv2->fuse())};
}

// Wraps a fused op (a copyable functor) as a step.
template <typename Op>
std::function<Tensor(const Tensor&)> step(Op op) {
  return [op = std::move(op)](const Tensor& x) { return op(x); };
}

// Turns one residual part of a block or subsample into a step.
std::function<Tensor(const Tensor&)> residual_step(const ResidualImpl& res) {
  const auto& inner = res.inner();
  if (auto* conv = inner.ptr()->as<Conv2dBNImpl>()) return step(fused::residual_depthwise(conv->fuse()));
  if (auto* ffn = inner.ptr()->as<FFNImpl>()) return step(ffn_residual(*ffn));
  if (auto* lwa = inner.ptr()->as<LocalWindowAttentionImpl>()) return step(window_attention_residual(*lwa));
  throw std::logic_error("fuse: unknown residual part " + inner.ptr()->name());
}

}  // namespace

FusedEfficientViT::FusedEfficientViT(EfficientViTImpl& model) {
  torch::NoGradGuard no_grad;

  fused::Stem stem;
  for (const auto& child : model.patch_embed->children())
    if (auto* c = child->as<Conv2dBNImpl>()) stem.convs.push_back(c->fuse());
  steps_.push_back({"patch_embed", step(stem)});

  for (size_t k = 0; k < model.stages.size(); ++k) {
    const std::string stage_name = "blocks" + std::to_string(k + 1);
    const auto& children = model.stages[k]->named_children();
    for (const auto& child : children) {
      const std::string name = stage_name + "." + child.key();
      auto* m = child.value().get();
      if (auto* block = m->as<EfficientViTBlockImpl>()) {
        for (const auto& [part, any] : block->parts())
          steps_.push_back({name + "." + part, residual_step(*any.ptr()->as<ResidualImpl>())});
      } else if (auto* pm = m->as<PatchMergingImpl>()) {
        steps_.push_back({name, step(patch_merging(*pm))});
      } else if (auto* chain = m->as<ChainImpl>()) {  // subsample DW + FFN pairs
        for (const auto& sub : chain->named_children())
          steps_.push_back({name + "." + sub.key(), residual_step(*sub.value()->as<ResidualImpl>())});
      }
      // torch::nn::Identity (an empty subsample side or stage) adds no step.
    }
  }

  // Head: mean pool, then BN1d + Linear folded; a distillation head is averaged in exactly
  // ((W1 x + b1) + (W2 x + b2)) / 2 == ((W1 + W2) / 2) x + (b1 + b2) / 2.
  auto [w, b] = model.head->fuse();
  if (model.head_dist) {
    auto [wd, bd] = model.head_dist->fuse();
    w = (w + wd) / 2;
    b = (b + bd) / 2;
  }
  steps_.push_back({"head", step(fused::Head{fused::pointwise(w, b)})});
}

Tensor FusedEfficientViT::forward(const Tensor& images) const {
  torch::NoGradGuard no_grad;
  Tensor x = images;
  for (const auto& step : steps_) x = step.run(x);
  return x;
}

}  // namespace vitnas
