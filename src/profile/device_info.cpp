#include "profile/device_info.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <torch/version.h>

#include "core/error.h"
#include "core/json_read.h"

#ifdef VITNAS_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

namespace vitnas {

namespace {

// The model name and the widest vector ISA: the same name covers machine kinds with and without
// AVX-512 (e.g. "AMD EPYC" on this project's machines), whose op latencies differ by 2-3x.
std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, name = "unknown cpu", isa;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string value = line.substr(std::min(line.size(), colon + 2));
    if (line.rfind("model name", 0) == 0 && name == "unknown cpu") name = value;
    if (line.rfind("flags", 0) == 0 && isa.empty()) {
      const std::string flags = " " + value + " ";
      isa = flags.find(" avx512f ") != std::string::npos ? "avx512"
            : flags.find(" avx2 ") != std::string::npos  ? "avx2"
                                                          : "no avx2";
    }
  }
  return isa.empty() ? name : name + " (" + isa + ")";
}

std::string gpu_model(int index) {
#ifdef VITNAS_WITH_CUDA
  return at::cuda::getDeviceProperties(index)->name;
#else
  (void)index;
  throw InputError("--device cuda: this build of vitnas has no CUDA (LibTorch without CUDA)");
#endif
}

}  // namespace

std::string to_string(DeviceKind k) {
  switch (k) {
    case DeviceKind::cpu: return "cpu";
    case DeviceKind::cuda: return "cuda";
    case DeviceKind::mpc: return "mpc";
  }
  throw std::logic_error("to_string: invalid DeviceKind");
}

DeviceKind device_kind_of(const std::string& device) {
  if (device == "cpu") return DeviceKind::cpu;
  if (device == "mpc") return DeviceKind::mpc;
  if (device.rfind("cuda", 0) == 0) return DeviceKind::cuda;  // cuda, cuda:N (checked when used)
  throw InputError("--device: use cpu, cuda[:N] or mpc, got '" + device + "'");
}

DeviceInfo current_device(DeviceKind kind, int threads, int batch, const std::string& dtype,
                          int cuda_index) {
  DeviceInfo d;
  d.kind = kind;
  d.threads = threads;
  d.batch = batch;
  d.dtype = dtype;
  d.library = std::string("libtorch ") + TORCH_VERSION;
  switch (kind) {
    case DeviceKind::cpu: d.model = cpu_model(); break;
    case DeviceKind::cuda: d.model = gpu_model(cuda_index); break;
    case DeviceKind::mpc: throw InputError("mpc is an analytic model, not a device to measure");
  }
  return d;
}

nlohmann::json device_to_json(const DeviceInfo& d) {
  return {{"kind", to_string(d.kind)}, {"model", d.model}, {"threads", d.threads}, {"batch", d.batch},
          {"dtype", d.dtype}, {"library", d.library}};
}

DeviceInfo device_from_json(const nlohmann::json& j, const std::string& where) {
  require(j.is_object(), where + ": 'device' must be an object");
  DeviceInfo d;
  std::string kind;
  try {
    kind = j.at("kind").get<std::string>();
    d.model = j.at("model").get<std::string>();
    // as_int, not get<int>(): a float such as 1e300 converted to int is undefined behaviour.
    d.threads = json_read::as_int(j.at("threads"), where + ": device.threads");
    d.batch = json_read::as_int(j.at("batch"), where + ": device.batch");
    d.dtype = j.at("dtype").get<std::string>();
    d.library = j.at("library").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(where + ": device: " + e.what());
  }
  const auto* k = std::find_if(std::begin(kDeviceKinds), std::end(kDeviceKinds),
                               [&](DeviceKind c) { return to_string(c) == kind; });
  require(k != std::end(kDeviceKinds), where + ": device.kind must be cpu, cuda or mpc");
  d.kind = *k;
  require(d.threads >= 1 && d.batch >= 1, where + ": device.threads and device.batch must be >= 1");
  return d;
}

void require_same_device(const DeviceInfo& table, const DeviceInfo& here, const std::string& what) {
  auto check = [&](const std::string& field, const std::string& a, const std::string& b) {
    require(a == b, what + " was made for " + field + " '" + a + "', but this is '" + b +
                        "': profile this device (vitnas profile) or use its own table");
  };
  check("device", to_string(table.kind), to_string(here.kind));
  check("model", table.model, here.model);
  check("threads", std::to_string(table.threads), std::to_string(here.threads));
  check("batch", std::to_string(table.batch), std::to_string(here.batch));
  check("dtype", table.dtype, here.dtype);
  check("library", table.library, here.library);
}

void require_prediction_target(const DeviceInfo& table, const std::string& device, int threads,
                               int batch, const std::string& what) {
  if (!device.empty())
    require(device_kind_of(device) == table.kind,
            what + " is a table of device " + to_string(table.kind) + ", not " + device);
  if (threads > 0)
    require(threads == table.threads, what + " was measured with " + std::to_string(table.threads) +
                                          " thread(s), not " + std::to_string(threads));
  if (batch > 0)
    require(batch == table.batch, what + " was measured at batch " + std::to_string(table.batch) +
                                      ", not " + std::to_string(batch));
}

}  // namespace vitnas
