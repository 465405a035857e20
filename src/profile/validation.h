// How well predicted latencies match measured ones (nn-Meter's and HAT's figures of merit).
#pragma once

#include <vector>

namespace vitnas {

struct ValidationStats {
  int n = 0;
  double mape = 0;         // mean |pred - meas| / meas, %
  double rmse_ms = 0;
  double max_error = 0;    // largest |pred - meas| / meas, %
  double within_5 = 0;     // fraction of networks within +-5%
  double within_10 = 0;    // fraction within +-10%
  double kendall_tau = 0;  // rank agreement (tau-b), 1 = same order
};

ValidationStats validation_stats(const std::vector<double>& predicted,
                                 const std::vector<double>& measured);

// Kendall's tau-b of two equally long lists (ties handled; 0 when either is constant).
double kendall_tau(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace vitnas
