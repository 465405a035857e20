// Supernet training (BigNAS / AttentiveNAS): every step runs the sandwich rule, the largest
// subnet, the smallest and `random_subnets` random ones on the same batch, gradients summed over
// the four passes, then one optimizer step. The largest learns from the labels (label
// smoothing); the others from the largest's soft predictions of that batch (in-place
// distillation: KL at temperature 1, the teacher detached). Random subnets are drawn from an
// mt19937_64 seeded by (seed, step), so every rank draws the same ones and a resumed run draws
// what the uninterrupted one did.
#pragma once

#include <vector>

#include "models/elastic/supernet.h"
#include "train/classifier_trainer.h"
#include "train/subnet_eval.h"
#include "train/train_config.h"
#include "train/train_task.h"

namespace vitnas {

class SupernetTrainer : public TrainTask {
 public:
  // recipe.space must be set; the supernet is initialised from the seed (the same on every rank).
  SupernetTrainer(const TrainRecipe& recipe, const TrainRuntime& runtime, ProcessGroup& group,
                  int64_t steps_per_epoch);

  void begin_epoch(int64_t epoch) override { trainer_.begin_epoch(epoch); }
  StepResult step(const torch::Tensor& images, const torch::Tensor& labels) override;
  Trainer& trainer() override { return trainer_; }
  // largest_ and smallest_ val (or test, without a split) top-1/top-5/loss after BN
  // recalibration on bn_batches training batches; the same for the EMA with ema_.
  void evaluate(nlohmann::json& line, const EvalData& data) override;
  // space.json, recipe.json, supernet.safetensors, supernet_ema.safetensors with EMA.
  void save(const std::filesystem::path& dir, int64_t epochs_done) override;

  // The subnets of optimizer step `step`: largest, smallest, then the random ones.
  std::vector<ArchSpec> sandwich(int64_t step) const;

  SupernetImpl& supernet() { return *net_; }

 private:
  TrainRecipe recipe_;
  Supernet net_, ema_net_;  // ema_net_ null without EMA
  Trainer trainer_;
  ArchSpec largest_, smallest_;
};

}  // namespace vitnas
