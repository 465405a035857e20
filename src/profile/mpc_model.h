// The mpc latency model: the analytic 2-party cost of a network (mpc_cost.h) on the table's link,
// with the table's calibration (mpc_calibration.h) when it has one. Seconds per image.
#pragma once

#include <string>
#include <vector>

#include "core/arch_spec.h"
#include "profile/latency_model.h"
#include "profile/latency_table.h"

namespace vitnas {

class MpcModel : public LatencyModel {
 public:
  explicit MpcModel(const LatencyTable& table);  // an mpc table

  DeviceKind kind() const override { return DeviceKind::mpc; }
  std::string unit() const override { return "s"; }
  double units_per_second() const override { return 1.0; }
  // Calibrated seconds when the table has a calibration, else the analytic seconds.
  double cost(const ArchSpec& spec) const override;
  LatencyBreakdown breakdown(const ArchSpec& spec) const override;
  nlohmann::json prediction_json(const ArchSpec& spec) const override;
  std::string prediction_text(const nlohmann::json& prediction) const override;

 private:
  MpcDevice mpc_;
};

// Each head's seconds under MPC if it ran `kind` (every head of spec set to that kind), in
// head_kinds(spec) order: its own bytes and its share of its layer's rounds, calibrated as the
// table is. What MPC-aware search weighs each head's alpha with. InputError for a non-mpc table.
std::vector<double> head_seconds(const LatencyTable& table, const ArchSpec& spec,
                                 AttentionKind kind);

// vit: each layer's MLP activation seconds under MPC as the spec has it (identity: 0), in layer
// order, calibrated as the table is. What MPCViT+'s linearisation search weighs each beta with.
std::vector<double> activation_seconds(const LatencyTable& table, const ArchSpec& spec);

// A table of the analytic MPC model with this cost table and link (nothing is measured). Every
// arch of `check` is costed once, so an arch the model cannot price fails here (InputError).
LatencyTable make_mpc_table(const CostTable& costs, const LinkProfile& link,
                            const std::vector<ArchSpec>& check);

}  // namespace vitnas
