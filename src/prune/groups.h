// Structural pruning groups (DESIGN.md, "Prune"), derived from the ArchSpec walk, never by
// tracing. A Dimension is one prunable width of a network (an FFN's hidden width, one head's
// q.k width, ...); its channel j is a group: every weight one cut of channel j forces, named by
// state-dict key, axis and position. A unit (a whole attention mixer, a DW + FFN pair, a vit
// head) is a Dimension of size 1.
//
// efficientvit                                    coupled weights of channel j
//   embed       a stage's embedding channel:     rows of every Conv2dBN writing the stream (the
//               stream positions {g n + j}, g <  last stem conv or the PatchMerging conv3, each
//               G, n = width / G, G the least    DW, FFN pw2, attention proj; BN included) and
//               common multiple of the stage's   columns of every reader (FFN pw1, each head's
//               head counts: every head's input  qkv, the next PatchMerging conv1, the head's
//               chunk loses the same channels)   BN1d + Linear); with cascade, v rows {r n + j}
//                                                of every head (the chunk each adds to the next
//                                                head's input) and their proj columns
//   stem_hidden a stem conv's channel (not the   conv i row j (+ BN), conv i+1 column j
//               last: that is the embedding)
//   ffn_hidden  FFN hidden channel                pw1 row j (conv + BN), pw2 column j
//   qk          a head's q.k channel              q and k rows j of qkvs[h] (+ BN), dws[h] row j
//   v           a head's v channel (cascade off)  v row j of qkvs[h] (+ BN), proj column
//   merge_hidden PatchMerging hidden channel      conv1 row, conv2 row, se.fc1 column,
//                                                 se.fc2 row, conv3 column
//   se_hidden   the SE's own width                fc1 row (+ bias), fc2 column; not chosen: it
//                                                 follows se_width(merge hidden)
//   mixer       a whole attention mixer           every weight under blocksK.j.mixer
//   dw_ffn      a DW + FFN pair (the ArchSpec's   every weight of the pair
//               unit of an ffn_before/after entry)
// vit (NViT's set)
//   vit_embed   the embedding channel (shared     patch_embed.proj row, cls_token and pos_embed
//               by every layer)                   column, every norm, qkv and fc1 column j, proj
//                                                 and fc2 row j (+ bias), head columns
//   vit_head    a whole head                      its q, k, v rows of qkv (+ bias), proj columns
//   vit_qk      a head's q.k channel              q and k rows j
//   vit_v       a head's v channel                v row j, proj column
//   vit_mlp     MLP hidden channel                fc1 row j (+ bias), fc2 column j
//
// The vit embedding is the one group whose cut is not exact: LayerNorm's mean and variance run
// over every channel, a zeroed one included, so a network without channel j normalises its
// tokens slightly differently (NViT fine-tunes after it, as prune does). Its mask zeroes the
// channel everywhere it is written.
//
// With cascade (CGA) a head's v width is the chunk it adds to the next head's input, so it is
// tied to embed_dim / heads: v is only a group of non-cascaded attention (and, cascaded, part of
// the embedding). Whole efficientvit heads (which change the chunk split) are not groups yet.
// The embedding groups are chosen only with SelectOptions::embed (--embed).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/arch_spec.h"

namespace vitnas::prune {

enum class GroupType {
  Embed, StemHidden, FFNHidden, QK, V, MergeHidden, SEHidden, Mixer, DWFFN, ViTEmbed, ViTHead, ViTQK, ViTV, ViTMLP
};
std::string to_string(GroupType t);  // "stem_hidden", "ffn_hidden", "qk", ..., "vit_mlp"
bool is_unit(GroupType t);           // mixer, dw_ffn, vit_head

// `length` positions of tensor `key` along `axis`, from `offset`: channel j of a Dimension of
// size n owns [offset + j * length / n, offset + (j + 1) * length / n).
struct Slice {
  std::string key;
  int axis = 0;
  int64_t offset = 0, length = 0;
};

// Where a Dimension sits in the ArchSpec (what a new width edits).
struct Site {
  int stage = -1;   // efficientvit stage index (0-based), -1 for vit
  int block = -1;   // block index in the stage; -1: the stage's downsample
  int list = 0;     // 0: ffn_before, 1: ffn_after
  int index = -1;   // entry of that list (ffn_hidden, dw_ffn), or the stem conv
  int head = -1;    // qk, v, vit_*
  int layer = -1;   // vit layer
};

struct Dimension {
  GroupType type = GroupType::FFNHidden;
  std::string name;  // "blocks1.0.ffn0", "blocks1.0.mixer.head2.qk", "blocks.3.head1", ...
  std::string row;   // the walk's row ("blocks1.0"): what its latency changes ...
  bool shared = false;  // ... or every row's (the vit embedding)
  int size = 0;      // channels (1 for a unit)
  int per_channel = 1;  // efficientvit embed: stream channels per channel (G)
  Site site;
  std::vector<Slice> coupled;  // every weight a cut removes (parameters and BN statistics)
  std::vector<Slice> mask;     // zeroing these removes the channel's effect exactly
  // q.k only: q's last weights. Attention scales q.k by key_dim^-0.5, so a cut to k of n channels
  // multiplies them by sqrt(k / n) and the kept terms keep their scale.
  std::vector<Slice> q_scale;
  std::vector<std::string> modules;  // units: module paths whose weights all go
  int parent = -1;  // the unit it belongs to (index into the list), or -1
};

// Every Dimension of a valid spec, in forward order (units before their channels).
std::vector<Dimension> dimensions(const ArchSpec& spec);

// The spec with Dimension d at `width` channels (0 removes a unit, or a channel dimension whose
// unit is removed); call compact() after all edits.
void set_width(ArchSpec& spec, const Dimension& d, int width);
// Drops removed units (widths set to 0) and re-derives what follows from the widths (the SE
// width is not in the spec). Throws InputError from validate() if the result is not a network.
void compact(ArchSpec& spec);

}  // namespace vitnas::prune
