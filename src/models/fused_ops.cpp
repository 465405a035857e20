#include "models/fused_ops.h"

#include <torch/torch.h>

#include "models/attention_kind.h"
#include "models/kernels/softmax.h"
#include "models/kernels/stem_conv.h"

namespace vitnas::fused {

using torch::Tensor;

Tensor Pointwise::operator()(const Tensor& x) const {
  // contiguous() is a no-op: oneDNN keeps the channels-last layout of its input.
  return torch::conv2d(x.permute({0, 3, 1, 2}), w, b).permute({0, 2, 3, 1}).contiguous();
}

Tensor Pointwise::rows(const Tensor& x) const { return torch::addmm(b, x, wt); }

Pointwise pointwise(const Tensor& w, const Tensor& b) {
  auto w4 = w.reshape({w.size(0), w.size(1), 1, 1}).contiguous();
  return {w4, w4.flatten(1).t().contiguous(), b.contiguous()};
}

Tensor Depthwise::operator()(const Tensor& x) const {
  auto y = torch::conv2d(x.permute({0, 3, 1, 2}), w, b, stride, padding, 1, w.size(0));
  return y.permute({0, 2, 3, 1}).contiguous();  // (B, H', W', C); no copy, as above
}

Depthwise depthwise(const FusedConv& f, double scale) {
  return {(f.weight * scale).contiguous(at::MemoryFormat::ChannelsLast), f.bias * scale, f.stride,
          f.padding};
}

Depthwise residual_depthwise(FusedConv f) {
  const int64_t k = f.weight.size(-1);
  f.weight = f.weight.clone();
  f.weight.select(-1, k / 2).select(-1, k / 2).add_(1.0);
  return depthwise(f);
}

Tensor FFNResidual::operator()(const Tensor& x) const { return pw2(pw1(x).relu_()).add_(x); }

// kind(q k^T + bias) v over every window, with the scale folded into q. Softmax heads on CPU run
// the per-window kernel (one BLAS call per GEMM, fused bias + softmax).
Tensor AttentionHead::operator()(const Tensor& feat) const {
  const int64_t Bw = feat.size(0), R = feat.size(1), N = R * feat.size(2);
  auto t = qkv(feat);  // (Bw, R, R, 2kd + v)
  auto q = q_dw(t.narrow(3, 0, key_dim)).reshape({Bw, N, key_dim});
  auto k = t.narrow(3, key_dim, key_dim).reshape({Bw, N, key_dim});
  auto v = t.narrow(3, 2 * key_dim, v_dim).reshape({Bw, N, v_dim});
  Tensor out;
  if (kind == AttentionKind::Softmax && q.device().is_cpu() && q.scalar_type() == torch::kFloat32) {
    out = kernels::window_softmax_attention(q, k, v, bias);
  } else {
    // (bmm + add_: baddbmm with a broadcast bias is several times slower in LibTorch 1.13 on CPU)
    auto scores = torch::bmm(q, k.transpose(1, 2)).add_(bias);  // (Bw, N, N)
    out = torch::bmm(attention_map_(scores, kind), v);          // (Bw, N, v)
  }
  return out.view({Bw, R, feat.size(2), v_dim});
}

Tensor WindowAttentionResidual::partition(const Tensor& x) const {
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3), R = window;
  const int64_t pad_b = (R - H % R) % R, pad_r = (R - W % R) % R;
  const int64_t nH = (H + pad_b) / R, nW = (W + pad_r) / R;
  Tensor win = x;
  if (pad_b > 0 || pad_r > 0) win = torch::constant_pad_nd(x, {0, 0, 0, pad_r, 0, pad_b});
  if (nH * nW > 1)
    win = win.view({B, nH, R, nW, R, C}).permute({0, 1, 3, 2, 4, 5}).reshape({B * nH * nW, R, R, C});
  return win;
}

Tensor WindowAttentionResidual::head_input(const Tensor& windows, size_t i, const Tensor& prev) const {
  const int64_t chunk = windows.size(3) / int64_t(heads.size());
  auto split = windows.narrow(3, int64_t(i) * chunk, chunk);  // (Bw, R, R, chunk)
  return (cascade && i > 0) ? split + prev : split;
}

Tensor WindowAttentionResidual::finish(const std::vector<Tensor>& outs, const Tensor& x) const {
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3), R = window;
  const int64_t nH = (H + R - 1) / R, nW = (W + R - 1) / R;
  auto y = proj(torch::cat(outs, 3).relu_());  // (Bw, R, R, C)
  if (nH * nW == 1 && H == R && W == R) return y.add_(x);
  // window reverse: (B*nH*nW, R, R, C) -> (B, nH*R, nW*R, C), then crop the padding
  auto merged = y.view({B, nH, nW, R, R, C}).permute({0, 1, 3, 2, 4, 5}).reshape({B, nH * R, nW * R, C});
  return x + merged.narrow(1, 0, H).narrow(2, 0, W);
}

Tensor WindowAttentionResidual::operator()(const Tensor& x) const {
  auto windows = partition(x);
  std::vector<Tensor> outs;
  Tensor feat;
  for (size_t i = 0; i < heads.size(); ++i) {
    feat = heads[i](head_input(windows, i, feat));
    outs.push_back(feat);
  }
  return finish(outs, x);
}

Tensor PatchMergingStep::operator()(const Tensor& x) const {
  const int64_t B = x.size(0);
  auto h = conv2(conv1(x).relu_()).relu_();                        // (B, H', W', hidden)
  auto s = fc2.rows(fc1.rows(h.mean({1, 2})).relu_()).sigmoid_();  // (B, hidden)
  return conv3(h.mul_(s.view({B, 1, 1, -1})));                     // (B, H', W', C_out)
}

Tensor Stem::operator()(const Tensor& images) const {
  const bool channels_last = !convs.empty() && convs[0].weight.size(0) >= 16;
  Tensor t = channels_last ? images.contiguous(at::MemoryFormat::ChannelsLast) : images;
  for (size_t i = 0; i < convs.size(); ++i) {
    const bool relu = i + 1 < convs.size();
    // The RGB conv: vitnas's kernel is ~2x oneDNN's (microbench StemConv).
    if (i == 0 && !channels_last && kernels::stem_conv_supported(t, convs[0].weight)) {
      t = kernels::stem_conv3x3_s2(t, convs[0].weight, convs[0].bias, relu);
      continue;
    }
    t = convs[i](t);
    if (relu) t.relu_();
  }
  return t.permute({0, 2, 3, 1}).contiguous();  // (B, r, r, C1)
}

Tensor Head::operator()(const Tensor& x) const { return linear.rows(x.mean({1, 2})); }

}  // namespace vitnas::fused
