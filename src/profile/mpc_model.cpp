#include "profile/mpc_model.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "profile/mpc_cost.h"
#include "profile/text.h"

namespace vitnas {

namespace {

const MpcDevice& mpc_of(const LatencyTable& table) {
  require(table.device.kind == DeviceKind::mpc && table.mpc.has_value(),
          "this is not an mpc table: use its op-table predictor");
  return *table.mpc;
}

}  // namespace

MpcModel::MpcModel(const LatencyTable& table) : mpc_(mpc_of(table)) {}

double MpcModel::cost(const ArchSpec& spec) const {
  const MpcBreakdown b = mpc_total(spec, mpc_.costs, mpc_.link);
  return mpc_.calibration ? calibrated_seconds(b, *mpc_.calibration, mpc_.link) : b.seconds;
}

LatencyBreakdown MpcModel::breakdown(const ArchSpec& spec) const {
  const MpcBreakdown b = mpc_cost(spec, mpc_.costs, mpc_.link);
  LatencyBreakdown out;
  out.total = mpc_.calibration ? calibrated_seconds(b, *mpc_.calibration, mpc_.link) : b.seconds;
  for (const MpcRow& r : b.rows)
    out.rows.push_back({r.name, r.type, mpc_.calibration ? calibrated_seconds(r, *mpc_.calibration, mpc_.link)
                                                         : r.seconds});
  return out;
}

nlohmann::json MpcModel::prediction_json(const ArchSpec& spec) const {
  const MpcBreakdown b = mpc_cost(spec, mpc_.costs, mpc_.link);
  nlohmann::json rows = nlohmann::json::array();
  for (const MpcRow& r : b.rows) {
    nlohmann::json j = {{"name", r.name}, {"type", r.type}, {"rounds", r.cost.rounds},
                        {"bytes", r.cost.bytes}, {"seconds", r.seconds}};
    if (mpc_.calibration) j["calibrated_seconds"] = calibrated_seconds(r, *mpc_.calibration, mpc_.link);
    rows.push_back(j);
  }
  // "network" is the old name of "link", kept for one release for scripts that read it.
  nlohmann::json j = {{"arch", spec.name}, {"rounds", b.total.rounds}, {"bytes", b.total.bytes},
                      {"analytic_seconds", b.seconds}, {"blocks", rows},
                      {"link", link_to_json(mpc_.link)}, {"network", link_to_json(mpc_.link)}};
  // `seconds` is the figure to use: calibrated when the table has a calibration.
  j["seconds"] = mpc_.calibration ? calibrated_seconds(b, *mpc_.calibration, mpc_.link) : b.seconds;
  j["calibrated"] = mpc_.calibration.has_value();
  return j;
}

std::string MpcModel::prediction_text(const nlohmann::json& j) const {
  std::string s = j["arch"].get<std::string>() + "\n";
  s += printf_string("  %-14s %-14s %8s %14s %10s\n", "block", "type", "rounds", "bytes", "seconds");
  for (const auto& b : j["blocks"])
    s += printf_string("  %-14s %-14s %8.0f %14.0f %10.3f\n", b["name"].get<std::string>().c_str(),
                       b["type"].get<std::string>().c_str(), b["rounds"].get<double>(),
                       b["bytes"].get<double>(),
                       b.value("calibrated_seconds", b["seconds"].get<double>()));
  s += printf_string("  total: %.0f rounds, %.0f bytes, %.3f s%s (analytic %.3f s)\n",
                     j["rounds"].get<double>(), j["bytes"].get<double>(), j["seconds"].get<double>(),
                     j["calibrated"].get<bool>() ? " calibrated" : "",
                     j["analytic_seconds"].get<double>());
  return s;
}

std::vector<double> head_seconds(const LatencyTable& table, const ArchSpec& spec,
                                 AttentionKind kind) {
  const MpcDevice& mpc = mpc_of(table);
  ArchSpec all = spec;
  for (AttentionKind* k : head_kinds(all)) *k = kind;
  const MpcBreakdown b = mpc_total(all, mpc.costs, mpc.link);
  std::vector<double> out;
  for (const MpcCost& share : b.head_shares)
    out.push_back(calibrated_head_seconds(
        share, kind, mpc.calibration ? &*mpc.calibration : nullptr, mpc.link));
  return out;
}

std::vector<double> activation_seconds(const LatencyTable& table, const ArchSpec& spec) {
  const MpcDevice& mpc = mpc_of(table);
  const MpcBreakdown b = mpc_total(spec, mpc.costs, mpc.link);
  std::vector<double> out;
  for (const MpcCost& c : b.activation_costs)
    out.push_back(calibrated_rest_seconds(c, mpc.calibration ? &*mpc.calibration : nullptr, mpc.link));
  return out;
}

LatencyTable make_mpc_table(const CostTable& costs, const LinkProfile& link,
                            const std::vector<ArchSpec>& check) {
  LatencyTable table;
  table.device = {DeviceKind::mpc, costs.name, 1, 1, "fixed-point", "analytic"};
  for (const auto& a : check) mpc_total(a, costs, link);  // every arch can be costed
  table.mpc = MpcDevice{costs, link, {}};
  return table;
}

}  // namespace vitnas
