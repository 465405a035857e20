// FFN of EfficientViT: 1x1 Conv2dBN C -> h, ReLU, 1x1 Conv2dBN h -> C (BN weight init 0, so a
// residual FFN starts as identity).
#pragma once

#include "models/conv2d_bn.h"

namespace vitnas {

class FFNImpl : public torch::nn::Module {
 public:
  FFNImpl(int64_t dim, int64_t hidden);
  torch::Tensor forward(const torch::Tensor& x);

  Conv2dBN pw1{nullptr}, pw2{nullptr};
};
TORCH_MODULE(FFN);

}  // namespace vitnas
