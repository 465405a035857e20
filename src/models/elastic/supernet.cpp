#include "models/elastic/supernet.h"

#include <algorithm>

#include <torch/torch.h>

#include "core/arch_walk.h"
#include "core/error.h"
#include "models/efficientvit.h"
#include "models/module_index.h"

namespace vitnas {

namespace {

template <typename T>
T largest_of(const std::vector<T>& v) { return *std::max_element(v.begin(), v.end()); }

// The capacity attention of a stage: the most heads, the largest key_dim and kernel of any
// choice, and the widest chunk (a width over its fewest heads) as every head's input and v_dim.
struct AttentionCapacity {
  AttentionSpec spec;
  int chunk = 0;
};
AttentionCapacity attention_capacity(const StageChoices& c) {
  int heads = 0, chunk = 0;
  for (int w : c.embed_dim) {
    const std::vector<int> h = head_choices(c, w);
    heads = std::max(heads, largest_of(h));
    chunk = std::max(chunk, w / *std::min_element(h.begin(), h.end()));
  }
  AttentionCapacity a;
  a.chunk = chunk;
  a.spec.cascade = false;  // v_dim free: every head holds the widest v
  a.spec.heads.assign(size_t(heads), HeadSpec{largest_of(c.key_dim), chunk, largest_of(c.kernel),
                                              AttentionKind::Softmax});
  return a;
}

// Maps the parts of a subnet's walk to the supernet's modules: the stage, and for a DW or FFN
// the pairs it belongs to and its index there.
class SubnetParts : public ArchVisitor {
 public:
  explicit SubnetParts(SupernetImpl& net) : net_(net) {}

  void begin_stage(const Stage& s) override {
    stage_ = net_.stages[size_t(s.stage - 1)].get();
    first_block_ = s.spec->downsample ? 3 : 0;  // the subsample's three rows come first
  }

 protected:
  // Block rows: blocks[position - 3] after a subsample. Subsample rows 0 and 2: its pairs.
  ElasticBlockImpl& block(const Row& row) const {
    return *stage_->blocks[size_t(row.position - first_block_)];
  }
  std::pair<ElasticPairsImpl*, int> pairs(const Row& row, int index) const {
    if (row.type == RowType::SubsampleFFN)
      return {(row.position == 0 ? stage_->down_before : stage_->down_after).get(), index};
    const int before = static_cast<int>(row.block->ffn_before.size());
    ElasticBlockImpl& b = block(row);
    return index < before ? std::make_pair(b.before.get(), index)
                          : std::make_pair(b.after.get(), index - before);
  }

  SupernetImpl& net_;
  ElasticStageImpl* stage_ = nullptr;
  int first_block_ = 0;
};

// Runs the subnet: x flows through each part's capacity module at the part's widths.
class Forward : public SubnetParts {
 public:
  Forward(SupernetImpl& net, torch::Tensor x) : SubnetParts(net), x(std::move(x)) {}

  void stem(const Row&, const StemPart& s) override {
    for (size_t i = 0; i < s.widths->size(); ++i) {
      if (i > 0) x = torch::relu(x);
      x = net_.stem[i]->forward_active(x, (*s.widths)[i]);
    }
  }
  void dw(const Row& row, const DWPart& p) override {
    auto [side, i] = pairs(row, p.index);
    x = side->forward_dw(x, i);
  }
  void ffn(const Row& row, const FFNPart& p) override {
    auto [side, i] = pairs(row, p.index);
    x = side->forward_ffn(x, i, p.hidden);
  }
  void attention(const Row& row, const AttentionPart& p) override {
    x = x + block(row).mixer->forward_active(x, *p.spec, p.geometry.window);
  }
  void patch_merging(const Row&, const PatchMergingPart& p) override {
    x = stage_->merge->forward_active(x, p.hidden, p.out);
  }
  void head(const Row&, const HeadPart&) override {
    x = net_.head->forward(x.mean({2, 3}));  // (B, C) -> (B, classes)
  }

  torch::Tensor x;
};

// Copies each part's slices into the module of the same path in a standalone EfficientViT.
class Extract : public SubnetParts {
 public:
  Extract(SupernetImpl& net, EfficientViTImpl& model)
      : SubnetParts(net), model_(model), modules_(model) {}

  void stem(const Row& row, const StemPart& s) override {
    for (size_t i = 0; i < s.widths->size(); ++i) {  // children 0, 2, 4, ...: ReLU between
      auto& dst = modules_.at<Conv2dBNImpl>(row.name() + "." + std::to_string(2 * i));
      dst.load(net_.stem[i]->weights(dst.c->weight.size(0), dst.c->weight.size(1)));
    }
  }
  void dw(const Row& row, const DWPart& p) override {
    auto [side, i] = pairs(row, p.index);
    modules_.inner<Conv2dBNImpl>(module_path(row, p)).load(side->dw[size_t(i)]->weights(p.dim, 1));
  }
  void ffn(const Row& row, const FFNPart& p) override {
    auto [side, i] = pairs(row, p.index);
    side->ffn[size_t(i)]->copy_active(modules_.inner<FFNImpl>(module_path(row, p)));
  }
  void attention(const Row& row, const AttentionPart& p) override {
    block(row).mixer->attn->copy_active(
        *modules_.inner<LocalWindowAttentionImpl>(module_path(row, p)).attn);
  }
  void patch_merging(const Row& row, const PatchMergingPart&) override {
    stage_->merge->copy_active(modules_.at<PatchMergingImpl>(row.name()));
  }
  void head(const Row&, const HeadPart&) override { net_.head->copy_active(*model_.head); }

 private:
  EfficientViTImpl& model_;
  ModuleIndex modules_;
};

}  // namespace

ElasticPairsImpl::ElasticPairsImpl(int count, int dim, int hidden) {
  for (int i = 0; i < count; ++i) {
    // BN weight init as the official blocks: the residual branches start as identity.
    dw.push_back(register_module("dw" + std::to_string(i),
                                 Conv2dBN(dim, dim, 3, 1, /*groups=*/dim, /*bn_weight_init=*/0.0)));
    ffn.push_back(register_module("ffn" + std::to_string(i), FFN(dim, hidden)));
  }
}

torch::Tensor ElasticPairsImpl::forward_dw(const torch::Tensor& x, int i) {
  return x + dw[size_t(i)]->forward_active(x, x.size(1));
}

torch::Tensor ElasticPairsImpl::forward_ffn(const torch::Tensor& x, int i, int hidden) {
  return x + ffn[size_t(i)]->forward_active(x, hidden);
}

SupernetImpl::SupernetImpl(const SearchSpace& space) : space_(space) {
  validate(space_);
  const std::vector<int> sides = stage_sides(space_, largest_of(space_.img_size));
  const int first = largest_of(space_.stages[0].embed_dim);
  int in = space_.in_chans;
  for (size_t i = 0; i < space_.stem_divisors.size(); ++i) {
    const int out = first / space_.stem_divisors[i];
    stem.push_back(register_module("stem" + std::to_string(i), Conv2dBN(in, out, 3, 2)));
    in = out;
  }
  for (size_t k = 0; k < space_.stages.size(); ++k) {
    const StageChoices& c = space_.stages[k];
    const int dim = largest_of(c.embed_dim), hidden = scaled_width(largest_of(c.ffn_ratio), dim);
    ElasticStage stage;
    if (k > 0) {
      const StageChoices& p = space_.stages[k - 1];
      const int prev = largest_of(p.embed_dim);
      stage->down_before = stage->register_module(
          "down_before", ElasticPairs(largest_of(c.downsample_ffn_before), prev,
                                      scaled_width(largest_of(p.ffn_ratio), prev)));
      stage->merge = stage->register_module(
          "merge", PatchMerging(prev, scaled_width(largest_of(c.downsample_ratio), prev), dim));
      stage->down_after = stage->register_module(
          "down_after", ElasticPairs(largest_of(c.downsample_ffn_after), dim, hidden));
    }
    const AttentionCapacity att = attention_capacity(c);
    const bool has_attention = std::find(c.attention.begin(), c.attention.end(), true) !=
                               c.attention.end();
    for (int b = 0; b < largest_of(c.depth); ++b) {
      ElasticBlock block;
      block->before = block->register_module(
          "before", ElasticPairs(largest_of(c.ffn_before), dim, hidden));
      if (has_attention)
        block->mixer = block->register_module(
            "mixer", LocalWindowAttention(dim, att.spec, sides[k], c.window, att.chunk));
      block->after = block->register_module(
          "after", ElasticPairs(largest_of(c.ffn_after), dim, hidden));
      stage->blocks.push_back(stage->register_module("block" + std::to_string(b), block));
    }
    stages.push_back(register_module("blocks" + std::to_string(k + 1), stage));
  }
  head = register_module("head", BNLinear(largest_of(space_.stages.back().embed_dim),
                                          space_.num_classes));
}

void require_in_space(const SearchSpace& space, const ArchSpec& subnet) {
  if (auto why = outside(space, subnet))
    throw InputError("subnet " + subnet.name + " is not in the space " + space.name + ": " + *why);
}

torch::Tensor SupernetImpl::forward(const torch::Tensor& images, const ArchSpec& subnet) {
  require_in_space(space_, subnet);
  Forward f(*this, images);
  walk(subnet, f);
  return f.x;
}

Classifier extract(SupernetImpl& supernet, const ArchSpec& subnet) {
  require_in_space(supernet.space(), subnet);
  auto model = std::dynamic_pointer_cast<EfficientViTImpl>(build_model(subnet));
  torch::NoGradGuard no_grad;
  Extract e(supernet, *model);
  walk(subnet, e);
  model->to(supernet.head->l->weight.device());
  model->eval();
  return model;
}

}  // namespace vitnas
