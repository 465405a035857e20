// Training checkpoints: one safetensors file holding everything a run needs to continue as if it
// had never stopped (model, optimizer moments, EMA, position, metrics so far, the recipe).
// Written atomically at the end of every epoch, so a killed run loses at most the epoch in
// progress. The random state needs no tensor: the data order and augmentation are functions of
// (seed, epoch) and the trainer reseeds its generator from (seed, rank, epoch) at every epoch.
//
// Layout: tensors "model.<key>" (the model's state dict under its official keys), "ema.<key>",
// "optim.<exp_avg|exp_avg_sq|step|param_steps>" (param_steps, each parameter's own AdamW step
// count, is absent from older checkpoints and then taken to be step); metadata "format",
// "epoch" (epochs completed), "step" (optimizer steps taken), "seconds" (training time so far),
// "loss_scale", "recipe" and "metrics" (JSON text).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "core/safetensors.h"

namespace vitnas {

inline constexpr const char* kCheckpointFormat = "vitnas-checkpoint/1";

struct Checkpoint {
  int64_t epoch = 0;  // epochs completed: the run continues with this epoch
  int64_t step = 0;   // optimizer steps taken
  double seconds = 0.0;
  double loss_scale = 1.0;  // AMP's dynamic loss scale
  nlohmann::json recipe;                        // recipe_to_json of the run
  nlohmann::json metrics = nlohmann::json::array();  // one object per completed epoch
  safetensors::TensorList model, ema, optimizer;  // ema empty without EMA
};

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);  // atomic

// InputError naming the file on anything a checkpoint cannot be: unreadable, truncated, another
// format, missing or malformed metadata, no model or optimizer state.
Checkpoint load_checkpoint(const std::string& path);

}  // namespace vitnas
