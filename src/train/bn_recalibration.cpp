#include "train/bn_recalibration.h"

#include <torch/nn/modules/batchnorm.h>
#include <torch/torch.h>

namespace vitnas {

namespace {
// The options of every BatchNorm in the model (1d and 2d: EfficientViT has both).
std::vector<torch::nn::BatchNormOptions*> batchnorm_options(torch::nn::Module& model) {
  std::vector<torch::nn::BatchNormOptions*> out;
  for (const auto& m : model.modules()) {
    if (auto* bn = m->as<torch::nn::BatchNorm2dImpl>()) out.push_back(&bn->options);
    if (auto* bn = m->as<torch::nn::BatchNorm1dImpl>()) out.push_back(&bn->options);
  }
  return out;
}
}  // namespace

void recalibrate(torch::nn::Module& model, const std::function<void(const torch::Tensor&)>& forward,
                 const std::vector<torch::Tensor>& batches) {
  const bool was_training = model.is_training();
  auto options = batchnorm_options(model);
  std::vector<c10::optional<double>> momenta;
  for (auto* o : options) momenta.push_back(o->momentum());
  auto restore = [&] {
    for (size_t i = 0; i < options.size(); ++i) options[i]->momentum(momenta[i]);
    model.train(was_training);
  };
  torch::NoGradGuard no_grad;
  model.train();
  try {
    for (size_t k = 0; k < batches.size(); ++k) {
      // running <- (1 - m) running + m batch with m = 1 / (k + 1): the mean of batches 0..k
      // (batch 0 replaces the old value outright).
      for (auto* o : options) o->momentum(1.0 / double(k + 1));
      forward(batches[k]);
    }
  } catch (...) {
    restore();
    throw;
  }
  restore();
}

}  // namespace vitnas
