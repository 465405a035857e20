#include "profile/latency_table.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io.h"
#include "core/json_read.h"
#include "profile/op_signature.h"

namespace vitnas {

namespace {

constexpr const char* kFormat = "vitnas-latency-table";
constexpr int kVersion = 1;

nlohmann::json entry_to_json(const TableEntry& e) {
  return {{"median_ms", e.median_ms}, {"spread", e.spread}, {"samples", e.samples},
          {"rejected", e.rejected}};
}

TableEntry entry_from_json(const nlohmann::json& e, const std::string& where) {
  try {
    // as_int, not get<int>(): a float such as 1e300 converted to int is undefined behaviour.
    TableEntry entry{e.at("median_ms").get<double>(), e.at("spread").get<double>(),
                     json_read::as_int(e.at("samples"), where + ".samples"),
                     json_read::as_int(e.at("rejected"), where + ".rejected")};
    require(entry.median_ms >= 0 && std::isfinite(entry.median_ms),
            where + ": median_ms must be a finite number >= 0");
    return entry;
  } catch (const nlohmann::json::exception& ex) {
    throw InputError(where + ": " + ex.what());
  }
}

nlohmann::json latency_calibration_to_json(const LatencyCalibration& c) {
  nlohmann::json scale;
  for (int g = 0; g < kOpGroups; ++g) scale[to_string(OpGroup(g))] = c.scale[size_t(g)];
  return {{"constant_ms", c.constant_ms}, {"scale", scale}, {"networks", c.networks},
          {"fit_mape", c.fit_mape}};
}

// A fit (calibration.cpp) only produces positive scales and a finite constant.
LatencyCalibration latency_calibration_from_json(const nlohmann::json& j) {
  LatencyCalibration c;
  c.constant_ms = j.at("constant_ms").get<double>();
  require(std::isfinite(c.constant_ms), "calibration.constant_ms: must be a finite number");
  for (int g = 0; g < kOpGroups; ++g) {
    const std::string group = to_string(OpGroup(g));
    c.scale[size_t(g)] = j.at("scale").at(group).get<double>();
    require(c.scale[size_t(g)] > 0 && std::isfinite(c.scale[size_t(g)]),
            "calibration.scale." + group + ": must be a positive number, got " +
                j.at("scale").at(group).dump());
  }
  c.networks = j.at("networks").get<std::vector<std::string>>();
  c.fit_mape = j.at("fit_mape").get<double>();
  return c;
}

}  // namespace

std::string to_string(OpGroup g) {
  switch (g) {
    case OpGroup::Stem: return "stem";
    case OpGroup::Conv: return "conv";
    case OpGroup::Attention: return "attention";
  }
  return "?";
}

void save_table(const LatencyTable& t, const std::string& path) {
  nlohmann::json entries = nlohmann::json::object();
  for (const auto& [key, e] : t.entries) entries[key] = entry_to_json(e);
  nlohmann::json networks = nlohmann::json::array();
  for (const auto& n : t.networks)
    networks.push_back({{"arch", arch_to_json(n.arch)}, {"measured", entry_to_json(n.measured)}});
  nlohmann::json j = {{"format", kFormat},  {"version", kVersion}, {"device", device_to_json(t.device)},
                      {"entries", entries}, {"networks", networks}};
  if (t.calibration) j["calibration"] = latency_calibration_to_json(*t.calibration);
  if (t.mpc) {
    j["mpc"] = {{"costs", cost_table_to_json(t.mpc->costs)}, {"link", link_to_json(t.mpc->link)}};
    if (t.mpc->calibration) j["mpc"]["calibration"] = calibration_to_json(*t.mpc->calibration);
  }
  write_json_file_atomic(path, j);
}

LatencyTable load_table(const std::string& path) {
  return table_from_json(read_json_file(path), path);
}

LatencyTable table_from_json(const nlohmann::json& j, const std::string& path) {
  // Typed checks first: json::value() throws its own type_error for {"format": {}}.
  const auto field = [&](const char* key) {
    return j.is_object() && j.contains(key) ? j.at(key) : nlohmann::json();
  };
  const nlohmann::json format = field("format"), version = field("version");
  require(format.is_string() && format.get<std::string>() == kFormat,
          path + ": not a vitnas latency table (make one with vitnas profile)");
  require(version.is_number_integer() && version.get<int64_t>() == kVersion,
          path + ": latency table version " + version.dump() + " is not supported (expected " +
              std::to_string(kVersion) + ")");
  LatencyTable t;
  require(j.contains("device"), path + ": missing 'device'");
  t.device = device_from_json(j["device"], path);
  require(j.contains("entries") && j["entries"].is_object(), path + ": missing 'entries' object");
  for (const auto& [key, e] : j["entries"].items()) {
    try {
      parse_signature(key);  // a corrupt key fails here, naming itself
    } catch (const InputError& ex) {
      throw InputError(path + ": " + ex.what());
    }
    t.entries[key] = entry_from_json(e, path + ": entry '" + key + "'");
  }
  const auto networks = j.value("networks", nlohmann::json::array());
  require(networks.is_array(), path + ": 'networks' must be an array");
  for (size_t i = 0; i < networks.size(); ++i) {
    const std::string where = path + ": networks[" + std::to_string(i) + "]";
    require(networks[i].is_object() && networks[i].contains("arch") && networks[i].contains("measured"),
            where + ": needs 'arch' and 'measured'");
    try {
      t.networks.push_back({arch_from_json(networks[i]["arch"]),
                            entry_from_json(networks[i]["measured"], where + ".measured")});
    } catch (const InputError& ex) {
      if (std::string(ex.what()).rfind(where, 0) == 0) throw;
      throw InputError(where + ".arch." + ex.what());
    }
  }
  try {
    if (j.contains("calibration")) t.calibration = latency_calibration_from_json(j["calibration"]);
    if (t.device.kind == DeviceKind::mpc) {
      require(j.contains("mpc"), path + ": an mpc table needs an 'mpc' object");
      const auto& m = j["mpc"];
      const char* link = m.contains("network") && !m.contains("link") ? "network" : "link";
      MpcDevice mpc{cost_table_from_json(m.at("costs")), link_from_json(m.at(link), link), {}};
      if (m.contains("calibration")) mpc.calibration = calibration_from_json(m["calibration"]);
      t.mpc = mpc;
    }
  } catch (const nlohmann::json::exception& ex) {
    throw InputError(path + ": " + ex.what());
  } catch (const InputError& ex) {
    throw InputError(path + ": " + ex.what());
  }
  return t;
}

}  // namespace vitnas
