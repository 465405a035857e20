// Measuring op signatures and whole networks on a device, in the inference form the
// networks run (fused ops, eval, no grad). Ops get random weights of the right shapes (scaled by
// 1/sqrt(fan_in), so activations stay in the normal float range) and a random input.
#pragma once

#include <memory>

#include <torch/types.h>

#include "core/arch_spec.h"
#include "models/inference.h"
#include "profile/op_signature.h"
#include "profile/latency_table.h"
#include "profile/timer.h"

namespace vitnas {

// One op of the fused network, timed on its own.
TableEntry measure_op(const OpSignature& s, const torch::Device& device, torch::Dtype dtype,
                      const TimingOptions& options);

// A whole fused network (random weights) and its input batch, ready to be timed end to end.
struct NetworkRunner {
  std::shared_ptr<InferenceNet> net;
  torch::Tensor input;
  void operator()() const { net->forward(input); }
};
NetworkRunner network_runner(const ArchSpec& spec, int batch, const torch::Device& device,
                             torch::Dtype dtype);

TableEntry measure_network(const ArchSpec& spec, int batch, const torch::Device& device,
                           torch::Dtype dtype, const TimingOptions& options);

}  // namespace vitnas
