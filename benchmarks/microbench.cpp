// Micro-benchmarks behind the README's performance notes: each vitnas kernel or layout choice
// against the ATen path it replaces, on EfficientViT-M0's shapes (batch 16, one thread).
//   ./build/vitnas_microbench [--benchmark_repetitions=5 --benchmark_report_aggregates_only=true]
#include <benchmark/benchmark.h>

#include <torch/torch.h>

#include "models/kernels/onednn_conv.h"
#include "models/kernels/softmax.h"
#include "models/kernels/stem_conv.h"

namespace {

using torch::Tensor;

// Stage 1 of M0: 16 images x 4 windows of 7x7 tokens, heads of key_dim 16 and v_dim 16.
constexpr int64_t kWindows = 64, kTokens = 49, kKeyDim = 16, kVDim = 16;

void BM_Softmax_ATen(benchmark::State& state) {
  auto s = torch::randn({kWindows, kTokens, kTokens});
  auto bias = torch::randn({kTokens, kTokens});
  for (auto _ : state) benchmark::DoNotOptimize((s + bias).softmax(-1));
}

void BM_Softmax_vitnas(benchmark::State& state) {
  auto s = torch::randn({kWindows, kTokens, kTokens});
  auto bias = torch::randn({kTokens, kTokens});
  for (auto _ : state) {
    auto t = s.clone();  // the kernel is in place; the clone is ~10% of its time
    vitnas::kernels::bias_softmax_(t, bias);
    benchmark::DoNotOptimize(t);
  }
}

struct Heads {
  Tensor q, k, v, bias;
  Heads() {
    auto qkv = torch::randn({kWindows, kTokens, 2 * kKeyDim + kVDim});
    q = qkv.narrow(2, 0, kKeyDim).contiguous();
    k = qkv.narrow(2, kKeyDim, kKeyDim);
    v = qkv.narrow(2, 2 * kKeyDim, kVDim);
    bias = torch::randn({kTokens, kTokens});
  }
};

void BM_WindowAttention_ATen(benchmark::State& state) {
  Heads h;
  for (auto _ : state) {
    auto scores = torch::bmm(h.q, h.k.transpose(1, 2)).add_(h.bias).softmax(-1);
    benchmark::DoNotOptimize(torch::bmm(scores, h.v));
  }
}

void BM_WindowAttention_vitnas(benchmark::State& state) {
  Heads h;
  for (auto _ : state)
    benchmark::DoNotOptimize(vitnas::kernels::window_softmax_attention(h.q, h.k, h.v, h.bias));
}

// A 1x1 conv 64 -> 128 on a (16, 64, side, side) map, three ways.
template <int kSide>
struct Pointwise {
  Tensor x = torch::randn({16, 64, kSide, kSide});
  Tensor x_cl = x.contiguous(at::MemoryFormat::ChannelsLast);
  Tensor rows = x_cl.permute({0, 2, 3, 1}).reshape({-1, 64});
  Tensor w = torch::randn({128, 64, 1, 1});
  Tensor wt = w.flatten(1).t().contiguous();
  Tensor b = torch::randn({128});
};

template <int kSide>
void BM_Pointwise_NCHW(benchmark::State& state) {
  Pointwise<kSide> p;
  for (auto _ : state) benchmark::DoNotOptimize(torch::conv2d(p.x, p.w, p.b));
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * p.rows.size(0) * 64 * 128 * state.iterations(), benchmark::Counter::kIsRate);
}

template <int kSide>
void BM_Pointwise_ChannelsLast(benchmark::State& state) {
  Pointwise<kSide> p;
  for (auto _ : state) benchmark::DoNotOptimize(torch::conv2d(p.x_cl, p.w, p.b));
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * p.rows.size(0) * 64 * 128 * state.iterations(), benchmark::Counter::kIsRate);
}

template <int kSide>
void BM_Pointwise_BLAS(benchmark::State& state) {
  Pointwise<kSide> p;
  for (auto _ : state) benchmark::DoNotOptimize(torch::addmm(p.b, p.rows, p.wt));
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * p.rows.size(0) * 64 * 128 * state.iterations(), benchmark::Counter::kIsRate);
}

// M0's first stem conv: 3 -> 8 channels, 224 -> 112, with bias and ReLU.
struct Stem {
  Tensor x = torch::randn({16, 3, 224, 224});
  Tensor w = torch::randn({8, 3, 3, 3});
  Tensor b = torch::randn({8});
};

void BM_StemConv_ATen(benchmark::State& state) {
  Stem s;
  for (auto _ : state) benchmark::DoNotOptimize(torch::conv2d(s.x, s.w, s.b, 2, 1).relu_());
}

void BM_StemConv_vitnas(benchmark::State& state) {
  Stem s;
  for (auto _ : state) benchmark::DoNotOptimize(vitnas::kernels::stem_conv3x3_s2(s.x, s.w, s.b, true));
}

// A conv of the fused network on a channels-last map, with its ReLU: through at::conv2d (what the
// fused network did before) against oneDNN called directly (kernels::OneDnnConv, ReLU fused).
// Shapes: M0-M5's stage-3 3x3 depthwise conv at batch 16 (16, 4, 4, 192), and a 192 -> 384 1x1
// conv at batch 1.
struct MapConv {
  int64_t batch, channels, out, k, groups;
  Tensor x, w, b;
  MapConv(int64_t batch_, int64_t channels_, int64_t out_, int64_t k_, int64_t groups_)
      : batch(batch_), channels(channels_), out(out_), k(k_), groups(groups_),
        x(torch::randn({batch_, 4, 4, channels_})),
        w(torch::randn({out_, channels_ / groups_, k_, k_})), b(torch::randn({out_})) {}
};
MapConv depthwise_b16() { return {16, 192, 192, 3, 192}; }
MapConv pointwise_b1() { return {1, 192, 384, 1, 1}; }

template <MapConv (*Shape)()>
void BM_MapConv_ATen(benchmark::State& state) {
  MapConv c = Shape();
  auto w = c.w.contiguous(at::MemoryFormat::ChannelsLast);
  for (auto _ : state)
    benchmark::DoNotOptimize(torch::conv2d(c.x.permute({0, 3, 1, 2}), w, c.b, 1, c.k / 2, 1, c.groups)
                                 .permute({0, 2, 3, 1}).contiguous().relu_());
}

template <MapConv (*Shape)()>
void BM_MapConv_OneDnn(benchmark::State& state) {
  MapConv c = Shape();
  if (!vitnas::kernels::OneDnnConv::available(c.x)) return state.SkipWithError("built without oneDNN");
  const vitnas::kernels::OneDnnConv conv(c.w, c.b, 1, c.k / 2, c.groups);
  for (auto _ : state) benchmark::DoNotOptimize(conv(c.x, {}, /*relu=*/true));
}

BENCHMARK_TEMPLATE(BM_MapConv_ATen, depthwise_b16)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_MapConv_OneDnn, depthwise_b16)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_MapConv_ATen, pointwise_b1)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_MapConv_OneDnn, pointwise_b1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_StemConv_ATen)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_StemConv_vitnas)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Softmax_ATen)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Softmax_vitnas)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_WindowAttention_ATen)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_WindowAttention_vitnas)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_Pointwise_NCHW, 14)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_Pointwise_ChannelsLast, 14)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_Pointwise_BLAS, 14)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_Pointwise_NCHW, 56)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_Pointwise_ChannelsLast, 56)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_Pointwise_BLAS, 56)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  torch::set_num_threads(1);  // the official CPU protocol
  torch::NoGradGuard no_grad;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
