// The weight-sharing supernet of a search space (DESIGN.md, "Supernet"): one module holding the
// largest weights of every choice, which runs any ArchSpec the space contains on leading slices
// of them (AutoFormer's weight entanglement, OFA's centre-cropped kernels). The subnet is an
// argument of forward(), never state. It is made of the ordinary modules (Conv2dBN, FFN,
// CascadedGroupAttention, PatchMerging, BNLinear) built at capacity, each running at an active
// width through its forward_active().
//
// Slicing rule of every weight (C: the subnet's stage width, C': the previous stage's):
//   stem conv i            [:C/d_i, :C/d_(i-1)] (d: the stem divisors), BN [:C/d_i]
//   stage depth d          blocks 0..d-1 of the stage
//   block ffn_before n     its first n DW+FFN pairs before the mixer; ffn_after m: the first m
//                          after (the before and after pairs are separate weights)
//   DW (3x3 depthwise)     [:C], BN [:C]
//   FFN of hidden h        pw1 [:h, :C], pw2 [:C, :h], BNs alike
//   attention off          the mixer is skipped; on: CascadedGroupAttention's rule
//                          (cascaded_group_attention.h): heads, chunk C/heads, key_dim, v_dim,
//                          kernel (centre crop), kind, cascade, bias table cropped to the window
//   downsample             DW+FFN pairs before on C' (first n), PatchMerging conv1 [:hidden, :C'],
//                          conv2 [:hidden], SE [:se_width(hidden)], conv3 [:C, :hidden], pairs
//                          after on C (first m)
//   head                   BN1d [:C], Linear [:, :C] and its whole bias
// Capacity: for each weight the largest any choice needs (the widest chunk is the largest
// width over its fewest heads; v_dim likewise).
#pragma once

#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "core/search_space.h"
#include "models/cascaded_group_attention.h"
#include "models/classifier.h"
#include "models/ffn.h"
#include "models/patch_merging.h"

namespace vitnas {

// DW+FFN pairs ("dw0", "ffn0", "dw1", ...), residual each: a block's before or after side, or a
// subsample's.
class ElasticPairsImpl : public torch::nn::Module {
 public:
  ElasticPairsImpl(int count, int dim, int hidden);
  // x + dw_i(x), then x + ffn_i(x, hidden) (i: the pair's index).
  torch::Tensor forward_dw(const torch::Tensor& x, int i);
  torch::Tensor forward_ffn(const torch::Tensor& x, int i, int hidden);

  std::vector<Conv2dBN> dw;
  std::vector<FFN> ffn;
};
TORCH_MODULE(ElasticPairs);

class ElasticBlockImpl : public torch::nn::Module {
 public:
  ElasticPairs before{nullptr}, after{nullptr};
  LocalWindowAttention mixer{nullptr};  // null when the space never has attention here
};
TORCH_MODULE(ElasticBlock);

class ElasticStageImpl : public torch::nn::Module {
 public:
  ElasticPairs down_before{nullptr}, down_after{nullptr};  // null in the first stage
  PatchMerging merge{nullptr};
  std::vector<ElasticBlock> blocks;
};
TORCH_MODULE(ElasticStage);

class SupernetImpl : public torch::nn::Module {
 public:
  explicit SupernetImpl(const SearchSpace& space);  // validates the space

  // (B, in_chans, r, r) -> (B, classes) of `subnet`, which the space must contain (InputError
  // naming the first choice it does not offer). Train mode trains and updates the BN statistics
  // of the subnet's slices only.
  torch::Tensor forward(const torch::Tensor& images, const ArchSpec& subnet);

  const SearchSpace& space() const { return space_; }

  std::vector<Conv2dBN> stem;
  std::vector<ElasticStage> stages;  // "blocks1", "blocks2", ...
  BNLinear head{nullptr};

 private:
  SearchSpace space_;
};
TORCH_MODULE(Supernet);

// InputError unless the space contains `subnet`: "subnet <name>: <path>: <value> is not a
// choice of the space (...)".
void require_in_space(const SearchSpace& space, const ArchSpec& subnet);

// The subnet as a standalone EfficientViT (build_model(subnet), official naming) holding copies
// of the slices the supernet runs for it, in eval mode: its output equals
// supernet.forward(x, subnet)'s in eval mode. The supernet is only read.
Classifier extract(SupernetImpl& supernet, const ArchSpec& subnet);

}  // namespace vitnas
