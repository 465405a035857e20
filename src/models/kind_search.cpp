#include "models/kind_search.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "core/arch_spec.h"
#include "core/error.h"
#include "models/cascaded_group_attention.h"
#include "models/vit.h"

namespace vitnas {

KindSearchParameters enable_kind_search(ClassifierImpl& model, bool softmax_candidates) {
  KindSearchParameters p;
  auto enable = [&](auto& attention) {
    attention.enable_kind_search(softmax_candidates);
    p.alphas.push_back(attention.alpha);
    if (attention.gamma.defined()) p.gammas.push_back(attention.gamma);
  };
  // modules() lists them in registration order: blocks in the walk's order, as head_kinds().
  for (const auto& m : model.modules(/*include_self=*/false)) {
    if (auto* a = m->as<ViTAttentionImpl>())
      enable(*a);
    else if (auto* c = m->as<CascadedGroupAttentionImpl>())
      enable(*c);
  }
  int64_t heads = 0;
  for (const auto& a : p.alphas) heads += a.numel();
  if (heads != static_cast<int64_t>(head_kinds(model.spec()).size()) ||
      (!p.gammas.empty() && p.gammas.size() != p.alphas.size()))
    throw std::logic_error("enable_kind_search: the modules' heads are not the spec's");
  return p;
}

std::vector<torch::Tensor> enable_linearisation_search(ClassifierImpl& model) {
  require(model.spec().family == Family::ViT,
          "--linearise: MPCViT+'s linearisation search is for vit networks (GeLU MLPs)");
  std::vector<torch::Tensor> betas;
  for (const auto& m : model.modules(/*include_self=*/false))
    if (auto* mlp = m->as<MlpImpl>())
      betas.push_back(mlp->enable_linearisation_search() ? mlp->beta : torch::Tensor());
  if (betas.size() != model.spec().vit.layers.size())
    throw std::logic_error("enable_linearisation_search: the modules' MLPs are not the spec's");
  return betas;
}

std::vector<double> alpha_values(const std::vector<torch::Tensor>& alphas) {
  std::vector<double> out;
  for (const auto& a : alphas) {
    if (!a.defined()) {
      out.push_back(std::nan(""));
      continue;
    }
    const auto cpu = a.detach().to(torch::kCPU, torch::kDouble).contiguous();
    out.insert(out.end(), cpu.data_ptr<double>(), cpu.data_ptr<double>() + cpu.numel());
  }
  return out;
}

safetensors::TensorList without_search_parameters(safetensors::TensorList weights) {
  auto is_search_parameter = [](const auto& entry) {
    const std::string& name = entry.first;
    const std::string last = name.substr(name.rfind('.') + 1);  // npos + 1 = 0: the whole name
    return last == "alpha" || last == "beta" || last == "gamma";
  };
  weights.erase(std::remove_if(weights.begin(), weights.end(), is_search_parameter), weights.end());
  return weights;
}

}  // namespace vitnas
