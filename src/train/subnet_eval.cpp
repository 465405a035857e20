#include "train/subnet_eval.h"

#include <torch/torch.h>

#include "models/efficientvit.h"
#include "models/fused_efficientvit.h"
#include "train/bn_recalibration.h"

namespace vitnas {

SubnetEvaluator::SubnetEvaluator(SupernetImpl& supernet, TensorBatches calibration,
                                 TensorBatches eval)
    : net_(supernet), calibration_(std::move(calibration)), eval_(std::move(eval)) {}

Classifier SubnetEvaluator::extract(const ArchSpec& subnet) {
  Classifier model = vitnas::extract(net_, subnet);
  recalibrate(*model, [&](const torch::Tensor& x) { model->forward(x); }, calibration_.images);
  model->eval();
  return model;
}

EvalResult SubnetEvaluator::operator()(const ArchSpec& subnet) {
  Classifier model = extract(subnet);
  const FusedEfficientViT fused(dynamic_cast<EfficientViTImpl&>(*model));
  return evaluate(*model, [&](const torch::Tensor& x) { return fused.forward(x); }, eval_);
}

}  // namespace vitnas
