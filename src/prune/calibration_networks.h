// The networks a pruning's latency table is calibrated on (DESIGN.md, "Prune"). A table's
// calibration is fitted on whole networks of the space it was profiled for; the networks a
// pruning produces are all smaller than the one it starts from, so a fit made on a space's
// presets and samples extrapolates to them (on the AVX-512 m-space table, a constant of -4.1 ms
// priced pruned m0s 20-25% below what they measured). These are the pruning's own space: the
// network itself and random cuts of it (random importance, the knapsack on MACs) spread over its
// MACs, chosen without any timing so that a resumed or repeated run picks the same ones.
#pragma once

#include <cstdint>
#include <vector>

#include "core/arch_spec.h"
#include "prune/selection.h"

namespace vitnas::prune {

// `base` first, then up to count - 1 distinct cuts named prune-calib-1, ..., at MACs targets from
// 0.95 down to 0.3 of base's (targets the options cannot reach are skipped). Deterministic.
std::vector<ArchSpec> pruning_calibration_networks(const ArchSpec& base, const SelectOptions& options, int count,
                                                   uint64_t seed);

}  // namespace vitnas::prune
