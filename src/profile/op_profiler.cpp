#include "profile/op_profiler.h"

#include <torch/torch.h>

#include "core/memory.h"
#include "models/classifier.h"
#include "models/fused_ops.h"

namespace vitnas {

namespace {

using torch::Tensor;

TableEntry to_entry(const Timing& t) { return {t.median_ms, t.spread, t.samples, t.rejected}; }

// Builds random tensors of one device and dtype.
struct Random {
  torch::TensorOptions options;
  Tensor operator()(std::vector<int64_t> shape, double scale = 1.0) const {
    return (torch::randn(shape) * scale).to(options.device(), options.dtype().toScalarType());
  }
  // A folded conv / linear weight (out, in/groups, k, k) scaled by 1/sqrt(fan_in), and its bias.
  FusedConv conv(int64_t out, int64_t in_per_group, int64_t k, int64_t stride, int64_t groups) const {
    const double scale = 1.0 / std::sqrt(double(in_per_group * k * k));
    return {(*this)({out, in_per_group, k, k}, scale), (*this)({out}, 0.1), stride, k / 2, groups};
  }
  fused::Pointwise pointwise(int64_t out, int64_t in) const {
    const FusedConv c = conv(out, in, 1, 1, 1);
    return fused::pointwise(c.weight, c.bias);
  }
};

// The op of signature s and its input, as one call to time.
std::function<void()> make_runner(const OpSignature& s, const Random& rnd) {
  const int64_t B = s.batch, r = s.side, C = s.in;
  switch (s.op) {
    case OpKind::Stem: {
      std::vector<FusedConv> convs;
      int64_t in = s.in;
      for (int i = 0; i < s.stem_len; ++i) {
        convs.push_back(rnd.conv(s.stem[size_t(i)], in, 3, 2, 1));
        in = s.stem[size_t(i)];
      }
      const fused::Stem stem = fused::stem(std::move(convs));
      auto x = rnd({B, s.in, r, r});
      return [stem, x] { stem(x); };
    }
    case OpKind::DW: {
      auto dw = fused::residual_depthwise(rnd.conv(C, 1, 3, 1, C));
      auto x = rnd({B, r, r, C});
      return [dw, x] { dw(x); };
    }
    case OpKind::FFN: {
      fused::FFNResidual ffn{rnd.pointwise(s.hidden, C), rnd.pointwise(C, s.hidden)};
      auto x = rnd({B, r, r, C});
      return [ffn, x] { ffn(x); };
    }
    case OpKind::AttnFrame: {
      // The heads' outputs: sum of v_dims split evenly (the concat cost depends on the total).
      fused::WindowAttentionResidual attn;
      attn.heads.resize(size_t(s.heads));
      attn.window = s.window;
      attn.proj = rnd.pointwise(C, s.v_total);
      auto x = rnd({B, r, r, C});
      const int64_t Bw = attn.partition(x).size(0);
      std::vector<Tensor> outs;
      for (int i = 0; i < s.heads; ++i) {
        const int64_t v = s.v_total / s.heads + (i + 1 == s.heads ? s.v_total % s.heads : 0);
        outs.push_back(rnd({Bw, s.window, s.window, v}));
      }
      return [attn, x, outs] {
        attn.partition(x);
        attn.finish(outs, x);
      };
    }
    case OpKind::AttnHead: {
      const int64_t R = s.window, N = R * R, nw = window_geometry(int(r), s.window).per_side,
                    kd = s.key_dim;
      fused::AttentionHead h;
      h.qkv = rnd.pointwise(2 * kd + s.v_dim, C);
      h.q_dw = fused::depthwise(rnd.conv(kd, 1, s.kernel, 1, kd), 1.0 / std::sqrt(double(kd)));
      h.bias = rnd({N, N}, 0.1);
      h.key_dim = kd;
      h.v_dim = s.v_dim;
      h.kind = s.kind;
      // The head reads its chunk of the windows: a strided view (first head, independent
      // heads) or, with cascade, the chunk plus the previous head's output.
      auto windows = rnd({B * nw * nw, R, R, 2 * C});
      auto prev = rnd({B * nw * nw, R, R, C});
      if (!s.cascade_add) return [h, windows, C] { h(windows.narrow(3, 0, C)); };
      return [h, windows, prev, C] { h(windows.narrow(3, 0, C) + prev); };
    }
    case OpKind::PatchMerging: {
      const int64_t hid = s.hidden, se = se_width(s.hidden);
      fused::PatchMergingStep pm{rnd.pointwise(hid, C), rnd.pointwise(se, hid),
                                 rnd.pointwise(hid, se), rnd.pointwise(s.out, hid),
                                 fused::depthwise(rnd.conv(hid, 1, 3, 2, hid))};
      auto x = rnd({B, r, r, C});
      return [pm, x] { pm(x); };
    }
    case OpKind::Head: {
      fused::Head head{rnd.pointwise(s.classes, C)};
      auto x = rnd({B, r, r, C});
      return [head, x] { head(x); };
    }
  }
  throw std::logic_error("make_runner: unknown op");
}

}  // namespace

TableEntry measure_op(const OpSignature& s, const torch::Device& device, torch::Dtype dtype,
                      const TimingOptions& options) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  const Random rnd{torch::TensorOptions().device(device).dtype(dtype)};
  return to_entry(time_calls(make_runner(s, rnd), device, options));
}

NetworkRunner network_runner(const ArchSpec& spec, int batch, const torch::Device& device,
                             torch::Dtype dtype) {
  // Every network timed (profile's calibration networks, latency validate, search --measure)
  // is built here: a table's batch is checked against the memory before anything is allocated.
  if (device.is_cpu())
    require_memory(spec, batch, Workload::Inference,
                   "timing " + spec.name + " at batch " + std::to_string(batch));
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  auto model = build_model(spec);
  move_to(*model, device, dtype);
  return {fuse(*model),
          torch::randn({batch, spec.in_chans, spec.img_size, spec.img_size}).to(device, dtype)};
}

TableEntry measure_network(const ArchSpec& spec, int batch, const torch::Device& device,
                           torch::Dtype dtype, const TimingOptions& options) {
  return to_entry(time_calls(network_runner(spec, batch, device, dtype), device, options));
}

}  // namespace vitnas
