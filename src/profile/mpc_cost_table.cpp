#include "profile/mpc_cost_table.h"

#include <algorithm>

#include "core/error.h"
#include "core/io.h"
#include "profile/mpc_json.h"

namespace vitnas {

using nlohmann::json;
using namespace mpc_json;

const std::vector<std::string>& required_ops() {
  static const std::vector<std::string> ops = {"multiply", "square", "matmul", "compare",
                                               "equal", "random", "exp", "reciprocal",
                                               "inv_sqrt", "erf", "sigmoid"};
  return ops;
}

namespace {

// Ops that older tables listed and that are now derived from the primitives (mpc_ops.h).
bool derived_op(const std::string& name) {
  return name == "relu" || name == "reciprocal_signed" || name == "gelu" || name == "gelu_tanh";
}

std::string op_list() {
  std::string s;
  for (const auto& name : required_ops()) s += (s.empty() ? "" : ", ") + name;
  return s;
}

}  // namespace

// The single-op figures of ../shared/reference/mpc/crypten_measured.json. equal and random are
// not measured alone: equal (x == 0, 2PC: a 6-level AND tree on binary shares, 16 B per level,
// then a 1-bit B2A opening, 8 B) and random (16 random bits converted to arithmetic shares in
// one opening, 16 x 8 B) are what CrypTen's max(dim) pays beyond its tree (maximum.py), and they
// reproduce the measured max and argmax rows exactly at every N measured.
CostTable crypten_cost_table() {
  CostTable t;
  t.name = "crypten";
  t.description =
      "CrypTen 775868a, 2 parties, 64-bit ring, 16-bit fixed point, trusted-dealer triples, "
      "online phase (REFERENCE.md section 2; ../shared/reference/mpc/). Bytes per element, per "
      "direction; matmul: per element of each operand.";
  t.ops = {{"multiply", {1, 16}},   {"square", {1, 8}},      {"matmul", {1, 8}},
           {"compare", {8, 216}},   {"equal", {7, 104}},     {"random", {1, 128}},
           {"exp", {8, 64}},        {"reciprocal", {28, 304}}, {"inv_sqrt", {17, 184}},
           {"erf", {34, 376}},      {"sigmoid", {23, 376}}};
  return t;
}

CostTable cost_table_from_json(const json& j) {
  object(j, "", {"name", "description", "gelu_form", "row_max", "ops"});
  CostTable t;
  t.name = as_string(required(j, "", "name"), "name");
  if (j.contains("description")) t.description = as_string(j.at("description"), "description");
  if (j.contains("gelu_form")) {
    t.gelu_form = as_string(j.at("gelu_form"), "gelu_form");
    if (t.gelu_form != "erf" && t.gelu_form != "tanh")
      fail("gelu_form", "expected \"erf\" or \"tanh\", got \"" + t.gelu_form + "\"");
  }
  if (j.contains("row_max")) {
    const json& rm = j.at("row_max");
    if (rm.is_object())  // the fitted form of older tables
      fail("row_max", "the row max is now derived from the protocol (mpc_ops.h): replace the "
                      "object with \"argmax\" or \"tree\", or regenerate the table with "
                      "`vitnas profile --device mpc`");
    t.row_max = as_string(rm, "row_max");
    if (t.row_max != "argmax" && t.row_max != "tree")
      fail("row_max", "expected \"argmax\" or \"tree\", got \"" + t.row_max + "\"");
  }

  const json& ops = required(j, "", "ops");
  if (!ops.is_object()) fail("ops", "expected an object, got " + describe(ops));
  for (const auto& item : ops.items()) {
    const std::string path = key_path("ops", item.key());
    if (derived_op(item.key()))
      fail(path, "derived from the primitive ops now (mpc_ops.h); remove it");
    const auto& names = required_ops();
    if (std::find(names.begin(), names.end(), item.key()) == names.end())
      fail(path, "unknown op (valid: " + op_list() + ")");
    object(item.value(), path, {"rounds", "bytes_per_elem"});
    t.ops[item.key()] = {non_negative(required(item.value(), path, "rounds"), path + ".rounds"),
                         non_negative(required(item.value(), path, "bytes_per_elem"),
                                      path + ".bytes_per_elem")};
  }
  for (const auto& name : required_ops())
    if (!t.ops.count(name)) fail("ops." + name, "missing");
  return t;
}

json cost_table_to_json(const CostTable& t) {
  json ops = json::object();
  for (const auto& [name, op] : t.ops)
    ops[name] = {{"rounds", number(op.rounds)}, {"bytes_per_elem", number(op.bytes_per_elem)}};
  return {{"name", t.name},       {"description", t.description}, {"gelu_form", t.gelu_form},
          {"row_max", t.row_max}, {"ops", ops}};
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
