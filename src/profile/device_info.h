// The device a latency table was made on. A table only predicts for the device it describes:
// every field here must match (a different CPU, thread count, batch, dtype or LibTorch version
// changes op costs by more than the predictor's error).
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

namespace vitnas {

struct DeviceInfo {
  std::string kind = "cpu";      // cpu | cuda | mpc
  std::string model;             // CPU model name, GPU name, or the MPC cost table's name
  int threads = 1;               // intra-op threads (cpu)
  int batch = 16;
  std::string dtype = "float32";
  std::string library;           // "libtorch 1.13.0" (cpu, cuda); "analytic" (mpc)
};

// This machine as a device of that kind (cuda: device `index`'s name).
DeviceInfo current_device(const std::string& kind, int threads, int batch, const std::string& dtype,
                          int cuda_index = 0);

nlohmann::json device_to_json(const DeviceInfo& d);
DeviceInfo device_from_json(const nlohmann::json& j, const std::string& where);  // InputError naming `where`

// InputError "<what> was made on <field> = X, but this is Y" for the first field that differs.
void require_same_device(const DeviceInfo& table, const DeviceInfo& here, const std::string& what);

}  // namespace vitnas
