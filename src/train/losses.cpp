#include "train/losses.h"

#include <torch/torch.h>

#include "core/error.h"

namespace vitnas {

namespace {

std::string shape_str(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? "," : "") + std::to_string(t.size(i));
  return s + "]";
}

void require_logits(const torch::Tensor& logits, const char* what) {
  require(logits.defined() && logits.dim() == 2,
          std::string(what) + ": logits must be (batch, classes), got " +
              (logits.defined() ? shape_str(logits) : "none"));
}

}  // namespace

torch::Tensor label_smoothing_cross_entropy(const torch::Tensor& logits, const torch::Tensor& target,
                                            double smoothing) {
  require_logits(logits, "label smoothing loss");
  require(smoothing >= 0 && smoothing < 1, "label smoothing must be in [0, 1), got " +
                                               std::to_string(smoothing));
  require(target.dim() == 1 && target.size(0) == logits.size(0),
          "label smoothing loss: targets must be (batch,), got " + shape_str(target));
  const auto logp = torch::log_softmax(logits, 1);
  const auto nll = -logp.gather(1, target.to(torch::kLong).unsqueeze(1)).squeeze(1);
  const auto smooth = -logp.mean(1);
  return ((1.0 - smoothing) * nll + smoothing * smooth).mean();
}

torch::Tensor soft_target_cross_entropy(const torch::Tensor& logits, const torch::Tensor& target) {
  require_logits(logits, "soft target loss");
  require(target.sizes() == logits.sizes(), "soft target loss: targets " + shape_str(target) +
                                                " must match logits " + shape_str(logits));
  return (-target * torch::log_softmax(logits, 1)).sum(1).mean();
}

torch::Tensor soft_distillation_loss(const torch::Tensor& student_logits,
                                     const torch::Tensor& teacher_logits, double temperature) {
  require_logits(student_logits, "distillation loss");
  require(temperature > 0, "distillation temperature must be > 0, got " + std::to_string(temperature));
  require(teacher_logits.defined() && teacher_logits.sizes() == student_logits.sizes(),
          "distillation loss: teacher logits " +
              (teacher_logits.defined() ? shape_str(teacher_logits) : std::string("none")) +
              " must match student logits " + shape_str(student_logits));
  const auto log_s = torch::log_softmax(student_logits / temperature, 1);
  const auto log_t = torch::log_softmax(teacher_logits.detach() / temperature, 1);
  // KL(t || s) = sum_c p_t (log p_t - log p_s), in log space for stability.
  const auto kl = (log_t.exp() * (log_t - log_s)).sum(1).mean();
  return kl * (temperature * temperature);
}

DistillationLoss distillation_loss(const torch::Tensor& class_logits, const torch::Tensor& dist_logits,
                                   const torch::Tensor& teacher_logits, const torch::Tensor& target,
                                   const DistillationOptions& o, const torch::Tensor& student_tokens,
                                   const torch::Tensor& teacher_tokens) {
  require(o.alpha >= 0 && o.alpha <= 1, "distillation alpha must be in [0, 1], got " +
                                            std::to_string(o.alpha));
  require(o.beta >= 0, "distillation beta must be >= 0, got " + std::to_string(o.beta));
  DistillationLoss out;
  out.base = target.dim() == 2 ? soft_target_cross_entropy(class_logits, target)
                               : label_smoothing_cross_entropy(class_logits, target, o.smoothing);
  const auto& student = dist_logits.defined() ? dist_logits : class_logits;
  if (o.hard) {
    require(teacher_logits.defined() && teacher_logits.sizes() == student.sizes(),
            "distillation loss: teacher logits must match student logits " + shape_str(student));
    out.distill = torch::nn::functional::cross_entropy(student, teacher_logits.detach().argmax(1));
  } else {
    out.distill = soft_distillation_loss(student, teacher_logits, o.temperature);
  }
  out.total = (1.0 - o.alpha) * out.base + o.alpha * out.distill;
  if (o.beta > 0) {
    require(student_tokens.defined() && teacher_tokens.defined() &&
                student_tokens.sizes() == teacher_tokens.sizes(),
            "distillation loss: beta > 0 needs student and teacher tokens of equal shape");
    out.token = torch::mse_loss(student_tokens, teacher_tokens.detach());
    out.total = out.total + o.beta * out.token;
  }
  return out;
}

}  // namespace vitnas
