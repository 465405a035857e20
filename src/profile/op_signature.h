// Op signatures: the canonical description of one op of the fused EfficientViT (fused_ops.h) at
// one input shape. Two ops with the same signature cost the same on a device, so a latency table
// holds one measurement per signature, and a network's latency is predicted from the signatures
// of its ops. Attention is split into its frame (partition, projection, reverse) and one entry
// per head, so per-head choices (key_dim, kernel, kind) do not multiply.
//
// What signature each op has is said once, by the factories below (from the parts of the
// architecture walk, core/arch_walk.h); the ops of a network (walk_ops) and the enumeration of a
// search space (space_signatures.h) both use them.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>

#include "core/arch_spec.h"
#include "core/arch_walk.h"

namespace vitnas {

enum class OpKind { Stem, DW, FFN, AttnFrame, AttnHead, PatchMerging, Head };
constexpr int kOpKinds = 7;

std::string to_string(OpKind k);  // "stem", "dw", "ffn", "attn_frame", "attn_head", "patch_merging", "head"

// Each field is named by its letter in the key; only the fields an op's key lists are set, the
// others stay 0 (so key() and hash() agree):
//   stem           b r c widths           attn_frame  b r c win heads v(= v_total)
//   dw             b r c                  attn_head   b r win c kd v(= v_dim) q kind add
//   ffn            b r c h                head        b r c n
//   patch_merging  b r c h o
struct OpSignature {
  static constexpr int kMaxStem = 8;

  OpKind op = OpKind::DW;
  int batch = 1;    // b
  int side = 0;     // r: input side of the map (stem: the image side)
  int in = 0;       // c: input channels (attn_head: its chunk of the embed_dim)
  int hidden = 0;   // h: ffn and patch_merging hidden width
  int out = 0;      // o: patch_merging output width
  int classes = 0;  // n: head
  int window = 0;   // win: attention window side, capped at the map side (window_geometry)
  int heads = 0;    // heads: attn_frame head count
  int v_total = 0;  // v of attn_frame: the sum of the heads' v_dim (the projection's input)
  int key_dim = 0;  // kd: attn_head
  int v_dim = 0;    // v of attn_head
  int kernel = 0;   // q: attn_head q depthwise kernel
  AttentionKind kind = AttentionKind::Softmax;  // kind: attn_head
  bool cascade_add = false;                     // add: attn_head adds the previous head's output
  std::array<int, kMaxStem> stem{};             // widths: stem conv widths, stem_len of them
  int stem_len = 0;

  // Canonical text, e.g. "ffn b=16 r=14 c=64 h=128" (the latency table's key).
  std::string key() const;
  // A 64-bit hash of the same fields, for the predictor's lookups (no string is built).
  uint64_t hash() const;
};

OpSignature parse_signature(const std::string& key);  // inverse of key(); InputError if malformed

// ---- the one place that says which signature an op has ---------------------------------
// (Inline: the predictor builds a signature per op, millions of times a second.)

inline OpSignature make_signature(OpKind op, int batch, int side, int in) {
  OpSignature s;
  s.op = op;
  s.batch = batch;
  s.side = side;
  s.in = in;
  return s;
}

// InputError beyond kMaxStem convs.
OpSignature stem_op(int batch, const StemPart& p);

inline OpSignature dw_op(int batch, const DWPart& p) {
  return make_signature(OpKind::DW, batch, p.side, p.dim);
}

inline OpSignature ffn_op(int batch, const FFNPart& p) {
  OpSignature s = make_signature(OpKind::FFN, batch, p.side, p.dim);
  s.hidden = p.hidden;
  return s;
}

inline OpSignature patch_merging_op(int batch, const PatchMergingPart& p) {
  OpSignature s = make_signature(OpKind::PatchMerging, batch, p.side, p.in);
  s.hidden = p.hidden;
  s.out = p.out;
  return s;
}

inline OpSignature head_op(int batch, const HeadPart& p) {
  OpSignature s = make_signature(OpKind::Head, batch, p.side, p.dim);
  s.classes = p.classes;
  return s;
}

// The attention frame of a mixer: partition, concat + ReLU + projection, reverse + residual.
inline OpSignature attn_frame_op(int batch, const AttentionPart& a) {
  OpSignature s = make_signature(OpKind::AttnFrame, batch, a.side, a.dim);
  s.window = a.geometry.window;
  s.heads = a.heads;
  s.v_total = a.v_total;
  return s;
}

// One head of a mixer: `h` on the mixer's channel chunk and window; `cascade_add` when it also
// reads the previous head's output (CGA: every head but the first).
inline OpSignature attn_head_op(int batch, const AttentionPart& a, const HeadSpec& h,
                                bool cascade_add) {
  OpSignature s = make_signature(OpKind::AttnHead, batch, a.side, a.chunk);
  s.window = a.geometry.window;
  s.key_dim = h.key_dim;
  s.v_dim = h.v_dim;
  s.kernel = h.kernel;
  s.kind = h.kind;
  s.cascade_add = cascade_add;
  return s;
}

// ---- the ops of a network --------------------------------------------------------------

// A visitor of the architecture walk that turns each part into its ops and calls
// f(row, signature) for every op of the fused network, in forward order, with the walk's row it
// belongs to (row.index indexes complexity(spec).blocks: "patch_embed", "blocks2.1", "head").
// F is a template parameter so that f inlines into each part: nothing is allocated or called
// through a pointer per op, as the predictor walks networks millions of times.
template <typename F>
class OpParts final : public ArchVisitor {
 public:
  OpParts(int batch, F& f) : batch_(batch), f_(f) {}

  void stem(const Row& row, const StemPart& p) override { f_(row, stem_op(batch_, p)); }
  void dw(const Row& row, const DWPart& p) override { f_(row, dw_op(batch_, p)); }
  void ffn(const Row& row, const FFNPart& p) override { f_(row, ffn_op(batch_, p)); }
  void attention(const Row& row, const AttentionPart& a) override {
    f_(row, attn_frame_op(batch_, a));
    const auto& heads = a.spec->heads;
    for (size_t i = 0; i < heads.size(); ++i)
      f_(row, attn_head_op(batch_, a, heads[i], a.spec->cascade && i > 0));
  }
  void patch_merging(const Row& row, const PatchMergingPart& p) override {
    f_(row, patch_merging_op(batch_, p));
  }
  void head(const Row& row, const HeadPart& p) override { f_(row, head_op(batch_, p)); }

 private:
  int batch_;
  F& f_;
};

// InputError unless an efficientvit spec: the cpu/cuda tables cover the fused EfficientViT ops.
void require_op_family(const ArchSpec& spec);

// Calls f(const Row&, const OpSignature&) for every op of `spec` at this batch (see OpParts).
template <typename F>
void walk_ops(const ArchSpec& spec, int batch, F&& f) {
  require_op_family(spec);
  OpParts<std::remove_reference_t<F>> parts(batch, f);
  walk(spec, parts);
}

// The same with visit(row index, signature), for code that is not a hot loop.
void for_each_op(const ArchSpec& spec, int batch,
                 const std::function<void(int row, const OpSignature&)>& visit);

// ---- the hash ----------------------------------------------------------------------------

namespace op_hash {
// splitmix64's finaliser: a cheap, well-mixed combination of small integers.
inline uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  return h;
}
}  // namespace op_hash

inline uint64_t OpSignature::hash() const {
  using op_hash::mix;
  // Besides b, r, c, win, heads, q, kind and add, an op's key lists at most two widths: those
  // two, packed with the rest, identify the op. (The hash is internal: keys are what files hold.)
  int a = 0, b = 0;
  switch (op) {
    case OpKind::Stem:
    case OpKind::DW: break;
    case OpKind::FFN: a = hidden; break;
    case OpKind::AttnFrame: a = v_total; break;
    case OpKind::AttnHead: a = key_dim, b = v_dim; break;
    case OpKind::PatchMerging: a = hidden, b = out; break;
    case OpKind::Head: a = classes; break;
  }
  // Fast path: every field fits 16 bits (8 for the small ones), so two packed words identify
  // the op exactly and one mix per word hashes them.
  const bool small = ((uint32_t(batch) | uint32_t(side) | uint32_t(in) | uint32_t(a) | uint32_t(b)) >> 16 |
                      (uint32_t(window) | uint32_t(kernel) | uint32_t(heads)) >> 8) == 0;
  uint64_t h;
  if (small) {
    const uint64_t w0 = uint64_t(op) | uint64_t(batch) << 8 | uint64_t(side) << 24 | uint64_t(in) << 40;
    const uint64_t w1 = uint64_t(a) | uint64_t(b) << 16 | uint64_t(window) << 32 |
                        uint64_t(kernel) << 40 | uint64_t(heads) << 48 | uint64_t(kind) << 56 |
                        uint64_t(cascade_add) << 60;
    h = mix(mix(0, w0), w1);
  } else {
    h = mix(1, uint64_t(op));
    for (int v : {batch, side, in, a, b, window, kernel, heads, int(kind), int(cascade_add)})
      h = mix(h, uint64_t(uint32_t(v)));
  }
  for (int i = 0; i < stem_len; ++i) h = mix(h, uint64_t(uint32_t(stem[size_t(i)])));
  return h;
}

}  // namespace vitnas
