#include "profile/step_profile.h"

#include <chrono>

#include <torch/torch.h>

#include "profile/benchmark.h"

namespace vitnas {

std::vector<StepTime> profile_steps(const FusedEfficientViT& net, const torch::Tensor& images,
                                    int iterations) {
  torch::NoGradGuard no_grad;
  const auto& steps = net.steps();
  std::vector<std::vector<double>> ms(steps.size());
  for (int it = 0; it < iterations + 1; ++it) {  // the first pass only warms up
    torch::Tensor x = images;
    for (size_t i = 0; i < steps.size(); ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      x = steps[i].run(x);
      if (x.is_cuda()) x.cpu();  // synchronise, so the time lands on this step
      const double t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      if (it > 0) ms[i].push_back(t);
    }
  }
  std::vector<StepTime> out;
  for (size_t i = 0; i < steps.size(); ++i) out.push_back({steps[i].name, median(ms[i])});
  return out;
}

}  // namespace vitnas
