// MPCViT's differentiable search of each head's attention kind (Zeng et al. ICCV 2023,
// REFERENCE.md section 2) on a network of either family: every attention module gets one learned
// alpha per head (init 1, no clamp, trained with the weights) and runs
// alpha RSAttn + (1 - alpha) ScaleAttn; with MPCViT+, every ViT MLP also gets a beta that mixes
// its activation with the identity. search/mpc_kinds.h turns the trained values into a network.
#pragma once

#include <vector>

#include <torch/types.h>

#include "models/classifier.h"

namespace vitnas {

// Enables the search on every attention module of `model` (before its optimizer is built) and
// returns their alpha tensors (one per module, one value per head) in the order of
// head_kinds(model.spec()) (core/arch_spec.h).
std::vector<torch::Tensor> enable_kind_search(ClassifierImpl& model);

// MPCViT+: enables the linearisation search on every ViT layer's MLP (beta act(h) +
// (1 - beta) h, beta init 1) and returns the betas, one per layer in layer order (layers already
// linear have none: their entry is an undefined tensor). InputError for an efficientvit model.
std::vector<torch::Tensor> enable_linearisation_search(ClassifierImpl& model);

// The alphas' (or betas') current values, flattened in that order (an undefined tensor: NaN).
std::vector<double> alpha_values(const std::vector<torch::Tensor>& alphas);

}  // namespace vitnas
