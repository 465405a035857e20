// ArchSpec: the one description of a network (see DESIGN.md). Two families share the format:
// "efficientvit" (EfficientViT, Liu et al. CVPR 2023, generalised per block and per head) and
// "vit" (plain ViT as in DeiT and MPCViT's ViT-Lite backbones).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace vitnas {

enum class Family { EfficientViT, ViT };

// MPCViT's three attention kinds, S = q^T k * scale (+ relative-position bias in EfficientViT):
// softmax(S); relu_softmax: ReLU(S) / (sum_j ReLU(S) + 1e-5); scaling: S / N.
enum class AttentionKind { Softmax, ReluSoftmax, Scaling };

enum class Activation { GELU, ReLU, Identity };

// ---- family "efficientvit" -------------------------------------------------------------

struct HeadSpec {
  int key_dim = 16;  // q and k channels of this head
  int v_dim = 16;    // v channels; with cascade it must equal embed_dim / heads
  int kernel = 5;    // q depthwise conv kernel (odd)
  AttentionKind kind = AttentionKind::Softmax;
};

struct AttentionSpec {
  bool cascade = true;  // true: cascaded group attention (CGA); false: independent group attention
  std::vector<HeadSpec> heads;
};

// One block: [DW + FFN] per entry of ffn_before, then the attention mixer (if any), then
// [DW + FFN] per entry of ffn_after. Every part is residual.
struct BlockSpec {
  std::vector<int> ffn_before;  // hidden width of each FFN before the mixer
  std::optional<AttentionSpec> attention;
  std::vector<int> ffn_after;
};

// The subsample step before a stage: [DW + FFN] on the previous width per ffn_before entry,
// PatchMerging (previous width -> hidden -> this stage's width, stride 2), [DW + FFN] on the new
// width per ffn_after entry.
struct DownsampleSpec {
  std::vector<int> ffn_before;
  int hidden = 0;
  std::vector<int> ffn_after;
};

struct StageSpec {
  int embed_dim = 0;
  int window = 7;
  std::optional<DownsampleSpec> downsample;  // must be absent for the first stage
  std::vector<BlockSpec> blocks;
};

struct EfficientViTSpec {
  std::vector<int> stem;  // stride-2 3x3 conv widths; last = stages[0].embed_dim
  std::vector<StageSpec> stages;
};

// ---- family "vit" ----------------------------------------------------------------------

// "deit": x = x + Attn(LN0(x)); x = x + MLP(LN1(x)).  (LayerNorm eps 1e-6)
// "cct" (Compact Transformers' ViT-Lite, MPCViT's backbones):
//        x = x + Attn(LN0(x)); x = LN1(x); x = x + MLP(x).  (LayerNorm eps 1e-5)
enum class LayerStyle { DeiT, CCT };

struct ViTHeadSpec {
  int qk_dim = 64;
  int v_dim = 64;
  AttentionKind kind = AttentionKind::Softmax;
};

struct ViTLayerSpec {
  std::vector<ViTHeadSpec> heads;
  int mlp_hidden = 0;
  Activation act = Activation::GELU;
};

struct ViTSpec {
  int patch_size = 16;
  int embed_dim = 0;
  bool cls_token = true;  // false: classify the mean token
  bool qkv_bias = true;
  LayerStyle style = LayerStyle::DeiT;
  std::vector<ViTLayerSpec> layers;
};

// ---- the spec --------------------------------------------------------------------------

struct ArchSpec {
  Family family = Family::EfficientViT;
  std::string name;
  int img_size = 224;
  int in_chans = 3;
  int num_classes = 1000;
  bool distillation = false;  // a second (distillation) head; eval averages the two outputs
  EfficientViTSpec efficientvit;  // used when family == EfficientViT
  ViTSpec vit;                    // used when family == ViT
};

// Names of enum values as written in JSON ("softmax", "relu_softmax", "scaling", ...).
std::string to_string(Family f);
std::string to_string(AttentionKind k);
std::string to_string(Activation a);
std::string to_string(LayerStyle s);

// Every AttentionKind, in enum order (kAttentionKinds[i] has the value i).
inline constexpr AttentionKind kAttentionKinds[] = {AttentionKind::Softmax,
                                                    AttentionKind::ReluSoftmax,
                                                    AttentionKind::Scaling};

// The kind to_string names `name`; nullopt for any other name (callers word their own error).
std::optional<AttentionKind> attention_kind_from_string(const std::string& name);

// Documented limits of every size in an ArchSpec or search space (README, "Bad input"). They lie
// far above the papers' networks (DeiT-B: width 768, 12 layers; EfficientViT-M5: 384) and stop a
// typo (kernel 99999, embed_dim 100000, ffn_before [1e9]) before anything is allocated; what a
// valid network needs in memory is checked against the machine where it is built (memory.h).
inline constexpr int kMaxImgSize = 4096;   // input side, pixels
inline constexpr int kMaxWidth = 16384;    // any channel count: in_chans, widths, key/v dims
inline constexpr int kMaxClasses = 100000;
inline constexpr int kMaxKernel = 31;      // q depthwise kernel
inline constexpr int kMaxRepeats = 256;    // stem convs, stages, blocks, FFNs per list, layers, heads

// Parse + validate. Throws InputError whose message starts with the offending JSON path,
// e.g. "stages[1].blocks[0].attention.heads[2].v_dim: ...".
ArchSpec arch_from_json(const nlohmann::json& j);
nlohmann::json arch_to_json(const ArchSpec& spec);

// Checks every rule of DESIGN.md (and the ones a network needs to be buildable); throws
// InputError naming the JSON path. arch_from_json calls it; call it after editing a spec.
void validate(const ArchSpec& spec);

// Presets: m0..m5 (official EfficientViT), vit_7_4_32, vit_9_12_64 (MPCViT), deit_tiny.
std::vector<std::string> preset_names();
bool is_preset(const std::string& name);
ArchSpec preset(const std::string& name);  // throws InputError for an unknown name

// A preset name or a path to a JSON file (errors name the file).
ArchSpec load_arch(const std::string& name_or_path);
void save_arch(const ArchSpec& spec, const std::string& path);  // atomic

// Patch size of an efficientvit stem (2^len(stem)) and the feature-map side at each stage.
int stem_stride(const ArchSpec& spec);
std::vector<int> stage_resolutions(const ArchSpec& spec);  // efficientvit: side of each stage

// Side of a map after one 3x3 stride-2 pad-1 conv: (r - 1) / 2 + 1 (stem convs, PatchMerging).
int downsampled_side(int side);

// Squeeze-excite width inside PatchMerging(hidden): timm's make_divisible(hidden * 0.25, 8) with
// round_limit 0, i.e. max(8, int(hidden / 4 + 4) / 8 * 8). Shared by models/ and complexity.
int se_width(int hidden);

// With the cascade every head's v is the chunk it adds to the next head's input: sets each head's
// v_dim to embed_dim / heads (no-op without the cascade). For code that changes a stage's width.
void tie_cascaded_v(AttentionSpec& attention, int embed_dim);

// Field-by-field equality (what a JSON round trip must preserve). ArchSpec compares the common
// fields and only the sub-spec of its family: the other one is unused.
bool operator==(const HeadSpec& a, const HeadSpec& b);
bool operator==(const AttentionSpec& a, const AttentionSpec& b);
bool operator==(const BlockSpec& a, const BlockSpec& b);
bool operator==(const DownsampleSpec& a, const DownsampleSpec& b);
bool operator==(const StageSpec& a, const StageSpec& b);
bool operator==(const EfficientViTSpec& a, const EfficientViTSpec& b);
bool operator==(const ViTHeadSpec& a, const ViTHeadSpec& b);
bool operator==(const ViTLayerSpec& a, const ViTLayerSpec& b);
bool operator==(const ViTSpec& a, const ViTSpec& b);
bool operator==(const ArchSpec& a, const ArchSpec& b);
inline bool operator!=(const ArchSpec& a, const ArchSpec& b) { return !(a == b); }
// The same network under any name (operator== also compares names).
bool same_network(const ArchSpec& a, const ArchSpec& b);

// Every attention head's kind, in the architecture walk's order (efficientvit: stage, block,
// head; vit: layer, head): what MPC-aware search reads and rewrites.
std::vector<AttentionKind*> head_kinds(ArchSpec& spec);
std::vector<AttentionKind> head_kinds(const ArchSpec& spec);

}  // namespace vitnas
