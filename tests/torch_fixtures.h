// Tensor helpers shared by the model tests.
#pragma once

#include <string>

#include <torch/torch.h>

#include "models/weights.h"

namespace vitnas::test {

inline double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

// Random non-trivial BN affine parameters and statistics, biases and attention biases (fresh
// models have identity residual branches and zero biases, which would hide slicing mistakes).
inline void perturb(torch::nn::Module& model, uint64_t seed) {
  torch::manual_seed(seed);
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : state_dict(model)) {
    if (!t.is_floating_point()) continue;
    if (name.find("running_var") != std::string::npos)
      t.uniform_(0.5, 2.0);
    else if (name.find("bn.weight") != std::string::npos)
      t.uniform_(0.5, 1.5);
    else if (name.find("bias") != std::string::npos || name.find("running_mean") != std::string::npos)
      t.normal_(0.0, 0.1);
  }
}

}  // namespace vitnas::test
