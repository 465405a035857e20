// Parameters and MACs of an ArchSpec, layer by layer, following the structure in REFERENCE.md.
// Row names are the official state-dict prefixes, so a row can be checked against real weights.
#include "core/complexity.h"

#include <algorithm>
#include <stdexcept>

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

// One residual [3x3 depthwise + FFN(hidden)] pair on `dim` channels at side r.
Cost dw_ffn(int64_t dim, int64_t hidden, int64_t r) {
  Cost c = conv_bn(dim, dim, 3, dim, r);
  c += conv_bn(dim, hidden, 1, 1, r);
  c += conv_bn(hidden, dim, 1, 1, r);
  return c;
}

Cost dw_ffns(int64_t dim, const std::vector<int>& hiddens, int64_t r) {
  Cost c;
  for (int h : hiddens) c += dw_ffn(dim, h, r);
  return c;
}

// Local window attention on a map of side r. The window is capped at the map; the map is padded
// up to a whole number of windows and every conv inside runs on the padded map.
Cost window_attention(int64_t dim, const AttentionSpec& a, int64_t window, int64_t r) {
  const int64_t w = std::min(window, r);
  const int64_t p = (r + w - 1) / w * w;
  const int64_t windows = (p / w) * (p / w);
  const int64_t n = w * w;  // tokens per window
  const int64_t heads = static_cast<int64_t>(a.heads.size());
  const int64_t chunk = dim / heads;  // cascade or not, each head reads one chunk
  Cost c;
  int64_t v_total = 0;
  for (const HeadSpec& h : a.heads) {
    c += conv_bn(chunk, 2 * h.key_dim + h.v_dim, 1, 1, p);      // q, k, v
    c += conv_bn(h.key_dim, h.key_dim, h.kernel, h.key_dim, p);  // q depthwise
    c.macs += windows * n * n * (h.key_dim + h.v_dim);           // q^T k and v attn^T
    v_total += h.v_dim;
  }
  c.params += heads * n;                   // one relative-position bias table per head
  c += conv_bn(v_total, dim, 1, 1, p);     // projection
  return c;
}

// PatchMerging: 1x1 up to hidden, 3x3 stride-2 depthwise, squeeze-excite, 1x1 down to out.
Cost patch_merging(int64_t in, int64_t hidden, int64_t out, int64_t r) {
  const int64_t r2 = downsampled_side(static_cast<int>(r));
  const int64_t rd = se_width(static_cast<int>(hidden));
  Cost c = conv_bn(in, hidden, 1, 1, r);
  c += conv_bn(hidden, hidden, 3, hidden, r2);
  c += linear(hidden, rd, 1, true);  // SE fc1 and fc2 run once, on the pooled 1x1 map
  c += linear(rd, hidden, 1, true);
  c += conv_bn(hidden, out, 1, 1, r2);
  return c;
}

// ---- rows ------------------------------------------------------------------------------

void add_row(Complexity& out, std::string name, std::string type, int resolution, int in_dim,
             int out_dim, std::string detail, const Cost& cost) {
  out.blocks.push_back({std::move(name), std::move(type), resolution, in_dim, out_dim,
                        std::move(detail), cost.params, cost.macs});
  out.params += cost.params;
  out.macs += cost.macs;
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

std::string block_detail(const BlockSpec& b) {
  std::string s = "ffn " + std::to_string(b.ffn_before.size()) + "+" +
                  std::to_string(b.ffn_after.size());
  if (!b.attention) return s + " no attn";
  return s + " attn " + std::to_string(b.attention->heads.size()) + "h " +
         (b.attention->cascade ? "cascade " : "independent ") + kinds_summary(b.attention->heads);
}

// ---- efficientvit ----------------------------------------------------------------------

Cost efficientvit_stem(const ArchSpec& spec, int& side) {
  Cost c;
  int64_t in = spec.in_chans;
  for (int width : spec.efficientvit.stem) {
    side = downsampled_side(side);
    c += conv_bn(in, width, 3, 1, side);
    in = width;
  }
  return c;
}

Cost efficientvit_block(const BlockSpec& b, const StageSpec& s, int64_t r) {
  Cost c = dw_ffns(s.embed_dim, b.ffn_before, r);
  if (b.attention) c += window_attention(s.embed_dim, *b.attention, s.window, r);
  c += dw_ffns(s.embed_dim, b.ffn_after, r);
  return c;
}

// BatchNorm1d + Linear with bias, twice with a distillation head.
Cost classifier_head(int64_t dim, int64_t classes, bool distillation) {
  Cost one{2 * dim, 0};
  one += linear(dim, classes, 1, true);
  if (distillation) one += one;
  return one;
}

void efficientvit_rows(const ArchSpec& spec, Complexity& out) {
  const EfficientViTSpec& e = spec.efficientvit;
  int side = spec.img_size;
  const Cost stem = efficientvit_stem(spec, side);  // moves side to the first stage's
  add_row(out, "patch_embed", "stem", spec.img_size, spec.in_chans, e.stem.back(),
          std::to_string(e.stem.size()) + " stride-2 convs", stem);

  int prev_dim = e.stem.back();
  for (size_t i = 0; i < e.stages.size(); ++i) {
    const StageSpec& s = e.stages[i];
    const std::string prefix = "blocks" + std::to_string(i + 1) + ".";
    int index = 0;  // position inside the stage's Sequential
    if (s.downsample) {
      const DownsampleSpec& d = *s.downsample;
      const int merged = downsampled_side(side);
      add_row(out, prefix + "0", "subsample_ffn", side, prev_dim, prev_dim,
              "dw+ffn x" + std::to_string(d.ffn_before.size()),
              dw_ffns(prev_dim, d.ffn_before, side));
      add_row(out, prefix + "1", "patch_merging", side, prev_dim, s.embed_dim,
              "hidden " + std::to_string(d.hidden) + " se " + std::to_string(se_width(d.hidden)),
              patch_merging(prev_dim, d.hidden, s.embed_dim, side));
      side = merged;
      add_row(out, prefix + "2", "subsample_ffn", side, s.embed_dim, s.embed_dim,
              "dw+ffn x" + std::to_string(d.ffn_after.size()),
              dw_ffns(s.embed_dim, d.ffn_after, side));
      index = 3;
    }
    for (const BlockSpec& b : s.blocks) {
      add_row(out, prefix + std::to_string(index++), "block", side, s.embed_dim, s.embed_dim,
              block_detail(b), efficientvit_block(b, s, side));
    }
    prev_dim = s.embed_dim;
  }
  add_row(out, "head", "head", 1, prev_dim, spec.num_classes,
          spec.distillation ? "bn+linear x2 (distillation)" : "bn+linear",
          classifier_head(prev_dim, spec.num_classes, spec.distillation));
}

// ---- vit -------------------------------------------------------------------------------

Cost vit_layer(const ViTLayerSpec& l, int64_t dim, int64_t tokens, bool qkv_bias) {
  int64_t qkv_out = 0, v_total = 0;
  Cost c{2 * dim, 0};  // LN0
  for (const ViTHeadSpec& h : l.heads) {
    qkv_out += 2 * h.qk_dim + h.v_dim;
    v_total += h.v_dim;
    c.macs += tokens * tokens * (h.qk_dim + h.v_dim);  // q k^T and attn v
  }
  c += linear(dim, qkv_out, tokens, qkv_bias);
  c += linear(v_total, dim, tokens, true);  // proj
  c.params += 2 * dim;                      // LN1
  c += linear(dim, l.mlp_hidden, tokens, true);
  c += linear(l.mlp_hidden, dim, tokens, true);
  return c;
}

void vit_rows(const ArchSpec& spec, Complexity& out) {
  const ViTSpec& v = spec.vit;
  const int64_t grid = spec.img_size / v.patch_size;
  const int64_t patches = grid * grid;
  const int64_t tokens = patches + (v.cls_token ? 1 : 0);
  const int64_t dim = v.embed_dim;

  // Patch conv (k = stride = patch, with bias) is a linear over each patch's pixels.
  Cost embed = linear(int64_t{spec.in_chans} * v.patch_size * v.patch_size, dim, patches, true);
  embed.params += (v.cls_token ? dim : 0) + tokens * dim;  // cls_token, pos_embed
  add_row(out, "patch_embed", "patch_embed", spec.img_size, spec.in_chans, v.embed_dim,
          "patch " + std::to_string(v.patch_size) + ", " + std::to_string(tokens) + " tokens",
          embed);

  for (size_t i = 0; i < v.layers.size(); ++i) {
    const ViTLayerSpec& l = v.layers[i];
    add_row(out, "blocks." + std::to_string(i), "vit_layer", static_cast<int>(tokens),
            v.embed_dim, v.embed_dim,
            "attn " + std::to_string(l.heads.size()) + "h " + kinds_summary(l.heads) + " mlp " +
                std::to_string(l.mlp_hidden) + " " + to_string(l.act),
            vit_layer(l, dim, tokens, v.qkv_bias));
  }

  // Final LayerNorm + classifier; a distillation head is a second classifier on the same token.
  Cost head{2 * dim, 0};
  const Cost classifier = linear(dim, spec.num_classes, 1, true);
  head += classifier;
  if (spec.distillation) head += classifier;
  add_row(out, "head", "head", 1, v.embed_dim, spec.num_classes,
          spec.distillation ? "ln+linear x2 (distillation)" : "ln+linear", head);
}

}  // namespace

Complexity complexity(const ArchSpec& spec) {
  validate(spec);  // the formulas assume a buildable network (divisible heads, a stem, ...)
  Complexity out;
  switch (spec.family) {
    case Family::EfficientViT: efficientvit_rows(spec, out); return out;
    case Family::ViT: vit_rows(spec, out); return out;
  }
  throw std::logic_error("complexity: invalid Family");
}

}  // namespace vitnas
