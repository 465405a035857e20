// Whole networks measured end to end on a device, from a file: what `latency calibrate` fits a
// table's correction to (cpu/cuda: the group scales and constant; mpc: the per-kind scales).
//
// File (experiments/mpc/mpcvit_*.json):
//   {"source"?: "...", "link"?: <link>,
//    "points": [{"label", "seconds", "arch": <preset name | path relative to this file |
//                ArchSpec object>, "all_kinds"?: "<kind>"}, ...]}
// <link> is "lan", "wan" or {"name"?, "bandwidth_mbit_per_s", "rtt_ms"} (mpc_link.h): the link
// the seconds were measured on, required to calibrate an mpc table. Older files say "network"
// for "link" and are still read. "all_kinds" sets every head of the arch to one attention kind.
// For a cpu/cuda table `seconds` is the time of one batch at the table's batch size.
//
// The vit_7_4_32_mu*.json networks put their k = 3/9/14/20 relu_softmax heads of 28 at
// layer-major positions floor((2i + 1) * 28 / (2k)), i = 0..k-1 (position = layer * 4 + head),
// i.e. evenly spread; the other heads are scaling.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/arch_spec.h"
#include "profile/mpc_link.h"

namespace vitnas {

struct MeasuredPoint {
  ArchSpec arch;
  double seconds = 0;
  std::string label;
};

struct Measurements {
  std::string path;                 // the file, for messages
  std::optional<LinkProfile> link;  // the MPC link the seconds were measured on
  std::vector<MeasuredPoint> points;
};

Measurements load_measurements(const std::string& path);  // errors name the file and the point
// The same for JSON read elsewhere; path names it in errors and is where arch files resolve from.
Measurements measurements_from_json(const nlohmann::json& j, const std::string& path);

}  // namespace vitnas
