// Which channels to keep under a budget (HALP's latency knapsack, solved greedily). A Plan gives
// every Dimension a width (units: 1 kept, 0 removed); a dimension at width k keeps its k most
// important channels. select() starts from the whole network and repeatedly takes the cut with
// the least importance lost per unit of cost saved (a cut: one dimension down to any lower
// allowed width, or a unit removed) until the cost meets the target, then gives back the most
// important cuts that still fit. Costs come from a function (the latency model's cost(), or
// MACs), asked for whole networks, so interactions inside a row are priced exactly.
#pragma once

#include <functional>
#include <vector>

#include "core/arch_spec.h"
#include "prune/groups.h"
#include "prune/importance.h"

namespace vitnas::prune {

struct SelectOptions {
  int round_to = 8;   // channel widths are multiples of this (or the full width)
  int round_qk = 4;   // q.k and stem widths (16 and 8..32 in the paper: steps of 8 would leave
                      // one or two choices)
  bool units = true;  // may remove whole mixers, DW + FFN pairs and vit heads
  bool embed = false;    // may narrow the embedding (efficientvit: per stage)
  int round_embed = 32;  // in steps of this many stream channels (efficientvit: of whole
                         // channels of G stream channels each, so max(1, round_embed / G)). Coarse:
                         // every op of a stage changes with it, and a table is profiled at each
};

struct Plan {
  std::vector<int> widths;  // per dimension
};

// InputError naming the flag (--round-to, --round-qk, --round-embed: >= 1).
void validate(const SelectOptions& o);

Plan full_plan(const std::vector<Dimension>& dims);

// The network a plan describes (channel widths first, then removed units; compacted, validated).
ArchSpec apply(const ArchSpec& base, const std::vector<Dimension>& dims, const Plan& plan);

// The `k` highest-scoring channels (ties: the lower index), in ascending order.
std::vector<int64_t> kept_channels(const std::vector<double>& scores, int k);

// step, 2 step, ... below size, then size: the widths a channel dimension of `size` may take.
std::vector<int> width_grid(int size, int step);
// Widths a dimension may take, ascending, ending with its full size (units: 0, 1).
std::vector<int> allowed_widths(const Dimension& d, const SelectOptions& o);

// A dimension counts while every unit above it is kept.
bool is_active(const std::vector<Dimension>& dims, const Plan& plan, size_t i);

using CostFn = std::function<double(const ArchSpec&)>;

struct Selection {
  Plan plan;
  ArchSpec arch;
  double cost = 0;        // cost(arch)
  double kept_value = 0;  // sum of the kept channels' scores
  double total_value = 0;
};

// InputError when even the smallest network the options allow costs more than `target` (the
// message gives that cost).
Selection select(const ArchSpec& base, const std::vector<Dimension>& dims, const Scores& scores,
                 const CostFn& cost, double target, const SelectOptions& options);

}  // namespace vitnas::prune
