#include "prune/groups.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

#include "core/arch_walk.h"

namespace vitnas::prune {

std::string to_string(GroupType t) {
  switch (t) {
    case GroupType::Embed: return "embed";
    case GroupType::StemHidden: return "stem_hidden";
    case GroupType::FFNHidden: return "ffn_hidden";
    case GroupType::QK: return "qk";
    case GroupType::V: return "v";
    case GroupType::MergeHidden: return "merge_hidden";
    case GroupType::SEHidden: return "se_hidden";
    case GroupType::Mixer: return "mixer";
    case GroupType::DWFFN: return "dw_ffn";
    case GroupType::ViTEmbed: return "vit_embed";
    case GroupType::ViTHead: return "vit_head";
    case GroupType::ViTQK: return "vit_qk";
    case GroupType::ViTV: return "vit_v";
    case GroupType::ViTMLP: return "vit_mlp";
  }
  throw std::logic_error("to_string: invalid GroupType");
}

bool is_unit(GroupType t) {
  return t == GroupType::Mixer || t == GroupType::DWFFN || t == GroupType::ViTHead;
}

namespace {

// The slices of a Conv2dBN's output channels [offset, offset + length) at `path` (conv rows, BN
// parameters and statistics), and of only its BN affine parameters (what zeroes the channels).
void conv_bn_rows(std::vector<Slice>& out, const std::string& path, int64_t offset, int64_t length) {
  for (const char* k : {".c.weight", ".bn.weight", ".bn.bias", ".bn.running_mean", ".bn.running_var"})
    out.push_back({path + k, 0, offset, length});
}
void bn_affine_rows(std::vector<Slice>& out, const std::string& path, int64_t offset, int64_t length) {
  for (const char* k : {".bn.weight", ".bn.bias"}) out.push_back({path + k, 0, offset, length});
}
// A Linear's rows (weight and, with a bias, bias) or columns.
void linear_rows(std::vector<Slice>& out, const std::string& path, int64_t offset, int64_t length,
                 bool bias) {
  out.push_back({path + ".weight", 0, offset, length});
  if (bias) out.push_back({path + ".bias", 0, offset, length});
}

class GroupWalk final : public ArchVisitor {
 public:
  explicit GroupWalk(const ArchSpec& spec) : spec_(spec) {}
  std::vector<Dimension> dims;

  void begin_stage(const Stage& s) override { stage_ = s.stage - 1; }

  // Conv i of the stem is child 2i of patch_embed (a ReLU sits between convs). The walk starts
  // here, so every stage's embedding is made first; the parts add their weights as they come.
  void stem(const Row& row, const StemPart& p) override {
    const auto& stages = spec_.efficientvit.stages;
    for (size_t s = 0; s < stages.size(); ++s) {
      int g = 1;
      for (const BlockSpec& b : stages[s].blocks)
        if (b.attention) g = std::lcm(g, int(b.attention->heads.size()));
      Dimension d;
      d.type = GroupType::Embed;
      d.name = d.row = "blocks" + std::to_string(s + 1);
      d.shared = true;
      d.size = stages[s].embed_dim / g;
      d.per_channel = g;
      d.site.stage = int(s);
      embed_.push_back(push(std::move(d)));
    }
    const auto conv = [](size_t i) { return "patch_embed." + std::to_string(2 * i); };
    stream_writer(0, conv(p.widths->size() - 1));
    for (size_t i = 0; i + 1 < p.widths->size(); ++i) {
      Site site;
      site.index = int(i);
      const int w = (*p.widths)[i];
      Dimension d = make(GroupType::StemHidden, conv(i), row, w, site);
      conv_bn_rows(d.coupled, conv(i), 0, w);
      d.coupled.push_back({conv(i + 1) + ".c.weight", 1, 0, w});
      bn_affine_rows(d.mask, conv(i), 0, w);  // relu(0) = 0 feeds conv i + 1
      push(std::move(d));
    }
  }

  void dw(const Row& row, const DWPart& p) override { stream_writer(stream_stage(row), module_path(row, p) + ".m"); }

  void ffn(const Row& row, const FFNPart& p) override {
    Site site = ffn_site(row, p.index);
    const std::string dw_path = module_path(row, DWPart{p.dim, p.side, p.index}) + ".m";
    const std::string path = module_path(row, p) + ".m";
    stream_reader(stream_stage(row), path + ".pw1.c.weight");
    stream_writer(stream_stage(row), path + ".pw2");

    Dimension unit = make(GroupType::DWFFN, module_path(row, p) + ".pair", row, 1, site);
    unit.modules = {dw_path, path};
    bn_affine_rows(unit.mask, dw_path, 0, p.dim);
    bn_affine_rows(unit.mask, path + ".pw2", 0, p.dim);
    const int parent = push(std::move(unit));

    Dimension d = make(GroupType::FFNHidden, module_path(row, p), row, p.hidden, site);
    conv_bn_rows(d.coupled, path + ".pw1", 0, p.hidden);
    d.coupled.push_back({path + ".pw2.c.weight", 1, 0, p.hidden});
    bn_affine_rows(d.mask, path + ".pw1", 0, p.hidden);
    d.parent = parent;
    push(std::move(d));
  }

  void attention(const Row& row, const AttentionPart& a) override {
    Site site{stage_, block_index(row)};
    const std::string mixer = module_path(row, a);
    const std::string path = mixer + ".m.attn";

    Dimension unit = make(GroupType::Mixer, mixer, row, 1, site);
    unit.modules = {mixer + ".m"};
    bn_affine_rows(unit.mask, path + ".proj.1", 0, a.dim);
    const int parent = push(std::move(unit));
    stream_writer(stage_, path + ".proj.1");

    int64_t v_offset = 0;  // head h's columns of the projection
    for (int h = 0; h < a.heads; ++h) {
      const HeadSpec& hs = a.spec->heads[h];
      site.head = h;
      const std::string qkv = path + ".qkvs." + std::to_string(h), dw = path + ".dws." + std::to_string(h);
      const std::string head = mixer + ".head" + std::to_string(h);
      {  // The embedding's channel j: positions {r n + j} of this head's input chunk; cascaded,
         // also of its v (what it adds to the next head's chunk) and their proj columns.
        Dimension& e = dims[size_t(embed_[size_t(stage_)])];
        const int n = e.size, per_head = e.per_channel / a.heads;
        for (int r = 0; r < per_head; ++r) {
          e.coupled.push_back({qkv + ".c.weight", 1, int64_t(r) * n, n});
          if (!a.spec->cascade) continue;
          conv_bn_rows(e.coupled, qkv, 2 * hs.key_dim + int64_t(r) * n, n);
          bn_affine_rows(e.mask, qkv, 2 * hs.key_dim + int64_t(r) * n, n);
          e.coupled.push_back({path + ".proj.1.c.weight", 1, v_offset + int64_t(r) * n, n});
        }
      }

      Dimension qk = make(GroupType::QK, head + ".qk", row, hs.key_dim, site);
      conv_bn_rows(qk.coupled, qkv, 0, hs.key_dim);
      conv_bn_rows(qk.coupled, qkv, hs.key_dim, hs.key_dim);
      conv_bn_rows(qk.coupled, dw, 0, hs.key_dim);
      bn_affine_rows(qk.mask, dw, 0, hs.key_dim);  // q_j = 0 drops the q_j k_j term
      bn_affine_rows(qk.q_scale, dw, 0, hs.key_dim);
      qk.parent = parent;
      push(std::move(qk));

      if (!a.spec->cascade) {
        Dimension v = make(GroupType::V, head + ".v", row, hs.v_dim, site);
        conv_bn_rows(v.coupled, qkv, 2 * hs.key_dim, hs.v_dim);
        v.coupled.push_back({path + ".proj.1.c.weight", 1, v_offset, hs.v_dim});
        bn_affine_rows(v.mask, qkv, 2 * hs.key_dim, hs.v_dim);
        v.parent = parent;
        push(std::move(v));
      }
      v_offset += hs.v_dim;
    }
  }

  void patch_merging(const Row& row, const PatchMergingPart& p) override {
    const Site site{stage_, -1};
    const std::string path = row.name();
    Dimension d = make(GroupType::MergeHidden, path + ".hidden", row, p.hidden, site);
    for (const char* conv : {".conv1", ".conv2"}) conv_bn_rows(d.coupled, path + conv, 0, p.hidden);
    d.coupled.push_back({path + ".se.fc1.weight", 1, 0, p.hidden});
    d.coupled.push_back({path + ".se.fc2.weight", 0, 0, p.hidden});
    d.coupled.push_back({path + ".se.fc2.bias", 0, 0, p.hidden});
    d.coupled.push_back({path + ".conv3.c.weight", 1, 0, p.hidden});
    bn_affine_rows(d.mask, path + ".conv2", 0, p.hidden);  // relu(0) = 0 feeds SE and conv3
    push(std::move(d));
    stream_reader(stage_ - 1, path + ".conv1.c.weight");
    stream_writer(stage_, path + ".conv3");

    Dimension se = make(GroupType::SEHidden, path + ".se", row, p.se(), site);
    linear_rows(se.coupled, path + ".se.fc1", 0, p.se(), true);
    se.coupled.push_back({path + ".se.fc2.weight", 1, 0, p.se()});
    linear_rows(se.mask, path + ".se.fc1", 0, p.se(), true);
    push(std::move(se));
  }

  // The vit embedding: its channel j is written by the patch projection, the class token and the
  // position embedding here, and by every layer's proj and fc2; every norm, qkv and fc1 reads it.
  void patch_embed(const Row& row, const PatchEmbedPart& p) override {
    Dimension d = make(GroupType::ViTEmbed, "embed", row, p.dim, Site{});
    d.shared = true;
    for (auto* list : {&d.coupled, &d.mask}) {
      linear_rows(*list, "patch_embed.proj", 0, p.dim, true);
      if (p.cls_token) list->push_back({"cls_token", 2, 0, p.dim});
      list->push_back({"pos_embed", 2, 0, p.dim});
    }
    embed_ = {push(std::move(d))};
  }
  void head(const Row&, const HeadPart& h) override {
    if (spec_.family == Family::EfficientViT) {  // mean pool, then BN1d + Linear per classifier
      const int last = int(embed_.size()) - 1;
      std::vector<std::string> classifiers{"head"};
      if (h.distillation) classifiers.push_back("head_dist");
      for (const std::string& c : classifiers) {
        Dimension& e = dims[size_t(embed_[size_t(last)])];
        for (const char* k : {".bn.weight", ".bn.bias", ".bn.running_mean", ".bn.running_var"})
          on_stream(e.coupled, last, c + k, 0);
        for (const char* k : {".bn.weight", ".bn.bias"}) on_stream(e.mask, last, c + k, 0);
        stream_reader(last, c + ".l.weight");
      }
      return;
    }
    Dimension& d = dims[size_t(embed_.front())];
    layer_norm(d, "norm", h.dim);
    d.coupled.push_back({"head.weight", 1, 0, h.dim});
    if (h.distillation) d.coupled.push_back({"head_dist.weight", 1, 0, h.dim});
  }

  void vit_layer(const Row& row, const ViTLayerPart& p) override {
    const std::string path = row.name();
    {  // the embedding's channels in this layer
      Dimension& d = dims[size_t(embed_.front())];
      for (const char* norm : {".norm1", ".norm2"}) layer_norm(d, path + norm, p.dim);
      d.coupled.push_back({path + ".attn.qkv.weight", 1, 0, p.dim});
      d.coupled.push_back({path + ".mlp.fc1.weight", 1, 0, p.dim});
      for (const char* out : {".attn.proj", ".mlp.fc2"}) {
        linear_rows(d.coupled, path + out, 0, p.dim, true);
        linear_rows(d.mask, path + out, 0, p.dim, true);
      }
    }
    const std::string qkv = path + ".attn.qkv", proj = path + ".attn.proj.weight";
    const std::vector<ViTHeadSpec>& heads = p.layer->heads;
    int64_t qk_total = 0;
    for (const ViTHeadSpec& h : heads) qk_total += h.qk_dim;
    int64_t q_offset = 0, v_offset = 0;
    for (size_t h = 0; h < heads.size(); ++h) {
      const ViTHeadSpec& hs = heads[h];
      Site site;
      site.layer = row.position;
      site.head = int(h);
      const std::string head = path + ".attn.head" + std::to_string(h);
      const int64_t k_offset = qk_total + q_offset, vo = 2 * qk_total + v_offset;

      Dimension unit = make(GroupType::ViTHead, head, row, 1, site);
      linear_rows(unit.coupled, qkv, q_offset, hs.qk_dim, p.qkv_bias);
      linear_rows(unit.coupled, qkv, k_offset, hs.qk_dim, p.qkv_bias);
      linear_rows(unit.coupled, qkv, vo, hs.v_dim, p.qkv_bias);
      unit.coupled.push_back({proj, 1, v_offset, hs.v_dim});
      linear_rows(unit.mask, qkv, vo, hs.v_dim, p.qkv_bias);  // v = 0: the head outputs 0
      const int parent = push(std::move(unit));

      Dimension qk = make(GroupType::ViTQK, head + ".qk", row, hs.qk_dim, site);
      linear_rows(qk.coupled, qkv, q_offset, hs.qk_dim, p.qkv_bias);
      linear_rows(qk.coupled, qkv, k_offset, hs.qk_dim, p.qkv_bias);
      linear_rows(qk.mask, qkv, q_offset, hs.qk_dim, p.qkv_bias);
      linear_rows(qk.q_scale, qkv, q_offset, hs.qk_dim, p.qkv_bias);
      qk.parent = parent;
      push(std::move(qk));

      Dimension v = make(GroupType::ViTV, head + ".v", row, hs.v_dim, site);
      linear_rows(v.coupled, qkv, vo, hs.v_dim, p.qkv_bias);
      v.coupled.push_back({proj, 1, v_offset, hs.v_dim});
      linear_rows(v.mask, qkv, vo, hs.v_dim, p.qkv_bias);
      v.parent = parent;
      push(std::move(v));

      q_offset += hs.qk_dim;
      v_offset += hs.v_dim;
    }
    Site site;
    site.layer = row.position;
    Dimension mlp = make(GroupType::ViTMLP, path + ".mlp", row, p.layer->mlp_hidden, site);
    linear_rows(mlp.coupled, path + ".mlp.fc1", 0, p.layer->mlp_hidden, true);
    mlp.coupled.push_back({path + ".mlp.fc2.weight", 1, 0, p.layer->mlp_hidden});
    linear_rows(mlp.mask, path + ".mlp.fc1", 0, p.layer->mlp_hidden, true);  // act(0) = 0
    push(std::move(mlp));
  }

 private:
  Dimension make(GroupType type, std::string name, const Row& row, int size, const Site& site) const {
    Dimension d;
    d.type = type;
    d.name = std::move(name);
    d.row = row.name();
    d.size = size;
    d.site = site;
    return d;
  }
  int push(Dimension d) {
    dims.push_back(std::move(d));
    return int(dims.size()) - 1;
  }
  // Channel j of `stage`'s embedding in tensor `key` along `axis`: positions {g n + j}.
  void on_stream(std::vector<Slice>& out, int stage, const std::string& key, int axis) const {
    const Dimension& e = dims[size_t(embed_[size_t(stage)])];
    for (int g = 0; g < e.per_channel; ++g) out.push_back({key, axis, int64_t(g) * e.size, e.size});
  }
  // A Conv2dBN that writes the stream: its rows go; zeroing its BN affine rows zeroes the channel.
  void stream_writer(int stage, const std::string& path) {
    Dimension& e = dims[size_t(embed_[size_t(stage)])];
    for (const char* k : {".c.weight", ".bn.weight", ".bn.bias", ".bn.running_mean", ".bn.running_var"})
      on_stream(e.coupled, stage, path + k, 0);
    for (const char* k : {".bn.weight", ".bn.bias"}) on_stream(e.mask, stage, path + k, 0);
  }
  // A conv weight that reads the stream (its input columns).
  void stream_reader(int stage, const std::string& key) {
    on_stream(dims[size_t(embed_[size_t(stage)])].coupled, stage, key, 1);
  }
  // A LayerNorm's weight and bias at channels [0, dim): cut, and zeroed by the mask.
  static void layer_norm(Dimension& d, const std::string& path, int dim) {
    linear_rows(d.coupled, path, 0, dim, true);
    linear_rows(d.mask, path, 0, dim, true);
  }
  // The block index inside its stage: the stage's rows are [subsample 0, 1, 2] + blocks.
  int block_index(const Row& row) const {
    return row.position - (spec_.efficientvit.stages[stage_].downsample ? 3 : 0);
  }
  Site ffn_site(const Row& row, int index) const {
    Site s{stage_, row.type == RowType::Block ? block_index(row) : -1};
    const std::vector<int>& before = row.type == RowType::Block ? row.block->ffn_before
                                                                : row.downsample->ffn_before;
    // A subsample's rows: position 0 runs ffn_before, position 2 ffn_after.
    const bool after = row.type == RowType::Block ? index >= int(before.size()) : row.position == 2;
    s.list = after ? 1 : 0;
    s.index = after && row.type == RowType::Block ? index - int(before.size()) : index;
    return s;
  }

  const ArchSpec& spec_;
  int stage_ = -1;
  std::vector<int> embed_;  // index in dims of each stage's embedding (vit: the one embedding)
};

std::vector<int>& ffn_list(ArchSpec& spec, const Site& s) {
  StageSpec& stage = spec.efficientvit.stages.at(s.stage);
  if (s.block < 0) return s.list == 0 ? stage.downsample->ffn_before : stage.downsample->ffn_after;
  BlockSpec& b = stage.blocks.at(s.block);
  return s.list == 0 ? b.ffn_before : b.ffn_after;
}

template <typename T, typename Removed>
void erase_if(std::vector<T>& v, Removed removed) {
  v.erase(std::remove_if(v.begin(), v.end(), removed), v.end());
}

}  // namespace

std::vector<Dimension> dimensions(const ArchSpec& spec) {
  GroupWalk w(spec);
  walk(spec, w);
  return std::move(w.dims);
}

void set_width(ArchSpec& spec, const Dimension& d, int width) {
  const Site& s = d.site;
  switch (d.type) {
    case GroupType::Embed: {
      StageSpec& st = spec.efficientvit.stages.at(s.stage);
      st.embed_dim = d.per_channel * width;
      if (s.stage == 0) spec.efficientvit.stem.back() = st.embed_dim;
      for (BlockSpec& b : st.blocks)
        if (b.attention) tie_cascaded_v(*b.attention, st.embed_dim);
      return;
    }
    case GroupType::StemHidden: spec.efficientvit.stem.at(s.index) = width; return;
    case GroupType::FFNHidden: ffn_list(spec, s).at(s.index) = width; return;
    case GroupType::DWFFN: if (width == 0) ffn_list(spec, s).at(s.index) = 0; return;
    case GroupType::QK: {
      // A removed mixer's heads keep their widths; compact() drops the mixer whole.
      auto& a = spec.efficientvit.stages.at(s.stage).blocks.at(s.block).attention;
      if (a) a->heads.at(s.head).key_dim = width;
      return;
    }
    case GroupType::V: {
      auto& a = spec.efficientvit.stages.at(s.stage).blocks.at(s.block).attention;
      if (a) a->heads.at(s.head).v_dim = width;
      return;
    }
    case GroupType::Mixer:
      if (width == 0) spec.efficientvit.stages.at(s.stage).blocks.at(s.block).attention.reset();
      return;
    case GroupType::MergeHidden: spec.efficientvit.stages.at(s.stage).downsample->hidden = width; return;
    case GroupType::SEHidden: return;  // se_width(hidden), not in the spec
    case GroupType::ViTEmbed: spec.vit.embed_dim = width; return;
    case GroupType::ViTHead:
      if (width == 0) spec.vit.layers.at(s.layer).heads.at(s.head).qk_dim = 0;
      return;
    case GroupType::ViTQK: {
      int& qk = spec.vit.layers.at(s.layer).heads.at(s.head).qk_dim;
      if (qk != 0) qk = width;  // 0 marks a removed head
      return;
    }
    case GroupType::ViTV: spec.vit.layers.at(s.layer).heads.at(s.head).v_dim = width; return;
    case GroupType::ViTMLP: spec.vit.layers.at(s.layer).mlp_hidden = width; return;
  }
}

void compact(ArchSpec& spec) {
  const auto zero = [](int w) { return w == 0; };
  for (StageSpec& st : spec.efficientvit.stages) {
    if (st.downsample) {
      erase_if(st.downsample->ffn_before, zero);
      erase_if(st.downsample->ffn_after, zero);
    }
    for (BlockSpec& b : st.blocks) {
      erase_if(b.ffn_before, zero);
      erase_if(b.ffn_after, zero);
    }
  }
  for (ViTLayerSpec& l : spec.vit.layers)
    erase_if(l.heads, [](const ViTHeadSpec& h) { return h.qk_dim == 0; });
  validate(spec);
}

}  // namespace vitnas::prune
