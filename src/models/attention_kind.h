// The attention maps of MPCViT's three head kinds, applied to the scores S (..., N, N) along the
// last dimension: softmax(S); "RSAttn" ReLU(S) / (sum_j ReLU(S) + 1e-5); "ScaleAttn" S / N.
#pragma once

#include <torch/types.h>

#include "core/arch_spec.h"

namespace vitnas {

torch::Tensor attention_map(const torch::Tensor& scores, AttentionKind kind);

// In-place variant for inference (scores is overwritten and returned).
torch::Tensor attention_map_(torch::Tensor& scores, AttentionKind kind);

}  // namespace vitnas
