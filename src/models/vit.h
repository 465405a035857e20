// Plain vision transformer: DeiT (Touvron et al. 2021) and Compact Transformers' ViT-Lite, the
// backbones of MPCViT (Zeng et al. ICCV 2023), built from a "vit" ArchSpec. Every head has its
// own q/k and v widths and attention kind; each layer its own MLP width and activation (MPCViT+
// linearises GeLU with "identity"). Module names follow timm's VisionTransformer.
//
//   patch_embed.proj   k = s = patch conv            (B, 3, H, W) -> (B, N, D), N = (H/p)^2
//   cls_token, pos_embed                             -> (B, T, D), T = N (+1)
//   blocks.i           attention + MLP (DeiT or CCT layer order)
//   norm, head         final LayerNorm, Linear on the CLS token (or the token mean)
#pragma once

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "models/classifier.h"

namespace vitnas {

class ViTAttentionImpl : public torch::nn::Module {
 public:
  ViTAttentionImpl(int64_t dim, const std::vector<ViTHeadSpec>& heads, bool qkv_bias);
  torch::Tensor forward(const torch::Tensor& x);  // (B, T, D) -> (B, T, D)

  torch::nn::Linear qkv{nullptr};   // D -> [q of every head | k of every head | v of every head]
  torch::nn::Linear proj{nullptr};  // sum(v_dim) -> D

  // MPCViT's head-kind search (models/kind_search.h): registers `alpha` (heads), ones; from then
  // on forward() runs every head as alpha_i RSAttn + (1 - alpha_i) ScaleAttn, whatever its kind.
  // With softmax_candidates also `gamma` (heads), zeros: gamma_i Softmax + (1 - gamma_i) (that).
  void enable_kind_search(bool softmax_candidates);
  torch::Tensor alpha, gamma;  // undefined unless searching (gamma: unless softmax is a candidate)

 private:
  std::vector<ViTHeadSpec> heads_;
  bool uniform_widths_;  // all heads share qk_dim and v_dim
  bool uniform_;         // ... and kind: attend in one batched matmul
};
TORCH_MODULE(ViTAttention);

class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int64_t dim, int64_t hidden, Activation act);
  torch::Tensor forward(const torch::Tensor& x);

  // MPCViT+'s linearised MLP (act identity) is one linear: fc2(fc1(x)) = x (W2 W1)^T + W2 b1 + b2.
  // For inference: folds the two into `folded` (exact up to float rounding) when that is fewer
  // multiply-adds (dim < 2 hidden) and returns whether it did. fc1 and fc2 stay (state dict).
  bool fold_linear();

  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  torch::nn::Linear folded{nullptr};  // set by fold_linear(); forward then uses it alone

  // MPCViT+'s linearisation search (models/kind_search.h): registers `beta` (1), one; from then
  // on the activation is beta act(h) + (1 - beta) h. False (nothing registered) for identity.
  bool enable_linearisation_search();
  torch::Tensor beta;  // undefined unless searching

 private:
  Activation act_;
};
TORCH_MODULE(Mlp);

class ViTLayerImpl : public torch::nn::Module {
 public:
  ViTLayerImpl(int64_t dim, const ViTLayerSpec& spec, const ViTSpec& vit, double drop_path);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  ViTAttention attn{nullptr};
  Mlp mlp{nullptr};

 private:
  LayerStyle style_;
  double drop_path_;
};
TORCH_MODULE(ViTLayer);

class ViTImpl : public ClassifierImpl {
 public:
  ViTImpl(const ArchSpec& spec, const ModelOptions& options);

  torch::Tensor forward_features(const torch::Tensor& x) override;  // (B, T, D) after norm
  std::pair<torch::Tensor, torch::Tensor> forward_heads(const torch::Tensor& features) override;

  torch::nn::Conv2d patch_proj{nullptr};  // "patch_embed.proj"
  torch::Tensor cls_token, pos_embed;
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear head{nullptr}, head_dist{nullptr};
};

double layer_norm_eps(LayerStyle style);

}  // namespace vitnas
