// The one walk of an ArchSpec (DESIGN.md, "Seams"). Everything that needs the structure of a
// network (parameters and MACs, the latency table's op signatures, the MPC cost model, model
// construction, fusion, and later pruning groups and the supernet) visits the same typed parts,
// in forward order, with the same canonical names and shapes. The structure (which parts a stage,
// a subsample or a block has, the map side at each point, the window rule) is derived here and
// nowhere else.
//
// efficientvit                                              rows (complexity's table)
//   stem          stride-2 3x3 convs                        patch_embed
//   stage k       [subsample: DW+FFN pairs on the previous  blocksK.0
//                  width, PatchMerging,                     blocksK.1
//                  DW+FFN pairs on the new width]           blocksK.2
//                 blocks: DW+FFN pairs, attention, DW+FFN   blocksK.3 ... (blocksK.0 ... without
//                                                           a subsample)
//   head          mean pool, BN1d + Linear                  head
// vit
//   patch_embed   patch conv, class token, position embedding   patch_embed
//   layers        attention + MLP                               blocks.i
//   head          final LayerNorm, Linear                       head
#pragma once

#include <string>
#include <vector>

#include "core/arch_spec.h"

namespace vitnas {

// ---- the window rule -------------------------------------------------------------------

// Local window attention on a map of side `side`: the window is capped at the map, and the map
// is zero-padded bottom/right to whole windows (EfficientViT's LocalWindowAttention).
struct WindowGeometry {
  int window = 0;    // side R of a window
  int padded = 0;    // side of the padded map, a multiple of R
  int per_side = 0;  // windows along each side
  int count() const { return per_side * per_side; }  // windows per image
  int tokens() const { return window * window; }     // N, tokens per window
  bool whole_map() const { return per_side == 1; }   // the map is one window, unpadded
};
WindowGeometry window_geometry(int side, int window);

// ---- rows: the top-level modules, one row of complexity()'s table each -------------------

enum class RowType { Stem, SubsampleFFN, PatchMerging, Block, Head, PatchEmbed, ViTLayer };
// "stem", "subsample_ffn", "patch_merging", "block", "head", "patch_embed", "vit_layer"
std::string to_string(RowType t);

struct Row {
  RowType type = RowType::Stem;
  int index = 0;     // forward order: complexity(spec).blocks[index] is this row
  int stage = 0;     // efficientvit: the K of "blocksK" (1-based); 0 for the stem and head
  int position = 0;  // child index inside "blocksK", or the layer i of "blocks.i"
  int side = 0;      // input side of the map (vit: tokens; head: 1, after pooling)
  int in_dim = 0, out_dim = 0;
  // What the row was made from; only the pointer of its type is set.
  const DownsampleSpec* downsample = nullptr;  // SubsampleFFN, PatchMerging
  const BlockSpec* block = nullptr;            // Block
  const ViTLayerSpec* layer = nullptr;         // ViTLayer

  std::string name() const;  // "patch_embed", "blocks2.3", "blocks.4", "head"
};

// An efficientvit stage: the "blocksK" container of its rows.
struct Stage {
  int stage = 0;  // K, 1-based
  int dim = 0;    // embed_dim
  int side = 0;   // map side of its blocks (after the subsample)
  const StageSpec* spec = nullptr;
  std::string name() const;  // "blocksK"
};

// ---- parts: what a row runs ------------------------------------------------------------

// The stem: stride-2 3x3 Conv2dBN + ReLU between them (none after the last).
struct StemPart {
  int in_chans = 0;
  const std::vector<int>* widths = nullptr;
  int side = 0;  // the image side
  int out_side() const;
};

// A residual 3x3 depthwise Conv2dBN on `dim` channels (the DW of each DW + FFN pair). `index`
// is the pair's position in its row: "dwI" in a block, child 2I of a subsample's sequence.
struct DWPart {
  int dim = 0, side = 0, index = 0;
};

// A residual FFN: 1x1 Conv2dBN dim -> hidden, ReLU, 1x1 Conv2dBN hidden -> dim.
// "ffnI" in a block, child 2I + 1 of a subsample's sequence.
struct FFNPart {
  int dim = 0, hidden = 0, side = 0, index = 0;
};

// Residual local window attention (cascaded group attention on each window), "blocksK.j.mixer".
// The derived counts are fields, not methods: the latency model reads them per prediction.
struct AttentionPart {
  AttentionPart(int dim, int side, const AttentionSpec& spec, int window);
  int dim = 0, side = 0;
  const AttentionSpec* spec = nullptr;
  WindowGeometry geometry;  // window_geometry(side, window)
  int heads = 0;
  int chunk = 0;    // each head's input split of the channels, dim / heads
  int v_total = 0;  // sum of v_dim: the projection's input
};

// PatchMerging (not residual): 1x1 in -> hidden, 3x3 stride-2 depthwise, SE, 1x1 hidden -> out.
struct PatchMergingPart {
  int in = 0, hidden = 0, out = 0, side = 0, out_side = 0;
  int se() const { return se_width(hidden); }
};

// The classifier: efficientvit mean pool + BN1d + Linear; vit final LayerNorm + Linear.
// A distillation head is a second classifier of the same form.
struct HeadPart {
  int dim = 0, classes = 0;
  int side = 0;  // efficientvit: the map side it pools; vit: tokens
  bool distillation = false;
};

// vit: the k = s = patch conv (with bias), class token and learned position embedding.
struct PatchEmbedPart {
  int in_chans = 0, patch = 0, dim = 0, grid = 0;
  int tokens = 0;  // grid^2, plus the class token
  bool cls_token = true;
};

// vit: one layer, attention + MLP in its style's order.
struct ViTLayerPart {
  int dim = 0, tokens = 0;
  const ViTLayerSpec* layer = nullptr;
  bool qkv_bias = true;
  LayerStyle style = LayerStyle::DeiT;
};

// efficientvit: the stage (0-based) whose residual stream a row reads and writes. A subsample's
// first DW + FFN pairs (position 0) still run on the previous stage's width.
int stream_stage(const Row& row);

// Module paths in the state dict (the official names for the presets).
std::string module_path(const Row& row, const DWPart& p);    // "blocks1.0.dw0", "blocks2.0.0"
std::string module_path(const Row& row, const FFNPart& p);   // "blocks1.0.ffn0", "blocks2.0.1"
std::string module_path(const Row& row, const AttentionPart& p);  // "blocks1.0.mixer"

// ---- the walk --------------------------------------------------------------------------

// Override what you need. Events come in forward order: begin_stage / end_stage around an
// efficientvit stage's rows (also for a stage of no rows), begin_row / end_row around each row's
// parts. A row may have no parts (a subsample side without FFNs).
class ArchVisitor {
 public:
  virtual ~ArchVisitor() = default;
  virtual void begin_stage(const Stage&) {}
  virtual void end_stage(const Stage&) {}
  virtual void begin_row(const Row&) {}
  virtual void end_row(const Row&) {}
  virtual void stem(const Row&, const StemPart&) {}
  virtual void dw(const Row&, const DWPart&) {}
  virtual void ffn(const Row&, const FFNPart&) {}
  virtual void attention(const Row&, const AttentionPart&) {}
  virtual void patch_merging(const Row&, const PatchMergingPart&) {}
  virtual void head(const Row&, const HeadPart&) {}
  virtual void patch_embed(const Row&, const PatchEmbedPart&) {}
  virtual void vit_layer(const Row&, const ViTLayerPart&) {}
};

// Visits every part of a valid spec (validate() it first; the walk itself allocates nothing, so
// the latency predictor can call it millions of times).
void walk(const ArchSpec& spec, ArchVisitor& visitor);

}  // namespace vitnas
