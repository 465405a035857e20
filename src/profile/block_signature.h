// Block signatures: the canonical description of one op of the fused EfficientViT (fused_ops.h)
// at one input shape. Two ops with the same signature cost the same on a device, so a latency
// table holds one measurement per signature, and a network's latency is predicted from the
// signatures of its ops. Attention is split into its frame (partition, projection, reverse)
// and one entry per head, so per-head choices (key_dim, kernel, kind) do not multiply.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>

#include "core/arch_spec.h"

namespace vitnas {

enum class OpKind { Stem, DW, FFN, AttnFrame, AttnHead, PatchMerging, Head };
constexpr int kOpKinds = 7;

std::string to_string(OpKind k);  // "stem", "dw", "ffn", "attn_frame", "attn_head", "patch_merging", "head"

struct BlockSignature {
  static constexpr int kMaxStem = 8;

  OpKind op = OpKind::DW;
  int batch = 1;
  int res = 0;     // input side of the map (stem: the image side)
  int in = 0;      // input channels (attn_head: its chunk of the embed_dim)
  int out = 0;     // patch_merging: output width; attn_head: v_dim; head: classes
  // (Only the fields an op's key lists are set; the others stay 0, so key() and hash() agree.)
  int hidden = 0;  // ffn / patch_merging hidden width; attn_head key_dim; attn_frame sum of v_dims
  int window = 0;  // attention window side (already capped at the map side)
  int kernel = 0;  // attn_head: q depthwise kernel
  int heads = 0;   // attn_frame: number of heads
  AttentionKind kind = AttentionKind::Softmax;  // attn_head
  bool cascade_add = false;                     // attn_head: adds the previous head's output
  std::array<int, kMaxStem> stem{};             // stem widths, stem_len of them
  int stem_len = 0;

  // An op at a map side and input width; the other fields are filled in per op.
  static BlockSignature of(OpKind op, int batch, int res, int in) {
    BlockSignature s;
    s.op = op;
    s.batch = batch;
    s.res = res;
    s.in = in;
    return s;
  }

  // Canonical text, e.g. "ffn b16 r14 c64 h128" (the latency table's key).
  std::string key() const;
  // A 64-bit hash of the same fields, for the predictor's lookups (no string is built).
  uint64_t hash() const;
};

BlockSignature parse_signature(const std::string& key);  // inverse of key(); InputError if malformed

// Calls visit(block, signature) for every op of the fused network of `spec` (family
// efficientvit) at this batch, in forward order; `block` indexes complexity(spec).blocks, the
// row the op belongs to ("patch_embed", "blocks2.1", "head"). Nothing is allocated per op: the
// predictor calls this millions of times.
void for_each_op(const ArchSpec& spec, int batch,
                 const std::function<void(int block, const BlockSignature&)>& visit);

}  // namespace vitnas
