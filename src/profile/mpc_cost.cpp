// The analytic 2-party MPC cost model (formulas in mpc_cost.h), its files and its calibration.
#include "profile/mpc_cost.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <initializer_list>
#include <stdexcept>

#include <Eigen/Dense>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io.h"
#include "core/json_read.h"

namespace vitnas {

using nlohmann::json;

namespace {

// ---- strict JSON reads (errors start with the JSON path, like arch_from_json's) ------------

using json_read::as_string;
using json_read::describe;
using json_read::fail;
using json_read::index_path;
using json_read::key_path;
using json_read::required;

// v, checked to be an object with only `known` keys; this file's errors do not list them.
const json& as_object(const json& v, const std::string& path,
                      std::initializer_list<const char*> known) {
  return json_read::as_object(v, path, known, /*list_valid=*/false);
}

double non_negative(const json& v, const std::string& path) {
  if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0)
    fail(path, "expected a non-negative number, got " + describe(v));
  return v.get<double>();
}

double positive(const json& v, const std::string& path) {
  if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() <= 0)
    fail(path, "expected a positive number, got " + describe(v));
  return v.get<double>();
}

// Whole numbers are written as integers, so hand-edited files stay readable.
json number(double x) {
  if (std::abs(x) < 1e15 && x == std::floor(x)) return static_cast<int64_t>(x);
  return x;
}

AttentionKind kind_from_string(const std::string& s, const std::string& path) {
  if (const auto kind = attention_kind_from_string(s)) return *kind;
  fail(path, "unknown attention kind \"" + s + "\" (valid: softmax, relu_softmax, scaling)");
}

}  // namespace

// ---- cost table ------------------------------------------------------------------------

const std::vector<std::string>& required_ops() {
  static const std::vector<std::string> ops = {
      "multiply", "square", "matmul", "compare", "relu", "exp",
      "reciprocal", "reciprocal_signed", "inv_sqrt", "gelu", "gelu_tanh"};
  return ops;
}

CostTable crypten_cost_table() {
  CostTable t;
  t.name = "crypten";
  t.description =
      "CrypTen, 2 parties, 64-bit ring, 16-bit fixed point, trusted-dealer triples, online "
      "phase (REFERENCE.md section 2). Bytes per element, per direction; matmul: per element of "
      "each operand.";
  t.ops = {{"multiply", {1, 16}},   {"square", {1, 8}},       {"matmul", {1, 8}},
           {"compare", {8, 216}},   {"relu", {9, 232}},       {"exp", {8, 64}},
           {"reciprocal", {28, 304}}, {"reciprocal_signed", {38, 552}},
           {"inv_sqrt", {17, 184}}, {"gelu", {35, 392}},      {"gelu_tanh", {26, 416}}};
  // 34 + 11 floor(ln N) gives 78 rounds at N=65 and 89 at N=257. The N=65 anchor is what makes
  // a 65x65 softmax exactly 3,034,200 bytes: 2,709,720 / 65^2.
  t.row_max_rounds_base = 34;
  t.row_max_rounds_per_ln_step = 11;
  t.row_max_anchors = {{65, 2709720.0 / 4225.0}, {257, 633}};
  return t;
}

CostTable cost_table_from_json(const json& j) {
  as_object(j, "", {"name", "description", "gelu_form", "ops", "row_max"});
  CostTable t;
  t.name = as_string(required(j, "", "name"), "name");
  if (j.contains("description")) t.description = as_string(j.at("description"), "description");
  if (j.contains("gelu_form")) {
    t.gelu_form = as_string(j.at("gelu_form"), "gelu_form");
    if (t.gelu_form != "erf" && t.gelu_form != "tanh")
      fail("gelu_form", "expected \"erf\" or \"tanh\", got \"" + t.gelu_form + "\"");
  }

  const json& ops = required(j, "", "ops");
  if (!ops.is_object()) fail("ops", "expected an object, got " + describe(ops));
  for (const auto& item : ops.items()) {
    const std::string path = key_path("ops", item.key());
    const auto& names = required_ops();
    if (std::find(names.begin(), names.end(), item.key()) == names.end())
      fail(path, "unknown op (valid: multiply, square, matmul, compare, relu, exp, reciprocal, "
                 "reciprocal_signed, inv_sqrt, gelu, gelu_tanh)");
    as_object(item.value(), path, {"rounds", "bytes_per_elem"});
    t.ops[item.key()] = {non_negative(required(item.value(), path, "rounds"), path + ".rounds"),
                         non_negative(required(item.value(), path, "bytes_per_elem"),
                                      path + ".bytes_per_elem")};
  }
  for (const auto& name : required_ops())
    if (!t.ops.count(name)) fail("ops." + name, "missing");

  const json& rm = as_object(required(j, "", "row_max"), "row_max",
                             {"rounds_base", "rounds_per_ln_step", "anchors"});
  t.row_max_rounds_base = non_negative(required(rm, "row_max", "rounds_base"),
                                       "row_max.rounds_base");
  t.row_max_rounds_per_ln_step = non_negative(required(rm, "row_max", "rounds_per_ln_step"),
                                              "row_max.rounds_per_ln_step");
  const json& anchors = required(rm, "row_max", "anchors");
  if (!anchors.is_array() || anchors.empty())
    fail("row_max.anchors", "expected a non-empty array, got " + describe(anchors));
  for (size_t i = 0; i < anchors.size(); ++i) {
    const std::string path = index_path("row_max.anchors", i);
    as_object(anchors[i], path, {"n", "bytes_per_elem"});
    const double n = non_negative(required(anchors[i], path, "n"), path + ".n");
    if (n < 2) fail(path + ".n", "expected a row length of at least 2, got " + std::to_string(n));
    if (!t.row_max_anchors.empty() && n <= t.row_max_anchors.back().n)
      fail(path + ".n", "anchors must be sorted by increasing n");
    t.row_max_anchors.push_back(
        {n, non_negative(required(anchors[i], path, "bytes_per_elem"), path + ".bytes_per_elem")});
  }
  return t;
}

json cost_table_to_json(const CostTable& t) {
  json ops = json::object();
  for (const auto& [name, op] : t.ops)
    ops[name] = {{"rounds", number(op.rounds)}, {"bytes_per_elem", number(op.bytes_per_elem)}};
  json anchors = json::array();
  for (const auto& a : t.row_max_anchors)
    anchors.push_back({{"n", number(a.n)}, {"bytes_per_elem", number(a.bytes_per_elem)}});
  return {{"name", t.name},
          {"description", t.description},
          {"gelu_form", t.gelu_form},
          {"ops", ops},
          {"row_max",
           {{"rounds_base", number(t.row_max_rounds_base)},
            {"rounds_per_ln_step", number(t.row_max_rounds_per_ln_step)},
            {"anchors", anchors}}}};
}

CostTable load_cost_table(const std::string& path) {
  const json j = read_json_file(path);
  try {
    return cost_table_from_json(j);
  } catch (const InputError& e) {
    throw InputError(path + ": " + e.what());
  }
}

// ---- network -----------------------------------------------------------------------------

NetworkProfile network_profile(const std::string& name) {
  if (name == "lan") return {"lan", 3e9, 0.3e-3};
  if (name == "wan") return {"wan", 400e6, 40e-3};
  throw InputError("unknown network profile \"" + name +
                   "\" (valid: lan, wan, or {\"bandwidth_mbit_per_s\", \"rtt_ms\"})");
}

NetworkProfile custom_network(double bandwidth_mbit_per_s, double rtt_ms) {
  require(std::isfinite(bandwidth_mbit_per_s) && bandwidth_mbit_per_s > 0,
          "network bandwidth_mbit_per_s: expected a positive number");
  require(std::isfinite(rtt_ms) && rtt_ms >= 0, "network rtt_ms: expected a non-negative number");
  return {"custom", bandwidth_mbit_per_s * 1e6, rtt_ms * 1e-3};
}

json network_to_json(const NetworkProfile& n) {
  return {{"name", n.name},
          {"bandwidth_mbit_per_s", n.bandwidth_bits_per_s / 1e6},
          {"rtt_ms", n.rtt_s * 1e3}};
}

NetworkProfile network_from_json(const json& j) {
  if (j.is_string()) return network_profile(j.get<std::string>());
  as_object(j, "network", {"name", "bandwidth_mbit_per_s", "rtt_ms"});
  NetworkProfile n;
  n.name = j.contains("name") ? as_string(j.at("name"), "network.name") : "custom";
  n.bandwidth_bits_per_s =
      positive(required(j, "network", "bandwidth_mbit_per_s"), "network.bandwidth_mbit_per_s") *
      1e6;
  n.rtt_s = non_negative(required(j, "network", "rtt_ms"), "network.rtt_ms") * 1e-3;
  return n;
}

double MpcCost::seconds(const NetworkProfile& n) const {
  return rounds * n.rtt_s + bytes * 8.0 / n.bandwidth_bits_per_s;
}

// ---- primitive costs ---------------------------------------------------------------------

namespace {

// Steps in sequence: rounds and bytes add.
MpcCost operator+(MpcCost a, const MpcCost& b) {
  a.rounds += b.rounds;
  a.bytes += b.bytes;
  return a;
}

const MpcOpCost& op_of(const CostTable& t, const std::string& name) {
  const auto it = t.ops.find(name);
  if (it == t.ops.end()) throw InputError("cost table '" + t.name + "': op " + name + " missing");
  return it->second;
}

// An elementwise op on n values (nothing to do when n = 0).
MpcCost elementwise(const CostTable& t, const std::string& name, double n) {
  if (n <= 0) return {};
  const MpcOpCost& op = op_of(t, name);
  return {op.rounds, op.bytes_per_elem * n};
}

MpcCost matmul(const CostTable& t, double m, double k, double p) {
  const MpcOpCost& op = op_of(t, "matmul");
  return {op.rounds, op.bytes_per_elem * (m * k + k * p)};
}

// An r x c matrix times one secret value per row: one Beaver round opening each operand once,
// i.e. half a full multiply's bytes per operand element.
MpcCost bcast_multiply(const CostTable& t, double r, double c) {
  const MpcOpCost& op = op_of(t, "multiply");
  return {op.rounds, op.bytes_per_elem / 2 * (r * c + r)};
}

double row_max_bytes_per_elem(double n, const CostTable& t) {
  const auto& a = t.row_max_anchors;
  if (a.empty()) throw InputError("cost table '" + t.name + "': row_max.anchors missing");
  if (n <= a.front().n) return a.front().bytes_per_elem;
  if (n >= a.back().n) return a.back().bytes_per_elem;
  size_t i = 1;
  while (a[i].n < n) ++i;
  const double f = std::log(n / a[i - 1].n) / std::log(a[i].n / a[i - 1].n);
  return a[i - 1].bytes_per_elem + f * (a[i].bytes_per_elem - a[i - 1].bytes_per_elem);
}

MpcCost layer_norm(const CostTable& t, double rows, double width) {
  return elementwise(t, "square", rows * width) + elementwise(t, "inv_sqrt", rows) +
         bcast_multiply(t, rows, width);
}

// CrypTen's sigmoid: where(x < 0, 1 - s, s), s = reciprocal(1 + exp(-sign(x) x)).
MpcCost sigmoid(const CostTable& t, double n) {
  return elementwise(t, "compare", n) + elementwise(t, "multiply", n) +
         elementwise(t, "exp", n) + elementwise(t, "reciprocal", n) +
         elementwise(t, "multiply", n);
}

MpcCost activation(const CostTable& t, Activation a, double n) {
  switch (a) {
    case Activation::GELU: return elementwise(t, t.gelu_form == "tanh" ? "gelu_tanh" : "gelu", n);
    case Activation::ReLU: return elementwise(t, "relu", n);
    case Activation::Identity: return {};
  }
  throw std::logic_error("activation: invalid Activation");
}

// One head on `copies` windows of n tokens: scores, the kind's map, times V. Windows run
// together, so only bytes scale with copies.
MpcCost head_cost(const CostTable& t, AttentionKind kind, int64_t n, int64_t qk, int64_t v,
                  int64_t copies) {
  const double N = static_cast<double>(n);
  const MpcCost scores = matmul(t, N, qk, N);
  const MpcCost av = matmul(t, N, N, v);
  MpcCost c;
  switch (kind) {
    case AttentionKind::Softmax: c = scores + softmax_cost(n, t) + av; break;
    case AttentionKind::ReluSoftmax: c = scores + relu_softmax_cost(n, t) + av; break;
    case AttentionKind::Scaling: {
      const MpcCost reassoc = matmul(t, qk, N, v) + matmul(t, N, qk, v);  // K^T V, then Q (.)
      c = reassoc.bytes < (scores + av).bytes ? reassoc : scores + av;
      break;
    }
  }
  c.bytes *= static_cast<double>(copies);
  return c;
}

// ---- rows --------------------------------------------------------------------------------

struct HeadStep {
  AttentionKind kind;
  MpcCost cost;
};

// Accumulates one breakdown row part by part (parts run in sequence).
struct RowBuilder {
  RowBuilder(const CostTable& table, const NetworkProfile& network) : t(table), net(network) {}
  const CostTable& t;
  const NetworkProfile& net;
  MpcCost cost;
  double attention_seconds[3] = {0, 0, 0};
  double attention_step_seconds = 0;  // the analytic seconds of the attention steps

  void then(const MpcCost& c) { cost = cost + c; }

  // Heads run together (rounds = max, each head's rounds shared by all heads in the
  // attribution) or in sequence (a cascade: rounds add, each head owns its rounds).
  void attention(const std::vector<HeadStep>& heads, bool sequential) {
    MpcCost step;
    const double share = sequential ? 1.0 : 1.0 / static_cast<double>(heads.size());
    for (const HeadStep& h : heads) {
      step.rounds = sequential ? step.rounds + h.cost.rounds : std::max(step.rounds, h.cost.rounds);
      step.bytes += h.cost.bytes;
      attention_seconds[static_cast<int>(h.kind)] +=
          h.cost.rounds * net.rtt_s * share + h.cost.bytes * 8.0 / net.bandwidth_bits_per_s;
    }
    attention_step_seconds += step.seconds(net);
    then(step);
  }

  MpcBlock finish(std::string name, std::string type) const {
    MpcBlock b;
    b.name = std::move(name);
    b.type = std::move(type);
    b.cost = cost;
    b.seconds = cost.seconds(net);
    for (int k = 0; k < 3; ++k) b.attention_seconds[k] = attention_seconds[k];
    b.rest_seconds = b.seconds - attention_step_seconds;
    return b;
  }
};

void add_block(MpcBreakdown& out, MpcBlock b) {
  out.total = out.total + b.cost;
  out.seconds += b.seconds;
  for (int k = 0; k < 3; ++k) out.attention_seconds[k] += b.attention_seconds[k];
  out.rest_seconds += b.rest_seconds;
  out.blocks.push_back(std::move(b));
}

// [DW + FFN] pairs on an r x r map: the depthwise conv is free, the FFN's ReLU is not.
void dw_ffns(RowBuilder& row, const std::vector<int>& hiddens, double r) {
  for (int h : hiddens) row.then(elementwise(row.t, "relu", r * r * h));
}

void window_attention(RowBuilder& row, const AttentionSpec& a, int64_t window, int64_t r) {
  const int64_t w = std::min(window, r);
  const int64_t p = (r + w - 1) / w * w;  // padded side
  const int64_t windows = (p / w) * (p / w);
  std::vector<HeadStep> heads;
  int64_t v_total = 0;
  for (const HeadSpec& h : a.heads) {
    heads.push_back({h.kind, head_cost(row.t, h.kind, w * w, h.key_dim, h.v_dim, windows)});
    v_total += h.v_dim;
  }
  row.attention(heads, /*sequential=*/a.cascade);
  row.then(elementwise(row.t, "relu", static_cast<double>(p * p * v_total)));  // before proj
}

void efficientvit_rows(const ArchSpec& spec, const CostTable& t, const NetworkProfile& net,
                       MpcBreakdown& out) {
  const EfficientViTSpec& e = spec.efficientvit;
  int side = spec.img_size;
  {
    RowBuilder row{t, net};
    for (size_t i = 0; i < e.stem.size(); ++i) {
      side = downsampled_side(side);
      if (i + 1 < e.stem.size())
        row.then(elementwise(t, "relu", double(side) * side * e.stem[i]));
    }
    add_block(out, row.finish("patch_embed", "stem"));
  }
  for (size_t i = 0; i < e.stages.size(); ++i) {
    const StageSpec& s = e.stages[i];
    const std::string prefix = "blocks" + std::to_string(i + 1) + ".";
    int index = 0;
    if (s.downsample) {
      const DownsampleSpec& d = *s.downsample;
      const double r = side, r2 = downsampled_side(side);
      RowBuilder before{t, net}, merge{t, net}, after{t, net};
      dw_ffns(before, d.ffn_before, r);
      merge.then(elementwise(t, "relu", r * r * d.hidden));    // after the 1x1 expand
      merge.then(elementwise(t, "relu", r2 * r2 * d.hidden));  // after the stride-2 depthwise
      merge.then(elementwise(t, "relu", se_width(d.hidden)));  // SE hidden
      merge.then(sigmoid(t, d.hidden));                        // SE gate
      merge.then(bcast_multiply(t, d.hidden, r2 * r2));        // map x gate
      dw_ffns(after, d.ffn_after, r2);
      add_block(out, before.finish(prefix + "0", "subsample_ffn"));
      add_block(out, merge.finish(prefix + "1", "patch_merging"));
      add_block(out, after.finish(prefix + "2", "subsample_ffn"));
      side = downsampled_side(side);
      index = 3;
    }
    for (const BlockSpec& b : s.blocks) {
      RowBuilder row{t, net};
      dw_ffns(row, b.ffn_before, side);
      if (b.attention) window_attention(row, *b.attention, s.window, side);
      dw_ffns(row, b.ffn_after, side);
      add_block(out, row.finish(prefix + std::to_string(index++), "block"));
    }
  }
  add_block(out, RowBuilder{t, net}.finish("head", "head"));  // pool, BN, linear: all local
}

void vit_rows(const ArchSpec& spec, const CostTable& t, const NetworkProfile& net,
              MpcBreakdown& out) {
  const ViTSpec& v = spec.vit;
  const int64_t grid = spec.img_size / v.patch_size;
  const int64_t tokens = grid * grid + (v.cls_token ? 1 : 0);
  const double n = static_cast<double>(tokens), dim = v.embed_dim;
  add_block(out, RowBuilder{t, net}.finish("patch_embed", "patch_embed"));  // conv + adds
  for (size_t i = 0; i < v.layers.size(); ++i) {
    const ViTLayerSpec& l = v.layers[i];
    RowBuilder row{t, net};
    row.then(layer_norm(t, n, dim));  // LN0
    std::vector<HeadStep> heads;
    for (const ViTHeadSpec& h : l.heads)
      heads.push_back({h.kind, head_cost(t, h.kind, tokens, h.qk_dim, h.v_dim, 1)});
    row.attention(heads, /*sequential=*/false);
    row.then(layer_norm(t, n, dim));  // LN1 (either style)
    row.then(activation(t, l.act, n * l.mlp_hidden));
    add_block(out, row.finish("blocks." + std::to_string(i), "vit_layer"));
  }
  RowBuilder head{t, net};
  head.then(layer_norm(t, n, dim));  // final LN on every token, then the CLS/mean pick
  add_block(out, head.finish("head", "head"));
}

}  // namespace

MpcCost row_max_cost(int64_t rows, int64_t n, const CostTable& t) {
  if (n <= 1 || rows <= 0) return {};  // the max of one value is the value
  const double N = static_cast<double>(n);
  return {t.row_max_rounds_base + t.row_max_rounds_per_ln_step * std::floor(std::log(N)),
          row_max_bytes_per_elem(N, t) * static_cast<double>(rows) * N};
}

MpcCost softmax_cost(int64_t n, const CostTable& t) {
  const double N = static_cast<double>(n);
  return row_max_cost(n, n, t) + elementwise(t, "exp", N * N) +
         elementwise(t, "reciprocal", N) + bcast_multiply(t, N, N);
}

MpcCost relu_softmax_cost(int64_t n, const CostTable& t) {
  const double N = static_cast<double>(n);
  return elementwise(t, "relu", N * N) + elementwise(t, "reciprocal", N) +
         bcast_multiply(t, N, N);
}

MpcBreakdown mpc_cost(const ArchSpec& spec, const CostTable& t, const NetworkProfile& n) {
  validate(spec);  // the shapes below assume a buildable network
  require(n.bandwidth_bits_per_s > 0, "network " + n.name + ": bandwidth must be positive");
  MpcBreakdown out;
  switch (spec.family) {
    case Family::EfficientViT: efficientvit_rows(spec, t, n, out); return out;
    case Family::ViT: vit_rows(spec, t, n, out); return out;
  }
  throw std::logic_error("mpc_cost: invalid Family");
}

json breakdown_to_json(const MpcBreakdown& b) {
  auto kinds = [](const double* s) {
    json j = json::object();
    for (AttentionKind k : kAttentionKinds) j[to_string(k)] = s[static_cast<int>(k)];
    return j;
  };
  json blocks = json::array();
  for (const MpcBlock& blk : b.blocks)
    blocks.push_back({{"name", blk.name},
                      {"type", blk.type},
                      {"rounds", blk.cost.rounds},
                      {"bytes", blk.cost.bytes},
                      {"seconds", blk.seconds},
                      {"attention_seconds", kinds(blk.attention_seconds)},
                      {"rest_seconds", blk.rest_seconds}});
  return {{"rounds", b.total.rounds},
          {"bytes", b.total.bytes},
          {"seconds", b.seconds},
          {"attention_seconds", kinds(b.attention_seconds)},
          {"rest_seconds", b.rest_seconds},
          {"blocks", blocks}};
}

// ---- measured points -----------------------------------------------------------------------

namespace {

void set_all_kinds(ArchSpec& spec, AttentionKind kind) {
  for (auto& stage : spec.efficientvit.stages)
    for (auto& block : stage.blocks)
      if (block.attention)
        for (auto& h : block.attention->heads) h.kind = kind;
  for (auto& layer : spec.vit.layers)
    for (auto& h : layer.heads) h.kind = kind;
}

MeasuredPoint parse_point(const json& j, const std::string& path, const std::string& dir) {
  as_object(j, path, {"label", "seconds", "arch", "all_kinds"});
  MeasuredPoint p;
  p.label = as_string(required(j, path, "label"), path + ".label");
  p.seconds = positive(required(j, path, "seconds"), path + ".seconds");
  const json& arch = required(j, path, "arch");
  const std::string arch_path = path + ".arch";
  if (arch.is_string()) {
    const std::string name = arch.get<std::string>();
    const std::filesystem::path file(name);
    const bool relative = !is_preset(name) && file.is_relative();
    try {
      p.arch = load_arch(relative ? (std::filesystem::path(dir) / file).string() : name);
    } catch (const InputError& e) {
      fail(arch_path, e.what());
    }
  } else {
    try {
      p.arch = arch_from_json(arch);
    } catch (const InputError& e) {
      fail(arch_path, e.what());
    }
  }
  if (j.contains("all_kinds")) {
    const std::string kp = path + ".all_kinds";
    set_all_kinds(p.arch, kind_from_string(as_string(j.at("all_kinds"), kp), kp));
  }
  return p;
}

}  // namespace

Measurements load_measurements(const std::string& path) {
  const json j = read_json_file(path);
  const std::string dir = std::filesystem::path(path).parent_path().string();
  try {
    as_object(j, "", {"source", "network", "points"});
    Measurements m;
    m.network = network_from_json(required(j, "", "network"));
    const json& points = required(j, "", "points");
    if (!points.is_array() || points.empty())
      fail("points", "expected a non-empty array, got " + describe(points));
    for (size_t i = 0; i < points.size(); ++i)
      m.points.push_back(parse_point(points[i], index_path("points", i), dir));
    return m;
  } catch (const InputError& e) {
    throw InputError(path + ": " + e.what());
  }
}

std::vector<MeasuredPoint> load_measured_points(const std::string& path) {
  return load_measurements(path).points;
}

// ---- calibration -------------------------------------------------------------------------

namespace {
double calibrated(double rest_seconds, const double (&attention_seconds)[3], const MpcCalibration& c) {
  double s = c.rest_scale * rest_seconds;
  for (int k = 0; k < 3; ++k) s += c.kind_scale[k] * attention_seconds[k];
  return s;
}
}  // namespace

double calibrated_seconds(const MpcBreakdown& b, const MpcCalibration& c) {
  return calibrated(b.rest_seconds, b.attention_seconds, c);
}

double calibrated_seconds(const MpcBlock& b, const MpcCalibration& c) {
  return calibrated(b.rest_seconds, b.attention_seconds, c);
}

MpcCalibration fit_mpc_calibration(const std::vector<MeasuredPoint>& points, const CostTable& t,
                                   const NetworkProfile& n) {
  require(!points.empty(), "calibration: no measured points");
  std::vector<MpcBreakdown> b;
  for (const auto& p : points) b.push_back(mpc_cost(p.arch, t, n));

  std::vector<int> kinds;  // kinds with attention time in some point
  for (int k = 0; k < 3; ++k)
    if (std::any_of(b.begin(), b.end(), [k](const MpcBreakdown& x) {
          return x.attention_seconds[k] > 0;
        }))
      kinds.push_back(k);
  const int P = static_cast<int>(points.size());
  const bool fit_rest = P > static_cast<int>(kinds.size());
  const int U = static_cast<int>(kinds.size()) + (fit_rest ? 1 : 0);
  require(U > 0, "calibration: nothing to fit");
  require(P >= U, "calibration: " + std::to_string(P) + " measured points for " +
                      std::to_string(U) + " unknown scales; add points");

  // Scale rows by 1/measured so the fit minimises relative, not absolute, errors.
  Eigen::MatrixXd A(P, U);
  Eigen::VectorXd y(P);
  for (int i = 0; i < P; ++i) {
    const double w = 1.0 / points[i].seconds;
    for (size_t c = 0; c < kinds.size(); ++c) A(i, c) = b[i].attention_seconds[kinds[c]] * w;
    if (fit_rest) A(i, U - 1) = b[i].rest_seconds * w;
    y(i) = (points[i].seconds - (fit_rest ? 0.0 : b[i].rest_seconds)) * w;
  }
  const Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(A);
  require(qr.rank() == U,
          "calibration: the measured points cannot tell the unknown scales apart; add points "
          "with other mixes of attention kinds");
  const Eigen::VectorXd x = qr.solve(y);

  MpcCalibration c;
  for (size_t i = 0; i < kinds.size(); ++i) {
    const std::string name = to_string(kAttentionKinds[kinds[i]]);
    require(x(i) > 0, "calibration: fitted kind_scale." + name + " = " + std::to_string(x(i)) +
                          " <= 0; the points contradict the analytic model (check the network "
                          "profile and the points' seconds)");
    c.kind_scale[kinds[i]] = x(i);
  }
  if (fit_rest) {
    require(x(U - 1) > 0, "calibration: fitted rest_scale = " + std::to_string(x(U - 1)) +
                              " <= 0; the points contradict the analytic model");
    c.rest_scale = x(U - 1);
  }
  c.points = P;
  for (int i = 0; i < P; ++i) {
    const double err = std::abs(calibrated_seconds(b[i], c) - points[i].seconds);
    const double rel = err / points[i].seconds;
    c.max_rel_error = std::max(c.max_rel_error, rel);
  }
  return c;
}

json calibration_to_json(const MpcCalibration& c) {
  json scales = json::object();
  for (AttentionKind k : kAttentionKinds) scales[to_string(k)] = c.kind_scale[static_cast<int>(k)];
  return {{"rest_scale", c.rest_scale},
          {"kind_scale", scales},
          {"points", c.points},
          {"max_rel_error", c.max_rel_error}};
}

MpcCalibration calibration_from_json(const json& j) {
  as_object(j, "", {"rest_scale", "kind_scale", "points", "max_rel_error"});
  MpcCalibration c;
  c.rest_scale = positive(required(j, "", "rest_scale"), "rest_scale");
  const json& scales = as_object(required(j, "", "kind_scale"), "kind_scale",
                                 {"softmax", "relu_softmax", "scaling"});
  for (AttentionKind k : kAttentionKinds) {
    const std::string key = to_string(k);
    c.kind_scale[static_cast<int>(k)] =
        positive(required(scales, "kind_scale", key), "kind_scale." + key);
  }
  if (j.contains("points")) {
    const json& p = j.at("points");
    if (!p.is_number_integer() || p.get<int64_t>() < 0)
      fail("points", "expected a non-negative integer, got " + describe(p));
    c.points = p.get<int>();
  }
  if (j.contains("max_rel_error"))
    c.max_rel_error = non_negative(j.at("max_rel_error"), "max_rel_error");
  return c;
}

}  // namespace vitnas
