#include "models/ffn.h"

#include <torch/torch.h>

namespace vitnas {

FFNImpl::FFNImpl(int64_t dim, int64_t hidden) {
  pw1 = register_module("pw1", Conv2dBN(dim, hidden));
  pw2 = register_module("pw2", Conv2dBN(hidden, dim, 1, 1, 1, /*bn_weight_init=*/0.0));
}

torch::Tensor FFNImpl::forward(const torch::Tensor& x) { return pw2(torch::relu(pw1(x))); }

torch::Tensor FFNImpl::forward_active(const torch::Tensor& x, int64_t hidden) {
  return pw2->forward_active(torch::relu(pw1->forward_active(x, hidden)), x.size(1));
}

void FFNImpl::copy_active(FFNImpl& dst) const {
  const int64_t dim = dst.pw1->c->weight.size(1), hidden = dst.pw1->c->weight.size(0);
  dst.pw1->load(pw1->weights(hidden, dim));
  dst.pw2->load(pw2->weights(dim, hidden));
}

}  // namespace vitnas
