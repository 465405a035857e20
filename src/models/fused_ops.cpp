#include "models/fused_ops.h"

#include <torch/torch.h>

#include "models/attention_ops.h"
#include "models/kernels/stem_conv.h"

namespace vitnas::fused {

using torch::Tensor;

namespace {

// What oneDNN's post-ops do, for the LibTorch path: y + residual, then ReLU, in place.
Tensor epilogue(Tensor y, const Tensor& residual, bool relu) {
  if (residual.defined()) y.add_(residual);
  return relu ? y.relu_() : y;
}

}  // namespace

Tensor Pointwise::operator()(const Tensor& x, const Tensor& residual, bool relu) const {
  if (kernels::OneDnnConv::available(x)) return (*conv)(x, residual, relu);
  // contiguous() is a no-op: oneDNN keeps the channels-last layout of its input.
  auto y = torch::conv2d(x.permute({0, 3, 1, 2}), w, b).permute({0, 2, 3, 1}).contiguous();
  return epilogue(y, residual, relu);
}

Tensor Pointwise::rows(const Tensor& x) const { return torch::addmm(b, x, wt); }

Pointwise pointwise(const Tensor& w, const Tensor& b) {
  auto w4 = w.reshape({w.size(0), w.size(1), 1, 1}).contiguous();
  return {w4, w4.flatten(1).t().contiguous(), b.contiguous(),
          std::make_shared<const kernels::OneDnnConv>(w4, b, 1, 0, 1)};
}

Tensor Depthwise::operator()(const Tensor& x, bool relu) const {
  if (kernels::OneDnnConv::available(x)) return (*conv)(x, {}, relu);
  auto y = torch::conv2d(x.permute({0, 3, 1, 2}), w, b, stride, padding, 1, w.size(0));
  return epilogue(y.permute({0, 2, 3, 1}).contiguous(), {}, relu);  // (B, H', W', C); no copy, as above
}

Depthwise depthwise(const FusedConv& f, double scale) {
  auto w = (f.weight * scale).contiguous(at::MemoryFormat::ChannelsLast);
  auto b = f.bias * scale;
  return {w, b, f.stride, f.padding,
          std::make_shared<const kernels::OneDnnConv>(w, b, f.stride, f.padding, w.size(0))};
}

Depthwise residual_depthwise(FusedConv f) {
  const int64_t k = f.weight.size(-1);
  f.weight = f.weight.clone();
  f.weight.select(-1, k / 2).select(-1, k / 2).add_(1.0);
  return depthwise(f);
}

Tensor FFNResidual::operator()(const Tensor& x) const {
  return pw2(pw1(x, {}, /*relu=*/true), /*residual=*/x);
}

// One head on every window: its qkv projection, q's depthwise conv (the scale folded in), then
// the shared attention math.
Tensor AttentionHead::operator()(const Tensor& feat) const {
  const int64_t Bw = feat.size(0), R = feat.size(1), N = R * feat.size(2);
  auto [q, k, v] = split_qkv(qkv(feat), 3, key_dim, v_dim);  // (Bw, R, R, kd | kd | v)
  auto out = attend_inference(q_dw(q).reshape({Bw, N, key_dim}), k.reshape({Bw, N, key_dim}),
                              v.reshape({Bw, N, v_dim}), bias, kind);  // (Bw, N, v)
  return out.view({Bw, R, feat.size(2), v_dim});
}

WindowGeometry WindowAttentionResidual::geometry(const Tensor& x) const {
  return window_geometry(int(x.size(1)), int(window));
}

Tensor WindowAttentionResidual::partition(const Tensor& x) const {
  return window_partition(x, geometry(x));
}

Tensor WindowAttentionResidual::head_input(const Tensor& windows, size_t i, const Tensor& prev) const {
  const int64_t chunk = windows.size(3) / int64_t(heads.size());
  return vitnas::head_input(windows, 3, int64_t(i), chunk, prev, cascade);  // (Bw, R, R, chunk)
}

Tensor WindowAttentionResidual::finish(const std::vector<Tensor>& outs, const Tensor& x) const {
  auto heads_out = torch::cat(outs, 3).relu_();  // (Bw, R, R, v_total)
  const WindowGeometry g = geometry(x);
  if (g.whole_map()) return proj(heads_out, /*residual=*/x);  // (B, H, W, C)
  return x + window_reverse(proj(heads_out), g, x.size(0), x.size(1), x.size(2));
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
  auto h = conv2(conv1(x, {}, /*relu=*/true), /*relu=*/true);      // (B, H', W', hidden)
  auto s = fc2.rows(fc1.rows(h.mean({1, 2})).relu_()).sigmoid_();  // (B, hidden)
  return conv3(h.mul_(s.view({B, 1, 1, -1})));                     // (B, H', W', C_out)
}

Stem stem(std::vector<FusedConv> convs) {
  std::vector<kernels::OneDnnConvChain::Conv> chain;
  for (const auto& c : convs) chain.push_back({c.weight, c.bias, c.stride, c.padding});
  return {std::move(convs), std::make_shared<const kernels::OneDnnConvChain>(std::move(chain))};
}

Tensor Stem::operator()(const Tensor& images) const {
  if (kernels::OneDnnConv::available(images)) return (*chain)(images);  // (B, r, r, C1)
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
