// Parameters and MACs of an ArchSpec, part by part of the architecture walk (arch_walk.h).
// Row names are the official state-dict prefixes, so a row can be checked against real weights.
#include "core/complexity.h"

#include <algorithm>

#include "core/arch_walk.h"

namespace vitnas {
namespace {

struct Cost {
  int64_t params = 0;
  int64_t macs = 0;
  Cost& operator+=(const Cost& o) {
    params += o.params;
    macs += o.macs;
    return *this;
  }
};

// ---- building blocks -------------------------------------------------------------------

// Bias-free Conv2d + BatchNorm2d (BN: weight and bias; running stats are buffers).
// MACs = Cin * (Cout / groups) * k * k per output point.
Cost conv_bn(int64_t cin, int64_t cout, int64_t k, int64_t groups, int64_t out_side) {
  const int64_t weights = (cin / groups) * cout * k * k;
  return {weights + 2 * cout, weights * out_side * out_side};
}

// Linear over `tokens` rows (a 1x1 conv with bias is the same with tokens = points).
Cost linear(int64_t in, int64_t out, int64_t tokens, bool bias) {
  return {in * out + (bias ? out : 0), in * out * tokens};
}

// "softmax", or "relu_softmax/scaling" for a mix, in first-seen order.
template <typename Head>
std::string kinds_summary(const std::vector<Head>& heads) {
  std::vector<std::string> kinds;
  for (const auto& h : heads) {
    const std::string k = to_string(h.kind);
    if (std::find(kinds.begin(), kinds.end(), k) == kinds.end()) kinds.push_back(k);
  }
  std::string s;
  for (const auto& k : kinds) s += (s.empty() ? "" : "/") + k;
  return s;
}

// The short human summary of a row (info's "detail" column).
std::string detail(const ArchSpec& spec, const Row& row) {
  switch (row.type) {
    case RowType::Stem:
      return std::to_string(spec.efficientvit.stem.size()) + " stride-2 convs";
    case RowType::SubsampleFFN:
      return "dw+ffn x" + std::to_string((row.position == 0 ? row.downsample->ffn_before
                                                              : row.downsample->ffn_after)
                                             .size());
    case RowType::PatchMerging:
      return "hidden " + std::to_string(row.downsample->hidden) + " se " +
             std::to_string(se_width(row.downsample->hidden));
    case RowType::Block: {
      const BlockSpec& b = *row.block;
      std::string s = "ffn " + std::to_string(b.ffn_before.size()) + "+" +
                      std::to_string(b.ffn_after.size());
      if (!b.attention) return s + " no attn";
      return s + " attn " + std::to_string(b.attention->heads.size()) + "h " +
             (b.attention->cascade ? "cascade " : "independent ") +
             kinds_summary(b.attention->heads);
    }
    case RowType::PatchEmbed: {
      const int grid = spec.img_size / spec.vit.patch_size;
      return "patch " + std::to_string(spec.vit.patch_size) + ", " +
             std::to_string(grid * grid + (spec.vit.cls_token ? 1 : 0)) + " tokens";
    }
    case RowType::ViTLayer:
      return "attn " + std::to_string(row.layer->heads.size()) + "h " +
             kinds_summary(row.layer->heads) + " mlp " + std::to_string(row.layer->mlp_hidden) +
             " " + to_string(row.layer->act);
    case RowType::Head: {
      const std::string one = spec.family == Family::EfficientViT ? "bn+linear" : "ln+linear";
      return spec.distillation ? one + " x2 (distillation)" : one;
    }
  }
  return {};
}

// ---- the parts -------------------------------------------------------------------------

class Counter : public ArchVisitor {
 public:
  explicit Counter(const ArchSpec& spec) : spec_(spec) {}
  Complexity result;

  void begin_row(const Row&) override { cost_ = {}; }
  void end_row(const Row& row) override {
    result.blocks.push_back({row.name(), to_string(row.type), row.side, row.in_dim, row.out_dim,
                             detail(spec_, row), cost_.params, cost_.macs});
    result.params += cost_.params;
    result.macs += cost_.macs;
  }

  void stem(const Row&, const StemPart& s) override {
    int64_t in = s.in_chans;
    int side = s.side;
    for (int width : *s.widths) {
      side = downsampled_side(side);
      cost_ += conv_bn(in, width, 3, 1, side);
      in = width;
    }
  }

  void dw(const Row&, const DWPart& d) override { cost_ += conv_bn(d.dim, d.dim, 3, d.dim, d.side); }

  void ffn(const Row&, const FFNPart& f) override {
    cost_ += conv_bn(f.dim, f.hidden, 1, 1, f.side);
    cost_ += conv_bn(f.hidden, f.dim, 1, 1, f.side);
  }

  // Every conv inside runs on the padded map; q^T k and v attn^T run on every window.
  void attention(const Row&, const AttentionPart& a) override {
    const int64_t p = a.geometry.padded, windows = a.geometry.count(), n = a.geometry.tokens();
    for (const HeadSpec& h : a.spec->heads) {
      cost_ += conv_bn(a.chunk, 2 * h.key_dim + h.v_dim, 1, 1, p);  // q, k, v
      cost_ += conv_bn(h.key_dim, h.key_dim, h.kernel, h.key_dim, p);  // q depthwise
      cost_.macs += windows * n * n * (h.key_dim + h.v_dim);
    }
    cost_.params += a.heads * n;                  // one relative-position bias table per head
    cost_ += conv_bn(a.v_total, a.dim, 1, 1, p);  // projection
  }

  void patch_merging(const Row&, const PatchMergingPart& m) override {
    cost_ += conv_bn(m.in, m.hidden, 1, 1, m.side);
    cost_ += conv_bn(m.hidden, m.hidden, 3, m.hidden, m.out_side);
    cost_ += linear(m.hidden, m.se(), 1, true);  // SE fc1 and fc2 run once, on the pooled map
    cost_ += linear(m.se(), m.hidden, 1, true);
    cost_ += conv_bn(m.hidden, m.out, 1, 1, m.out_side);
  }

  // BatchNorm1d (efficientvit) or the final LayerNorm (vit), then Linear with bias; a
  // distillation head is a second classifier (efficientvit: with its own BN).
  void head(const Row&, const HeadPart& h) override {
    const Cost norm{2 * int64_t(h.dim), 0};
    const Cost classifier = linear(h.dim, h.classes, 1, true);
    cost_ += norm;
    cost_ += classifier;
    if (!h.distillation) return;
    if (spec_.family == Family::EfficientViT) cost_ += norm;
    cost_ += classifier;
  }

  // The patch conv (k = stride = patch, with bias) is a linear over each patch's pixels.
  void patch_embed(const Row&, const PatchEmbedPart& p) override {
    const int64_t patches = int64_t(p.grid) * p.grid;
    cost_ += linear(int64_t(p.in_chans) * p.patch * p.patch, p.dim, patches, true);
    cost_.params += (p.cls_token ? p.dim : 0) + int64_t(p.tokens) * p.dim;  // cls, pos_embed
  }

  void vit_layer(const Row&, const ViTLayerPart& l) override {
    const int64_t dim = l.dim, tokens = l.tokens;
    int64_t qkv_out = 0, v_total = 0;
    cost_.params += 2 * dim;  // LN0
    for (const ViTHeadSpec& h : l.layer->heads) {
      qkv_out += 2 * h.qk_dim + h.v_dim;
      v_total += h.v_dim;
      cost_.macs += tokens * tokens * (h.qk_dim + h.v_dim);  // q k^T and attn v
    }
    cost_ += linear(dim, qkv_out, tokens, l.qkv_bias);
    cost_ += linear(v_total, dim, tokens, true);  // proj
    cost_.params += 2 * dim;                      // LN1
    cost_ += linear(dim, l.layer->mlp_hidden, tokens, true);
    cost_ += linear(l.layer->mlp_hidden, dim, tokens, true);
  }

 private:
  const ArchSpec& spec_;
  Cost cost_;
};

}  // namespace

Complexity complexity(const ArchSpec& spec) {
  validate(spec);  // the formulas assume a buildable network (divisible heads, a stem, ...)
  Counter counter(spec);
  walk(spec, counter);
  return std::move(counter.result);
}

}  // namespace vitnas
