// The training losses of the DeiT / EfficientViT / MPCViT recipes. All return a 0-D tensor
// averaged over the batch; logits are (B, C).
#pragma once

#include <torch/types.h>

namespace vitnas {

// timm LabelSmoothingCrossEntropy: per sample (1 - eps) * (-logp[y]) + eps * mean_c(-logp[c]),
// then the batch mean. eps = 0 is plain cross-entropy. `target`: (B,) class indices.
torch::Tensor label_smoothing_cross_entropy(const torch::Tensor& logits, const torch::Tensor& target,
                                            double smoothing);

// timm SoftTargetCrossEntropy (mixup / cutmix targets): mean_b sum_c -target[b,c] * logp[b,c].
// `target`: (B, C) probabilities.
torch::Tensor soft_target_cross_entropy(const torch::Tensor& logits, const torch::Tensor& target);

// Soft distillation at temperature T (Hinton; DeiT's "soft"):
//   T^2 * (1/B) * sum_b KL(softmax(teacher_b / T) || softmax(student_b / T))
// i.e. reduction "batchmean", the true per-sample KL, so its scale does not depend on the number
// of classes. (DeiT's code uses reduction "sum" / student.numel(), which is this divided by C:
// alphas tuned for DeiT's soft mode need that factor.) The T^2 keeps gradient magnitudes
// comparable across temperatures. The teacher is detached. 0 when student == teacher.
torch::Tensor soft_distillation_loss(const torch::Tensor& student_logits,
                                     const torch::Tensor& teacher_logits, double temperature);

struct DistillationOptions {
  double alpha = 0.5;        // weight of the distillation term (DeiT: 0.5)
  double temperature = 1.0;  // soft mode only
  bool hard = false;         // DeiT "hard": CE(student, argmax teacher) instead of the soft KL
  double beta = 0.0;         // weight of the MSE between final tokens (MPCViT); 0: not computed
  double smoothing = 0.0;    // label smoothing of the base loss (class-index targets only)
};

struct DistillationLoss {
  torch::Tensor total;  // what to call backward() on
  torch::Tensor base, distill, token;  // the parts, for logs (token undefined when beta == 0)
};

// DeiT's DistillationLoss plus MPCViT's token term, spelled out:
//   base    = label_smoothing_cross_entropy(class_logits, target, smoothing) for (B,) targets,
//             soft_target_cross_entropy(class_logits, target) for (B, C) targets (mixup)
//   distill = hard ? CE(dist_logits, argmax teacher_logits)
//                  : soft_distillation_loss(dist_logits, teacher_logits, temperature)
//   token   = mse(student_tokens, teacher_tokens.detach())   (mean over all elements)
//   total   = (1 - alpha) * base + alpha * distill + beta * token
// dist_logits: the distillation head's output; pass an undefined tensor for a model without one
// (the class logits are then distilled, as DeiT does for non-distilled students). Tokens are
// only needed (and must have equal shapes, InputError otherwise) when beta > 0.
DistillationLoss distillation_loss(const torch::Tensor& class_logits, const torch::Tensor& dist_logits,
                                   const torch::Tensor& teacher_logits, const torch::Tensor& target,
                                   const DistillationOptions& options,
                                   const torch::Tensor& student_tokens = {},
                                   const torch::Tensor& teacher_tokens = {});

}  // namespace vitnas
