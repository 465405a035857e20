#include "profile/mpc_cost_table.h"

#include <algorithm>

#include "core/error.h"
#include "core/io.h"
#include "profile/mpc_json.h"

namespace vitnas {

using nlohmann::json;
using namespace mpc_json;

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
  object(j, "", {"name", "description", "gelu_form", "ops", "row_max"});
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
    object(item.value(), path, {"rounds", "bytes_per_elem"});
    t.ops[item.key()] = {non_negative(required(item.value(), path, "rounds"), path + ".rounds"),
                         non_negative(required(item.value(), path, "bytes_per_elem"),
                                      path + ".bytes_per_elem")};
  }
  for (const auto& name : required_ops())
    if (!t.ops.count(name)) fail("ops." + name, "missing");

  const json& rm = object(required(j, "", "row_max"), "row_max",
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
    object(anchors[i], path, {"n", "bytes_per_elem"});
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

}  // namespace vitnas
