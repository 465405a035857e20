// FFN of EfficientViT: 1x1 Conv2dBN C -> h, ReLU, 1x1 Conv2dBN h -> C (BN weight init 0, so a
// residual FFN starts as identity). In a supernet it runs at an active width: pw1 [:hidden, :C],
// pw2 [:C, :hidden], C being the input's channels.
#pragma once

#include "models/conv2d_bn.h"

namespace vitnas {

class FFNImpl : public torch::nn::Module {
 public:
  FFNImpl(int64_t dim, int64_t hidden);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor forward_active(const torch::Tensor& x, int64_t hidden);  // (B, C, r, r), C <= dim
  // Copies the slices forward_active(x of dim channels, hidden) runs into `dst` (an FFN(dim, hidden)).
  void copy_active(FFNImpl& dst) const;

  Conv2dBN pw1{nullptr}, pw2{nullptr};
};
TORCH_MODULE(FFN);

}  // namespace vitnas
