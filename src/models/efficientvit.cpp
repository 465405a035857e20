#include "models/efficientvit.h"

#include <torch/torch.h>

#include "core/arch_walk.h"
#include "models/cascaded_group_attention.h"
#include "models/ffn.h"
#include "models/patch_merging.h"
#include "models/residual.h"

namespace vitnas {

namespace {

// Builds the module tree part by part. Stage K is the Sequential "blocksK"; a subsample's DW+FFN
// pairs are a nested Sequential at children 0 and 2 (Identity when a side has none, so
// PatchMerging keeps the official index 1); blocks follow.
class Builder : public ArchVisitor {
 public:
  Builder(EfficientViTImpl& model, const ArchSpec& spec, double drop_path)
      : m_(model), drop_path_(drop_path) {
    for (const auto& s : spec.efficientvit.stages) total_blocks_ += s.blocks.size();
  }

  void stem(const Row&, const StemPart& s) override {
    m_.patch_embed = m_.register_module("patch_embed", Chain());
    int64_t in = s.in_chans;
    for (size_t i = 0; i < s.widths->size(); ++i) {
      if (i > 0) m_.patch_embed->push_back(torch::nn::ReLU());
      m_.patch_embed->push_back(Conv2dBN(in, (*s.widths)[i], 3, 2));
      in = (*s.widths)[i];
    }
  }

  void begin_stage(const Stage&) override { stage_ = Chain(); }
  void end_stage(const Stage& s) override {
    if (stage_->is_empty()) stage_->push_back(torch::nn::Identity());  // a stage of no blocks
    m_.stages.push_back(m_.register_module(s.name(), stage_));
  }

  void begin_row(const Row& row) override {
    if (row.type == RowType::SubsampleFFN) pairs_ = Chain();
    if (row.type != RowType::Block) return;
    // Stochastic depth grows linearly over the blocks of the whole network.
    rate_ = total_blocks_ > 1 ? drop_path_ * double(blocks_) / double(total_blocks_ - 1) : drop_path_;
    ++blocks_;
    block_ = EfficientViTBlock();
  }
  void end_row(const Row& row) override {
    if (row.type == RowType::SubsampleFFN) {
      if (pairs_->is_empty())
        stage_->push_back(torch::nn::Identity());
      else
        stage_->push_back(pairs_);
    }
    if (row.type == RowType::Block) stage_->push_back(block_);
  }

  // Inside blocks the DW's BN starts at 0 (the branch starts as identity), in subsamples at 1.
  void dw(const Row& row, const DWPart& p) override {
    if (row.type == RowType::Block)
      block_->add("dw" + std::to_string(p.index), Residual(depthwise(p.dim, 0.0), rate_));
    else
      pairs_->push_back(Residual(depthwise(p.dim, 1.0)));
  }
  void ffn(const Row& row, const FFNPart& p) override {
    if (row.type == RowType::Block)
      block_->add("ffn" + std::to_string(p.index), Residual(FFN(p.dim, p.hidden), rate_));
    else
      pairs_->push_back(Residual(FFN(p.dim, p.hidden)));
  }
  void attention(const Row&, const AttentionPart& p) override {
    block_->add("mixer",
                Residual(LocalWindowAttention(p.dim, *p.spec, p.side, p.geometry.window), rate_));
  }
  void patch_merging(const Row&, const PatchMergingPart& p) override {
    stage_->push_back(PatchMerging(p.in, p.hidden, p.out));
  }
  void head(const Row&, const HeadPart& h) override {
    m_.head = m_.register_module("head", BNLinear(h.dim, h.classes));
    if (h.distillation) m_.head_dist = m_.register_module("head_dist", BNLinear(h.dim, h.classes));
  }

 private:
  static Conv2dBN depthwise(int64_t dim, double bn_weight_init) {
    return Conv2dBN(dim, dim, 3, 1, /*groups=*/dim, bn_weight_init);
  }

  EfficientViTImpl& m_;
  double drop_path_, rate_ = 0;
  size_t total_blocks_ = 0, blocks_ = 0;
  Chain stage_{nullptr}, pairs_{nullptr};
  EfficientViTBlock block_{nullptr};
};

}  // namespace

torch::Tensor EfficientViTBlockImpl::forward(torch::Tensor x) {
  for (auto& part : parts_) x = part.second.forward(x);
  return x;
}

EfficientViTImpl::EfficientViTImpl(const ArchSpec& spec, const ModelOptions& options)
    : ClassifierImpl(spec) {
  Builder builder(*this, spec, options.drop_path);
  walk(spec, builder);
}

torch::Tensor EfficientViTImpl::forward_features(const torch::Tensor& x) {
  auto t = patch_embed->forward(x);  // (B, C1, r1, r1)
  for (auto& stage : stages) t = stage->forward(t);
  return t;  // (B, C_last, r_last, r_last)
}

std::pair<torch::Tensor, torch::Tensor> EfficientViTImpl::forward_heads(
    const torch::Tensor& features) {
  auto pooled = features.mean({2, 3});  // (B, C_last)
  return {head(pooled), head_dist ? head_dist(pooled) : torch::Tensor()};
}

}  // namespace vitnas
