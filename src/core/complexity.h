// Parameters and MACs of an ArchSpec, computed from the spec alone (no model is built), with a
// per-block breakdown. MACs follow the EfficientViT paper's "FLOPs" convention (REFERENCE.md):
// multiply-accumulates of convolutions (SE's two 1x1 convs included), linears and the two
// attention matmuls per head (q^T k and v attn^T, counted over every window, padding included),
// batch 1; BN, LayerNorm, softmax, adds, pooling, biases and the SE mean are not counted.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/arch_spec.h"

namespace vitnas {

struct BlockCost {
  std::string name;    // module path in the state dict, e.g. "patch_embed", "blocks2.3", "head"
  std::string type;    // "stem", "subsample_ffn", "patch_merging", "block", "head", "vit_layer", ...
  int resolution = 0;  // input side (efficientvit) or token count (vit)
  int in_dim = 0;
  int out_dim = 0;
  std::string detail;  // short human summary, e.g. "ffn 1+1 attn 4h cascade softmax"
  int64_t params = 0;  // trainable parameters (BN running stats and index buffers excluded)
  int64_t macs = 0;
};

struct Complexity {
  int64_t params = 0;
  int64_t macs = 0;
  std::vector<BlockCost> blocks;  // in forward order; params and macs sum to the totals
};

Complexity complexity(const ArchSpec& spec);

}  // namespace vitnas
