// Chain: an nn::Sequential with a plain Tensor -> Tensor forward, so Sequentials can nest
// (LibTorch's Sequential cannot be stored in another Sequential) while keeping the numbered
// children of PyTorch's nn.Sequential in the state dict ("blocks2.0.1.m.pw1...").
#pragma once

#include <torch/nn/modules/container/sequential.h>

namespace vitnas {

class ChainImpl : public torch::nn::SequentialImpl {
 public:
  using torch::nn::SequentialImpl::SequentialImpl;
  torch::Tensor forward(torch::Tensor x) { return torch::nn::SequentialImpl::forward(x); }
};
TORCH_MODULE(Chain);

}  // namespace vitnas
