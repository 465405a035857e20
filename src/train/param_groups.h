// AdamW parameter groups with and without weight decay, as timm's param_groups_weight_decay
// with the models' no_weight_decay() names: decay only on the matrices and kernels, never on
// normalisation weights, biases, EfficientViT's attention_biases or ViT's cls_token/pos_embed.
#pragma once

#include <string>
#include <vector>

#include <torch/optim/optimizer.h>
#include <torch/ordered_dict.h>
#include <torch/types.h>

namespace vitnas {

// No weight decay when the tensor is 0-D or 1-D (norm weights, biases), the name ends in
// ".bias"/is "bias", or its last component is attention_biases, cls_token, dist_token or
// pos_embed.
bool skip_weight_decay(const std::string& name, const torch::Tensor& param);

struct ParamGroups {
  // Parallel lists (name i <-> tensor i), in named_parameters() order.
  std::vector<std::string> decay_names, no_decay_names;
  std::vector<torch::Tensor> decay, no_decay;

  // The groups for torch::optim::AdamW: timm's order, no-decay first (weight_decay 0), then
  // decay (weight_decay `weight_decay`); each with AdamWOptions(lr). An empty group is left out,
  // so a scale vector for LrSchedule::apply must follow what is returned.
  std::vector<torch::optim::OptimizerParamGroup> adamw(double lr, double weight_decay) const;
};

// Splits `named_parameters` (e.g. model->named_parameters()); parameters without requires_grad
// are in neither list (frozen parameters are not optimised).
ParamGroups split_weight_decay(const torch::OrderedDict<std::string, torch::Tensor>& named_parameters);

}  // namespace vitnas
