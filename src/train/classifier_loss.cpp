#include "train/classifier_loss.h"

#include <torch/torch.h>

#include "core/error.h"
#include "models/weights.h"

namespace vitnas {

namespace {

Classifier load_teacher(const TrainRecipe& r, torch::Device device) {
  ArchSpec spec = load_arch(r.teacher);
  require(spec.img_size == r.arch.img_size && spec.in_chans == r.arch.in_chans,
          "--teacher " + r.teacher + ": takes " + std::to_string(spec.in_chans) + "x" +
              std::to_string(spec.img_size) + " inputs, the student " +
              std::to_string(r.arch.in_chans) + "x" + std::to_string(r.arch.img_size));
  require(spec.num_classes == r.arch.num_classes,
          "--teacher " + r.teacher + ": predicts " + std::to_string(spec.num_classes) +
              " classes, the student " + std::to_string(r.arch.num_classes));
  Classifier teacher = build_model(spec);
  load_weights(*teacher, r.teacher_weights);
  teacher->eval();
  move_to(*teacher, device, torch::kFloat32);
  for (auto& p : teacher->parameters()) p.set_requires_grad(false);
  return teacher;
}

}  // namespace

ClassifierLoss::ClassifierLoss(const TrainRecipe& recipe, torch::Device device)
    : smoothing_(recipe.smoothing),
      distill_{recipe.distill_alpha, recipe.distill_temperature, recipe.distill_hard,
               recipe.distill_token_beta, recipe.smoothing} {
  if (!recipe.teacher.empty()) teacher_ = load_teacher(recipe, device);
}

ClassifierLoss::Output ClassifierLoss::operator()(ClassifierImpl& model,
                                                  const torch::Tensor& images,
                                                  const torch::Tensor& labels) const {
  torch::Tensor features = model.forward_features(images);  // (B, C, h, w) or (B, T, D)
  auto [cls, dist] = model.forward_heads(features);         // (B, classes) each
  if (!teacher_) {
    torch::Tensor base =
        label_smoothing_cross_entropy(cls.to(torch::kFloat32), labels, smoothing_);
    if (!dist.defined()) return {base, cls};
    return {0.5 * (base + label_smoothing_cross_entropy(dist.to(torch::kFloat32), labels,
                                                        smoothing_)),
            cls};
  }
  torch::Tensor teacher_logits, teacher_tokens;
  {
    torch::NoGradGuard no_grad;
    teacher_tokens = teacher_->forward_features(images);
    teacher_logits = teacher_->forward_head(teacher_tokens);  // eval: the heads' mean
  }
  const bool tokens = distill_.beta > 0;
  torch::Tensor total =
      distillation_loss(cls.to(torch::kFloat32), dist.defined() ? dist.to(torch::kFloat32) : dist,
                        teacher_logits.to(torch::kFloat32), labels, distill_,
                        tokens ? features.to(torch::kFloat32) : torch::Tensor(),
                        tokens ? teacher_tokens.to(torch::kFloat32) : torch::Tensor())
          .total;
  return {total, cls};
}

}  // namespace vitnas
