#include "profile/mpc_json.h"

#include <cmath>
#include <cstdint>

namespace vitnas::mpc_json {

using nlohmann::json;

const json& object(const json& v, const std::string& path, std::initializer_list<const char*> known) {
  return json_read::as_object(v, path, known, /*list_valid=*/false);
}

namespace {
double at_most_max(const json& v, const std::string& path) {
  if (v.get<double>() > kMaxValue) fail(path, describe(v) + " is above the limit 1e9 (a typo?)");
  return v.get<double>();
}
}  // namespace

double non_negative(const json& v, const std::string& path) {
  if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0)
    fail(path, "expected a non-negative number, got " + describe(v));
  return at_most_max(v, path);
}

double positive(const json& v, const std::string& path) {
  if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() <= 0)
    fail(path, "expected a positive number, got " + describe(v));
  return at_most_max(v, path);
}

json number(double x) {
  if (std::abs(x) < 1e15 && x == std::floor(x)) return static_cast<int64_t>(x);
  return x;
}

}  // namespace vitnas::mpc_json
