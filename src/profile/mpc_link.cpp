#include "profile/mpc_link.h"

#include <cmath>

#include "core/error.h"
#include "profile/mpc_json.h"

namespace vitnas {

using nlohmann::json;

LinkProfile link_profile(const std::string& name) {
  if (name == "lan") return {"lan", 3e9, 0.3e-3};
  if (name == "wan") return {"wan", 400e6, 40e-3};
  throw InputError("unknown link profile \"" + name +
                   "\" (valid: lan, wan, or {\"bandwidth_mbit_per_s\", \"rtt_ms\"})");
}

LinkProfile custom_link(double bandwidth_mbit_per_s, double rtt_ms) {
  require(std::isfinite(bandwidth_mbit_per_s) && bandwidth_mbit_per_s > 0,
          "link bandwidth_mbit_per_s: expected a positive number");
  require(std::isfinite(rtt_ms) && rtt_ms >= 0, "link rtt_ms: expected a non-negative number");
  return {"custom", bandwidth_mbit_per_s * 1e6, rtt_ms * 1e-3};
}

bool same_link(const LinkProfile& a, const LinkProfile& b) {
  return a.bandwidth_bits_per_s == b.bandwidth_bits_per_s && a.rtt_s == b.rtt_s;
}

json link_to_json(const LinkProfile& l) {
  return {{"name", l.name},
          {"bandwidth_mbit_per_s", l.bandwidth_bits_per_s / 1e6},
          {"rtt_ms", l.rtt_s * 1e3}};
}

LinkProfile link_from_json(const json& j, const std::string& path) {
  using namespace mpc_json;
  if (j.is_string()) return link_profile(j.get<std::string>());
  object(j, path, {"name", "bandwidth_mbit_per_s", "rtt_ms"});
  LinkProfile l;
  l.name = j.contains("name") ? as_string(j.at("name"), path + ".name") : "custom";
  l.bandwidth_bits_per_s =
      positive(required(j, path, "bandwidth_mbit_per_s"), path + ".bandwidth_mbit_per_s") * 1e6;
  l.rtt_s = non_negative(required(j, path, "rtt_ms"), path + ".rtt_ms") * 1e-3;
  return l;
}

double MpcCost::seconds(const LinkProfile& link) const {
  return rounds * link.rtt_s + bytes * 8.0 / link.bandwidth_bits_per_s;
}

}  // namespace vitnas
