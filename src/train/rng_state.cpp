#include "train/rng_state.h"

#include <mutex>
#include <sstream>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "core/error.h"

namespace vitnas {

torch::Tensor torch_cpu_rng_state() {
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state().clone();
}

void set_torch_cpu_rng_state(const torch::Tensor& state, const std::string& source) {
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  const auto expected = gen.get_state();  // the size differs between LibTorch versions
  require(state.defined() && state.scalar_type() == torch::kUInt8 &&
              state.numel() == expected.numel(),
          source + ": torch RNG state must be " + std::to_string(expected.numel()) +
              " uint8 values (was it saved by another LibTorch version?)");
  gen.set_state(state.contiguous().cpu());
}

std::string engine_to_text(const std::mt19937_64& engine) {
  std::ostringstream out;
  out << engine;
  return out.str();
}

std::mt19937_64 engine_from_text(const std::string& text, const std::string& source) {
  std::istringstream in(text);
  std::mt19937_64 engine;
  in >> engine;
  require(!in.fail(), source + ": malformed mt19937_64 RNG state");
  in >> std::ws;
  require(in.eof(), source + ": trailing data after the mt19937_64 RNG state");
  return engine;
}

RngState capture_rng_state(const std::mt19937_64& engine) {
  return {torch_cpu_rng_state(), engine_to_text(engine)};
}

void restore_rng_state(const RngState& state, std::mt19937_64& engine, const std::string& source) {
  auto restored = engine_from_text(state.engine, source);  // parse first: all or nothing
  set_torch_cpu_rng_state(state.torch_cpu, source);
  engine = restored;
}

}  // namespace vitnas
