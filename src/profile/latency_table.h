// A latency table: one file per device (DESIGN.md). For cpu and cuda it holds one measured
// entry per block signature plus the calibration fitted on whole networks; for mpc it holds the
// analytic model's cost table, network profile and calibration (entries are then the analytic
// cost of each signature, for inspection).
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/arch_spec.h"
#include "profile/device_info.h"
#include "profile/mpc_cost.h"

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
  NetworkProfile network;
  std::optional<MpcCalibration> calibration;
};

// A whole network measured end to end on the table's device (calibration data).
struct MeasuredNetwork {
  ArchSpec arch;
  TableEntry measured;
};

struct LatencyTable {
  DeviceInfo device;
  std::map<std::string, TableEntry> entries;  // keyed by BlockSignature::key()
  std::vector<MeasuredNetwork> networks;      // what the calibration was fitted on
  std::optional<LatencyCalibration> calibration;
  std::optional<MpcDevice> mpc;                // set iff device.kind == "mpc"
};

// Files are checked on load: a malformed or truncated table is an InputError naming the file.
LatencyTable load_table(const std::string& path);
void save_table(const LatencyTable& table, const std::string& path);  // atomic

}  // namespace vitnas
