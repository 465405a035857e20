// Conv2dBN: a bias-free Conv2d followed by BatchNorm2d, the building brick of EfficientViT
// (the official "Conv2d_BN"; state-dict children "c" and "bn"). Its math is a function on weight
// tensors (conv2d_bn, fold), so a supernet runs it on slices of larger weights; fold() gives the
// BN folded into the conv for inference: s = gamma / sqrt(var + eps); W' = W * s; b' = beta - mean * s.
#pragma once

#include <optional>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

namespace vitnas {

// A convolution with its BN folded in: what the inference networks run.
struct FusedConv {
  torch::Tensor weight;  // (out, in/groups, k, k)
  torch::Tensor bias;    // (out)
  int64_t stride = 1;
  int64_t padding = 0;
  int64_t groups = 1;

  torch::Tensor operator()(const torch::Tensor& x) const;
};

// The tensors of one Conv2d + BatchNorm2d: a module's own, or views (slices) of a supernet's.
struct ConvBNWeights {
  torch::Tensor conv;                                   // (out, in/groups, k, k)
  torch::Tensor gamma, beta, running_mean, running_var;  // (out)
  torch::Tensor num_batches_tracked;                    // counted in training if defined
  int64_t stride = 1, padding = 0, groups = 1;
  double eps = 1e-5, momentum = 0.1;
};

// bn(conv(x)). Training normalises with the batch's statistics and updates the running ones in
// place (through views, into the tensors they slice); eval uses the running statistics.
torch::Tensor conv2d_bn(const torch::Tensor& x, const ConvBNWeights& w, bool training);
FusedConv fold(const ConvBNWeights& w);

// A supernet's slicing rule for one Conv2dBN (views, so training and BN updates reach the larger
// tensors): output channels [offset, offset + out) with their BN entries, the leading `in` input
// channels (per group), and the kernel centre-cropped to `kernel` (OFA's elastic kernel;
// 0 keeps it). A depthwise conv stays depthwise (groups = out).
ConvBNWeights slice(const ConvBNWeights& w, int64_t out, int64_t in, int64_t kernel = 0,
                    int64_t offset = 0);
// Output-channel concatenation (a head's q, k and v slices into one qkv conv); copies.
ConvBNWeights concat(const std::vector<ConvBNWeights>& parts);

class Conv2dBNImpl : public torch::nn::Module {
 public:
  // padding is kernel / 2 everywhere in EfficientViT. bn_weight_init 0 makes a residual branch
  // start as identity (the official initialisation of the last conv of each branch).
  Conv2dBNImpl(int64_t in, int64_t out, int64_t kernel = 1, int64_t stride = 1,
               int64_t groups = 1, double bn_weight_init = 1.0);

  torch::Tensor forward(const torch::Tensor& x);
  // At an active width (a supernet's): the first `out` output channels on x's channels, the
  // kernel centre-cropped to `kernel` (0: the full kernel). Runs slice() of weights(). (Not an
  // overload of forward: Sequential and AnyModule need forward to be unambiguous.)
  torch::Tensor forward_active(const torch::Tensor& x, int64_t out, int64_t kernel = 0);
  ConvBNWeights weights() const;
  // The slice of weights() this module's forward_active(x, out, kernel) runs on an input of `in` channels.
  ConvBNWeights weights(int64_t out, int64_t in, int64_t kernel = 0) const;
  // Copies `w` (same shapes: e.g. a supernet's slice) into this module's weights and statistics.
  void load(const ConvBNWeights& w);
  FusedConv fuse() const { return fold(weights()); }

  // From now on forward() runs the folded conv (eval only), as the official speed test's
  // replace_batchnorm() does: the baseline that `bench` compares vitnas's fused network with.
  void fold_batchnorm() { folded_ = fuse(); }

  torch::nn::Conv2d c{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};

 private:
  // Kept here rather than read back from Conv2dOptions, whose padding type differs between
  // LibTorch 1.13 (c10::variant) and 2.x (std::variant).
  int64_t stride_, padding_, groups_;
  std::optional<FusedConv> folded_;
};
TORCH_MODULE(Conv2dBN);

// Folds BN statistics (scale s, shift t per output channel) of a BatchNorm into (s, t).
std::pair<torch::Tensor, torch::Tensor> bn_scale_shift(const torch::nn::BatchNorm2d& bn);
std::pair<torch::Tensor, torch::Tensor> bn_scale_shift(const torch::nn::BatchNorm1d& bn);

}  // namespace vitnas
