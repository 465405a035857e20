// Learning rate per optimizer step: timm's CosineLRScheduler with per-step updates
// (t_in_epochs=False, warmup_prefix=False, one cycle), the DeiT / EfficientViT recipe.
// A pure function of the step, so a resumed run needs only the step count.
#pragma once

#include <cstdint>
#include <vector>

namespace torch::optim {
class Optimizer;
}

namespace vitnas {

struct LrScheduleOptions {
  double lr = 1e-3;           // peak (base) learning rate
  double min_lr = 1e-5;       // where the cosine ends
  double warmup_lr = 1e-6;    // learning rate at step 0
  int64_t warmup_steps = 0;   // linear warm-up length
  int64_t total_steps = 1;    // cosine length, counted from step 0 (warm-up included)
};

// With W = warmup_steps, T = total_steps, t = step:
//   t <  W:      lr(t) = warmup_lr + t * (lr - warmup_lr) / W
//   W <= t < T:  lr(t) = min_lr + 0.5 * (lr - min_lr) * (1 + cos(pi * t / T))
//   t >= T:      lr(t) = min_lr
// As in timm (warmup_prefix=False) the cosine is evaluated at the absolute step, so warm-up
// overwrites its first W steps: warm-up never quite reaches `lr`, and the cosine takes over at
// cos(pi * W / T) rather than at 1.
class LrSchedule {
 public:
  // InputError unless lr, min_lr, warmup_lr >= 0, 0 <= warmup_steps < total_steps.
  explicit LrSchedule(const LrScheduleOptions& options);

  double lr_at(int64_t step) const;  // step < 0 is treated as 0

  // Sets every param group's lr to lr_at(step) * lr_scales[i] (lr_scales empty: scale 1;
  // otherwise one entry per group, InputError if not), e.g. for layer-wise lr decay.
  // The trainer calls this before each optimizer.step(); gradient clipping, when configured,
  // is torch::nn::utils::clip_grad_norm_(model->parameters(), max_norm) between backward()
  // and step().
  void apply(torch::optim::Optimizer& optimizer, int64_t step,
             const std::vector<double>& lr_scales = {}) const;

  const LrScheduleOptions& options() const { return options_; }

 private:
  LrScheduleOptions options_;
};

}  // namespace vitnas
