// Where the time goes: each step of the fused EfficientViT timed on its own input (the output of
// the step before), median over iterations. `vitnas bench --profile` prints it.
#pragma once

#include <string>
#include <vector>

#include <torch/types.h>

#include "models/fused_efficientvit.h"

namespace vitnas {

struct StepTime {
  std::string name;  // module path, e.g. "blocks2.3.mixer"
  double median_ms = 0;
};

std::vector<StepTime> profile_steps(const FusedEfficientViT& net, const torch::Tensor& images,
                                    int iterations);

}  // namespace vitnas
