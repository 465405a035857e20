#include "models/kind_search.h"

#include <cmath>
#include <stdexcept>

#include "core/arch_spec.h"
#include "core/error.h"
#include "models/cascaded_group_attention.h"
#include "models/vit.h"

namespace vitnas {

std::vector<torch::Tensor> enable_kind_search(ClassifierImpl& model) {
  std::vector<torch::Tensor> alphas;
  // modules() lists them in registration order: blocks in the walk's order, as head_kinds().
  for (const auto& m : model.modules(/*include_self=*/false)) {
    if (auto* a = m->as<ViTAttentionImpl>()) {
      a->enable_kind_search();
      alphas.push_back(a->alpha);
    } else if (auto* c = m->as<CascadedGroupAttentionImpl>()) {
      c->enable_kind_search();
      alphas.push_back(c->alpha);
    }
  }
  int64_t heads = 0;
  for (const auto& a : alphas) heads += a.numel();
  if (heads != static_cast<int64_t>(head_kinds(model.spec()).size()))
    throw std::logic_error("enable_kind_search: the modules' heads are not the spec's");
  return alphas;
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

}  // namespace vitnas
