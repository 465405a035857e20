// ArchSpec <-> JSON, validation, loading and saving. Presets live in presets.cpp.
//
// Reading is strict: every required key must be present, every value must have the right JSON
// type, and unknown keys are rejected, so a typo in a hand-written spec fails loudly instead of
// silently falling back to a default. Every error message starts with the JSON path of the
// offending value, e.g. "stages[1].blocks[0].attention.heads[2].v_dim: ...".
#include "core/arch_spec.h"

#include <algorithm>
#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io.h"
#include "core/json_read.h"

namespace vitnas {

using nlohmann::json;
using namespace json_read;  // strict reads: errors start with the JSON path

// ---- enum names ------------------------------------------------------------------------
// The switches are the one source of truth for the JSON names; parsing looks names up in them.

std::string to_string(Family f) {
  switch (f) {
    case Family::EfficientViT: return "efficientvit";
    case Family::ViT: return "vit";
  }
  throw std::logic_error("to_string: invalid Family");
}

std::string to_string(AttentionKind k) {
  switch (k) {
    case AttentionKind::Softmax: return "softmax";
    case AttentionKind::ReluSoftmax: return "relu_softmax";
    case AttentionKind::Scaling: return "scaling";
  }
  throw std::logic_error("to_string: invalid AttentionKind");
}

std::string to_string(Activation a) {
  switch (a) {
    case Activation::GELU: return "gelu";
    case Activation::ReLU: return "relu";
    case Activation::Identity: return "identity";
  }
  throw std::logic_error("to_string: invalid Activation");
}

std::string to_string(LayerStyle s) {
  switch (s) {
    case LayerStyle::DeiT: return "deit";
    case LayerStyle::CCT: return "cct";
  }
  throw std::logic_error("to_string: invalid LayerStyle");
}

std::optional<AttentionKind> attention_kind_from_string(const std::string& name) {
  for (AttentionKind k : kAttentionKinds) {
    if (to_string(k) == name) return k;
  }
  return std::nullopt;
}

namespace {

Family as_family(const json& v, const std::string& path) {
  return as_enum(v, path, "family", {Family::EfficientViT, Family::ViT});
}
AttentionKind as_kind(const json& v, const std::string& path) {
  return as_enum(v, path, "kind", kAttentionKinds);
}
Activation as_act(const json& v, const std::string& path) {
  return as_enum(v, path, "act", {Activation::GELU, Activation::ReLU, Activation::Identity});
}
LayerStyle as_style(const json& v, const std::string& path) {
  return as_enum(v, path, "style", {LayerStyle::DeiT, LayerStyle::CCT});
}

// ---- parsing: efficientvit -------------------------------------------------------------

HeadSpec parse_head(const json& j, const std::string& path) {
  const Object o(j, path, {"key_dim", "v_dim", "kernel", "kind"});
  HeadSpec h;
  h.key_dim = o.integer("key_dim");
  h.v_dim = o.integer("v_dim");
  h.kernel = o.integer("kernel");
  h.kind = as_kind(o.required("kind"), o.path("kind"));
  return h;
}

std::optional<AttentionSpec> parse_attention(const json& j, const std::string& path) {
  if (j.is_null()) return std::nullopt;  // an attention-free block
  const Object o(j, path, {"cascade", "heads"});
  AttentionSpec a;
  a.cascade = o.boolean("cascade");
  const json& heads = as_array(o.required("heads"), o.path("heads"));
  for (size_t i = 0; i < heads.size(); ++i)
    a.heads.push_back(parse_head(heads[i], index_path(o.path("heads"), i)));
  return a;
}

BlockSpec parse_block(const json& j, const std::string& path) {
  const Object o(j, path, {"ffn_before", "attention", "ffn_after"});
  BlockSpec b;
  b.ffn_before = o.int_list("ffn_before");
  b.attention = parse_attention(o.required("attention"), o.path("attention"));
  b.ffn_after = o.int_list("ffn_after");
  return b;
}

std::optional<DownsampleSpec> parse_downsample(const json& j, const std::string& path) {
  if (j.is_null()) return std::nullopt;
  const Object o(j, path, {"ffn_before", "hidden", "ffn_after"});
  DownsampleSpec d;
  d.ffn_before = o.int_list("ffn_before");
  d.hidden = o.integer("hidden");
  d.ffn_after = o.int_list("ffn_after");
  return d;
}

StageSpec parse_stage(const json& j, const std::string& path) {
  const Object o(j, path, {"embed_dim", "window", "downsample", "blocks"});
  StageSpec s;
  s.embed_dim = o.integer("embed_dim");
  s.window = o.integer("window");
  s.downsample = parse_downsample(o.required("downsample"), o.path("downsample"));
  const json& blocks = as_array(o.required("blocks"), o.path("blocks"));
  for (size_t i = 0; i < blocks.size(); ++i)
    s.blocks.push_back(parse_block(blocks[i], index_path(o.path("blocks"), i)));
  return s;
}

ArchSpec parse_efficientvit(const json& j) {
  const Object o(j, "", {"family", "name", "img_size", "in_chans", "num_classes", "distillation",
                         "stem", "stages"});
  ArchSpec spec;
  spec.family = Family::EfficientViT;
  spec.name = o.string("name");
  spec.img_size = o.integer("img_size");
  spec.in_chans = o.integer("in_chans");
  spec.num_classes = o.integer("num_classes");
  spec.distillation = o.boolean_or("distillation", false);
  spec.efficientvit.stem = o.int_list("stem");
  const json& stages = as_array(o.required("stages"), "stages");
  for (size_t i = 0; i < stages.size(); ++i)
    spec.efficientvit.stages.push_back(parse_stage(stages[i], index_path("stages", i)));
  return spec;
}

// ---- parsing: vit ----------------------------------------------------------------------

ViTHeadSpec parse_vit_head(const json& j, const std::string& path) {
  const Object o(j, path, {"qk_dim", "v_dim", "kind"});
  ViTHeadSpec h;
  h.qk_dim = o.integer("qk_dim");
  h.v_dim = o.integer("v_dim");
  h.kind = as_kind(o.required("kind"), o.path("kind"));
  return h;
}

ViTLayerSpec parse_vit_layer(const json& j, const std::string& path) {
  const Object o(j, path, {"heads", "mlp_hidden", "act"});
  ViTLayerSpec l;
  const json& heads = as_array(o.required("heads"), o.path("heads"));
  for (size_t i = 0; i < heads.size(); ++i)
    l.heads.push_back(parse_vit_head(heads[i], index_path(o.path("heads"), i)));
  l.mlp_hidden = o.integer("mlp_hidden");
  l.act = as_act(o.required("act"), o.path("act"));
  return l;
}

ArchSpec parse_vit(const json& j) {
  const Object o(j, "", {"family", "name", "img_size", "patch_size", "in_chans", "num_classes",
                         "embed_dim", "cls_token", "qkv_bias", "style", "distillation", "layers"});
  ArchSpec spec;
  spec.family = Family::ViT;
  spec.name = o.string("name");
  spec.img_size = o.integer("img_size");
  spec.in_chans = o.integer("in_chans");
  spec.num_classes = o.integer("num_classes");
  spec.distillation = o.boolean_or("distillation", false);
  ViTSpec& v = spec.vit;
  v.patch_size = o.integer("patch_size");
  v.embed_dim = o.integer("embed_dim");
  v.cls_token = o.boolean("cls_token");
  v.qkv_bias = o.boolean_or("qkv_bias", true);
  v.style = o.has("style") ? as_style(o.required("style"), "style") : LayerStyle::DeiT;
  const json& layers = as_array(o.required("layers"), "layers");
  for (size_t i = 0; i < layers.size(); ++i)
    v.layers.push_back(parse_vit_layer(layers[i], index_path("layers", i)));
  return spec;
}

// ---- writing ---------------------------------------------------------------------------
// Every key is written, optional ones included, so the output is the canonical form.

json head_to_json(const HeadSpec& h) {
  return {{"key_dim", h.key_dim}, {"v_dim", h.v_dim}, {"kernel", h.kernel},
          {"kind", to_string(h.kind)}};
}

json block_to_json(const BlockSpec& b) {
  json attention = nullptr;
  if (b.attention) {
    json heads = json::array();
    for (const auto& h : b.attention->heads) heads.push_back(head_to_json(h));
    attention = {{"cascade", b.attention->cascade}, {"heads", heads}};
  }
  return {{"ffn_before", b.ffn_before}, {"attention", attention}, {"ffn_after", b.ffn_after}};
}

json stage_to_json(const StageSpec& s) {
  json downsample = nullptr;
  if (s.downsample) {
    downsample = {{"ffn_before", s.downsample->ffn_before},
                  {"hidden", s.downsample->hidden},
                  {"ffn_after", s.downsample->ffn_after}};
  }
  json blocks = json::array();
  for (const auto& b : s.blocks) blocks.push_back(block_to_json(b));
  return {{"embed_dim", s.embed_dim}, {"window", s.window}, {"downsample", downsample},
          {"blocks", blocks}};
}

json efficientvit_to_json(const ArchSpec& spec) {
  json stages = json::array();
  for (const auto& s : spec.efficientvit.stages) stages.push_back(stage_to_json(s));
  return {{"family", to_string(spec.family)}, {"name", spec.name},
          {"img_size", spec.img_size},        {"in_chans", spec.in_chans},
          {"num_classes", spec.num_classes},  {"distillation", spec.distillation},
          {"stem", spec.efficientvit.stem},   {"stages", stages}};
}

json vit_to_json(const ArchSpec& spec) {
  const ViTSpec& v = spec.vit;
  json layers = json::array();
  for (const auto& l : v.layers) {
    json heads = json::array();
    for (const auto& h : l.heads)
      heads.push_back({{"qk_dim", h.qk_dim}, {"v_dim", h.v_dim}, {"kind", to_string(h.kind)}});
    layers.push_back({{"heads", heads}, {"mlp_hidden", l.mlp_hidden}, {"act", to_string(l.act)}});
  }
  return {{"family", to_string(spec.family)}, {"name", spec.name},
          {"img_size", spec.img_size},        {"patch_size", v.patch_size},
          {"in_chans", spec.in_chans},        {"num_classes", spec.num_classes},
          {"embed_dim", v.embed_dim},         {"cls_token", v.cls_token},
          {"qkv_bias", v.qkv_bias},           {"style", to_string(v.style)},
          {"distillation", spec.distillation}, {"layers", layers}};
}

// ---- validation ------------------------------------------------------------------------

// A size in [1, max]; the upper bounds are the documented limits of arch_spec.h.
void require_size(int value, int max, const std::string& path) {
  if (value <= 0) fail(path, "must be positive, got " + std::to_string(value));
  if (value > max)
    fail(path, std::to_string(value) + " is above the limit " + std::to_string(max));
}

void require_positive(int value, const std::string& path) { require_size(value, kMaxWidth, path); }

// A list of repeated parts (stem convs, FFNs, blocks, layers, heads), each of a width.
template <typename T>
void require_count(const std::vector<T>& values, const std::string& path) {
  if (values.size() > size_t(kMaxRepeats))
    fail(path, std::to_string(values.size()) + " entries, above the limit " +
                   std::to_string(kMaxRepeats));
}

void require_positive_list(const std::vector<int>& values, const std::string& path) {
  require_count(values, path);
  for (size_t i = 0; i < values.size(); ++i) require_positive(values[i], index_path(path, i));
}

void validate_common(const ArchSpec& spec) {
  require_size(spec.img_size, kMaxImgSize, "img_size");
  require_positive(spec.in_chans, "in_chans");
  require_size(spec.num_classes, kMaxClasses, "num_classes");
}

void validate_attention(const AttentionSpec& a, int embed_dim, const std::string& path) {
  const std::string heads_path = key_path(path, "heads");
  const int n = static_cast<int>(a.heads.size());
  if (n == 0) fail(heads_path, "needs at least one head (use attention: null for none)");
  require_count(a.heads, heads_path);
  // Each head reads its own equal chunk of embed_dim / heads channels.
  if (embed_dim % n != 0)
    fail(heads_path, std::to_string(n) + " heads do not divide embed_dim " +
                         std::to_string(embed_dim));
  const int chunk = embed_dim / n;
  for (size_t i = 0; i < a.heads.size(); ++i) {
    const HeadSpec& h = a.heads[i];
    const std::string hp = index_path(heads_path, i);
    require_positive(h.key_dim, key_path(hp, "key_dim"));
    require_positive(h.v_dim, key_path(hp, "v_dim"));
    // The cascade adds head i-1's output to head i's input chunk, so the sizes must agree.
    if (a.cascade && h.v_dim != chunk)
      fail(key_path(hp, "v_dim"), "cascade needs v_dim == embed_dim / heads = " +
                                      std::to_string(chunk) + ", got " + std::to_string(h.v_dim));
    if (h.kernel < 1 || h.kernel % 2 == 0)
      fail(key_path(hp, "kernel"),
           "must be odd and >= 1 (pad k/2 keeps the size), got " + std::to_string(h.kernel));
    require_size(h.kernel, kMaxKernel, key_path(hp, "kernel"));
  }
}

void validate_block(const BlockSpec& b, int embed_dim, const std::string& path) {
  require_positive_list(b.ffn_before, key_path(path, "ffn_before"));
  if (b.attention) validate_attention(*b.attention, embed_dim, key_path(path, "attention"));
  require_positive_list(b.ffn_after, key_path(path, "ffn_after"));
}

void validate_stage(const StageSpec& s, size_t index, const std::string& path) {
  require_positive(s.embed_dim, key_path(path, "embed_dim"));
  if (s.window < 1) fail(key_path(path, "window"), "must be >= 1, got " + std::to_string(s.window));
  require_size(s.window, kMaxImgSize, key_path(path, "window"));
  require_count(s.blocks, key_path(path, "blocks"));
  // The stem already reduces the map before stage 0; every later stage halves it, as in the
  // official network (and the width changes there, which only PatchMerging can do).
  const std::string ds = key_path(path, "downsample");
  if (index == 0 && s.downsample)
    fail(ds, "must be null for the first stage (the stem feeds it directly)");
  if (index > 0 && !s.downsample)
    fail(ds, "must not be null: every stage after the first starts with a downsample");
  if (s.downsample) {
    require_positive_list(s.downsample->ffn_before, key_path(ds, "ffn_before"));
    require_positive(s.downsample->hidden, key_path(ds, "hidden"));
    require_positive_list(s.downsample->ffn_after, key_path(ds, "ffn_after"));
  }
  for (size_t j = 0; j < s.blocks.size(); ++j)
    validate_block(s.blocks[j], s.embed_dim, index_path(key_path(path, "blocks"), j));
}

void validate_efficientvit(const ArchSpec& spec) {
  const EfficientViTSpec& e = spec.efficientvit;
  if (e.stem.empty()) fail("stem", "needs at least one conv");
  require_positive_list(e.stem, "stem");
  if (e.stages.empty()) fail("stages", "needs at least one stage");
  require_count(e.stages, "stages");
  for (size_t i = 0; i < e.stages.size(); ++i)
    validate_stage(e.stages[i], i, index_path("stages", i));
  if (e.stem.back() != e.stages[0].embed_dim)
    fail(index_path("stem", e.stem.size() - 1),
         "the last stem width must equal stages[0].embed_dim = " +
             std::to_string(e.stages[0].embed_dim) + ", got " + std::to_string(e.stem.back()));
  // With (r - 1) / 2 + 1 a positive side never reaches 0; the check guards the formula itself.
  const std::vector<int> sides = stage_resolutions(spec);
  for (size_t i = 0; i < sides.size(); ++i) {
    if (sides[i] < 1)
      fail(index_path("stages", i), "feature map is " + std::to_string(sides[i]) +
                                        " wide: img_size " + std::to_string(spec.img_size) +
                                        " is too small for the stem and downsamples");
  }
}

void validate_vit(const ArchSpec& spec) {
  const ViTSpec& v = spec.vit;
  require_size(v.patch_size, kMaxImgSize, "patch_size");
  require_positive(v.embed_dim, "embed_dim");
  if (spec.img_size % v.patch_size != 0)
    fail("img_size", std::to_string(spec.img_size) + " is not divisible by patch_size " +
                         std::to_string(v.patch_size));
  if (v.layers.empty()) fail("layers", "needs at least one layer");
  require_count(v.layers, "layers");
  for (size_t i = 0; i < v.layers.size(); ++i) {
    const ViTLayerSpec& l = v.layers[i];
    const std::string lp = index_path("layers", i);
    if (l.heads.empty()) fail(key_path(lp, "heads"), "needs at least one head");
    require_count(l.heads, key_path(lp, "heads"));
    for (size_t h = 0; h < l.heads.size(); ++h) {
      const std::string hp = index_path(key_path(lp, "heads"), h);
      require_positive(l.heads[h].qk_dim, key_path(hp, "qk_dim"));
      require_positive(l.heads[h].v_dim, key_path(hp, "v_dim"));
    }
    require_positive(l.mlp_hidden, key_path(lp, "mlp_hidden"));
  }
}

bool file_exists(const std::string& path) { return std::ifstream(path).good(); }

}  // namespace

// ---- public API ------------------------------------------------------------------------

ArchSpec arch_from_json(const json& j) {
  if (!j.is_object()) fail("", "expected an object, got " + describe(j));
  if (!j.contains("family")) fail("family", "missing");
  ArchSpec spec;
  switch (as_family(j.at("family"), "family")) {
    case Family::EfficientViT: spec = parse_efficientvit(j); break;
    case Family::ViT: spec = parse_vit(j); break;
  }
  validate(spec);
  return spec;
}

json arch_to_json(const ArchSpec& spec) {
  switch (spec.family) {
    case Family::EfficientViT: return efficientvit_to_json(spec);
    case Family::ViT: return vit_to_json(spec);
  }
  throw std::logic_error("arch_to_json: invalid Family");
}

void validate(const ArchSpec& spec) {
  validate_common(spec);
  switch (spec.family) {
    case Family::EfficientViT: validate_efficientvit(spec); return;
    case Family::ViT: validate_vit(spec); return;
  }
  throw std::logic_error("validate: invalid Family");
}

ArchSpec load_arch(const std::string& name_or_path) {
  if (is_preset(name_or_path)) return preset(name_or_path);
  if (!file_exists(name_or_path))
    throw InputError("'" + name_or_path + "' is neither a preset (" + join(preset_names()) +
                     ") nor an existing JSON file");
  const json j = read_json_file(name_or_path);
  try {
    return arch_from_json(j);
  } catch (const InputError& e) {
    throw InputError(name_or_path + ": " + e.what());  // which file, then which value
  }
}

void save_arch(const ArchSpec& spec, const std::string& path) {
  validate(spec);  // never write a file load_arch would refuse
  write_json_file_atomic(path, arch_to_json(spec));
}

int stem_stride(const ArchSpec& spec) {
  require(spec.family == Family::EfficientViT, "stem_stride: only efficientvit has a stem");
  require(spec.efficientvit.stem.size() < 31, "stem: too many stride-2 convs");
  return 1 << spec.efficientvit.stem.size();
}

int downsampled_side(int side) { return (side - 1) / 2 + 1; }

int se_width(int hidden) {
  // int(hidden * 0.25 + 4) == (hidden + 16) / 4 for non-negative hidden.
  return std::max(8, (hidden + 16) / 4 / 8 * 8);
}

std::vector<int> stage_resolutions(const ArchSpec& spec) {
  require(spec.family == Family::EfficientViT, "stage_resolutions: only efficientvit has stages");
  int side = spec.img_size;
  for (size_t i = 0; i < spec.efficientvit.stem.size(); ++i) side = downsampled_side(side);
  std::vector<int> sides;
  for (const auto& stage : spec.efficientvit.stages) {
    if (stage.downsample) side = downsampled_side(side);
    sides.push_back(side);
  }
  return sides;
}

// ---- equality --------------------------------------------------------------------------

bool operator==(const HeadSpec& a, const HeadSpec& b) {
  return a.key_dim == b.key_dim && a.v_dim == b.v_dim && a.kernel == b.kernel && a.kind == b.kind;
}
bool operator==(const AttentionSpec& a, const AttentionSpec& b) {
  return a.cascade == b.cascade && a.heads == b.heads;
}
bool operator==(const BlockSpec& a, const BlockSpec& b) {
  return a.ffn_before == b.ffn_before && a.attention == b.attention && a.ffn_after == b.ffn_after;
}
bool operator==(const DownsampleSpec& a, const DownsampleSpec& b) {
  return a.ffn_before == b.ffn_before && a.hidden == b.hidden && a.ffn_after == b.ffn_after;
}
bool operator==(const StageSpec& a, const StageSpec& b) {
  return a.embed_dim == b.embed_dim && a.window == b.window && a.downsample == b.downsample &&
         a.blocks == b.blocks;
}
bool operator==(const EfficientViTSpec& a, const EfficientViTSpec& b) {
  return a.stem == b.stem && a.stages == b.stages;
}
bool operator==(const ViTHeadSpec& a, const ViTHeadSpec& b) {
  return a.qk_dim == b.qk_dim && a.v_dim == b.v_dim && a.kind == b.kind;
}
bool operator==(const ViTLayerSpec& a, const ViTLayerSpec& b) {
  return a.heads == b.heads && a.mlp_hidden == b.mlp_hidden && a.act == b.act;
}
bool operator==(const ViTSpec& a, const ViTSpec& b) {
  return a.patch_size == b.patch_size && a.embed_dim == b.embed_dim &&
         a.cls_token == b.cls_token && a.qkv_bias == b.qkv_bias && a.style == b.style &&
         a.layers == b.layers;
}
bool operator==(const ArchSpec& a, const ArchSpec& b) {
  if (a.family != b.family || a.name != b.name || a.img_size != b.img_size ||
      a.in_chans != b.in_chans || a.num_classes != b.num_classes ||
      a.distillation != b.distillation)
    return false;
  switch (a.family) {
    case Family::EfficientViT: return a.efficientvit == b.efficientvit;
    case Family::ViT: return a.vit == b.vit;
  }
  throw std::logic_error("operator==: invalid Family");
}

bool same_network(const ArchSpec& a, const ArchSpec& b) {
  ArchSpec renamed = b;
  renamed.name = a.name;
  return a == renamed;
}

void tie_cascaded_v(AttentionSpec& attention, int embed_dim) {
  if (!attention.cascade) return;
  for (HeadSpec& h : attention.heads) h.v_dim = embed_dim / int(attention.heads.size());
}

std::vector<AttentionKind*> head_kinds(ArchSpec& spec) {
  std::vector<AttentionKind*> out;
  for (auto& stage : spec.efficientvit.stages)
    for (auto& block : stage.blocks)
      if (block.attention)
        for (auto& h : block.attention->heads) out.push_back(&h.kind);
  for (auto& layer : spec.vit.layers)
    for (auto& h : layer.heads) out.push_back(&h.kind);
  return out;
}

std::vector<AttentionKind> head_kinds(const ArchSpec& spec) {
  std::vector<AttentionKind> out;
  for (AttentionKind* k : head_kinds(const_cast<ArchSpec&>(spec))) out.push_back(*k);
  return out;
}

}  // namespace vitnas
