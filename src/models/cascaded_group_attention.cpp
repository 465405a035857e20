#include "models/cascaded_group_attention.h"

#include <cmath>

#include <torch/torch.h>

#include "models/attention_kind.h"

namespace vitnas {

torch::Tensor attention_bias_index(int64_t window) {
  const int64_t n = window * window;
  auto idx = torch::empty({n, n}, torch::kInt64);
  auto a = idx.accessor<int64_t, 2>();
  for (int64_t p = 0; p < n; ++p)
    for (int64_t q = 0; q < n; ++q)
      a[p][q] = std::abs(p / window - q / window) * window + std::abs(p % window - q % window);
  return idx;
}

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

torch::Tensor CascadedGroupAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3);
  TORCH_CHECK(H == window_ && W == window_, "CascadedGroupAttention: expected ", window_, "x",
              window_, " maps, got ", H, "x", W);
  const auto heads = static_cast<int64_t>(spec_.heads.size());
  auto biases = attention_biases.index({torch::indexing::Slice(), attention_bias_idxs});
  // (heads, N, N)
  auto chunks = x.chunk(heads, 1);  // heads x (B, C/heads, H, W)
  std::vector<torch::Tensor> outs;
  torch::Tensor feat;
  for (int64_t i = 0; i < heads; ++i) {
    const HeadSpec& h = spec_.heads[i];
    // The cascade: head i sees its own split plus what head i-1 produced.
    feat = (spec_.cascade && i > 0) ? feat + chunks[i] : chunks[i];
    auto qkv = qkvs[i]->as<Conv2dBN>()->forward(feat);  // (B, 2*kd + v, H, W)
    auto parts = qkv.split_with_sizes({h.key_dim, h.key_dim, h.v_dim}, 1);
    auto q = dws[i]->as<Conv2dBN>()->forward(parts[0]).flatten(2);  // (B, kd, N)
    auto k = parts[1].flatten(2);                                    // (B, kd, N)
    auto v = parts[2].flatten(2);                                    // (B, v, N)
    auto scores = torch::matmul(q.transpose(-2, -1), k) * (1.0 / std::sqrt(double(h.key_dim))) +
                  biases[i];  // (B, N, N)
    auto attn = attention_map(scores, h.kind);
    feat = torch::matmul(v, attn.transpose(-2, -1)).view({B, h.v_dim, H, W});
    outs.push_back(feat);
  }
  return proj->forward(torch::cat(outs, 1));
}

LocalWindowAttentionImpl::LocalWindowAttentionImpl(int64_t dim, const AttentionSpec& spec,
                                                   int64_t resolution, int64_t window)
    : resolution_(resolution), window_(window) {
  attn = register_module(
      "attn", CascadedGroupAttention(dim, spec, std::min(window, resolution)));
}

torch::Tensor LocalWindowAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  TORCH_CHECK(H == resolution_ && W == resolution_, "LocalWindowAttention: expected ",
              resolution_, "x", resolution_, " maps, got ", H, "x", W);
  if (H <= window_ && W <= window_) return attn(x);
  const int64_t w = window_;
  const int64_t pad_b = (w - H % w) % w, pad_r = (w - W % w) % w;
  auto t = x.permute({0, 2, 3, 1});  // (B, H, W, C)
  if (pad_b > 0 || pad_r > 0) t = torch::constant_pad_nd(t, {0, 0, 0, pad_r, 0, pad_b});
  const int64_t pH = H + pad_b, pW = W + pad_r, nH = pH / w, nW = pW / w;
  // window partition: (B, nH*w, nW*w, C) -> (B*nH*nW, C, w, w)
  t = t.view({B, nH, w, nW, w, C}).transpose(2, 3).reshape({B * nH * nW, w, w, C});
  t = attn(t.permute({0, 3, 1, 2}));
  // window reverse: (B*nH*nW, C, w, w) -> (B, pH, pW, C)
  t = t.permute({0, 2, 3, 1}).reshape({B, nH, nW, w, w, C}).transpose(2, 3).reshape({B, pH, pW, C});
  if (pad_b > 0 || pad_r > 0) t = t.slice(1, 0, H).slice(2, 0, W);
  return t.permute({0, 3, 1, 2}).contiguous();  // (B, C, H, W)
}

}  // namespace vitnas
