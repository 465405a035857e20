#include "models/inference.h"

#include <torch/torch.h>

#include "models/conv2d_bn.h"
#include "models/fused_efficientvit.h"
#include "models/vit.h"
#include "models/weights.h"

namespace vitnas {

namespace {

// Eval-mode module behind the InferenceNet interface (ViT, and the unfused baseline).
class EvalModule : public InferenceNet {
 public:
  explicit EvalModule(Classifier model) : model_(std::move(model)) { model_->eval(); }
  torch::Tensor forward(const torch::Tensor& images) const override {
    torch::NoGradGuard no_grad;
    return model_->forward(images);
  }

 private:
  Classifier model_;
};

// A fresh model of the same spec holding a copy of the weights (the original stays untouched).
Classifier copy_of(const ClassifierImpl& model) {
  auto copy = build_model(model.spec());
  load_state_dict(*copy, state_dict(model), "copy of " + model.spec().name);
  return copy;
}

}  // namespace

std::unique_ptr<InferenceNet> fuse(ClassifierImpl& model) {
  switch (model.spec().family) {
    case Family::EfficientViT:
      return std::make_unique<FusedEfficientViT>(dynamic_cast<EfficientViTImpl&>(model));
    case Family::ViT: {
      // LayerNorm depends on its input and does not fold; a linearised MLP (MPCViT+, act
      // identity) folds into one linear.
      auto copy = copy_of(model);
      for (auto& m : copy->modules())
        if (auto* mlp = m->as<MlpImpl>()) mlp->fold_linear();
      return std::make_unique<EvalModule>(copy);
    }
  }
  throw std::logic_error("fuse: unhandled family");
}

// Puts the model itself in eval mode (it is the baseline, not a copy).
std::unique_ptr<InferenceNet> unfused(const Classifier& model) {
  return std::make_unique<EvalModule>(model);
}

std::unique_ptr<InferenceNet> official_fused(const ClassifierImpl& model) {
  auto copy = copy_of(model);
  copy->eval();
  for (auto& m : copy->modules()) {
    if (auto* c = m->as<Conv2dBNImpl>()) c->fold_batchnorm();
    if (auto* l = m->as<BNLinearImpl>()) l->fold_batchnorm();
  }
  return std::make_unique<EvalModule>(copy);
}

}  // namespace vitnas
