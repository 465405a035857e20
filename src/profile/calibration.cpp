#include "profile/calibration.h"

#include <cmath>
#include <optional>

#include <Eigen/Dense>

#include "core/error.h"
#include "profile/text.h"

namespace vitnas {

double calibrated_ms(const LatencyCalibration& c, const std::array<double, kOpGroups>& sums) {
  double ms = c.constant_ms;
  for (int g = 0; g < kOpGroups; ++g) ms += c.scale[size_t(g)] * sums[size_t(g)];
  // A fit keeps its own points positive, but an edited calibration, or a negative constant on a
  // network far smaller than those points, must not become a negative latency.
  // (Not require(): its message would be built, and allocated, on every call of the search.)
  if (!(ms > 0 && std::isfinite(ms)))
    throw InputError("the latency table's calibration predicts " + std::to_string(ms) +
                     " ms, not a positive time: refit it (latency calibrate, or profile --resume)");
  return ms;
}

std::string describe_calibration(const LatencyCalibration& c) {
  return printf_string("%.3f ms + %.3f x stem + %.3f x conv + %.3f x attention (fit MAPE %.2f%%)",
                       c.constant_ms, c.scale[0], c.scale[1], c.scale[2], c.fit_mape);
}

namespace {

// One least-squares fit of a given form; nullopt if a scale comes out non-positive (too few or
// too similar networks for that many unknowns).
std::optional<LatencyCalibration> fit_form(const std::vector<CalibrationPoint>& points, bool per_group,
                                           bool constant) {
  const auto n = Eigen::Index(points.size());
  const Eigen::Index cols = (per_group ? kOpGroups : 1) + (constant ? 1 : 0);
  // Row i / measured_i, so the residuals are relative errors.
  Eigen::MatrixXd A(n, cols);
  Eigen::VectorXd y = Eigen::VectorXd::Ones(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    const CalibrationPoint& p = points[size_t(i)];
    const double w = 1.0 / p.measured_ms;
    double total = 0;
    for (int g = 0; g < kOpGroups; ++g) {
      if (per_group) A(i, g) = w * p.group_sums[size_t(g)];
      total += p.group_sums[size_t(g)];
    }
    if (!per_group) A(i, 0) = w * total;
    if (constant) A(i, cols - 1) = w;
  }
  const Eigen::VectorXd x = A.colPivHouseholderQr().solve(y);
  LatencyCalibration c;
  for (int g = 0; g < kOpGroups; ++g) c.scale[size_t(g)] = per_group ? x(g) : x(0);
  if (constant) c.constant_ms = x(cols - 1);
  for (double s : c.scale)
    if (!(s > 0) || !std::isfinite(s)) return std::nullopt;
  for (const auto& p : points) {
    if (!(calibrated_ms(c, p.group_sums) > 0)) return std::nullopt;
  }
  return c;
}

}  // namespace

LatencyCalibration fit_calibration(const std::vector<CalibrationPoint>& points) {
  const auto n = points.size();
  require(n > 0, "calibration needs at least one measured network");
  bool every_group = true;  // per-group scales need every group present in some network
  for (int g = 0; g < kOpGroups; ++g) {
    bool present = false;
    for (const auto& p : points) present = present || p.group_sums[size_t(g)] > 0;
    every_group = every_group && present;
  }
  for (const auto& p : points)
    require(p.measured_ms > 0, "calibration: network " + p.name + " has a non-positive time");

  // The richest form the points support; a simpler one when its fit is not physical.
  std::optional<LatencyCalibration> c;
  if (n >= 8 && every_group) c = fit_form(points, true, true);
  if (!c && n >= 2) c = fit_form(points, false, true);
  if (!c) c = fit_form(points, false, false);  // one common scale: always positive
  require(c.has_value(), "calibration: the measured networks have no ops in the table");
  double ape = 0;
  for (const auto& p : points) {
    c->networks.push_back(p.name);
    ape += std::abs(calibrated_ms(*c, p.group_sums) - p.measured_ms) / p.measured_ms;
  }
  c->fit_mape = 100.0 * ape / double(n);
  return *c;
}

}  // namespace vitnas
