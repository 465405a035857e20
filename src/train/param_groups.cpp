#include "train/param_groups.h"

#include <torch/torch.h>

namespace vitnas {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string last_component(const std::string& name) {
  const auto dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(dot + 1);
}

}  // namespace

bool skip_weight_decay(const std::string& name, const torch::Tensor& param) {
  if (param.dim() <= 1) return true;
  const std::string leaf = last_component(name);
  // EfficientViT.no_weight_decay(): every attention_biases; DeiT/ViT: the token and position
  // embeddings (multi-dimensional, so the 1-D rule misses them).
  return leaf == "bias" || leaf == "attention_biases" || leaf == "cls_token" ||
         leaf == "dist_token" || leaf == "pos_embed" || ends_with(name, ".bias");
}

ParamGroups split_weight_decay(const torch::OrderedDict<std::string, torch::Tensor>& named_parameters) {
  ParamGroups g;
  for (const auto& item : named_parameters) {
    const auto& p = item.value();
    if (!p.requires_grad()) continue;
    if (skip_weight_decay(item.key(), p)) {
      g.no_decay_names.push_back(item.key());
      g.no_decay.push_back(p);
    } else {
      g.decay_names.push_back(item.key());
      g.decay.push_back(p);
    }
  }
  return g;
}

std::vector<torch::optim::OptimizerParamGroup> ParamGroups::adamw(double lr,
                                                                  double weight_decay) const {
  std::vector<torch::optim::OptimizerParamGroup> groups;
  auto add = [&](const std::vector<torch::Tensor>& params, double wd) {
    if (params.empty()) return;
    groups.emplace_back(params, std::make_unique<torch::optim::AdamWOptions>(
                                    torch::optim::AdamWOptions(lr).weight_decay(wd)));
  };
  add(no_decay, 0.0);
  add(decay, weight_decay);
  return groups;
}

}  // namespace vitnas
