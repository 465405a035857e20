#include "train/subnet_eval.h"

#include <torch/torch.h>

#include "train/bn_recalibration.h"

namespace vitnas {

SubnetEvaluator::SubnetEvaluator(SupernetImpl& supernet, TensorBatches calibration,
                                 TensorBatches eval)
    : net_(supernet), calibration_(std::move(calibration)), eval_(std::move(eval)) {}

template <typename F>
auto SubnetEvaluator::recalibrated(const ArchSpec& subnet, F f) {
  require_in_space(net_.space(), subnet);
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> saved;  // every buffer: the BN statistics of all slices
  for (const auto& b : net_.buffers()) saved.push_back(b.clone());
  recalibrate(net_, [&](const torch::Tensor& x) { net_.forward(x, subnet); }, calibration_.images);
  auto result = f();
  auto buffers = net_.buffers();
  for (size_t i = 0; i < buffers.size(); ++i) buffers[i].copy_(saved[i]);
  return result;
}

EvalResult SubnetEvaluator::operator()(const ArchSpec& subnet) {
  return recalibrated(subnet, [&] {
    return evaluate(net_, [&](const torch::Tensor& x) { return net_.forward(x, subnet); }, eval_);
  });
}

Classifier SubnetEvaluator::extract(const ArchSpec& subnet) {
  return recalibrated(subnet, [&] { return vitnas::extract(net_, subnet); });
}

}  // namespace vitnas
