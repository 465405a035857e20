#include "train/trainer.h"

#include <stdexcept>

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include "core/error.h"
#include "models/classifier.h"
#include "models/weights.h"
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

// The model as the optimizer must find it: on its device, float32, training.
std::shared_ptr<torch::nn::Module> prepared(std::shared_ptr<torch::nn::Module> model,
                                            const TrainerOptions& o) {
  require(model != nullptr, "Trainer: no model");
  require(!o.amp || o.device.is_cuda(), "--amp: mixed precision needs --device cuda");
  move_to(*model, o.device, torch::kFloat32);
  model->train();
  return model;
}

}  // namespace

Trainer::Trainer(std::shared_ptr<torch::nn::Module> model, const TrainerOptions& options,
                 ProcessGroup& group, std::shared_ptr<torch::nn::Module> ema_copy)
    : options_(options),
      group_(group),
      model_(prepared(std::move(model), options)),
      optimizer_(split_weight_decay(model_->named_parameters()), options.adamw),
      schedule_(options.schedule) {
  {
    torch::NoGradGuard no_grad;
    auto params = optimizer_.flat_params();
    group_.broadcast_(params);  // the same start on every rank, whatever each initialised
  }
  require((options.ema_decay > 0) == (ema_copy != nullptr),
          options.ema_decay > 0 ? "Trainer: an EMA decay needs a copy of the model for the EMA"
                                : "Trainer: an EMA copy was given but the EMA decay is 0");
  if (ema_copy) ema_.emplace(*model_, std::move(ema_copy), options.ema_decay);
  if (options.amp) loss_scale_ = kInitialLossScale;
}

void Trainer::begin_epoch(int64_t epoch) {
  // A large odd multiplier keeps (seed, rank, epoch) triples apart.
  const uint64_t mix = 0x9E3779B97F4A7C15ull;
  torch::manual_seed(options_.seed * mix + static_cast<uint64_t>(group_.rank()) * 1000003u +
                     static_cast<uint64_t>(epoch) + 1);
  model_->train();
}

double Trainer::accumulate(const std::function<torch::Tensor()>& forward_loss) {
  torch::Tensor loss;
  {
    AutocastGuard autocast(options_.amp);
    loss = forward_loss();
  }
  TORCH_CHECK(loss.defined() && loss.numel() == 1 && loss.is_floating_point(),
              "Trainer::accumulate: the loss must be one floating-point value");
  (options_.amp ? loss * loss_scale_ : loss).backward();
  ++accumulated_;
  return loss.item<double>();
}

ApplyResult Trainer::apply() {
  if (accumulated_ == 0)
    throw std::logic_error("Trainer::apply: no accumulate() since the last step");
  ApplyResult r;
  r.lr = schedule_.lr_at(steps());

  torch::Tensor grad = optimizer_.flat_grad();
  group_.allreduce_mean_(grad);  // DDP: every rank now holds the mean gradient
  if (group_.world_size() > 1) {
    // A parameter reached on any rank has a (partly) non-zero mean gradient: step it everywhere,
    // so the replicas stay equal.
    torch::Tensor received = optimizer_.received_grad();
    group_.allreduce_sum_(received);
    optimizer_.set_received_grad(received);
  }
  if (options_.amp) {
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
    r.grad_norm = optimizer_.clip_grad_norm(options_.clip_grad);
    optimizer_.step(r.lr);
    if (ema_) ema_->update(*model_);
  }
  optimizer_.zero_grad();
  accumulated_ = 0;
  return r;
}

Checkpoint Trainer::checkpoint() const {
  Checkpoint c;
  c.step = steps();
  c.loss_scale = loss_scale_;
  c.model = state_dict(*model_);
  if (ema_) c.ema = ema_->state();
  c.optimizer = optimizer_.state();
  return c;
}

void Trainer::restore(const Checkpoint& c, const std::string& source) {
  require(c.ema.empty() == !ema_, source + ": the checkpoint " +
                                      (ema_ ? "has no EMA weights" : "has EMA weights") +
                                      " but --ema-decay says otherwise");
  load_state_dict(*model_, c.model, source);
  if (ema_) ema_->load_state(c.ema, source);
  optimizer_.load_state(c.optimizer, source);
  require(optimizer_.steps() == c.step,
          source + ": optimizer steps " + std::to_string(optimizer_.steps()) +
              " disagree with the checkpoint's step " + std::to_string(c.step));
  loss_scale_ = c.loss_scale;
}

}  // namespace vitnas
