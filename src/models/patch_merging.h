// PatchMerging: EfficientViT's stride-2 subsample between stages (not residual):
// 1x1 Conv2dBN C -> hidden, ReLU, 3x3 stride-2 depthwise Conv2dBN, ReLU, SqueezeExcite,
// 1x1 Conv2dBN hidden -> C_out. Output side (r - 1) / 2 + 1. In a supernet it runs at active
// widths: conv1 [:hidden, :C], conv2 [:hidden], SE at `hidden`, conv3 [:out, :hidden].
#pragma once

#include <torch/nn/modules/conv.h>

#include "models/conv2d_bn.h"

namespace vitnas {

// Squeeze-excite (timm's SEModule with ratio 0.25): x * sigmoid(fc2(relu(fc1(mean_hw(x))))).
// On fewer channels C than it was built for (a supernet's active width) it runs the leading
// slices: fc1 [:rd, :C], fc2 [:C, :rd] with rd = se_width(C), biases alike.
class SqueezeExciteImpl : public torch::nn::Module {
 public:
  explicit SqueezeExciteImpl(int64_t channels);
  torch::Tensor forward(const torch::Tensor& x);
  void copy_active(SqueezeExciteImpl& dst) const;  // the slices dst's width runs

  torch::nn::Conv2d fc1{nullptr}, fc2{nullptr};  // 1x1 convs with bias
};
TORCH_MODULE(SqueezeExcite);

class PatchMergingImpl : public torch::nn::Module {
 public:
  PatchMergingImpl(int64_t dim, int64_t hidden, int64_t out_dim);
  torch::Tensor forward(const torch::Tensor& x);  // (B, C, r, r) -> (B, C_out, r', r')
  torch::Tensor forward_active(const torch::Tensor& x, int64_t hidden, int64_t out);
  void copy_active(PatchMergingImpl& dst) const;  // the slices dst's widths run

  Conv2dBN conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  SqueezeExcite se{nullptr};
};
TORCH_MODULE(PatchMerging);

}  // namespace vitnas
