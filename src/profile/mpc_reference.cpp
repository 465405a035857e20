#include "profile/mpc_reference.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <functional>
#include <map>

#include <nlohmann/json.hpp>

#include "core/arch_spec.h"
#include "core/error.h"
#include "core/io.h"
#include "core/json_read.h"
#include "profile/mpc_cost.h"
#include "profile/mpc_ops.h"

namespace vitnas {

using nlohmann::json;
using namespace json_read;

namespace {

CostTable with_row_max(CostTable t, const std::string& form) {
  t.row_max = form;
  return t;
}

std::string shape_text(const json& shape) {
  std::string s;
  for (const auto& d : shape) s += (s.empty() ? "" : "x") + std::to_string(d.get<int64_t>());
  return "[" + s + "]";
}

// One measured op, predicted by the model's formula of that op (mpc_ops.h).
MpcCost predict_op(const json& o, const std::string& path, const CostTable& t) {
  const std::string op = as_string(required(o, path, "op"), path + ".op");
  const double n = as_number(required(o, path, "n_elements"), path + ".n_elements");
  using Unary = std::function<MpcCost(double)>;
  const std::map<std::string, Unary> unary = {
      {"relu", [&](double x) { return relu_cost(t, x); }},
      {"ltz", [&](double x) { return elementwise_cost(t, "compare", x); }},
      {"exp", [&](double x) { return elementwise_cost(t, "exp", x); }},
      {"reciprocal_allpos", [&](double x) { return elementwise_cost(t, "reciprocal", x); }},
      {"reciprocal_default", [&](double x) { return reciprocal_signed_cost(t, x); }},
      {"inv_sqrt", [&](double x) { return elementwise_cost(t, "inv_sqrt", x); }},
      {"erf", [&](double x) { return elementwise_cost(t, "erf", x); }},
      {"gelu_erf", [&](double x) { return gelu_cost(t, "erf", x); }},
      {"sigmoid", [&](double x) { return sigmoid_cost(t, x); }},
      // CrypTen's tanh is 2 sigmoid(2x) - 1: the affine parts are local.
      {"tanh", [&](double x) { return sigmoid_cost(t, x); }},
      {"square", [&](double x) { return elementwise_cost(t, "square", x); }},
      {"mul", [&](double x) { return elementwise_cost(t, "multiply", x); }}};
  if (const auto it = unary.find(op); it != unary.end()) return it->second(n);

  if (op == "mul_broadcast") {  // A (n) times B (n_b values, one per row of A)
    const double nb = as_number(required(o, path, "n_elements_b"), path + ".n_elements_b");
    return bcast_multiply_cost(t, nb, n / nb);
  }
  if (op == "matmul") {  // [..., m, k] x [..., k, p], the leading dims a batch
    const json& a = required(o, path, "shape");
    const json& b = required(o, path, "shape_b");
    if (!a.is_array() || !b.is_array() || a.size() < 2 || b.size() != a.size())
      fail(path + ".shape", "expected matching shapes of rank >= 2");
    const double m = a[a.size() - 2].get<double>(), k = a.back().get<double>(),
                 p = b.back().get<double>();
    MpcCost c = matmul_cost(t, m, k, p);
    c.bytes *= n / (m * k);
    return c;
  }
  static const char* kRowOps[] = {"max_crypten", "max_tree", "softmax_crypten", "softmax_lean",
                                  "relu_softmax", "relu_softmax_div", "layernorm"};
  if (std::find(std::begin(kRowOps), std::end(kRowOps), op) == std::end(kRowOps))
    fail(path + ".op", "the model has no formula for op \"" + op + "\"");
  // Row ops: rows of N, every leading dim a row.
  const int64_t N = as_int(required(o, path, "N"), path + ".N");
  if (N < 1) fail(path + ".N", "expected a positive row length");
  const int64_t rows = static_cast<int64_t>(std::llround(n / double(N)));
  if (op == "max_crypten") return row_max_cost(rows, N, with_row_max(t, "argmax"));
  if (op == "max_tree") return row_max_cost(rows, N, with_row_max(t, "tree"));
  if (op == "softmax_crypten") return softmax_cost(rows, N, with_row_max(t, "argmax"));
  if (op == "softmax_lean") return softmax_cost(rows, N, with_row_max(t, "tree"));
  if (op == "relu_softmax") return relu_softmax_cost(rows, N, t);
  if (op == "relu_softmax_div") return relu_softmax_cost(rows, N, t, /*signed=*/true);
  return layer_norm_cost(t, double(rows), double(N));
}

// The spec's ArchSpec keys; the descriptive ones (conventions, block, input_res, ...) go. A head
// of kind softmax_lean is a softmax whose row max skips the argmax: *lean is set.
ArchSpec arch_of(const json& spec, const std::string& path, bool* lean) {
  if (!spec.is_object()) fail(path, "expected an ArchSpec object");
  const std::string family = as_string(required(spec, path, "family"), path + ".family");
  json a = json::object();
  const std::vector<std::string> keys =
      family == "vit" ? std::vector<std::string>{"family", "name", "img_size", "patch_size",
                                                 "in_chans", "num_classes", "embed_dim",
                                                 "cls_token", "qkv_bias", "layers"}
                      : std::vector<std::string>{"family", "name", "img_size", "in_chans",
                                                 "num_classes", "stem", "stages"};
  for (const auto& k : keys)
    if (spec.contains(k)) a[k] = spec.at(k);
  if (family == "vit") a["style"] = "cct";  // MPCViT's ViT-Lite layer (the file's README)
  *lean = false;
  if (a.contains("layers") && a["layers"].is_array())
    for (auto& l : a["layers"])
      if (l.is_object() && l.contains("heads") && l["heads"].is_array())
        for (auto& h : l["heads"])
          if (h.is_object() && h.value("kind", "") == "softmax_lean") {
            h["kind"] = "softmax";
            *lean = true;
          }
  if (a.contains("stages") && a["stages"].is_array())
    for (auto& s : a["stages"])
      if (s.is_object()) s.erase("input_res");
  try {
    return arch_from_json(a);
  } catch (const InputError& e) {
    throw InputError(path + ": " + e.what());
  }
}

}  // namespace

double ReferenceCheck::bytes_error() const {
  if (measured_bytes == 0) return predicted_bytes == 0 ? 0.0 : INFINITY;
  return (predicted_bytes - measured_bytes) / measured_bytes;
}

std::vector<ReferenceCheck> check_against_reference(const json& measured, const CostTable& t) {
  if (!measured.is_object()) fail("", "expected an object with ops and networks");
  std::vector<ReferenceCheck> out;
  const json& ops = as_array(required(measured, "", "ops"), "ops");
  for (size_t i = 0; i < ops.size(); ++i) {
    const std::string path = index_path("ops", i);
    const json& o = ops[i];
    if (!o.is_object()) fail(path, "expected an object");
    const MpcCost c = predict_op(o, path, t);
    out.push_back({"op",
                   as_string(o.at("op"), path + ".op") + " " +
                       shape_text(required(o, path, "shape")),
                   as_number(required(o, path, "rounds"), path + ".rounds"),
                   as_number(required(o, path, "bytes"), path + ".bytes"), c.rounds, c.bytes});
  }
  const json& nets = as_array(required(measured, "", "networks"), "networks");
  const LinkProfile lan = link_profile("lan");  // rounds and bytes do not depend on the link
  for (size_t i = 0; i < nets.size(); ++i) {
    const std::string path = index_path("networks", i);
    const json& n = nets[i];
    if (!n.is_object()) fail(path, "expected an object");
    const std::string run = as_string(required(n, path, "run"), path + ".run");
    bool lean = false;
    const ArchSpec spec = arch_of(required(n, path, "spec"), path + ".spec", &lean);
    const MpcBreakdown b = mpc_total(spec, with_row_max(t, lean ? "tree" : "argmax"), lan);
    out.push_back({"network", run, as_number(required(n, path, "rounds"), path + ".rounds"),
                   as_number(required(n, path, "bytes"), path + ".bytes"), b.total.rounds,
                   b.total.bytes});
  }
  return out;
}

std::vector<ReferenceCheck> check_against_reference_file(const std::string& path,
                                                         const CostTable& t) {
  const json j = read_json_file(path);
  try {
    return check_against_reference(j, t);
  } catch (const InputError& e) {
    throw InputError(path + ": " + e.what());
  }
}

}  // namespace vitnas
