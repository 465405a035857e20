// The random state a checkpoint needs so that a resumed run draws the same numbers as an
// uninterrupted one: torch's default CPU generator (dropout, drop-path, init, randperm) and the
// std::mt19937_64 the data pipeline uses. (CUDA generators are not covered: CPU build.)
#pragma once

#include <random>
#include <string>

#include <torch/types.h>

namespace vitnas {

struct RngState {
  torch::Tensor torch_cpu;  // uint8 tensor from the generator's get_state(); safetensors "U8"
  std::string engine;       // the mt19937_64 in its standard text form; a metadata string
};

// Snapshot of torch's default CPU generator and of `engine`.
RngState capture_rng_state(const std::mt19937_64& engine);
// Restores both. InputError (naming `source`) if the torch state has the wrong size or dtype,
// or the engine text does not parse; nothing is changed then.
void restore_rng_state(const RngState& state, std::mt19937_64& engine, const std::string& source);

// The parts on their own.
torch::Tensor torch_cpu_rng_state();
void set_torch_cpu_rng_state(const torch::Tensor& state, const std::string& source);
std::string engine_to_text(const std::mt19937_64& engine);
std::mt19937_64 engine_from_text(const std::string& text, const std::string& source);

}  // namespace vitnas
