#include "core/arch_walk.h"

#include <algorithm>
#include <stdexcept>

namespace vitnas {

WindowGeometry window_geometry(int side, int window) {
  WindowGeometry g;
  g.window = std::min(window, side);
  g.per_side = (side + g.window - 1) / g.window;
  g.padded = g.per_side * g.window;
  return g;
}

std::string to_string(RowType t) {
  switch (t) {
    case RowType::Stem: return "stem";
    case RowType::SubsampleFFN: return "subsample_ffn";
    case RowType::PatchMerging: return "patch_merging";
    case RowType::Block: return "block";
    case RowType::Head: return "head";
    case RowType::PatchEmbed: return "patch_embed";
    case RowType::ViTLayer: return "vit_layer";
  }
  throw std::logic_error("to_string: invalid RowType");
}

std::string Row::name() const {
  switch (type) {
    case RowType::Stem:
    case RowType::PatchEmbed: return "patch_embed";
    case RowType::Head: return "head";
    case RowType::ViTLayer: return "blocks." + std::to_string(position);
    case RowType::SubsampleFFN:
    case RowType::PatchMerging:
    case RowType::Block: return "blocks" + std::to_string(stage) + "." + std::to_string(position);
  }
  throw std::logic_error("Row::name: invalid RowType");
}

std::string Stage::name() const { return "blocks" + std::to_string(stage); }

int StemPart::out_side() const {
  int s = side;
  for (size_t i = 0; i < widths->size(); ++i) s = downsampled_side(s);
  return s;
}

AttentionPart::AttentionPart(int dim_, int side_, const AttentionSpec& spec_, int window)
    : dim(dim_), side(side_), spec(&spec_), geometry(window_geometry(side_, window)),
      heads(static_cast<int>(spec_.heads.size())), chunk(heads > 0 ? dim_ / heads : 0) {
  for (const HeadSpec& h : spec_.heads) v_total += h.v_dim;
}

int stream_stage(const Row& row) {
  return row.type == RowType::SubsampleFFN && row.position == 0 ? row.stage - 2 : row.stage - 1;
}

// In a block the pairs are named dwI / ffnI; a subsample's pairs are a plain sequence.
std::string module_path(const Row& row, const DWPart& p) {
  return row.name() + "." + (row.type == RowType::Block ? "dw" + std::to_string(p.index)
                                                         : std::to_string(2 * p.index));
}

std::string module_path(const Row& row, const FFNPart& p) {
  return row.name() + "." + (row.type == RowType::Block ? "ffn" + std::to_string(p.index)
                                                         : std::to_string(2 * p.index + 1));
}

std::string module_path(const Row& row, const AttentionPart&) { return row.name() + ".mixer"; }

namespace {

// Emits one row and its parts; `index` counts rows in forward order.
class Walker {
 public:
  Walker(const ArchSpec& spec, ArchVisitor& v) : spec_(spec), v_(v) {}

  void efficientvit() {
    const EfficientViTSpec& e = spec_.efficientvit;
    int side = spec_.img_size;
    {
      Row row = make(RowType::Stem, 0, 0, side, spec_.in_chans, e.stem.back());
      const StemPart stem{spec_.in_chans, &e.stem, side};
      v_.begin_row(row);
      v_.stem(row, stem);
      v_.end_row(row);
      side = stem.out_side();
    }
    int prev = e.stem.back();
    for (size_t k = 0; k < e.stages.size(); ++k) {
      const StageSpec& s = e.stages[k];
      const int K = static_cast<int>(k) + 1;
      const int stage_side = s.downsample ? downsampled_side(side) : side;
      const Stage stage{K, s.embed_dim, stage_side, &s};
      v_.begin_stage(stage);
      int position = 0;
      if (s.downsample) {
        const DownsampleSpec& d = *s.downsample;
        Row before = make(RowType::SubsampleFFN, K, position++, side, prev, prev);
        before.downsample = &d;
        dw_ffns(before, prev, side, d.ffn_before);

        Row merge = make(RowType::PatchMerging, K, position++, side, prev, s.embed_dim);
        merge.downsample = &d;
        v_.begin_row(merge);
        v_.patch_merging(merge, {prev, d.hidden, s.embed_dim, side, stage_side});
        v_.end_row(merge);

        Row after = make(RowType::SubsampleFFN, K, position++, stage_side, s.embed_dim, s.embed_dim);
        after.downsample = &d;
        dw_ffns(after, s.embed_dim, stage_side, d.ffn_after);
      }
      side = stage_side;
      for (const BlockSpec& b : s.blocks) {
        Row row = make(RowType::Block, K, position++, side, s.embed_dim, s.embed_dim);
        row.block = &b;
        v_.begin_row(row);
        int pair = 0;
        for (int hidden : b.ffn_before) pair_parts(row, s.embed_dim, side, hidden, pair++);
        if (b.attention) {
          v_.attention(row, AttentionPart(s.embed_dim, side, *b.attention, s.window));
        }
        for (int hidden : b.ffn_after) pair_parts(row, s.embed_dim, side, hidden, pair++);
        v_.end_row(row);
      }
      v_.end_stage(stage);
      prev = s.embed_dim;
    }
    head(prev, side);
  }

  void vit() {
    const ViTSpec& v = spec_.vit;
    const int grid = spec_.img_size / v.patch_size;
    const int tokens = grid * grid + (v.cls_token ? 1 : 0);
    {
      Row row = make(RowType::PatchEmbed, 0, 0, spec_.img_size, spec_.in_chans, v.embed_dim);
      v_.begin_row(row);
      v_.patch_embed(row, {spec_.in_chans, v.patch_size, v.embed_dim, grid, tokens, v.cls_token});
      v_.end_row(row);
    }
    for (size_t i = 0; i < v.layers.size(); ++i) {
      Row row = make(RowType::ViTLayer, 0, static_cast<int>(i), tokens, v.embed_dim, v.embed_dim);
      row.layer = &v.layers[i];
      v_.begin_row(row);
      v_.vit_layer(row, {v.embed_dim, tokens, &v.layers[i], v.qkv_bias, v.style});
      v_.end_row(row);
    }
    head(v.embed_dim, tokens);
  }

 private:
  Row make(RowType type, int stage, int position, int side, int in, int out) {
    Row r;
    r.type = type;
    r.index = index_++;
    r.stage = stage;
    r.position = position;
    r.side = side;
    r.in_dim = in;
    r.out_dim = out;
    return r;
  }

  void pair_parts(const Row& row, int dim, int side, int hidden, int pair) {
    v_.dw(row, {dim, side, pair});
    v_.ffn(row, {dim, hidden, side, pair});
  }

  // A subsample side: its own row of DW + FFN pairs.
  void dw_ffns(const Row& row, int dim, int side, const std::vector<int>& hiddens) {
    v_.begin_row(row);
    for (size_t i = 0; i < hiddens.size(); ++i) pair_parts(row, dim, side, hiddens[i], int(i));
    v_.end_row(row);
  }

  void head(int dim, int side) {
    Row row = make(RowType::Head, 0, 0, 1, dim, spec_.num_classes);
    v_.begin_row(row);
    v_.head(row, {dim, spec_.num_classes, side, spec_.distillation});
    v_.end_row(row);
  }

  const ArchSpec& spec_;
  ArchVisitor& v_;
  int index_ = 0;
};

}  // namespace

void walk(const ArchSpec& spec, ArchVisitor& visitor) {
  Walker w(spec, visitor);
  switch (spec.family) {
    case Family::EfficientViT: w.efficientvit(); return;
    case Family::ViT: w.vit(); return;
  }
  throw std::logic_error("walk: invalid Family");
}

}  // namespace vitnas
