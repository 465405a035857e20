// The analytic MPC model checked against a real 2-party engine: the single ops and whole
// networks of a measured file (../shared/reference/mpc/crypten_measured.json: rounds and bytes of
// CrypTen runs, see its README), each predicted from the cost table alone. No figure of the file
// is fitted here: the table's primitives are the file's single-op costs, so every composite op
// (row max, softmax, LayerNorm, GeLU, ...) and every network is a prediction.
//
// Read from the file: ops[] {op, kind, shape, n_elements, N?, shape_b?, n_elements_b?, rounds,
// bytes} and networks[] {run: "<net>/<variant>", spec, rounds, bytes}. A network's spec is a
// vitnas ArchSpec plus descriptive keys, which are dropped; its vit layers are Compact
// Transformers' (style cct). Heads of kind softmax_lean are softmax heads whose row max skips
// the argmax (row_max "tree").
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "profile/mpc_cost_table.h"

namespace vitnas {

struct ReferenceCheck {
  std::string kind;  // "op" or "network"
  std::string name;  // "relu [4096]", "vit_7_4_32/softmax"
  double measured_rounds = 0, measured_bytes = 0;
  double predicted_rounds = 0, predicted_bytes = 0;
  double bytes_error() const;  // (predicted - measured) / measured; 0 when both are 0
};

// InputError naming the entry for an op the model does not know or a spec it cannot read.
std::vector<ReferenceCheck> check_against_reference(const nlohmann::json& measured,
                                                    const CostTable& t);
std::vector<ReferenceCheck> check_against_reference_file(const std::string& path,
                                                         const CostTable& t);

}  // namespace vitnas
