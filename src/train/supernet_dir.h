// A supernet run directory (what `vitnas supernet train` writes: space.json, recipe.json,
// supernet[_ema].safetensors), opened to evaluate and extract its subnets.
#pragma once

#include <string>

#include <torch/types.h>

#include "core/search_space.h"
#include "models/elastic/supernet.h"
#include "train/subnet_eval.h"
#include "train/train_config.h"

namespace vitnas {

struct SupernetDir {
  std::string path;
  SearchSpace space;
  TrainRecipe recipe;  // the data settings it was trained with: data, val_fraction, seed, batch
  Supernet net{nullptr};
};

// Loads the space, the recipe's data settings and the weights (the EMA's with ema) onto device,
// in eval mode. InputError naming the file for a missing or unreadable file, and for weights that
// are not this space's supernet (a missing, extra or differently shaped key) or are truncated.
SupernetDir open_supernet(const std::string& dir, torch::Device device, bool ema = false);

// The evaluator of the run's validation split (its test set without one), recalibrating each
// subnet on bn_batches batches of the training split (seeded order, no augmentation). With
// eval_images > 0 only the split's first images are evaluated (whole batches: a multiple of
// max(batch, 256) images), what a search does to score thousands of subnets.
SubnetEvaluator make_evaluator(SupernetDir& s, int64_t bn_batches, int threads,
                               int64_t eval_images = -1);

}  // namespace vitnas
