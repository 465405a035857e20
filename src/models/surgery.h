// Surgery: a smaller network's weights cut out of a larger one's (DESIGN.md, "models/surgery").
// The cut is given as positions to drop along tensor axes and module subtrees to drop whole;
// what remains is loaded, in state-dict order, into the model of the smaller ArchSpec. Pruning
// says what to cut (prune/groups.h); this file only moves tensors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "core/safetensors.h"

namespace vitnas {

// Positions `indices` of tensor `key` along `axis`.
struct AxisCut {
  std::string key;
  int axis = 0;
  std::vector<int64_t> indices;
};

// The tensors with the cut positions removed (each axis keeps its order) and every key under a
// module path of `removed_modules` ("blocks1.0.mixer.m") dropped. std::logic_error for a key
// that is not there or an index out of range (a groups/weights mismatch, not user input).
safetensors::TensorList cut(const safetensors::TensorList& tensors, const std::vector<AxisCut>& cuts,
                            const std::vector<std::string>& removed_modules);

// The tensors with the cut positions set to zero (the same cut, "masked" instead of removed).
safetensors::TensorList zeroed(const safetensors::TensorList& tensors, const std::vector<AxisCut>& cuts);

// Loads what cut() left into `model`, the network of the smaller ArchSpec. Removing a unit
// renumbers the parts after it ("dw1" becomes "dw0"), so tensors are matched in state-dict
// (forward) order, each checked to have the same name up to its numbers and the same shape.
void load_cut(torch::nn::Module& model, const safetensors::TensorList& tensors);

}  // namespace vitnas
