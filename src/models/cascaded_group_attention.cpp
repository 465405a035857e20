#include "models/cascaded_group_attention.h"

#include <cmath>

#include <torch/torch.h>

#include "core/arch_walk.h"
#include "models/attention_ops.h"

namespace vitnas {

namespace {
// (B, d, R, R) -> (B, N, d): the tokens-major view attend() takes (no copy).
torch::Tensor tokens(const torch::Tensor& t) { return t.flatten(2).transpose(1, 2); }
}  // namespace

CascadedGroupAttentionImpl::CascadedGroupAttentionImpl(int64_t dim, const AttentionSpec& spec,
                                                       int64_t window)
    : spec_(spec), dim_(dim), window_(window) {
  const int64_t heads = static_cast<int64_t>(spec.heads.size());
  const int64_t chunk = dim / heads;
  qkvs = register_module("qkvs", torch::nn::ModuleList());
  dws = register_module("dws", torch::nn::ModuleList());
  int64_t v_total = 0;
  for (const auto& h : spec.heads) {
    qkvs->push_back(Conv2dBN(chunk, 2 * h.key_dim + h.v_dim));
    dws->push_back(Conv2dBN(h.key_dim, h.key_dim, h.kernel, 1, /*groups=*/h.key_dim));
    v_total += h.v_dim;
  }
  proj = register_module(
      "proj", torch::nn::Sequential(torch::nn::ReLU(),
                                    Conv2dBN(v_total, dim, 1, 1, 1, /*bn_weight_init=*/0.0)));
  attention_biases =
      register_parameter("attention_biases", torch::zeros({heads, window * window}));
  attention_bias_idxs = register_buffer("attention_bias_idxs", attention_bias_index(window));
}

torch::Tensor CascadedGroupAttentionImpl::head_bias(int64_t i) const {
  return attention_biases[i].index({attention_bias_idxs});  // (N, N)
}

torch::Tensor CascadedGroupAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t B = x.size(0), R = window_;
  TORCH_CHECK(x.size(2) == R && x.size(3) == R, "CascadedGroupAttention: expected ", R, "x", R,
              " maps, got ", x.size(2), "x", x.size(3));
  const auto heads = static_cast<int64_t>(spec_.heads.size());
  std::vector<torch::Tensor> outs;
  torch::Tensor feat;
  for (int64_t i = 0; i < heads; ++i) {
    const HeadSpec& h = spec_.heads[size_t(i)];
    feat = head_input(x, 1, i, dim_ / heads, feat, spec_.cascade);  // (B, C/heads, R, R)
    auto [q, k, v] = split_qkv(qkvs[i]->as<Conv2dBN>()->forward(feat), 1, h.key_dim, h.v_dim);
    q = dws[i]->as<Conv2dBN>()->forward(q);  // (B, kd, R, R)
    auto out = attend(tokens(q), tokens(k), tokens(v), head_bias(i), h.kind,
                      1.0 / std::sqrt(double(h.key_dim)));  // (B, N, v)
    feat = out.transpose(1, 2).reshape({B, h.v_dim, R, R});
    outs.push_back(feat);
  }
  return proj->forward(torch::cat(outs, 1));
}

LocalWindowAttentionImpl::LocalWindowAttentionImpl(int64_t dim, const AttentionSpec& spec,
                                                   int64_t resolution, int64_t window)
    : resolution_(resolution), window_(window) {
  const WindowGeometry g = window_geometry(int(resolution), int(window));
  attn = register_module("attn", CascadedGroupAttention(dim, spec, g.window));
}

torch::Tensor LocalWindowAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3);
  TORCH_CHECK(H == resolution_ && W == resolution_, "LocalWindowAttention: expected ",
              resolution_, "x", resolution_, " maps, got ", H, "x", W);
  const WindowGeometry g = window_geometry(int(H), int(window_));
  if (g.whole_map()) return attn(x);
  auto windows = window_partition(x.permute({0, 2, 3, 1}), g);  // (B*n, R, R, C)
  auto y = attn(windows.permute({0, 3, 1, 2}));                  // (B*n, C, R, R)
  return window_reverse(y.permute({0, 2, 3, 1}), g, B, H, W).permute({0, 3, 1, 2}).contiguous();
}

}  // namespace vitnas
