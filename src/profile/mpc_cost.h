// Analytic latency of an ArchSpec under 2-party MPC (secure inference): weights public,
// activations secret-shared, BN folded. Every nonlinearity and every secret x secret product
// costs communication rounds and bytes, priced by a cost table (mpc_ops.h); a link turns them
// into seconds (mpc_link.h). This file prices a whole network, row by row of the architecture
// walk (core/arch_walk.h), so the rows are complexity(spec)'s ("patch_embed", "blocks1.0", ...,
// "head"; vit: "patch_embed", "blocks.i", "head").
//
// Composition: the parts of a row run in sequence (rounds add); windows of one attention run
// together (bytes grow with windows, rounds do not); independent heads (ViT, EfficientViT with
// cascade: false) run together: their matmuls in one call, the heads of one kind in one call of
// that kind's map, different kinds' maps one after another, as CrypTen runs them (bytes add);
// cascaded heads (EfficientViT's CGA, cascade: true) run in sequence, because head i reads head
// i-1's output. Every op's and network's rounds and bytes are checked against CrypTen's
// (mpc_reference.h).
//
// What each part costs:
//   efficientvit  patch_embed: ReLU after every stem conv but the last; DW: free; FFN: ReLU on
//                 the hidden map; attention: per head Q K^T, the kind's map, A V over all windows
//                 (the window rule of window_geometry: N = window^2 tokens, the map padded to
//                 whole windows), then the ReLU before proj on the padded map's sum(v_dim)
//                 channels; PatchMerging: ReLU on the hidden map at the input side, ReLU after
//                 the stride-2 depthwise, SE (ReLU on se_width(hidden) values, sigmoid on hidden
//                 values, bcast(hidden, H W) gate); head: free.
//   vit           patch_embed: free; blocks.i: LN0, attention (N = tokens incl. CLS), LN1, MLP
//                 activation on N x mlp_hidden; head: the final LayerNorm on all N tokens (as the
//                 reference implementations run it before picking the CLS token), classifier
//                 free.
#pragma once

#include <string>
#include <vector>

#include "core/arch_spec.h"
#include "profile/mpc_cost_table.h"
#include "profile/mpc_link.h"
#include "profile/mpc_ops.h"

namespace vitnas {

// Seconds of attention attributed to the heads of each kind, indexed by int(AttentionKind).
using KindSeconds = double[3];

// One row of the breakdown. attention_seconds is the attention time attributed to the heads of
// each kind (for calibration, mpc_calibration.h); rest_seconds = seconds - the analytic
// attention steps.
struct MpcRow {
  std::string name, type;  // the walk's row: "blocks2.1", "patch_merging"
  MpcCost cost;
  double seconds = 0;
  KindSeconds attention_seconds = {0, 0, 0};
  double rest_seconds = 0;
};

struct MpcBreakdown {
  std::vector<MpcRow> rows;  // empty from mpc_total()
  // Per head, in head_kinds(spec) order: its own bytes and its share of the rounds (the
  // calibration's attribution), what MPC-aware search charges a head.
  std::vector<MpcCost> head_shares;
  // vit: per layer, its MLP activation's cost (0 for identity), what MPCViT+ charges a layer.
  std::vector<MpcCost> activation_costs;
  MpcCost total;
  double seconds = 0;
  KindSeconds attention_seconds = {0, 0, 0};
  double rest_seconds = 0;
};

// Every row and the totals. InputError if the spec is not valid or the link has no bandwidth.
MpcBreakdown mpc_cost(const ArchSpec& spec, const CostTable& t, const LinkProfile& link);
// The totals alone (the same sums, no rows): what the latency model's cost() needs.
MpcBreakdown mpc_total(const ArchSpec& spec, const CostTable& t, const LinkProfile& link);

}  // namespace vitnas
