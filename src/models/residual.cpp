#include "models/residual.h"

#include <torch/torch.h>

namespace vitnas {

torch::Tensor drop_path(const torch::Tensor& branch, double rate, bool training) {
  if (!training || rate <= 0.0) return branch;
  std::vector<int64_t> mask_shape(branch.dim(), 1);
  mask_shape[0] = branch.size(0);
  auto keep = torch::rand(mask_shape, branch.options()).ge_(rate).div_(1.0 - rate);
  return branch * keep;
}

torch::Tensor ResidualImpl::forward(const torch::Tensor& x) {
  return x + drop_path(m_.forward(x), drop_path_, is_training());
}

}  // namespace vitnas
