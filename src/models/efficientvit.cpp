#include "models/efficientvit.h"

#include <torch/torch.h>

#include "models/cascaded_group_attention.h"
#include "models/ffn.h"
#include "models/patch_merging.h"
#include "models/residual.h"


namespace vitnas {

namespace {

// Residual 3x3 depthwise Conv2dBN (token interaction before each FFN).
Residual residual_dw(int64_t dim, double bn_weight_init, double drop) {
  return Residual(Conv2dBN(dim, dim, 3, 1, /*groups=*/dim, bn_weight_init), drop);
}

// Keeps the official child indices (0: DW+FFN, 1: PatchMerging, 2: DW+FFN) even when a
// subsample has no FFNs on one side.
void push_ffns(Chain& stage, int64_t dim, const std::vector<int>& hidden) {
  if (hidden.empty())
    stage->push_back(torch::nn::Identity());
  else
    stage->push_back(subsample_ffns(dim, hidden));
}

}  // namespace

EfficientViTBlockImpl::EfficientViTBlockImpl(int64_t dim, const BlockSpec& spec,
                                             int64_t resolution, int64_t window,
                                             double drop_path)
    : spec_(spec) {
  int ffn_index = 0;
  auto add_ffns = [&](const std::vector<int>& hidden) {
    for (int h : hidden) {
      const std::string i = std::to_string(ffn_index++);
      parts_.emplace_back("dw" + i, torch::nn::AnyModule(register_module(
                                        "dw" + i, residual_dw(dim, 0.0, drop_path))));
      parts_.emplace_back("ffn" + i, torch::nn::AnyModule(register_module(
                                         "ffn" + i, Residual(FFN(dim, h), drop_path))));
    }
  };
  add_ffns(spec.ffn_before);
  if (spec.attention) {
    auto mixer = Residual(LocalWindowAttention(dim, *spec.attention, resolution, window),
                          drop_path);
    parts_.emplace_back("mixer", torch::nn::AnyModule(register_module("mixer", mixer)));
  }
  add_ffns(spec.ffn_after);
}

torch::Tensor EfficientViTBlockImpl::forward(torch::Tensor x) {
  for (auto& part : parts_) x = part.second.forward(x);
  return x;
}

Chain subsample_ffns(int64_t dim, const std::vector<int>& hidden) {
  Chain seq;
  for (int h : hidden) {
    seq->push_back(residual_dw(dim, 1.0, 0.0));
    seq->push_back(Residual(FFN(dim, h)));
  }
  return seq;
}

EfficientViTImpl::EfficientViTImpl(const ArchSpec& spec, const ModelOptions& options)
    : ClassifierImpl(spec) {
  const EfficientViTSpec& e = spec.efficientvit;

  // Stem: stride-2 3x3 convs, ReLU between them (children 0, 2, 4, ... are the convs).
  patch_embed = register_module("patch_embed", Chain());
  int64_t in = spec.in_chans;
  for (size_t i = 0; i < e.stem.size(); ++i) {
    if (i > 0) patch_embed->push_back(torch::nn::ReLU());
    patch_embed->push_back(Conv2dBN(in, e.stem[i], 3, 2));
    in = e.stem[i];
  }

  size_t total_blocks = 0;
  for (const auto& s : e.stages) total_blocks += s.blocks.size();
  const auto resolutions = stage_resolutions(spec);
  size_t block_index = 0;
  for (size_t k = 0; k < e.stages.size(); ++k) {
    const StageSpec& st = e.stages[k];
    Chain stage;
    if (st.downsample) {
      const int64_t prev = e.stages[k - 1].embed_dim;
      push_ffns(stage, prev, st.downsample->ffn_before);
      stage->push_back(PatchMerging(prev, st.downsample->hidden, st.embed_dim));
      push_ffns(stage, st.embed_dim, st.downsample->ffn_after);
    }
    for (const auto& b : st.blocks) {
      const double rate =
          total_blocks > 1 ? options.drop_path * double(block_index) / double(total_blocks - 1)
                           : options.drop_path;
      stage->push_back(EfficientViTBlock(st.embed_dim, b, resolutions[k], st.window, rate));
      ++block_index;
    }
    if (stage->is_empty()) stage->push_back(torch::nn::Identity());  // a stage of no blocks
    stages.push_back(register_module("blocks" + std::to_string(k + 1), stage));
  }

  const int64_t last = e.stages.back().embed_dim;
  head = register_module("head", BNLinear(last, spec.num_classes));
  if (spec.distillation) head_dist = register_module("head_dist", BNLinear(last, spec.num_classes));
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
