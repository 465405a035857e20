// The op signatures a pruning of one network can need (what "re-profiled widths on demand"
// measures): every op of the network at every width its dimensions allow. FFN and PatchMerging
// hidden widths, each head's q.k width (and v width without cascade) and the projection's input
// (the sum of the heads' v widths) vary; removed units only remove ops. With `embed`, every op
// also at every width of the stream it reads and writes (a stage's embedding; cascaded v with
// it): the product of the widths, so many more signatures. With these in the table, the knapsack
// prices every network it considers from measurements, not interpolation.
#pragma once

#include <vector>

#include "core/arch_spec.h"
#include "profile/op_signature.h"
#include "prune/selection.h"

namespace vitnas::prune {

// Sorted by key, without repeats. InputError for a vit spec (the op tables cover efficientvit).
std::vector<OpSignature> width_signatures(const ArchSpec& spec, const SelectOptions& options, int batch);

}  // namespace vitnas::prune
