#include "profile/validation.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace vitnas {

double kendall_tau(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) throw std::invalid_argument("kendall_tau: lists differ in length");
  double concordant = 0, discordant = 0, ties_a = 0, ties_b = 0;
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = i + 1; j < a.size(); ++j) {
      const double da = a[i] - a[j], db = b[i] - b[j];
      if (da == 0 && db == 0) continue;
      if (da == 0) ties_a += 1;
      else if (db == 0) ties_b += 1;
      else if ((da > 0) == (db > 0)) concordant += 1;
      else discordant += 1;
    }
  const double denom = std::sqrt((concordant + discordant + ties_a) * (concordant + discordant + ties_b));
  return denom > 0 ? (concordant - discordant) / denom : 0.0;
}

ValidationStats validation_stats(const std::vector<double>& predicted,
                                 const std::vector<double>& measured) {
  if (predicted.size() != measured.size())
    throw std::invalid_argument("validation_stats: lists differ in length");
  ValidationStats s;
  s.n = int(measured.size());
  if (s.n == 0) return s;
  double sq = 0;
  for (size_t i = 0; i < measured.size(); ++i) {
    const double err = std::abs(predicted[i] - measured[i]) / measured[i] * 100.0;
    s.mape += err;
    s.max_error = std::max(s.max_error, err);
    s.within_5 += err <= 5.0 ? 1 : 0;
    s.within_10 += err <= 10.0 ? 1 : 0;
    sq += (predicted[i] - measured[i]) * (predicted[i] - measured[i]);
  }
  s.mape /= s.n;
  s.within_5 /= s.n;
  s.within_10 /= s.n;
  s.rmse_ms = std::sqrt(sq / s.n);
  s.kendall_tau = kendall_tau(predicted, measured);
  return s;
}

}  // namespace vitnas
