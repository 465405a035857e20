// One training step and the state around it: the model, the flat AdamW, the schedule, the
// optional EMA and teacher, AMP's loss scale. The epoch loop (run.h) and the training-step
// benchmark drive this class, so what is benchmarked is exactly what trains.
#pragma once

#include <memory>
#include <optional>

#include <torch/types.h>

#include "models/classifier.h"
#include "train/checkpoint.h"
#include "train/distributed.h"
#include "train/ema.h"
#include "train/flat_adamw.h"
#include "train/losses.h"
#include "train/schedule.h"
#include "train/train_config.h"

namespace vitnas {

struct StepResult {
  double loss = 0.0;     // the batch's total loss (this process)
  int64_t correct = 0;   // top-1 hits of the class head on the batch
  int64_t images = 0;
  double lr = 0.0;
  bool skipped = false;  // AMP: gradients overflowed, the step was skipped
};

class Trainer {
 public:
  // Builds the model from recipe.arch with the seed's initialisation (identical on every rank;
  // rank 0's copy is broadcast anyway), the optimizer over its parameters with timm's weight
  // decay groups, the EMA and teacher when asked. steps_per_epoch sets the schedule's length.
  // InputError for a teacher that cannot teach this student (input size, classes, tokens).
  Trainer(const TrainRecipe& recipe, const TrainRuntime& runtime, ProcessGroup& group,
          int64_t steps_per_epoch);

  // Reseeds the generator drop path draws from with (seed, rank, epoch): a resumed run draws
  // what the uninterrupted one did, and ranks draw differently.
  void begin_epoch(int64_t epoch);

  // One optimizer step on a batch: forward (autocast on CUDA with AMP), loss (label smoothing,
  // or distillation with a teacher), backward, gradients averaged over the ranks, clipping,
  // AdamW with the schedule's learning rate for the current step, EMA update.
  StepResult step(const torch::Tensor& images, const torch::Tensor& labels);

  int64_t steps() const { return optimizer_->steps(); }
  double lr() const { return schedule_.lr_at(steps()); }
  ClassifierImpl& model() { return *model_; }
  ModelEma* ema() { return ema_ ? &*ema_ : nullptr; }
  torch::Device device() const { return device_; }

  // The model, EMA and optimizer state (epoch, seconds and metrics are the caller's).
  Checkpoint checkpoint() const;
  // Loads a checkpoint of the same recipe: strict, InputError naming `source` on any mismatch.
  void restore(const Checkpoint& checkpoint, const std::string& source);

 private:
  torch::Tensor loss(const torch::Tensor& images, const torch::Tensor& labels,
                     torch::Tensor& class_logits);

  TrainRecipe recipe_;
  ProcessGroup& group_;
  torch::Device device_;
  Classifier model_, teacher_;
  std::unique_ptr<FlatAdamW> optimizer_;
  std::optional<ModelEma> ema_;
  LrSchedule schedule_;
  DistillationOptions distill_;
  bool amp_ = false;
  double loss_scale_ = 1.0;
  int64_t good_steps_ = 0;  // AMP: steps since the scale last changed
};

}  // namespace vitnas
