// The loss `vitnas train` minimises on a classifier: label smoothing, or DeiT's distillation from
// a teacher (plus MPCViT's token term), as the recipe says.
#pragma once

#include <torch/types.h>

#include "models/classifier.h"
#include "train/losses.h"
#include "train/train_config.h"

namespace vitnas {

class ClassifierLoss {
 public:
  // Loads the recipe's teacher, if it names one, onto `device` (float32, eval mode, frozen).
  // InputError for a teacher that cannot teach recipe.arch (input size, channels, classes).
  ClassifierLoss(const TrainRecipe& recipe, torch::Device device);

  struct Output {
    torch::Tensor loss;          // 0-D, what to call backward() on
    torch::Tensor class_logits;  // (B, classes) of the class head, for accuracy
  };
  // Without a teacher: label smoothing on the class head; a model with a distillation head
  // learns the labels through both heads, with equal weight. With a teacher:
  // distillation_loss (losses.h) on the heads, the teacher's eval output, and, with a token
  // weight, both networks' final tokens. Logits are taken in float32 (under AMP autocast the
  // forward may be float16).
  Output operator()(ClassifierImpl& model, const torch::Tensor& images,
                    const torch::Tensor& labels) const;

 private:
  double smoothing_;
  DistillationOptions distill_;
  Classifier teacher_;  // null without a teacher
};

}  // namespace vitnas
