#include "train/trainer.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include "core/error.h"
#include "models/weights.h"
#include "train/metrics.h"
#include "train/param_groups.h"

namespace vitnas {

namespace {

// torch.cuda.amp.autocast(): float16 inside the forward, float32 outside.
class AutocastGuard {
 public:
  explicit AutocastGuard(bool enabled) : enabled_(enabled) {
    if (enabled_) at::autocast::set_enabled(true);
  }
  ~AutocastGuard() {
    if (!enabled_) return;
    at::autocast::set_enabled(false);
    at::autocast::clear_cache();
  }

 private:
  bool enabled_;
};

// torch.cuda.amp.GradScaler's defaults.
constexpr double kInitialLossScale = 65536.0, kScaleGrowth = 2.0, kScaleBackoff = 0.5;
constexpr int64_t kScaleGrowthInterval = 2000;

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

Trainer::Trainer(const TrainRecipe& recipe, const TrainRuntime& runtime, ProcessGroup& group,
                 int64_t steps_per_epoch)
    : recipe_(recipe),
      group_(group),
      device_(runtime.device),
      schedule_(LrScheduleOptions{
          recipe.lr, recipe.min_lr, recipe.warmup_lr,
          static_cast<int64_t>(recipe.warmup_epochs * static_cast<double>(steps_per_epoch)),
          recipe.epochs * steps_per_epoch}),
      distill_{recipe.distill_alpha, recipe.distill_temperature, recipe.distill_hard,
               recipe.distill_token_beta, recipe.smoothing},
      amp_(recipe.amp) {
  require(!amp_ || device_.is_cuda(), "--amp: mixed precision needs --device cuda");
  torch::manual_seed(recipe.seed);  // the same initialisation on every rank
  model_ = build_model(recipe.arch, ModelOptions{recipe.drop_path});
  move_to(*model_, device_, torch::kFloat32);
  model_->train();
  optimizer_ = std::make_unique<FlatAdamW>(
      split_weight_decay(model_->named_parameters()),
      FlatAdamWOptions{recipe.lr, 0.9, 0.999, 1e-8, recipe.weight_decay});
  {
    torch::NoGradGuard no_grad;
    auto params = optimizer_->flat_params();
    group_.broadcast_(params);
  }
  if (recipe.ema_decay > 0) ema_.emplace(*model_, recipe.ema_decay);
  if (!recipe.teacher.empty()) teacher_ = load_teacher(recipe, device_);
  if (amp_) loss_scale_ = kInitialLossScale;
}

void Trainer::begin_epoch(int64_t epoch) {
  // A large odd multiplier keeps (seed, rank, epoch) triples apart.
  const uint64_t mix = 0x9E3779B97F4A7C15ull;
  torch::manual_seed(recipe_.seed * mix + static_cast<uint64_t>(group_.rank()) * 1000003u +
                     static_cast<uint64_t>(epoch) + 1);
  model_->train();
}

torch::Tensor Trainer::loss(const torch::Tensor& images, const torch::Tensor& labels,
                            torch::Tensor& class_logits) {
  AutocastGuard autocast(amp_);
  torch::Tensor features = model_->forward_features(images);  // (B, C, h, w) or (B, T, D)
  auto [cls, dist] = model_->forward_heads(features);         // (B, classes) each
  class_logits = cls;
  if (!teacher_) {
    // A distillation head without a teacher learns the labels too (both heads, equal weight).
    torch::Tensor base = label_smoothing_cross_entropy(cls.to(torch::kFloat32), labels,
                                                       recipe_.smoothing);
    if (!dist.defined()) return base;
    return 0.5 * (base + label_smoothing_cross_entropy(dist.to(torch::kFloat32), labels,
                                                       recipe_.smoothing));
  }
  torch::Tensor teacher_logits, teacher_tokens;
  {
    torch::NoGradGuard no_grad;
    teacher_tokens = teacher_->forward_features(images);
    teacher_logits = teacher_->forward_head(teacher_tokens);  // eval: the heads' mean
  }
  const bool tokens = distill_.beta > 0;
  return distillation_loss(cls.to(torch::kFloat32),
                           dist.defined() ? dist.to(torch::kFloat32) : dist,
                           teacher_logits.to(torch::kFloat32), labels, distill_,
                           tokens ? features.to(torch::kFloat32) : torch::Tensor(),
                           tokens ? teacher_tokens.to(torch::kFloat32) : torch::Tensor())
      .total;
}

StepResult Trainer::step(const torch::Tensor& images_in, const torch::Tensor& labels_in) {
  const torch::Tensor images = images_in.to(device_, /*non_blocking=*/true);
  const torch::Tensor labels = labels_in.to(device_, /*non_blocking=*/true);
  StepResult r;
  r.images = images.size(0);
  r.lr = schedule_.lr_at(steps());

  optimizer_->zero_grad();
  torch::Tensor class_logits;
  torch::Tensor total = loss(images, labels, class_logits);
  (amp_ ? total * loss_scale_ : total).backward();

  torch::Tensor grad = optimizer_->flat_grad();
  group_.allreduce_mean_(grad);  // DDP: every rank now holds the mean gradient
  if (amp_) {
    // GradScaler: unscale, skip the step on inf/nan and back off, grow after a clean streak.
    grad.div_(loss_scale_);
    if (!grad.isfinite().all().item<bool>()) {
      loss_scale_ *= kScaleBackoff;
      good_steps_ = 0;
      r.skipped = true;
    } else if (++good_steps_ % kScaleGrowthInterval == 0) {
      loss_scale_ *= kScaleGrowth;
    }
  }
  if (!r.skipped) {
    optimizer_->clip_grad_norm(recipe_.clip_grad);
    optimizer_->step(r.lr);
    if (ema_) ema_->update(*model_);
  }
  r.loss = total.item<double>();
  r.correct = topk_correct(class_logits.detach(), labels, {1})[0];
  return r;
}

Checkpoint Trainer::checkpoint() const {
  Checkpoint c;
  c.step = steps();
  c.loss_scale = loss_scale_;
  c.model = state_dict(*model_);
  if (ema_) c.ema = ema_->state();
  c.optimizer = optimizer_->state();
  return c;
}

void Trainer::restore(const Checkpoint& c, const std::string& source) {
  require(c.ema.empty() == !ema_, source + ": the checkpoint " +
                                      (ema_ ? "has no EMA weights" : "has EMA weights") +
                                      " but --ema-decay says otherwise");
  load_state_dict(*model_, c.model, source);
  if (ema_) ema_->load_state(c.ema, source);
  optimizer_->load_state(c.optimizer, source);
  require(optimizer_->steps() == c.step,
          source + ": optimizer steps " + std::to_string(optimizer_->steps()) +
              " disagree with the checkpoint's step " + std::to_string(c.step));
  loss_scale_ = c.loss_scale;
}

}  // namespace vitnas
