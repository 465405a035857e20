// Exponential moving average of a model's weights (timm ModelEmaV2/V3), evaluated alongside the
// model: ema = decay * ema + (1 - decay) * model, after every optimizer step.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <torch/nn/module.h>
#include <torch/types.h>

#include "core/safetensors.h"
#include "models/classifier.h"

namespace vitnas {

class ModelEma {
 public:
  // Any module: `copy` is a module of the same structure as `model` (e.g. a second build of the
  // same ArchSpec; its weights are overwritten). It is moved to `device` (default: the model's)
  // in the model's dtype, put in eval mode with requires_grad off, and set to the model's state.
  // InputError unless 0 <= decay <= 1, or if the two state dicts differ.
  ModelEma(const torch::nn::Module& model, std::shared_ptr<torch::nn::Module> copy, double decay,
           std::optional<torch::Device> device = std::nullopt);
  // A classifier: the copy is a fresh build_model(model.spec()).
  ModelEma(const ClassifierImpl& model, double decay,
           std::optional<torch::Device> device = std::nullopt);

  // Every state-dict entry, in the same order as the model's: floating tensors (parameters and
  // buffers such as BN running stats) become decay * ema + (1 - decay) * model; other tensors
  // (num_batches_tracked, attention_bias_idxs) are copied. The model must have the copy's
  // structure.
  void update(const torch::nn::Module& model);
  // Copies the model's state exactly (decay 0), e.g. when EMA starts after a warm start.
  void set(const torch::nn::Module& model);

  torch::nn::Module& model() { return *ema_; }
  const torch::nn::Module& model() const { return *ema_; }
  double decay() const { return decay_; }

  // The EMA weights under the model's state-dict keys (aliases of the live tensors; safetensors
  // save copies them), for checkpoints and for export as a model's weights.
  safetensors::TensorList state() const;
  // Strict load (see load_state_dict); `source` names the file in errors.
  void load_state(const safetensors::TensorList& tensors, const std::string& source);

 private:
  void blend(const torch::nn::Module& model, double decay);

  std::shared_ptr<torch::nn::Module> ema_;
  double decay_;
};

}  // namespace vitnas
