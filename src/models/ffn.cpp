#include "models/ffn.h"

#include <torch/torch.h>

namespace vitnas {

FFNImpl::FFNImpl(int64_t dim, int64_t hidden) {
  pw1 = register_module("pw1", Conv2dBN(dim, hidden));
  pw2 = register_module("pw2", Conv2dBN(hidden, dim, 1, 1, 1, /*bn_weight_init=*/0.0));
}

torch::Tensor FFNImpl::forward(const torch::Tensor& x) { return pw2(torch::relu(pw1(x))); }

}  // namespace vitnas
