#include "models/fused_efficientvit.h"

#include <torch/torch.h>

#include "models/attention_kind.h"
#include "models/cascaded_group_attention.h"
#include "models/ffn.h"
#include "models/kernels/softmax.h"
#include "models/kernels/stem_conv.h"
#include "models/patch_merging.h"
#include "models/residual.h"

namespace vitnas {

namespace {

using torch::Tensor;

// A 1x1 conv (or linear) with its BN folded. On channels-last maps it runs as a 1x1 conv, which
// LibTorch hands to oneDNN (about 1.8x the GFLOP/s of the BLAS GEMM on AVX-512 machines); on
// plain rows (B, in), e.g. after pooling, as one addmm.
struct Pointwise {
  Tensor w;   // (out, in, 1, 1)
  Tensor wt;  // (in, out), for rows
  Tensor b;   // (out)
  Tensor operator()(const Tensor& x) const {  // (B, H, W, in) -> (B, H, W, out)
    // contiguous() is a no-op: oneDNN keeps the channels-last layout of its input.
    return torch::conv2d(x.permute({0, 3, 1, 2}), w, b).permute({0, 2, 3, 1}).contiguous();
  }
  Tensor rows(const Tensor& x) const { return torch::addmm(b, x, wt); }  // (M, in) -> (M, out)
};

Pointwise to_pointwise(const Tensor& w, const Tensor& b) {
  auto w4 = w.reshape({w.size(0), w.size(1), 1, 1}).contiguous();
  return {w4, w4.flatten(1).t().contiguous(), b.contiguous()};
}
Pointwise to_pointwise(const FusedConv& f) { return to_pointwise(f.weight, f.bias); }

// Depthwise conv on channels-last maps (B, H, W, C) -> (B, H', W', C).
struct Depthwise {
  Tensor w, b;  // (C, 1, k, k) channels-last, (C)
  int64_t stride, padding;
  Tensor operator()(const Tensor& x) const {
    auto y = torch::conv2d(x.permute({0, 3, 1, 2}), w, b, stride, padding, 1, w.size(0));
    return y.permute({0, 2, 3, 1}).contiguous();  // (B, H', W', C); no copy, as above
  }
};

Depthwise depthwise(FusedConv f, double scale = 1.0) {
  return {(f.weight * scale).contiguous(at::MemoryFormat::ChannelsLast), f.bias * scale, f.stride,
          f.padding};
}

// x + dw(x) == a single depthwise conv whose kernel has 1 added at its centre.
Depthwise residual_depthwise(const Conv2dBNImpl& m) {
  FusedConv f = m.fuse();
  const int64_t k = f.weight.size(-1);
  f.weight.select(-1, k / 2).select(-1, k / 2).add_(1.0);
  return depthwise(f);
}

// Residual FFN: x + pw2(relu(pw1(x))).
struct FFNResidual {
  Pointwise pw1, pw2;
  Tensor operator()(const Tensor& x) const { return pw2(pw1(x).relu_()).add_(x); }
};

FFNResidual ffn_residual(FFNImpl& f) {
  return {to_pointwise(f.pw1->fuse()), to_pointwise(f.pw2->fuse())};
}

// One head of cascaded group attention.
struct Head {
  Pointwise qkv;    // chunk -> [q | k | v]
  Depthwise q_dw;   // with the scale key_dim^-0.5 folded in
  Tensor bias;      // (N, N) relative-position bias of this head
  int64_t key_dim, v_dim;
  AttentionKind kind;
};

// One head over every window: kind(q k^T + bias) v, with the scale folded into q. Softmax heads
// on CPU run the per-window kernel (one BLAS call per GEMM, fused bias + softmax).
Tensor attend(const Tensor& q, const Tensor& k, const Tensor& v, const Head& h) {
  if (h.kind == AttentionKind::Softmax && q.device().is_cpu() && q.scalar_type() == torch::kFloat32)
    return kernels::window_softmax_attention(q, k, v, h.bias);
  // (bmm + add_: baddbmm with a broadcast bias is several times slower in LibTorch 1.13 on CPU)
  auto scores = torch::bmm(q, k.transpose(1, 2)).add_(h.bias);  // (Bw, N, N)
  return torch::bmm(attention_map_(scores, h.kind), v);         // (Bw, N, v)
}

// Residual local window attention: x + CGA(windows(x)).
struct WindowAttentionResidual {
  std::vector<Head> heads;
  Pointwise proj;
  bool cascade;
  int64_t window;  // side R of the windows (already capped at the map size)

  Tensor operator()(const Tensor& x) const {
    const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3), R = window;
    const int64_t pad_b = (R - H % R) % R, pad_r = (R - W % R) % R;
    const int64_t nH = (H + pad_b) / R, nW = (W + pad_r) / R;
    Tensor win = x;  // (B*nH*nW, R, R, C)
    if (pad_b > 0 || pad_r > 0) win = torch::constant_pad_nd(x, {0, 0, 0, pad_r, 0, pad_b});
    if (nH * nW > 1)
      win = win.view({B, nH, R, nW, R, C}).permute({0, 1, 3, 2, 4, 5}).reshape({B * nH * nW, R, R, C});
    const int64_t Bw = win.size(0), N = R * R, chunk = C / int64_t(heads.size());

    std::vector<Tensor> outs;
    Tensor feat;
    for (size_t i = 0; i < heads.size(); ++i) {
      const Head& h = heads[i];
      auto split = win.narrow(3, int64_t(i) * chunk, chunk);
      feat = (cascade && i > 0) ? feat + split : split;  // (Bw, R, R, chunk)
      auto qkv = h.qkv(feat);                            // (Bw, R, R, 2kd + v)
      auto q = h.q_dw(qkv.narrow(3, 0, h.key_dim)).reshape({Bw, N, h.key_dim});
      auto k = qkv.narrow(3, h.key_dim, h.key_dim).reshape({Bw, N, h.key_dim});
      auto v = qkv.narrow(3, 2 * h.key_dim, h.v_dim).reshape({Bw, N, h.v_dim});
      feat = attend(q, k, v, h).view({Bw, R, R, h.v_dim});  // (Bw, N, v) -> (Bw, R, R, v)
      outs.push_back(feat);
    }
    auto y = proj(torch::cat(outs, 3).relu_());  // (Bw, R, R, C)
    if (nH * nW == 1 && pad_b == 0 && pad_r == 0) return y.add_(x);
    // window reverse: (B*nH*nW, R, R, C) -> (B, nH*R, nW*R, C), then crop the padding
    auto merged = y.view({B, nH, nW, R, R, C}).permute({0, 1, 3, 2, 4, 5}).reshape({B, nH * R, nW * R, C});
    return x + merged.narrow(1, 0, H).narrow(2, 0, W);
  }
};

WindowAttentionResidual window_attention_residual(LocalWindowAttentionImpl& lwa) {
  auto& cga = *lwa.attn;
  const int64_t R = cga.window(), N = R * R;
  torch::NoGradGuard no_grad;
  auto biases = cga.attention_biases.index({torch::indexing::Slice(), cga.attention_bias_idxs});
  WindowAttentionResidual r;
  r.cascade = cga.spec().cascade;
  r.window = R;
  for (size_t i = 0; i < cga.spec().heads.size(); ++i) {
    const HeadSpec& hs = cga.spec().heads[i];
    Head h;
    h.qkv = to_pointwise(cga.qkvs[i]->as<Conv2dBN>()->fuse());
    h.q_dw = depthwise(cga.dws[i]->as<Conv2dBN>()->fuse(), 1.0 / std::sqrt(double(hs.key_dim)));
    h.bias = biases[int64_t(i)].reshape({N, N}).contiguous();
    h.key_dim = hs.key_dim;
    h.v_dim = hs.v_dim;
    h.kind = hs.kind;
    r.heads.push_back(h);
  }
  r.proj = to_pointwise(cga.proj[1]->as<Conv2dBN>()->fuse());
  return r;
}

// PatchMerging: conv1, ReLU, stride-2 depthwise, ReLU, squeeze-excite, conv3 (not residual).
struct PatchMergingStep {
  Pointwise conv1, fc1, fc2, conv3;
  Depthwise conv2;
  Tensor operator()(const Tensor& x) const {
    const int64_t B = x.size(0);
    auto h = conv2(conv1(x).relu_()).relu_();                        // (B, H', W', hidden)
    auto s = fc2.rows(fc1.rows(h.mean({1, 2})).relu_()).sigmoid_();  // (B, hidden)
    return conv3(h.mul_(s.view({B, 1, 1, -1})));                     // (B, H', W', C_out)
  }
};

PatchMergingStep patch_merging(PatchMergingImpl& pm) {
  torch::NoGradGuard no_grad;
  return {to_pointwise(pm.conv1->fuse()), to_pointwise(pm.se->fc1->weight, pm.se->fc1->bias),
          to_pointwise(pm.se->fc2->weight, pm.se->fc2->bias), to_pointwise(pm.conv3->fuse()),
          depthwise(pm.conv2->fuse())};
}

// Turns one residual part of a block or subsample into a step.
std::function<Tensor(const Tensor&)> residual_step(const ResidualImpl& res) {
  const auto& inner = res.inner();
  if (auto* conv = inner.ptr()->as<Conv2dBNImpl>()) {
    auto dw = residual_depthwise(*conv);
    return [dw](const Tensor& x) { return dw(x); };
  }
  if (auto* ffn = inner.ptr()->as<FFNImpl>()) {
    auto f = ffn_residual(*ffn);
    return [f](const Tensor& x) { return f(x); };
  }
  if (auto* lwa = inner.ptr()->as<LocalWindowAttentionImpl>()) {
    auto a = window_attention_residual(*lwa);
    return [a](const Tensor& x) { return a(x); };
  }
  throw std::logic_error("fuse: unknown residual part " + inner.ptr()->name());
}

}  // namespace

FusedEfficientViT::FusedEfficientViT(EfficientViTImpl& model) {
  torch::NoGradGuard no_grad;

  // Stem: full 3x3 stride-2 convs, ReLU between them. oneDNN runs them faster channels-last
  // (M5's stem, batch 16: 24.8 vs 31.2 ms), except for the narrowest stems, where converting
  // the images costs more than it saves (M0: 5.2 ms NCHW vs 5.9 ms channels-last).
  std::vector<FusedConv> stem;
  for (const auto& child : model.patch_embed->children())
    if (auto* c = child->as<Conv2dBNImpl>()) stem.push_back(c->fuse());
  const bool channels_last = !stem.empty() && stem[0].weight.size(0) >= 16;
  steps_.push_back({"patch_embed", [stem, channels_last](const Tensor& images) {
                      Tensor t = channels_last ? images.contiguous(at::MemoryFormat::ChannelsLast) : images;
                      for (size_t i = 0; i < stem.size(); ++i) {
                        const bool relu = i + 1 < stem.size();
                        // The RGB conv: vitnas's kernel is ~2x oneDNN's (microbench StemConv).
                        if (i == 0 && !channels_last && kernels::stem_conv_supported(t, stem[0].weight)) {
                          t = kernels::stem_conv3x3_s2(t, stem[0].weight, stem[0].bias, relu);
                          continue;
                        }
                        t = stem[i](t);
                        if (relu) t.relu_();
                      }
                      return t.permute({0, 2, 3, 1}).contiguous();  // (B, r, r, C1)
                    }});

  for (size_t k = 0; k < model.stages.size(); ++k) {
    const std::string stage_name = "blocks" + std::to_string(k + 1);
    const auto& children = model.stages[k]->named_children();
    for (const auto& child : children) {
      const std::string name = stage_name + "." + child.key();
      auto* m = child.value().get();
      if (auto* block = m->as<EfficientViTBlockImpl>()) {
        for (const auto& [part, any] : block->parts())
          steps_.push_back({name + "." + part, residual_step(*any.ptr()->as<ResidualImpl>())});
      } else if (auto* pm = m->as<PatchMergingImpl>()) {
        auto step = patch_merging(*pm);
        steps_.push_back({name, [step](const Tensor& x) { return step(x); }});
      } else if (auto* chain = m->as<ChainImpl>()) {  // subsample DW + FFN pairs
        for (const auto& sub : chain->named_children())
          steps_.push_back({name + "." + sub.key(), residual_step(*sub.value()->as<ResidualImpl>())});
      }
      // torch::nn::Identity (an empty subsample side or stage) adds no step.
    }
  }

  // Head: mean pool, then BN1d + Linear folded; a distillation head is averaged in exactly
  // ((W1 x + b1) + (W2 x + b2)) / 2 == ((W1 + W2) / 2) x + (b1 + b2) / 2.
  auto [w, b] = model.head->fuse();
  if (model.head_dist) {
    auto [wd, bd] = model.head_dist->fuse();
    w = (w + wd) / 2;
    b = (b + bd) / 2;
  }
  Pointwise head = to_pointwise(w, b);
  steps_.push_back({"head", [head](const Tensor& x) { return head.rows(x.mean({1, 2})); }});
}

Tensor FusedEfficientViT::forward(const Tensor& images) const {
  torch::NoGradGuard no_grad;
  Tensor x = images;
  for (const auto& step : steps_) x = step.run(x);
  return x;
}

}  // namespace vitnas
