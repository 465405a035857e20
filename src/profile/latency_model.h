// One latency model (DESIGN.md, "Seams"): what search and pruning ask for a network's latency on
// a device, whatever the table behind it. make_latency_model() reads any table (cpu, cuda: the
// op-table Predictor; mpc: the analytic MpcModel); callers never look at the table format.
//
//   cost(spec)       the calibrated latency, in unit(): the search's inner loop (millions of
//                    calls; no allocation for cpu/cuda)
//   breakdown(spec)  the same per row of the architecture walk (complexity(spec)'s rows,
//                    "blocks2.3"): what a pruner reads to see what a row costs
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/arch_spec.h"
#include "profile/device_info.h"
#include "profile/latency_table.h"
#include "profile/measured_points.h"

namespace vitnas {

struct RowLatency {
  std::string name;  // the walk's row name, "patch_embed", "blocks2.3", "head"
  std::string type;  // its type, "stem", "block", ...
  double value = 0;  // calibrated latency the row accounts for, in the model's unit
};

struct LatencyBreakdown {
  double total = 0;     // == cost(spec)
  double overhead = 0;  // the part of total no row owns (cpu/cuda: the calibration's constant)
  std::vector<RowLatency> rows;  // in forward order; total = overhead + sum of rows
};

class LatencyModel {
 public:
  virtual ~LatencyModel() = default;

  virtual DeviceKind kind() const = 0;
  // "ms" (per batch of the table's batch size: cpu, cuda) or "s" (per image: mpc).
  virtual std::string unit() const = 0;
  virtual double units_per_second() const = 0;  // 1e3 or 1

  // Calibrated latency of one network. InputError when the table cannot price it (a missing
  // op entry, a vit network on a cpu/cuda table).
  virtual double cost(const ArchSpec& spec) const = 0;
  virtual LatencyBreakdown breakdown(const ArchSpec& spec) const = 0;

  // What `latency predict` shows of one network: an object (its --json output) ...
  virtual nlohmann::json prediction_json(const ArchSpec& spec) const = 0;
  // ... and the same as text, made from that object (lines ending in '\n').
  virtual std::string prediction_text(const nlohmann::json& prediction) const = 0;
};

std::unique_ptr<LatencyModel> make_latency_model(const LatencyTable& table);

// ---- whole networks measured elsewhere (measured_points.h) ----------------------------------

struct PredictedPoint {
  std::string label;
  double measured_s = 0, predicted_s = 0;
};

// The table's prediction of every point, in seconds (`latency validate --measured`). For an mpc
// table the points must have been measured on its link: InputError otherwise.
std::vector<PredictedPoint> predict_measured(const LatencyTable& table, const Measurements& measured);

struct CalibratedTable {
  LatencyTable table;                  // the input table with its correction refitted
  std::vector<PredictedPoint> points;  // the measurements and their fitted predictions
  std::string fitted;                  // one line saying what was fitted
};

// cpu/cuda: the measured points become the table's calibration networks and the group scales
// and constant are refitted; mpc: a calibration of `mpc_form` ("link" when empty, or "kinds",
// mpc_calibration.h) is fitted (the points must have been measured on the table's link).
// InputError naming what does not fit, or for a form given to a cpu/cuda table.
CalibratedTable calibrate(const LatencyTable& table, const Measurements& measured,
                          const std::string& mpc_form = "");

// Each point predicted by the calibration fitted on all the others: what calibrate() can say
// about a network it has not seen. InputError if some n - 1 points cannot be fitted.
std::vector<PredictedPoint> leave_one_out(const LatencyTable& table, const Measurements& measured,
                                          const std::string& mpc_form = "");

}  // namespace vitnas
