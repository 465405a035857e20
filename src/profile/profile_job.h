// The long jobs behind `vitnas profile` and `vitnas latency validate`: measure what is missing,
// save the table atomically as it grows (an interrupted run resumes where it stopped), fit the
// calibration, and measure held-out networks against their predictions.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <torch/types.h>

#include "core/arch_spec.h"
#include "core/search_space.h"
#include "profile/latency_table.h"
#include "profile/op_signature.h"
#include "profile/timer.h"

namespace vitnas {

struct ProfileJob {
  std::string out;  // the table file
  bool resume = false;
  torch::Device device = torch::kCPU;
  torch::Dtype dtype = torch::kFloat32;
  DeviceInfo info;                  // what the table will say it was made on
  TimingOptions op_timing;          // per signature
  TimingOptions network_timing{0.5, 2, 2.0, 10, 0.0};  // whole networks
  double save_every_s = 1.0;  // a killed run loses at most this much work
};

// fraction done in [0, 1] and what is being measured
using ProgressFn = std::function<void(double fraction, const std::string& what)>;

// Measures every signature missing from the table (a new one, or `out` when resuming: its device
// must match), then every calibration network not yet measured, then fits the calibration.
// Refuses to overwrite an existing `out` without resume. Returns the saved table.
LatencyTable run_profile(const ProfileJob& job, const std::vector<OpSignature>& signatures,
                         const std::vector<ArchSpec>& calibration_networks,
                         const ProgressFn& progress = {});

// The networks a profile of `space` measures whole for the calibration: the presets the space
// contains, then `count` distinct random samples drawn with `seed` (named calib-0, ...).
std::vector<ArchSpec> calibration_networks(const SearchSpace& space, int count, uint64_t seed);

// Fits the table's calibration on its measured networks (no-op with none).
void fit_table_calibration(LatencyTable& table);

struct ValidationRow {
  ArchSpec arch;
  double predicted_ms = 0;
  double measured_ms = 0;
  double spread = 0;  // of the measurement
};

// The whole-network timing of `latency validate` and `search --measure`: `seconds` per network.
inline TimingOptions validation_timing(double seconds) { return {0.2, 2, seconds, 5, 0.0}; }

// Measures each network end to end on the table's device, in `rounds` round-robin rounds of
// timing.seconds / rounds each (median of the rounds), and predicts it from the table.
std::vector<ValidationRow> run_validation(const LatencyTable& table, const std::vector<ArchSpec>& networks,
                                          const torch::Device& device, const TimingOptions& timing,
                                          int rounds, const ProgressFn& progress = {});

}  // namespace vitnas
