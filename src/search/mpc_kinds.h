// From MPCViT's searched alphas (models/kind_search.h) to a network's head kinds: the
// binarisation of the paper and the random placement it is compared with.
#pragma once

#include <cstdint>
#include <vector>

#include "core/arch_spec.h"

namespace vitnas {

// MPCViT's count of RSAttn heads at a ratio mu in (0, 1]: heads - int((1 - mu) * heads) (the
// index arithmetic of its code: with 28 heads, mu = 0.1 keeps 3, 0.3 keeps 9, 0.5 14, 0.7 20).
// InputError for mu outside (0, 1].
int relu_softmax_heads(int heads, double mu);

// The `count` heads with the largest alphas (ranked over the whole network; ties by position)
// become relu_softmax, every other head scaling. alphas in head_kinds(spec) order, one per head.
// With softmax as a candidate (gammas, one per head too; models/kind_search.h): the `count` heads
// with the largest non-scaling weight 1 - (1 - gamma)(1 - alpha) are the nonlinear ones, and
// each is softmax where its softmax weight gamma exceeds its RSAttn weight (1 - gamma) alpha,
// relu_softmax otherwise (all gammas 0: MPCViT's binarisation). InputError when counts disagree.
ArchSpec binarise_kinds(const ArchSpec& spec, const std::vector<double>& alphas, int count,
                        const std::vector<double>& gammas = {});

// MPCViT+: the `count` vit layers with the smallest betas (ties by position; layers already
// linear, NaN, are skipped) get act identity. InputError for more layers than can be linearised.
ArchSpec linearise_layers(const ArchSpec& spec, const std::vector<double>& betas, int count);

// The baseline: `count` nonlinear heads at positions drawn uniformly (a seeded shuffle), the
// first `softmax_count` of them softmax and the others relu_softmax, the rest scaling.
ArchSpec random_kinds(const ArchSpec& spec, int count, uint64_t seed, int softmax_count = 0);

// How many of spec's heads are of `kind`.
int count_kinds(const ArchSpec& spec, AttentionKind kind);

}  // namespace vitnas
