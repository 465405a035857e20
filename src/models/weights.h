// Weights in and out of a model: the state dict in PyTorch's order and naming (own parameters,
// own buffers, then children, recursively), so an EfficientViT preset's file has exactly the
// official keys and loads into the official PyTorch code (and the other way round).
#pragma once

#include <map>
#include <string>

#include <torch/nn/module.h>

#include "core/safetensors.h"

namespace vitnas {

safetensors::TensorList state_dict(const torch::nn::Module& model);

// Strict load: every key of the model must be present with the same shape, and no other key may
// be (keys starting with "__" are data, not weights, and are skipped). Floating tensors are
// converted to the model's dtype; integer buffers must match exactly. InputError names the key
// and `source` (the file) on any mismatch; the model is unchanged unless everything checks out.
void load_state_dict(torch::nn::Module& model, const safetensors::TensorList& tensors,
                     const std::string& source);

// load_state_dict from a safetensors file, whose header is checked against the model (names,
// shapes, dtypes) before any tensor data is read: a wrong file fails at its first bad entry.
void load_weights(torch::nn::Module& model, const std::string& path);
void save_weights(const torch::nn::Module& model, const std::string& path,
                  const std::map<std::string, std::string>& metadata = {});

}  // namespace vitnas
