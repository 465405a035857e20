// The device a latency table was made on. A table only predicts for the device it describes:
// every field here must match (a different CPU, thread count, batch, dtype or LibTorch version
// changes op costs by more than the predictor's error).
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

namespace vitnas {

// What a latency table describes: a measured cpu or cuda device (a table of op entries), or the
// analytic 2-party mpc model. Files and flags spell them "cpu", "cuda", "mpc".
enum class DeviceKind { cpu, cuda, mpc };
inline constexpr DeviceKind kDeviceKinds[] = {DeviceKind::cpu, DeviceKind::cuda, DeviceKind::mpc};
std::string to_string(DeviceKind k);
// A --device flag: "cpu", "cuda", "cuda:N" or "mpc"; InputError otherwise.
DeviceKind device_kind_of(const std::string& device);

struct DeviceInfo {
  DeviceKind kind = DeviceKind::cpu;
  std::string model;             // CPU model name, GPU name, or the MPC cost table's name
  int threads = 1;               // intra-op threads (cpu)
  int batch = 16;
  std::string dtype = "float32";
  std::string library;           // "libtorch 1.13.0" (cpu, cuda); "analytic" (mpc)
};

// This machine as a device of that kind (cuda: device `index`'s name); InputError for mpc,
// which is a model, not a machine.
DeviceInfo current_device(DeviceKind kind, int threads, int batch, const std::string& dtype,
                          int cuda_index = 0);

nlohmann::json device_to_json(const DeviceInfo& d);
DeviceInfo device_from_json(const nlohmann::json& j, const std::string& where);  // InputError naming `where`

// InputError "<what> was made on <field> = X, but this is Y" for the first field that differs.
void require_same_device(const DeviceInfo& table, const DeviceInfo& here, const std::string& what);

// What `latency predict` is asked to predict for (--device, --threads, --batch; empty or 0 when
// not stated) must be the table's: InputError naming `what` (the table file) otherwise.
void require_prediction_target(const DeviceInfo& table, const std::string& device, int threads,
                               int batch, const std::string& what);

}  // namespace vitnas
