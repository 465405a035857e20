// Timing one op or one network the way a latency table needs it: warm-up, repeated samples,
// outliers rejected, median and spread. On CUDA each sample is bracketed by CUDA events (when
// the LibTorch build has CUDA) and synchronised, so asynchronous launches are not mistaken for
// work done.
#pragma once

#include <functional>

#include <torch/types.h>

namespace vitnas {

struct TimingOptions {
  double warmup_s = 0.05;     // run at least this long before sampling ...
  int warmup_calls = 3;       // ... and at least this many calls
  double seconds = 0.25;      // sample at least this long ...
  int min_samples = 15;       // ... and at least this many samples
  double min_sample_ms = 2.0; // calls per sample are batched up to this (timer resolution)
};

struct Timing {
  double median_ms = 0;  // per call, over the kept samples
  double mean_ms = 0;
  double spread = 0;     // (p90 - p10) / median of the kept samples
  int samples = 0;       // kept
  int rejected = 0;      // outliers dropped: further than 5 MADs above or below the median
};

// Times run() on `device` (run launches the work; this function synchronises).
Timing time_calls(const std::function<void()>& run, const torch::Device& device,
                  const TimingOptions& options = {});

// Median and spread of samples with outliers beyond 5 MADs of the median dropped.
Timing robust_summary(const std::vector<double>& samples_ms);

}  // namespace vitnas
