// Throughput measurement with the official EfficientViT speed-test protocol: eval network
// (fused), no grad, random input, warm-up for some seconds, then timed iterations; throughput =
// batch / iteration time. CUDA runs are synchronised after every iteration.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <torch/types.h>

namespace vitnas {

struct BenchOptions {
  int64_t batch = 16;
  int64_t resolution = 224;
  int64_t in_chans = 3;
  double warmup_s = 10.0;  // official: 10 s
  double seconds = 60.0;   // official: 60 s
  int min_iterations = 5;  // even when one iteration outlasts `seconds`
  torch::Device device = torch::kCPU;
  torch::Dtype dtype = torch::kFloat32;
  uint64_t seed = 0;
};

struct BenchResult {
  int iterations = 0;
  double mean_ms = 0;        // per batch
  double median_ms = 0;
  double p10_ms = 0, p90_ms = 0;
  double img_per_s = 0;      // batch / median iteration time
  double img_per_s_mean = 0; // batch / mean iteration time (the official figure)
  double spread = 0;         // (p90 - p10) / median of the iteration times
  std::vector<double> iteration_ms;
};

// Statistics of per-iteration times (e.g. pooled over several rounds).
BenchResult summarize(std::vector<double> iteration_ms, int64_t batch);

// Calls `run(x)` on one fixed random input (B, C, R, R); `progress` (optional) gets the fraction
// of the timed phase done.
BenchResult benchmark(const std::function<torch::Tensor(const torch::Tensor&)>& run,
                      const BenchOptions& options,
                      const std::function<void(double)>& progress = {});

// The median of a list of samples (sorted copy); 0 for an empty list.
double median(std::vector<double> samples);
double percentile(std::vector<double> samples, double q);  // q in [0, 1], linear interpolation

}  // namespace vitnas
