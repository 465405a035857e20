// A latency table: one file per device (DESIGN.md). For cpu and cuda it holds one measured
// entry per op signature plus the calibration fitted on whole networks; for mpc it holds the
// analytic model's cost table, link profile and calibration (and no entries). Code that only
// needs latencies asks a LatencyModel made from the table (latency_model.h), not the table.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/arch_spec.h"
#include "profile/device_info.h"
#include "profile/mpc_calibration.h"
#include "profile/mpc_cost_table.h"
#include "profile/mpc_link.h"

namespace vitnas {

struct TableEntry {
  double median_ms = 0;
  double spread = 0;  // (p90 - p10) / median
  int samples = 0;
  int rejected = 0;   // outliers dropped
};

// Groups of ops whose entries share one fitted scale in the calibration.
enum class OpGroup { Stem, Conv, Attention };
constexpr int kOpGroups = 3;
std::string to_string(OpGroup g);

// Whole-network latency = constant_ms + sum_g scale[g] * (sum of the network's entries in g).
// Fitted by least squares on measured networks (calibration.h); identity until then.
struct LatencyCalibration {
  double constant_ms = 0;
  std::array<double, kOpGroups> scale{1, 1, 1};
  std::vector<std::string> networks;  // names of the networks it was fitted on
  double fit_mape = 0;                // on those networks, %
};

// The analytic MPC device.
struct MpcDevice {
  CostTable costs;
  LinkProfile link;
  std::optional<MpcCalibration> calibration;
};

// A whole network measured end to end on the table's device (calibration data).
struct MeasuredNetwork {
  ArchSpec arch;
  TableEntry measured;
};

struct LatencyTable {
  DeviceInfo device;
  std::map<std::string, TableEntry> entries;  // keyed by OpSignature::key()
  std::vector<MeasuredNetwork> networks;      // what the calibration was fitted on
  std::optional<LatencyCalibration> calibration;
  std::optional<MpcDevice> mpc;                // set iff device.kind == DeviceKind::mpc
};

// Files are checked on load: a malformed or truncated table is an InputError naming the file.
// An mpc table's link is written as "link"; older files said "network", which is still read.
LatencyTable load_table(const std::string& path);
LatencyTable table_from_json(const nlohmann::json& j, const std::string& path);  // path: for errors
void save_table(const LatencyTable& table, const std::string& path);  // atomic

}  // namespace vitnas
