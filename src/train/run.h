// `vitnas train` and `vitnas supernet train`: the epoch loop around a TrainTask
// (ClassifierTrainer, SupernetTrainer), with the datasets, evaluation, checkpoints and the run
// directory:
//   DIR/arch.json               a network: the architecture trained
//   DIR/weights.safetensors     a network: the latest weights, official state-dict keys
//   DIR/weights_ema.safetensors a network: the EMA's weights, with --ema-decay
//   DIR/space.json, DIR/recipe.json, DIR/supernet[_ema].safetensors   a supernet's (the same,
//                               and the recipe, which `supernet eval` reads its data from)
//   DIR/metrics.jsonl           one JSON object per epoch (train loss/accuracy, lr, val and test
//                               top-1/top-5/loss, img/s, seconds)
//   DIR/checkpoint.safetensors  everything --resume needs
// Only rank 0 writes. Every file is replaced atomically; the checkpoint is written last, so the
// other files are never behind it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "data/dataset.h"
#include "data/transforms.h"
#include "train/distributed.h"
#include "train/train_config.h"

namespace vitnas {

// What a progress bar shows, after every step of rank 0.
struct TrainProgress {
  int64_t epoch = 0, epochs = 0;     // epoch is 0-based
  int64_t batch = 0, batches = 0;    // batches done in this epoch / per epoch
  double loss = 0.0, top1 = 0.0;     // running means over the epoch (percent for top1)
  double img_per_s = 0.0;            // this rank's training throughput in the epoch
};
using ProgressCallback = std::function<void(const TrainProgress&)>;

struct TrainResult {
  nlohmann::json last;        // the final epoch's metrics line
  int64_t epochs_run = 0;     // epochs trained by this invocation
  int64_t first_epoch = 0;    // where it started (> 0 after --resume)
  double seconds = 0.0;       // training + evaluation time of the whole run, resumes included
};

// The recipe's data: the training set split into train and validation by val_fraction and the
// seed (the same split in every command that opens it), the train part cut to train_images
// when set, and the test set (cut to test_images when set). InputError for a
// dataset that cannot be opened or has more classes than the architecture predicts.
struct Datasets {
  std::shared_ptr<const data::Dataset> train, val, test;  // val null without a split
  std::string name;
};
Datasets open_datasets(const TrainRecipe& recipe);
// The recipe's transform of that dataset, for training (augmented) or evaluation.
data::TransformOptions transform_options(const TrainRecipe& recipe, const std::string& dataset,
                                         bool train);

// Trains recipe.epochs epochs into out_dir (a network, or a supernet when recipe.space is set:
// train_task.h). Without `resume`, an out_dir holding a checkpoint
// is refused (InputError) rather than overwritten; with it, the run continues from the
// checkpoint (or starts fresh if there is none) after checking that its recipe is this one.
// Every input problem (data, architecture, teacher, checkpoint) is found before anything is
// written.
TrainResult run_training(const TrainRecipe& recipe, const TrainRuntime& runtime,
                         const std::string& out_dir, bool resume, ProcessGroup& group,
                         const ProgressCallback& progress = {});

}  // namespace vitnas
