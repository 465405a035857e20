// The training step of any model (a classifier, a supernet, a network being pruned), in two
// halves so that a step may run several forward/backward passes:
//
//   trainer.accumulate([&] { return loss(model->forward(x), y); });  // gradients add up
//   trainer.apply();  // all-reduce, AMP unscale, clip, AdamW at the schedule's lr, EMA
//
// The sandwich rule is one accumulate() per subnet before one apply():
//
//   trainer.accumulate([&] { return ce(supernet->forward(x, largest), y); });
//   trainer.accumulate([&] { return kd(supernet->forward(x, smallest), teacher); });
//   trainer.accumulate([&] { return kd(supernet->forward(x, random), teacher); });
//   trainer.apply();
//
// Parameters that no pass of the step reached (on any rank) are not moved by apply(): no weight
// decay, no moment decay, no step count (FlatAdamW), as PyTorch's AdamW skips a None grad.
// ClassifierTrainer (classifier_trainer.h) is this for `vitnas train`'s classifiers.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <torch/nn/module.h>
#include <torch/types.h>

#include "train/checkpoint.h"
#include "train/distributed.h"
#include "train/ema.h"
#include "train/flat_adamw.h"
#include "train/schedule.h"

namespace vitnas {

struct TrainerOptions {
  torch::Device device = torch::kCPU;
  FlatAdamWOptions adamw;      // betas, eps, weight decay (its lr is unused: the schedule's is)
  LrScheduleOptions schedule;  // lr of each optimizer step
  double clip_grad = 0.0;      // max global L2 gradient norm; 0 = off
  double ema_decay = 0.0;      // model EMA; 0 = off (> 0 needs the EMA copy, see Trainer)
  bool amp = false;            // CUDA only: float16 autocast with dynamic loss scaling
  uint64_t seed = 0;           // begin_epoch's reseeding
};

struct ApplyResult {
  double lr = 0.0;         // the learning rate of this step
  bool skipped = false;    // AMP: gradients overflowed, the step was skipped
  double grad_norm = 0.0;  // the gradients' global L2 norm before clipping (0 when skipped)
};

class Trainer {
 public:
  // Trains `model` (any module; its trainable parameters are those with requires_grad): moves it
  // to options.device in float32, puts it in train mode, builds the flat AdamW over it with
  // timm's weight-decay groups (build the model and load its weights before), and broadcasts
  // rank 0's parameters. With options.ema_decay > 0, `ema_copy` (a module of the same structure,
  // e.g. a second build of the same ArchSpec; its weights are overwritten) becomes the EMA.
  // InputError for AMP off CUDA, or an EMA decay without a copy (or a copy without a decay).
  Trainer(std::shared_ptr<torch::nn::Module> model, const TrainerOptions& options,
          ProcessGroup& group, std::shared_ptr<torch::nn::Module> ema_copy = nullptr);

  // Reseeds the generator that drop path (or a subnet sampler) draws from with
  // (seed, rank, epoch): a resumed run draws what the uninterrupted one did, and ranks draw
  // differently. Puts the model in train mode.
  void begin_epoch(int64_t epoch);

  // One forward and backward pass of the current step: runs forward_loss() (under float16
  // autocast with AMP), then backward of the 0-D loss it returns (times the loss scale with
  // AMP). Gradients add up over the calls of a step (a sum, not a mean). Returns the loss value.
  double accumulate(const std::function<torch::Tensor()>& forward_loss);

  // Ends the step: the gradients averaged over the ranks (one all-reduce of the flat buffer, and
  // one of which parameters received a gradient), AMP's unscale with the step skipped on
  // inf/nan, clipping, AdamW at the schedule's lr for steps(), the EMA update; then the
  // gradients are zeroed for the next step. std::logic_error without an accumulate() since the
  // last apply().
  ApplyResult apply();

  int64_t steps() const { return optimizer_.steps(); }  // optimizer steps taken
  double lr() const { return schedule_.lr_at(steps()); }  // the next step's
  torch::nn::Module& model() { return *model_; }
  ModelEma* ema() { return ema_ ? &*ema_ : nullptr; }
  const FlatAdamW& optimizer() const { return optimizer_; }
  const TrainerOptions& options() const { return options_; }
  torch::Device device() const { return options_.device; }

  // The model, EMA and optimizer state (epoch, seconds and metrics are the caller's).
  Checkpoint checkpoint() const;
  // Loads a checkpoint of the same model and options: strict, InputError naming `source` on any
  // mismatch.
  void restore(const Checkpoint& checkpoint, const std::string& source);

 private:
  TrainerOptions options_;
  ProcessGroup& group_;
  std::shared_ptr<torch::nn::Module> model_;
  FlatAdamW optimizer_;
  std::optional<ModelEma> ema_;
  LrSchedule schedule_;
  int accumulated_ = 0;     // accumulate() calls since the last apply()
  double loss_scale_ = 1.0;
  int64_t good_steps_ = 0;  // AMP: steps since the scale last changed
};

}  // namespace vitnas
