#include "train/schedule.h"

#include <cmath>

#include <torch/torch.h>

#include "core/error.h"

namespace vitnas {

LrSchedule::LrSchedule(const LrScheduleOptions& o) : options_(o) {
  require(o.lr >= 0 && o.min_lr >= 0 && o.warmup_lr >= 0,
          "lr schedule: lr, min_lr and warmup_lr must be >= 0");
  require(o.total_steps > 0, "lr schedule: total_steps must be > 0, got " +
                                 std::to_string(o.total_steps));
  require(o.warmup_steps >= 0 && o.warmup_steps < o.total_steps,
          "lr schedule: warmup_steps must be in [0, total_steps), got " +
              std::to_string(o.warmup_steps) + " of " + std::to_string(o.total_steps));
}

double LrSchedule::lr_at(int64_t step) const {
  const auto& o = options_;
  const double t = static_cast<double>(std::max<int64_t>(step, 0));
  if (step < o.warmup_steps)
    return o.warmup_lr + t * (o.lr - o.warmup_lr) / static_cast<double>(o.warmup_steps);
  if (step >= o.total_steps) return o.min_lr;
  const double progress = t / static_cast<double>(o.total_steps);
  return o.min_lr + 0.5 * (o.lr - o.min_lr) * (1.0 + std::cos(M_PI * progress));
}

void LrSchedule::apply(torch::optim::Optimizer& optimizer, int64_t step,
                       const std::vector<double>& lr_scales) const {
  auto& groups = optimizer.param_groups();
  require(lr_scales.empty() || lr_scales.size() == groups.size(),
          "lr schedule: " + std::to_string(lr_scales.size()) + " lr scales for " +
              std::to_string(groups.size()) + " parameter groups");
  const double lr = lr_at(step);
  for (size_t i = 0; i < groups.size(); ++i)
    groups[i].options().set_lr(lr * (lr_scales.empty() ? 1.0 : lr_scales[i]));
}

}  // namespace vitnas
