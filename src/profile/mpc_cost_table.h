// The cost table of the analytic MPC model: the rounds and bytes of each secret op under one
// protocol (default: CrypTen's, REFERENCE.md section 2), from a JSON file or built in.
//
// File (experiments/mpc/crypten_costs.json):
//   {"name", "description"?, "gelu_form"?: "erf"|"tanh",
//    "ops": {"<op>": {"rounds", "bytes_per_elem"}, ...every op of required_ops()},
//    "row_max": {"rounds_base", "rounds_per_ln_step", "anchors": [{"n", "bytes_per_elem"}, ...]}}
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

}  // namespace vitnas
