#include "train/ema.h"

#include <torch/torch.h>

#include "core/error.h"
#include "models/weights.h"

namespace vitnas {

ModelEma::ModelEma(const torch::nn::Module& model, std::shared_ptr<torch::nn::Module> copy,
                   double decay, std::optional<torch::Device> device)
    : ema_(std::move(copy)), decay_(decay) {
  require(decay >= 0 && decay <= 1, "model EMA decay must be in [0, 1], got " + std::to_string(decay));
  require(ema_ != nullptr, "model EMA: no copy of the model");
  const auto params = model.parameters();
  if (!params.empty())
    move_to(*ema_, device.value_or(params.front().device()), params.front().scalar_type());
  ema_->eval();
  for (auto& p : ema_->parameters()) p.set_requires_grad(false);
  set(model);
}

ModelEma::ModelEma(const ClassifierImpl& model, double decay, std::optional<torch::Device> device)
    : ModelEma(model, build_model(model.spec()), decay, device) {}

void ModelEma::blend(const torch::nn::Module& model, double decay) {
  torch::NoGradGuard no_grad;
  auto ema = state_dict(*ema_);
  const auto src = state_dict(model);
  require(ema.size() == src.size(), "model EMA: the model has " + std::to_string(src.size()) +
                                        " state entries, the EMA " + std::to_string(ema.size()));
  for (size_t i = 0; i < ema.size(); ++i) {
    auto& e = ema[i].second;
    const auto& m = src[i].second;
    require(ema[i].first == src[i].first && e.sizes() == m.sizes(),
            "model EMA: state entry '" + src[i].first + "' does not match the EMA's '" +
                ema[i].first + "'");
    const auto v = m.to(e.device(), e.scalar_type());
    if (e.is_floating_point() && decay > 0)
      e.mul_(decay).add_(v, 1.0 - decay);
    else
      e.copy_(v);
  }
}

void ModelEma::update(const torch::nn::Module& model) { blend(model, decay_); }

void ModelEma::set(const torch::nn::Module& model) { blend(model, 0.0); }

safetensors::TensorList ModelEma::state() const { return state_dict(*ema_); }

void ModelEma::load_state(const safetensors::TensorList& tensors, const std::string& source) {
  load_state_dict(*ema_, tensors, source);
}

}  // namespace vitnas
