// The cost table of the analytic MPC model: the rounds and bytes of each primitive secret op
// under one protocol (default: CrypTen's, REFERENCE.md section 2), from a JSON file or built in.
// Composite ops (ReLU, GeLU, the signed reciprocal, the row max, softmax, LayerNorm) are not in
// the table: mpc_ops.h derives them from these primitives the way the protocol computes them.
//
// File (experiments/mpc/crypten_costs.json):
//   {"name", "description"?, "gelu_form"?: "erf"|"tanh", "row_max"?: "argmax"|"tree",
//    "ops": {"<op>": {"rounds", "bytes_per_elem"}, ...every op of required_ops()}}
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace vitnas {

struct MpcOpCost {
  double rounds = 0;
  double bytes_per_elem = 0;  // per direction; matmul: per element of each operand
};

struct CostTable {
  std::string name;
  std::string description;
  std::map<std::string, MpcOpCost> ops;  // exactly required_ops()
  std::string gelu_form = "erf";         // "erf": 0.5 x (1 + erf(x / sqrt 2)); "tanh": its tanh form
  // The row max inside softmax: "argmax" is CrypTen's x.max(dim), which also computes a one-hot
  // argmax with a random tie-break (what CrypTen's softmax runs); "tree" is the max alone.
  std::string row_max = "argmax";
};

// The primitive ops a table must define:
//   multiply (Beaver), square, matmul (secret x secret), compare (x < 0), equal (x == 0),
//   random (a secret uniform fixed-point value), exp, reciprocal (of a positive value),
//   inv_sqrt, erf, sigmoid.
const std::vector<std::string>& required_ops();

CostTable crypten_cost_table();  // REFERENCE.md section 2, ../shared/reference/mpc/
CostTable cost_table_from_json(const nlohmann::json& j);  // errors name the key
nlohmann::json cost_table_to_json(const CostTable& t);
CostTable load_cost_table(const std::string& path);  // errors name the file, then the key

}  // namespace vitnas
