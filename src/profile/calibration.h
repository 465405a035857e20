// Fitting a latency table's correction to whole networks measured on its device. The sum of
// isolated op times misses what ops do to each other (caches, allocator, layout changes), which
// is close to proportional per op group plus a per-network constant; so the fit is
//   measured_ms ~ constant + sum_g scale_g * group_sum_g,
// by least squares on relative errors (rows weighted by 1 / measured), with Eigen.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "profile/latency_table.h"

namespace vitnas {

struct CalibrationPoint {
  std::string name;
  std::array<double, kOpGroups> group_sums{};  // raw table sums of the network
  double measured_ms = 0;
};

// With >= 8 points (every group present) every group scale and the constant are fitted; with
// 2..7 one common scale and the constant; with 1 point the common scale alone. A form whose fit
// gives a non-positive scale or prediction (similar networks and noise) falls back to the next
// simpler one. InputError with no points.
LatencyCalibration fit_calibration(const std::vector<CalibrationPoint>& points);

double calibrated_ms(const LatencyCalibration& c, const std::array<double, kOpGroups>& group_sums);

// "0.899 ms + 1.083 x stem + 1.063 x conv + 0.918 x attention (fit MAPE 2.67%)"
std::string describe_calibration(const LatencyCalibration& c);

}  // namespace vitnas
