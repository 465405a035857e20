// The trainer of `vitnas train` and `vitnas bench-train`: it builds a recipe's classifier (with
// the seed's initialisation), its EMA copy and its loss (ClassifierLoss, with the teacher), and
// trains it with Trainer, one batch per step, so what is benchmarked is exactly what trains.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <torch/types.h>

#include "models/classifier.h"
#include "models/kind_search.h"
#include "train/checkpoint.h"
#include "train/classifier_loss.h"
#include "train/distributed.h"
#include "train/train_config.h"
#include "train/train_task.h"
#include "train/trainer.h"

namespace vitnas {

// The Trainer settings of a recipe: AdamW (betas 0.9, 0.999, eps 1e-8, the recipe's weight
// decay), timm's per-step cosine with warm-up over recipe.epochs * steps_per_epoch steps,
// clipping, EMA, AMP, seed; the device from the runtime.
TrainerOptions trainer_options(const TrainRecipe& recipe, const TrainRuntime& runtime,
                               int64_t steps_per_epoch);

class ClassifierTrainer : public TrainTask {
 public:
  // Builds recipe.arch with the seed's initialisation (identical on every rank; rank 0's copy is
  // broadcast anyway) and drop path, the EMA copy and teacher when asked. steps_per_epoch sets
  // the schedule's length. InputError for a teacher that cannot teach this student.
  ClassifierTrainer(const TrainRecipe& recipe, const TrainRuntime& runtime, ProcessGroup& group,
                    int64_t steps_per_epoch);

  void begin_epoch(int64_t epoch) override { trainer_.begin_epoch(epoch); }  // see Trainer

  // One optimizer step on a batch (moved to the device): accumulate() of the recipe's loss,
  // then apply().
  StepResult step(const torch::Tensor& images, const torch::Tensor& labels) override;
  // val_ and test_ top-1/top-5/loss of the model, and ema_val_... of the EMA (with the kind
  // search also "alphas").
  void evaluate(nlohmann::json& line, const EvalData& data) override;
  // arch.json, weights.safetensors (official keys) and weights_ema.safetensors with EMA; with
  // the kind search also alphas.json (every head's alpha, in head_kinds(arch) order, and with
  // the linearisation search every layer's beta).
  void save(const std::filesystem::path& dir, int64_t epochs_done) override;

  int64_t steps() const { return trainer_.steps(); }
  double lr() const { return trainer_.lr(); }
  ClassifierImpl& model() { return *model_; }
  ClassifierImpl* ema_model() { return ema_model_.get(); }  // null without EMA
  Trainer& trainer() override { return trainer_; }

  Checkpoint checkpoint() const { return trainer_.checkpoint(); }
  // Loads a checkpoint of the same recipe: strict, InputError naming `source` on any mismatch.
  void restore(const Checkpoint& c, const std::string& source) { trainer_.restore(c, source); }

 private:
  // With recipe.kind_search (`vitnas search-mpc`): the alphas of model_ and the loss term.
  torch::Tensor kind_search_loss() const;

  ArchSpec arch_;
  std::optional<TrainRecipe::KindSearch> kind_search_;
  Classifier model_, ema_model_;  // ema_model_ null without EMA
  KindSearchParameters kinds_;  // with kind_search_: alphas (and gammas) per attention module
  torch::Tensor relu_softmax_s_, scaling_s_, softmax_s_;  // the heads' MPC seconds, flat
  std::vector<torch::Tensor> betas_;          // MPCViT+: per layer (undefined: already linear)
  ClassifierLoss loss_;
  Trainer trainer_;
};

}  // namespace vitnas
