#include "models/fused_efficientvit.h"

#include <torch/torch.h>

#include "core/arch_walk.h"
#include "models/cascaded_group_attention.h"
#include "models/ffn.h"
#include "models/fused_ops.h"
#include "models/module_index.h"
#include "models/patch_merging.h"
#include "models/residual.h"

namespace vitnas {

namespace {

using torch::Tensor;

fused::Pointwise pointwise(const FusedConv& f) { return fused::pointwise(f.weight, f.bias); }

fused::WindowAttentionResidual window_attention_residual(LocalWindowAttentionImpl& lwa) {
  auto& cga = *lwa.attn;
  const int64_t N = cga.window() * cga.window();
  fused::WindowAttentionResidual r;
  r.cascade = cga.spec().cascade;
  r.window = lwa.window();
  for (size_t i = 0; i < cga.spec().heads.size(); ++i) {
    const HeadSpec& hs = cga.spec().heads[i];
    fused::AttentionHead h;
    h.qkv = pointwise(cga.qkvs[i]->as<Conv2dBN>()->fuse());
    h.q_dw = fused::depthwise(cga.dws[i]->as<Conv2dBN>()->fuse(), 1.0 / std::sqrt(double(hs.key_dim)));
    h.bias = cga.head_bias(int64_t(i)).reshape({N, N}).contiguous();
    h.key_dim = hs.key_dim;
    h.v_dim = hs.v_dim;
    h.kind = hs.kind;
    r.heads.push_back(h);
  }
  r.proj = pointwise(cga.proj[1]->as<Conv2dBN>()->fuse());
  return r;
}

fused::PatchMergingStep patch_merging_step(PatchMergingImpl& pm) {
  return {pointwise(pm.conv1->fuse()), fused::pointwise(pm.se->fc1->weight, pm.se->fc1->bias),
          fused::pointwise(pm.se->fc2->weight, pm.se->fc2->bias), pointwise(pm.conv3->fuse()),
          fused::depthwise(pm.conv2->fuse())};
}

// Walks the spec and fuses the module each part names (arch_walk.h's module paths).
class Fuser : public ArchVisitor {
 public:
  Fuser(EfficientViTImpl& model, std::vector<FusedEfficientViT::Step>& steps)
      : model_(model), steps_(steps), modules_(model) {}

  void stem(const Row& row, const StemPart& s) override {
    std::vector<FusedConv> convs;
    for (size_t i = 0; i < s.widths->size(); ++i)  // children 0, 2, 4, ...: ReLU between
      convs.push_back(at<Conv2dBNImpl>(row.name() + "." + std::to_string(2 * i)).fuse());
    add(row.name(), fused::stem(std::move(convs)));
  }

  // A residual 3x3 depthwise conv x + dw(x) is one conv with 1 added at its kernel's centre.
  void dw(const Row& row, const DWPart& p) override {
    const std::string path = module_path(row, p);
    add(path, fused::residual_depthwise(inner<Conv2dBNImpl>(path).fuse()));
  }

  void ffn(const Row& row, const FFNPart& p) override {
    const std::string path = module_path(row, p);
    FFNImpl& f = inner<FFNImpl>(path);
    add(path, fused::FFNResidual{pointwise(f.pw1->fuse()), pointwise(f.pw2->fuse())});
  }

  void attention(const Row& row, const AttentionPart& p) override {
    const std::string path = module_path(row, p);
    add(path, window_attention_residual(inner<LocalWindowAttentionImpl>(path)));
  }

  void patch_merging(const Row& row, const PatchMergingPart&) override {
    add(row.name(), patch_merging_step(at<PatchMergingImpl>(row.name())));
  }

  // Mean pool, then BN1d + Linear folded; a distillation head is averaged in exactly
  // ((W1 x + b1) + (W2 x + b2)) / 2 == ((W1 + W2) / 2) x + (b1 + b2) / 2.
  void head(const Row& row, const HeadPart&) override {
    auto [w, b] = model_.head->fuse();
    if (model_.head_dist) {
      auto [wd, bd] = model_.head_dist->fuse();
      w = (w + wd) / 2;
      b = (b + bd) / 2;
    }
    add(row.name(), fused::Head{fused::pointwise(w, b)});
  }

 private:
  template <typename M>
  M& at(const std::string& path) { return modules_.at<M>(path); }
  template <typename M>
  M& inner(const std::string& path) { return modules_.inner<M>(path); }

  void add(std::string name, FusedEfficientViT::Op op) {
    steps_.push_back({std::move(name), std::move(op)});
  }

  EfficientViTImpl& model_;
  std::vector<FusedEfficientViT::Step>& steps_;
  ModuleIndex modules_;
};

}  // namespace

FusedEfficientViT::FusedEfficientViT(EfficientViTImpl& model) {
  torch::NoGradGuard no_grad;
  Fuser fuser(model, steps_);
  walk(model.spec(), fuser);
}

Tensor FusedEfficientViT::forward(const Tensor& images) const {
  torch::NoGradGuard no_grad;
  Tensor x = images;
  for (const auto& step : steps_) x = step.run(x);
  return x;
}

}  // namespace vitnas
