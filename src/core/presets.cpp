// Built-in architectures: the six official EfficientViT networks (REFERENCE.md section 1) and
// three plain ViTs (MPCViT's ViT-Lite backbones, REFERENCE.md section 2, and DeiT-Tiny).
// Each family is one table plus one function that expands a row, so a preset is a single line.
#include <algorithm>
#include <array>

#include "core/arch_spec.h"
#include "core/error.h"

namespace vitnas {
namespace {

// ---- EfficientViT m0..m5 ---------------------------------------------------------------

struct EfficientViTRow {
  const char* name;
  std::array<int, 3> embed_dim;
  std::array<int, 3> depth;
  std::array<int, 3> heads;
  std::array<int, 4> kernels;  // head i's q depthwise kernel
};

// Official values: key_dim 16 and window 7 in every stage; the table only holds what differs.
constexpr EfficientViTRow kEfficientViT[] = {
    {"m0", {64, 128, 192}, {1, 2, 3}, {4, 4, 4}, {5, 5, 5, 5}},
    {"m1", {128, 144, 192}, {1, 2, 3}, {2, 3, 3}, {7, 5, 3, 3}},
    {"m2", {128, 192, 224}, {1, 2, 3}, {4, 3, 2}, {7, 5, 3, 3}},
    {"m3", {128, 240, 320}, {1, 2, 3}, {4, 3, 4}, {5, 5, 5, 5}},
    {"m4", {128, 256, 384}, {1, 2, 3}, {4, 4, 4}, {7, 5, 3, 3}},
    {"m5", {192, 288, 384}, {1, 3, 4}, {3, 3, 4}, {7, 5, 3, 3}},
};

constexpr int kOfficialKeyDim = 16;
constexpr int kOfficialWindow = 7;

// The official block: DW+FFN(2C), cascaded group attention, DW+FFN(2C).
BlockSpec official_block(int dim, int heads, const std::array<int, 4>& kernels) {
  AttentionSpec attention;
  attention.cascade = true;
  for (int h = 0; h < heads; ++h)
    attention.heads.push_back({kOfficialKeyDim, dim / heads, kernels[h], AttentionKind::Softmax});
  return {{2 * dim}, attention, {2 * dim}};
}

ArchSpec expand(const EfficientViTRow& row) {
  ArchSpec spec;
  spec.family = Family::EfficientViT;
  spec.name = row.name;
  spec.img_size = 224;
  spec.in_chans = 3;
  spec.num_classes = 1000;
  const int c = row.embed_dim[0];
  spec.efficientvit.stem = {c / 8, c / 4, c / 2, c};  // patch 16
  for (size_t i = 0; i < row.embed_dim.size(); ++i) {
    StageSpec stage;
    stage.embed_dim = row.embed_dim[i];
    stage.window = kOfficialWindow;
    if (i > 0) {  // subsample: DW+FFN(2 C_prev), PatchMerging(hidden 4 C_prev), DW+FFN(2 C)
      const int prev = row.embed_dim[i - 1];
      stage.downsample = DownsampleSpec{{2 * prev}, 4 * prev, {2 * stage.embed_dim}};
    }
    for (int b = 0; b < row.depth[i]; ++b)
      stage.blocks.push_back(official_block(stage.embed_dim, row.heads[i], row.kernels));
    spec.efficientvit.stages.push_back(stage);
  }
  return spec;
}

// ---- plain ViTs ------------------------------------------------------------------------

struct ViTRow {
  const char* name;
  int img_size, patch_size, num_classes, embed_dim, depth, heads, head_dim, mlp_hidden;
  bool qkv_bias;
  LayerStyle style;
};

constexpr ViTRow kViT[] = {
    {"vit_7_4_32", 32, 4, 10, 256, 7, 4, 64, 512, false, LayerStyle::CCT},
    {"vit_9_12_64", 64, 4, 200, 192, 9, 12, 16, 384, false, LayerStyle::CCT},
    {"deit_tiny", 224, 16, 1000, 192, 12, 3, 64, 768, true, LayerStyle::DeiT},
};

ArchSpec expand(const ViTRow& row) {
  ArchSpec spec;
  spec.family = Family::ViT;
  spec.name = row.name;
  spec.img_size = row.img_size;
  spec.in_chans = 3;
  spec.num_classes = row.num_classes;
  ViTSpec& v = spec.vit;
  v.patch_size = row.patch_size;
  v.embed_dim = row.embed_dim;
  v.cls_token = true;
  v.qkv_bias = row.qkv_bias;
  v.style = row.style;
  const ViTHeadSpec head{row.head_dim, row.head_dim, AttentionKind::Softmax};
  const ViTLayerSpec layer{std::vector<ViTHeadSpec>(row.heads, head), row.mlp_hidden,
                           Activation::GELU};
  v.layers.assign(row.depth, layer);
  return spec;
}

}  // namespace

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const auto& row : kEfficientViT) names.push_back(row.name);
  for (const auto& row : kViT) names.push_back(row.name);
  return names;
}

bool is_preset(const std::string& name) {
  const auto names = preset_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

ArchSpec preset(const std::string& name) {
  for (const auto& row : kEfficientViT)
    if (name == row.name) return expand(row);
  for (const auto& row : kViT)
    if (name == row.name) return expand(row);
  std::string valid;
  for (const auto& n : preset_names()) valid += (valid.empty() ? "" : ", ") + n;
  throw InputError("unknown preset '" + name + "' (valid: " + valid + ")");
}

}  // namespace vitnas
