// MPCViT's differentiable search of each head's attention kind (Zeng et al. ICCV 2023,
// REFERENCE.md section 2) on a network of either family: every attention module gets one learned
// alpha per head (init 1, no clamp, trained with the weights) and runs
// alpha RSAttn + (1 - alpha) ScaleAttn; with MPCViT+, every ViT MLP also gets a beta that mixes
// its activation with the identity. search/mpc_kinds.h turns the trained values into a network.
//
// Softmax as a third candidate (not in MPCViT; `search-mpc --softmax-candidates`): every head
// also gets a gamma (init 0, so the search starts as MPCViT's) and runs
// gamma Softmax + (1 - gamma) (alpha RSAttn + (1 - alpha) ScaleAttn).
#pragma once

#include <vector>

#include <torch/types.h>

#include "core/safetensors.h"
#include "models/classifier.h"

namespace vitnas {

// The search's parameters: one tensor per attention module (one value per head), in the order of
// head_kinds(model.spec()) (core/arch_spec.h).
struct KindSearchParameters {
  std::vector<torch::Tensor> alphas;
  std::vector<torch::Tensor> gammas;  // empty unless softmax is a candidate
};

// Enables the search on every attention module of `model` (before its optimizer is built) and
// returns its parameters (those already registered when it was enabled before).
KindSearchParameters enable_kind_search(ClassifierImpl& model, bool softmax_candidates = false);

// MPCViT+: enables the linearisation search on every ViT layer's MLP (beta act(h) +
// (1 - beta) h, beta init 1) and returns the betas, one per layer in layer order (layers already
// linear have none: their entry is an undefined tensor). InputError for an efficientvit model.
std::vector<torch::Tensor> enable_linearisation_search(ClassifierImpl& model);

// The alphas' (or betas') current values, flattened in that order (an undefined tensor: NaN).
std::vector<double> alpha_values(const std::vector<torch::Tensor>& alphas);

// A searching model's weights as a network of fixed kinds loads them: every tensor but the
// alphas, betas and gammas (the parameters named `alpha`, `beta` and `gamma`).
safetensors::TensorList without_search_parameters(safetensors::TensorList weights);

}  // namespace vitnas
