// MPCViT's differentiable search of each head's attention kind (Zeng et al. ICCV 2023,
// REFERENCE.md section 2) on a network of either family: every attention module gets one learned
// alpha per head (init 1, no clamp, trained with the weights) and runs
// alpha RSAttn + (1 - alpha) ScaleAttn. search/mpc_kinds.h turns the trained alphas into kinds.
#pragma once

#include <vector>

#include <torch/types.h>

#include "models/classifier.h"

namespace vitnas {

// Enables the search on every attention module of `model` (before its optimizer is built) and
// returns their alpha tensors (one per module, one value per head) in the order of
// head_kinds(model.spec()) (core/arch_spec.h).
std::vector<torch::Tensor> enable_kind_search(ClassifierImpl& model);

// The alphas' current values, flattened in that order.
std::vector<double> alpha_values(const std::vector<torch::Tensor>& alphas);

}  // namespace vitnas
