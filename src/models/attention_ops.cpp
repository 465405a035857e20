#include "models/attention_ops.h"

#include <cstdlib>

#include <torch/torch.h>

#include "models/kernels/softmax.h"

namespace vitnas {

namespace {
constexpr double kRSAttnEps = 1e-5;  // MPCViT's normaliser epsilon
}

torch::Tensor attention_map(const torch::Tensor& scores, AttentionKind kind) {
  switch (kind) {
    case AttentionKind::Softmax:
      return scores.softmax(-1);
    case AttentionKind::ReluSoftmax: {
      auto r = torch::relu(scores);
      return r / (r.sum(-1, /*keepdim=*/true) + kRSAttnEps);
    }
    case AttentionKind::Scaling:
      return scores / static_cast<double>(scores.size(-1));
  }
  throw std::logic_error("attention_map: unhandled kind");
}

torch::Tensor attention_map_(torch::Tensor& scores, AttentionKind kind) {
  switch (kind) {
    case AttentionKind::Softmax:
      return at::_softmax_out(scores, scores, -1, false);
    case AttentionKind::ReluSoftmax: {
      scores.relu_();
      return scores.div_(scores.sum(-1, /*keepdim=*/true).add_(kRSAttnEps));
    }
    case AttentionKind::Scaling:
      return scores.div_(static_cast<double>(scores.size(-1)));
  }
  throw std::logic_error("attention_map_: unhandled kind");
}

namespace {

torch::Tensor scores_of(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& bias,
                        double scale) {
  auto scores = torch::matmul(q, k.transpose(-2, -1)) * scale;  // (..., N, N)
  return bias.defined() ? scores + bias : scores;
}

// A V in the layout v is stored in, as the official code does: CGA's channels-major v
// (..., e, N) is v @ map^T (the result stays channels-major, a view away from its map);
// the ViT's tokens-major v is map @ v. The two round differently.
torch::Tensor times_v(const torch::Tensor& map, const torch::Tensor& v) {
  if (v.dim() >= 2 && v.size(-2) > 1 && v.stride(-2) == 1 && !v.is_contiguous())
    return torch::matmul(v.transpose(-2, -1), map.transpose(-2, -1)).transpose(-2, -1);
  return torch::matmul(map, v);  // (..., N, e)
}

}  // namespace

torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const torch::Tensor& bias, AttentionKind kind, double scale) {
  return times_v(attention_map(scores_of(q, k, bias, scale), kind), v);
}

torch::Tensor attend_search(const torch::Tensor& q, const torch::Tensor& k,
                            const torch::Tensor& v, const torch::Tensor& bias,
                            const torch::Tensor& alpha, const torch::Tensor& gamma,
                            double scale) {
  const auto scores = scores_of(q, k, bias, scale);
  auto map = alpha * attention_map(scores, AttentionKind::ReluSoftmax) +
             (1 - alpha) * attention_map(scores, AttentionKind::Scaling);
  if (gamma.defined())
    map = gamma * attention_map(scores, AttentionKind::Softmax) + (1 - gamma) * map;
  return times_v(map, v);
}

torch::Tensor attend_inference(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const torch::Tensor& bias,
                               AttentionKind kind) {
  const bool unit_channels = q.stride(-1) == 1 && k.stride(-1) == 1 && v.stride(-1) == 1;
  if (kind == AttentionKind::Softmax && q.device().is_cpu() &&
      q.scalar_type() == torch::kFloat32 && unit_channels && bias.defined() &&
      bias.is_contiguous())
    return kernels::window_softmax_attention(q, k, v, bias);
  // (bmm + add_: baddbmm with a broadcast bias is several times slower in LibTorch 1.13 on CPU)
  auto scores = torch::bmm(q, k.transpose(1, 2));  // (B, N, N)
  if (bias.defined()) scores.add_(bias);
  return torch::bmm(attention_map_(scores, kind), v);  // (B, N, e)
}

torch::Tensor attention_bias_index(int64_t window) {
  const int64_t n = window * window;
  auto idx = torch::empty({n, n}, torch::kInt64);
  auto a = idx.accessor<int64_t, 2>();
  for (int64_t p = 0; p < n; ++p)
    for (int64_t q = 0; q < n; ++q)
      a[p][q] = std::abs(p / window - q / window) * window + std::abs(p % window - q % window);
  return idx;
}

torch::Tensor head_input(const torch::Tensor& x, int64_t dim, int64_t i, int64_t chunk,
                         const torch::Tensor& prev, bool cascade) {
  auto split = x.narrow(dim, i * chunk, chunk);
  return (cascade && i > 0) ? split + prev : split;
}

std::array<torch::Tensor, 3> split_qkv(const torch::Tensor& qkv, int64_t dim, int64_t key_dim,
                                       int64_t v_dim) {
  return {qkv.narrow(dim, 0, key_dim), qkv.narrow(dim, key_dim, key_dim),
          qkv.narrow(dim, 2 * key_dim, v_dim)};
}

torch::Tensor window_partition(const torch::Tensor& x, const WindowGeometry& g) {
  if (g.whole_map()) return x;
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
  const int64_t R = g.window, n = g.per_side;
  torch::Tensor t = x;
  if (g.padded > H || g.padded > W)
    t = torch::constant_pad_nd(x, {0, 0, 0, g.padded - W, 0, g.padded - H});
  // (B, n*R, n*R, C) -> (B, n, R, n, R, C) -> (B, n, n, R, R, C) -> (B*n*n, R, R, C)
  return t.reshape({B, n, R, n, R, C}).permute({0, 1, 3, 2, 4, 5}).reshape({B * n * n, R, R, C});
}

torch::Tensor window_reverse(const torch::Tensor& windows, const WindowGeometry& g, int64_t B,
                             int64_t H, int64_t W) {
  if (g.whole_map()) return windows;
  const int64_t R = g.window, n = g.per_side, C = windows.size(3);
  // (B*n*n, R, R, C) -> (B, n, n, R, R, C) -> (B, n, R, n, R, C) -> (B, n*R, n*R, C), cropped
  auto merged = windows.reshape({B, n, n, R, R, C}).permute({0, 1, 3, 2, 4, 5}).reshape({B, n * R, n * R, C});
  return merged.narrow(1, 0, H).narrow(2, 0, W);
}

}  // namespace vitnas
