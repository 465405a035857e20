#include "profile/benchmark.h"

#include <algorithm>
#include <chrono>
#include <numeric>

#include <torch/torch.h>

namespace vitnas {

double percentile(std::vector<double> samples, double q) {
  if (samples.empty()) return 0.0;
  std::sort(samples.begin(), samples.end());
  const double pos = q * double(samples.size() - 1);
  const auto lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, samples.size() - 1);
  return samples[lo] + (pos - double(lo)) * (samples[hi] - samples[lo]);
}

double median(std::vector<double> samples) { return percentile(std::move(samples), 0.5); }

namespace {

using Clock = std::chrono::steady_clock;

void synchronize(const torch::Device& device) {
  // torch::cuda::synchronize exists only in LibTorch >= 1.13 builds with CUDA; a tiny copy to the
  // host synchronises the current stream on every version.
  if (device.is_cuda()) torch::zeros({1}, torch::TensorOptions().device(device)).cpu();
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

BenchResult benchmark(const std::function<torch::Tensor(const torch::Tensor&)>& run,
                      const BenchOptions& o, const std::function<void(double)>& progress) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(o.seed);
  auto x = torch::randn({o.batch, o.in_chans, o.resolution, o.resolution})
               .to(o.device, o.dtype);

  const auto warm_start = Clock::now();
  do {
    run(x);
    synchronize(o.device);
  } while (seconds_since(warm_start) < o.warmup_s);

  std::vector<double> ms;
  const auto start = Clock::now();
  while (seconds_since(start) < o.seconds || int(ms.size()) < o.min_iterations) {
    const auto t0 = Clock::now();
    run(x);
    synchronize(o.device);
    ms.push_back(seconds_since(t0) * 1e3);
    if (progress) progress(std::min(1.0, seconds_since(start) / std::max(o.seconds, 1e-9)));
  }

  return summarize(std::move(ms), o.batch);
}

BenchResult summarize(std::vector<double> ms, int64_t batch) {
  BenchResult r;
  if (ms.empty()) return r;
  r.iterations = int(ms.size());
  r.mean_ms = std::accumulate(ms.begin(), ms.end(), 0.0) / double(ms.size());
  r.median_ms = median(ms);
  r.p10_ms = percentile(ms, 0.1);
  r.p90_ms = percentile(ms, 0.9);
  r.img_per_s = double(batch) / (r.median_ms / 1e3);
  r.img_per_s_mean = double(batch) / (r.mean_ms / 1e3);
  r.spread = (r.p90_ms - r.p10_ms) / r.median_ms;
  r.iteration_ms = std::move(ms);
  return r;
}

}  // namespace vitnas
