#include "profile/timer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include <torch/torch.h>

#include "profile/benchmark.h"

#ifdef VITNAS_WITH_CUDA
#include <ATen/cuda/CUDAEvent.h>
#endif

namespace vitnas {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::zeros({1}, torch::TensorOptions().device(device)).cpu();
}

// The time of `calls` calls, in ms.
double sample(const std::function<void()>& run, const torch::Device& device, int calls) {
#ifdef VITNAS_WITH_CUDA
  if (device.is_cuda()) {
    at::cuda::CUDAEvent start(cudaEventDefault), stop(cudaEventDefault);  // timing enabled
    start.record();
    for (int i = 0; i < calls; ++i) run();
    stop.record();
    stop.synchronize();
    return double(start.elapsed_time(stop));
  }
#endif
  const auto t0 = Clock::now();
  for (int i = 0; i < calls; ++i) run();
  synchronize(device);
  return ms_since(t0);
}

}  // namespace

Timing robust_summary(const std::vector<double>& samples_ms) {
  Timing t;
  if (samples_ms.empty()) return t;
  const double med = median(samples_ms);
  std::vector<double> dev;
  for (double s : samples_ms) dev.push_back(std::abs(s - med));
  const double mad = std::max(median(dev), 1e-3 * med);  // guard against a MAD of 0
  std::vector<double> kept;
  for (double s : samples_ms)
    if (std::abs(s - med) <= 5.0 * 1.4826 * mad) kept.push_back(s);
  t.samples = int(kept.size());
  t.rejected = int(samples_ms.size() - kept.size());
  t.median_ms = median(kept);
  t.mean_ms = std::accumulate(kept.begin(), kept.end(), 0.0) / double(kept.size());
  t.spread = (percentile(kept, 0.9) - percentile(kept, 0.1)) / t.median_ms;
  return t;
}

Timing time_calls(const std::function<void()>& run, const torch::Device& device,
                  const TimingOptions& o) {
  torch::NoGradGuard no_grad;
  // Warm-up, which also measures one call to size the samples.
  const auto warm = Clock::now();
  int calls = 0;
  double one_ms = 0;
  while (calls < o.warmup_calls || ms_since(warm) < o.warmup_s * 1e3) {
    one_ms = sample(run, device, 1);
    ++calls;
  }
  const int per_sample = std::max(1, int(std::ceil(o.min_sample_ms / std::max(one_ms, 1e-6))));

  std::vector<double> samples;
  const auto start = Clock::now();
  while (int(samples.size()) < o.min_samples || ms_since(start) < o.seconds * 1e3)
    samples.push_back(sample(run, device, per_sample) / per_sample);
  return robust_summary(samples);
}

}  // namespace vitnas
