#include "models/cascaded_group_attention.h"

#include <cmath>

#include <torch/torch.h>

#include "core/arch_walk.h"
#include "models/attention_ops.h"

namespace vitnas {

namespace {
// (B, d, R, R) -> (B, N, d): the tokens-major view attend() takes (no copy).
torch::Tensor tokens(const torch::Tensor& t) { return t.flatten(2).transpose(1, 2); }

// Runs `attend_windows` on each window of x (B, C, H, W) under geometry g, merging the results.
template <typename F>
torch::Tensor in_windows(const torch::Tensor& x, const WindowGeometry& g, F attend_windows) {
  if (g.whole_map()) return attend_windows(x);
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3);
  auto windows = window_partition(x.permute({0, 2, 3, 1}), g);  // (B*n, R, R, C)
  auto y = attend_windows(windows.permute({0, 3, 1, 2}));       // (B*n, C, R, R)
  return window_reverse(y.permute({0, 2, 3, 1}), g, B, H, W).permute({0, 3, 1, 2}).contiguous();
}
}  // namespace

CascadedGroupAttentionImpl::CascadedGroupAttentionImpl(int64_t dim, const AttentionSpec& spec,
                                                       int64_t window, int64_t chunk)
    : spec_(spec), dim_(dim), window_(window) {
  const int64_t heads = static_cast<int64_t>(spec.heads.size());
  if (chunk == 0) chunk = dim / heads;
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
    const double scale = 1.0 / std::sqrt(double(h.key_dim));
    auto out = alpha.defined()
                   ? attend_search(tokens(q), tokens(k), tokens(v), head_bias(i), alpha[i],
                                   gamma.defined() ? gamma[i] : gamma, scale)
                   : attend(tokens(q), tokens(k), tokens(v), head_bias(i), h.kind, scale);  // (B, N, v)
    feat = out.transpose(1, 2).reshape({B, h.v_dim, R, R});
    outs.push_back(feat);
  }
  return proj->forward(torch::cat(outs, 1));
}

void CascadedGroupAttentionImpl::enable_kind_search(bool softmax_candidates) {
  const auto options = attention_biases.options();
  const int64_t heads = int64_t(spec_.heads.size());
  if (!alpha.defined()) alpha = register_parameter("alpha", torch::ones({heads}, options));
  if (softmax_candidates && !gamma.defined())
    gamma = register_parameter("gamma", torch::zeros({heads}, options));
}

std::array<ConvBNWeights, 3> CascadedGroupAttentionImpl::qkv_active(int64_t i, int64_t chunk,
                                                                    int64_t kd, int64_t v) const {
  const ConvBNWeights w = qkvs->ptr(i)->as<Conv2dBN>()->weights();
  const int64_t K = spec_.heads[size_t(i)].key_dim;
  ConvBNWeights k = slice(w, kd, chunk, 0, K), vs = slice(w, v, chunk, 0, 2 * K);
  k.num_batches_tracked = vs.num_batches_tracked = torch::Tensor();  // counted once, with q
  return {slice(w, kd, chunk, 0, 0), k, vs};
}

torch::Tensor CascadedGroupAttentionImpl::bias_table(int64_t i, int64_t window) const {
  return attention_biases[i].view({window_, window_}).narrow(0, 0, window).narrow(1, 0, window)
      .reshape({window * window});
}

torch::Tensor CascadedGroupAttentionImpl::forward_active(const torch::Tensor& x,
                                                         const AttentionSpec& active) {
  const int64_t B = x.size(0), C = x.size(1), R = x.size(2);
  const auto heads = static_cast<int64_t>(active.heads.size());
  TORCH_CHECK(heads <= int64_t(spec_.heads.size()) && R <= window_ && C <= dim_,
              "CascadedGroupAttention: the active attention exceeds the capacity");
  const auto idx = attention_bias_index(R).to(attention_biases.device());
  std::vector<torch::Tensor> outs;
  torch::Tensor feat;
  for (int64_t i = 0; i < heads; ++i) {
    const HeadSpec& h = active.heads[size_t(i)];
    feat = head_input(x, 1, i, C / heads, feat, active.cascade);  // (B, C/heads, R, R)
    const auto w = qkv_active(i, C / heads, h.key_dim, h.v_dim);
    auto q = conv2d_bn(feat, w[0], is_training()), k = conv2d_bn(feat, w[1], is_training()),
         v = conv2d_bn(feat, w[2], is_training());
    q = dws[i]->as<Conv2dBN>()->forward_active(q, h.key_dim, h.kernel);  // (B, kd, R, R)
    auto out = attend(tokens(q), tokens(k), tokens(v), bias_table(i, R).index({idx}), h.kind,
                      1.0 / std::sqrt(double(h.key_dim)));  // (B, N, v)
    feat = out.transpose(1, 2).reshape({B, h.v_dim, R, R});
    outs.push_back(feat);
  }
  auto cat = torch::relu(torch::cat(outs, 1));  // proj is ReLU, Conv2dBN
  return proj[1]->as<Conv2dBN>()->forward_active(cat, C);
}

void CascadedGroupAttentionImpl::copy_active(CascadedGroupAttentionImpl& dst) const {
  torch::NoGradGuard no_grad;
  const AttentionSpec& a = dst.spec_;
  const auto heads = static_cast<int64_t>(a.heads.size());
  int64_t v_total = 0;
  for (int64_t i = 0; i < heads; ++i) {
    const HeadSpec& h = a.heads[size_t(i)];
    const auto w = qkv_active(i, dst.dim_ / heads, h.key_dim, h.v_dim);
    dst.qkvs[i]->as<Conv2dBN>()->load(concat({w[0], w[1], w[2]}));
    dst.dws[i]->as<Conv2dBN>()->load(dws->ptr(i)->as<Conv2dBN>()->weights(h.key_dim, 1, h.kernel));
    dst.attention_biases[i].copy_(bias_table(i, dst.window_));
    v_total += h.v_dim;
  }
  dst.proj[1]->as<Conv2dBN>()->load(proj->ptr(1)->as<Conv2dBN>()->weights(dst.dim_, v_total));
}

LocalWindowAttentionImpl::LocalWindowAttentionImpl(int64_t dim, const AttentionSpec& spec,
                                                   int64_t resolution, int64_t window,
                                                   int64_t chunk)
    : resolution_(resolution), window_(window) {
  const WindowGeometry g = window_geometry(int(resolution), int(window));
  attn = register_module("attn", CascadedGroupAttention(dim, spec, g.window, chunk));
}

torch::Tensor LocalWindowAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t H = x.size(2), W = x.size(3);
  TORCH_CHECK(H == resolution_ && W == resolution_, "LocalWindowAttention: expected ",
              resolution_, "x", resolution_, " maps, got ", H, "x", W);
  return in_windows(x, window_geometry(int(H), int(window_)), [&](const torch::Tensor& w) {
    return attn(w);
  });
}

torch::Tensor LocalWindowAttentionImpl::forward_active(const torch::Tensor& x,
                                                       const AttentionSpec& active,
                                                       int64_t window) {
  return in_windows(x, window_geometry(int(x.size(2)), int(window)),
                    [&](const torch::Tensor& w) { return attn->forward_active(w, active); });
}

}  // namespace vitnas
