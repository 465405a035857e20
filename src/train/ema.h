// Exponential moving average of a model's weights (timm ModelEmaV2/V3), evaluated alongside the
// model: ema = decay * ema + (1 - decay) * model, after every optimizer step.
#pragma once

#include <optional>
#include <string>

#include <torch/types.h>

#include "core/safetensors.h"
#include "models/classifier.h"

namespace vitnas {

class ModelEma {
 public:
  // A fresh build_model(model.spec()) holding a copy of the model's parameters and buffers, on
  // `device` (default: the model's), in eval mode, with requires_grad off.
  // InputError unless 0 <= decay <= 1.
  ModelEma(const ClassifierImpl& model, double decay,
           std::optional<torch::Device> device = std::nullopt);

  // Every state-dict entry, in the same order as the model's: floating tensors (parameters and
  // buffers such as BN running stats) become decay * ema + (1 - decay) * model; other tensors
  // (num_batches_tracked, attention_bias_idxs) are copied. The model must share the spec.
  void update(const ClassifierImpl& model);
  // Copies the model's state exactly (decay 0), e.g. when EMA starts after a warm start.
  void set(const ClassifierImpl& model);

  ClassifierImpl& model() { return *ema_; }
  const ClassifierImpl& model() const { return *ema_; }
  const Classifier& module() const { return ema_; }
  double decay() const { return decay_; }

  // The EMA weights under the model's state-dict keys (aliases of the live tensors; safetensors
  // save copies them), for checkpoints and for export as a model's weights.
  safetensors::TensorList state() const;
  // Strict load (see load_state_dict); `source` names the file in errors.
  void load_state(const safetensors::TensorList& tensors, const std::string& source);

 private:
  void blend(const ClassifierImpl& model, double decay);

  Classifier ema_;
  double decay_;
};

}  // namespace vitnas
