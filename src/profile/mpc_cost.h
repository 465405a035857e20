// Analytic latency of an ArchSpec under 2-party MPC (secure inference): weights public,
// activations secret-shared, BN folded. Linear layers, convolutions, BN, biases, adds, means and
// multiplications by public values are local (free); every nonlinearity and every secret x secret
// product costs communication rounds and bytes, priced by a cost table (default: CrypTen's, as in
// REFERENCE.md section 2). Seconds of a step = rounds * RTT + bytes / bandwidth.
//
// Formulas (n = elements; "bcast(r, c)" = an r x c matrix times a per-row secret value, each
// operand opened once: multiply.rounds, multiply.bytes_per_elem / 2 * (r c + r)):
//   elementwise op           op.rounds, op.bytes_per_elem * n  (relu, exp, reciprocal, ...)
//   matmul A(m x k) B(k x p) matmul.rounds, matmul.bytes_per_elem * (m k + k p)
//   row max, rows x N        rounds_base + rounds_per_ln_step * floor(ln N) (CrypTen's
//                            log_reduction: int(ln N) halving steps, then one all-pairs step);
//                            bytes/elem piecewise linear in ln N between the anchors, clamped
//                            outside them (the tree's per-element cost is only known there);
//                            N = 1 is free
//   softmax (N x N)          row max + exp(N^2) + reciprocal(N) + bcast(N, N); the max
//                            subtraction and the row sums are free
//   relu_softmax (N x N)     relu(N^2) + reciprocal(N) + bcast(N, N)
//   scaling                  S / N is free; A V uses the cheaper (in bytes) of (Q K^T) V and
//                            Q (K^T V) (a public relative-position bias B adds B V: free)
//   LayerNorm (M rows x D)   square(M D) + inv_sqrt(M) + bcast(M, D)  (mean subtraction free)
//   GeLU                     the "gelu" op (erf form) or "gelu_tanh" when gelu_form = "tanh"
//   sigmoid (SE gate)        CrypTen: s = reciprocal(1 + exp(-|x|)), |x| = sign(x) x,
//                            out = where(x < 0, 1 - s, s): compare + multiply + exp +
//                            reciprocal + multiply per value
// Composition: the parts of a row run in sequence (rounds add); windows of one attention run
// together (bytes grow with windows, rounds do not); independent heads (ViT, EfficientViT with
// cascade: false) run together (rounds = max over heads, bytes add); cascaded heads
// (EfficientViT's CGA, cascade: true) run in sequence, because head i reads head i-1's output.
//
// Rows follow complexity(spec):
//   efficientvit  patch_embed: ReLU after every stem conv but the last; FFN: ReLU on the hidden
//                 map; attention: per head Q K^T, the kind's map, A V over all windows (window
//                 capped at the map side, map padded to a multiple, N = window^2 tokens), then the
//                 ReLU before proj on the padded map's sum(v_dim) channels; PatchMerging: ReLU on
//                 the hidden map at the input side, ReLU after the stride-2 depthwise, SE (ReLU on
//                 se_width(hidden) values, sigmoid on hidden values, bcast(hidden, H W) gate);
//                 head: free.
//   vit           patch_embed: free; blocks.i: LN0, attention (N = tokens incl. CLS), LN1, MLP
//                 activation on N x mlp_hidden; head: the final LayerNorm on all N tokens (as the
//                 reference implementations run it before picking the CLS token), classifier
//                 free.
//
// Files (experiments/mpc/):
//   cost table  {"name", "description"?, "gelu_form"?: "erf"|"tanh",
//                "ops": {"<op>": {"rounds", "bytes_per_elem"}, ...every op of required_ops()},
//                "row_max": {"rounds_base", "rounds_per_ln_step",
//                            "anchors": [{"n", "bytes_per_elem"}, ...]}}
//   network     "lan" | "wan" | {"name"?, "bandwidth_mbit_per_s", "rtt_ms"}
//   measured points (mpcvit_cifar10.json, mpcvit_cifar10_mu.json):
//               {"source"?: "...", "network": <network>,
//                "points": [{"label", "seconds", "arch": <preset name | path relative to this
//                            file | ArchSpec object>, "all_kinds"?: "<kind>"}, ...]}
//               "all_kinds" sets every head of the arch to one attention kind.
//   The vit_7_4_32_mu*.json networks put their k = 3/9/14/20 relu_softmax heads of 28 at
//   layer-major positions floor((2i + 1) * 28 / (2k)), i = 0..k-1 (position = layer * 4 + head),
//   i.e. evenly spread; the other heads are scaling.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/arch_spec.h"

namespace vitnas {

struct MpcOpCost {
  double rounds = 0;
  double bytes_per_elem = 0;  // per direction; matmul: per element of each operand
};

struct RowMaxAnchor {
  double n = 0;  // row length
  double bytes_per_elem = 0;
};

struct CostTable {
  std::string name;
  std::string description;
  std::map<std::string, MpcOpCost> ops;  // exactly required_ops()
  std::string gelu_form = "erf";         // "erf" -> op "gelu", "tanh" -> op "gelu_tanh"
  double row_max_rounds_base = 0;
  double row_max_rounds_per_ln_step = 0;
  std::vector<RowMaxAnchor> row_max_anchors;  // sorted by n, at least one
};

// Op names a table must define: multiply, square, matmul, compare, relu, exp, reciprocal,
// reciprocal_signed, inv_sqrt, gelu, gelu_tanh.
const std::vector<std::string>& required_ops();

CostTable crypten_cost_table();  // REFERENCE.md section 2
CostTable cost_table_from_json(const nlohmann::json& j);  // errors name the key
nlohmann::json cost_table_to_json(const CostTable& t);
CostTable load_cost_table(const std::string& path);  // errors name the file, then the key

struct NetworkProfile {
  std::string name;
  double bandwidth_bits_per_s = 0;  // per direction, full duplex; 1 Gbit = 1e9 bits
  double rtt_s = 0;
};

NetworkProfile network_profile(const std::string& name);  // "lan", "wan"; InputError otherwise
NetworkProfile custom_network(double bandwidth_mbit_per_s, double rtt_ms);
nlohmann::json network_to_json(const NetworkProfile& n);
NetworkProfile network_from_json(const nlohmann::json& j);  // a profile name or an object

struct MpcCost {
  double rounds = 0;
  double bytes = 0;  // per direction
  double seconds(const NetworkProfile& n) const;
};

MpcCost softmax_cost(int64_t n, const CostTable& t);       // one N x N matrix
MpcCost relu_softmax_cost(int64_t n, const CostTable& t);  // one N x N matrix
MpcCost row_max_cost(int64_t rows, int64_t n, const CostTable& t);

// One row of the breakdown. attention_seconds[int(kind)] is the attention time attributed to the
// heads of each kind (for calibration); rest_seconds = seconds - the analytic attention steps.
struct MpcBlock {
  std::string name, type;
  MpcCost cost;
  double seconds = 0;
  double attention_seconds[3] = {0, 0, 0};
  double rest_seconds = 0;
};

struct MpcBreakdown {
  std::vector<MpcBlock> blocks;
  MpcCost total;
  double seconds = 0;
  double attention_seconds[3] = {0, 0, 0};
  double rest_seconds = 0;
};

// Rows named like complexity(spec)'s ("patch_embed", "blocks1.0", ..., "head"; vit:
// "patch_embed", "blocks.i", "head").
MpcBreakdown mpc_cost(const ArchSpec& spec, const CostTable& t, const NetworkProfile& n);
nlohmann::json breakdown_to_json(const MpcBreakdown& b);

// Calibration to a measured MPC framework:
//   calibrated = rest_scale * rest_seconds + sum_k kind_scale[k] * attention_seconds[k].
// A head is attributed its own bytes / bandwidth plus its own rounds * RTT, divided by the
// number of heads when the heads run together (undivided when cascaded). A layer of one kind thus
// gets exactly its analytic attention time, and the attribution is linear in head counts. In a
// layer that mixes kinds the analytic step waits for the slowest head (max rounds) while the
// attribution sums per-head shares (mean rounds); MPCViT's measured mu networks are linear in the
// number of RSAttn heads, which the mean reproduces (sharing the max would charge scaling heads
// the RSAttn rounds).
struct MpcCalibration {
  double rest_scale = 1;
  double kind_scale[3] = {1, 1, 1};
  int points = 0;
  double max_rel_error = 0;
};

struct MeasuredPoint {
  ArchSpec arch;
  double seconds = 0;
  std::string label;
};

struct Measurements {
  NetworkProfile network;  // the network the seconds were measured on
  std::vector<MeasuredPoint> points;
};

Measurements load_measurements(const std::string& path);
std::vector<MeasuredPoint> load_measured_points(const std::string& path);  // .points of the above

// Least squares on relative errors (each point weighted by 1 / its seconds). Unknowns:
// kind_scale of every kind present in the points, plus rest_scale only if there are more points
// than kind unknowns (otherwise rest_scale = 1); absent kinds keep 1. InputError if too few
// points, the points cannot tell the unknowns apart, or a scale <= 0.
MpcCalibration fit_mpc_calibration(const std::vector<MeasuredPoint>& points, const CostTable& t,
                                   const NetworkProfile& n);
double calibrated_seconds(const MpcBreakdown& b, const MpcCalibration& c);
double calibrated_seconds(const MpcBlock& b, const MpcCalibration& c);  // rows add up to the total
nlohmann::json calibration_to_json(const MpcCalibration& c);
MpcCalibration calibration_from_json(const nlohmann::json& j);

}  // namespace vitnas
