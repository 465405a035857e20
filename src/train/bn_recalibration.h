// BN recalibration (OFA, AttentiveNAS): a subnet that inherits a supernet's weights inherits
// running statistics accumulated over other subnets, so they are re-estimated before it is
// evaluated. Works on any module: a supernet (with the subnet in `forward`) or a standalone network.
#pragma once

#include <functional>
#include <vector>

#include <torch/nn/module.h>
#include <torch/types.h>

namespace vitnas {

// Runs forward(batch) on every batch in train mode without gradients, so that each BatchNorm
// statistic a pass reaches becomes the plain mean over the batches of the batch statistics
// (mean, unbiased variance): PyTorch's momentum=None cumulative average. Statistics no pass
// reaches (a supernet's inactive slices) are left as they were. The model's mode and its BN
// momenta are restored afterwards. Deterministic (no randomness is drawn).
void recalibrate(torch::nn::Module& model, const std::function<void(const torch::Tensor&)>& forward,
                 const std::vector<torch::Tensor>& batches);

}  // namespace vitnas
