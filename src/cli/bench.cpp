// vitnas bench --arch ARCH: throughput with the official speed-test protocol (fused, eval, no
// grad, warm-up, timed iterations). --baseline also times the official network form (every
// Conv2d_BN replaced by its folded conv, as the official speed test does) in the same run,
// interleaved round by round, and prints the speedup.
#include <algorithm>
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/limits.h"
#include "core/error.h"
#include "core/memory.h"
#include "models/inference.h"
#include "models/weights.h"
#include "models/fused_efficientvit.h"
#include "profile/benchmark.h"
#include "profile/step_profile.h"

namespace vitnas::cli {

namespace {

struct BenchCliOptions {
  CommonOptions common;
  std::vector<std::string> archs;
  std::string weights, device = "cpu", dtype = "float32";
  int threads = 1;
  int64_t batch = 0;  // 0: 16 on CPU, 2048 on CUDA (the official protocol)
  int64_t res = 0;    // 0: the architecture's img_size
  double seconds = 60.0, warmup = 10.0;
  int rounds = 3;
  bool baseline = false, unfused = false, profile = false;
};

nlohmann::json to_json(const BenchResult& r) {
  return {{"img_per_s", r.img_per_s}, {"img_per_s_mean", r.img_per_s_mean},
          {"median_ms", r.median_ms}, {"mean_ms", r.mean_ms}, {"p10_ms", r.p10_ms},
          {"p90_ms", r.p90_ms}, {"spread", r.spread}, {"iterations", r.iterations}};
}

// Measures one architecture; returns its JSON row.
nlohmann::json bench_one(const std::string& arch, const BenchCliOptions& o,
                         const torch::Device& device) {
  ArchSpec spec = load_arch(arch);
  if (o.res > 0) spec.img_size = int(o.res);  // the same network at another input size
  validate(spec);
  if (device.is_cpu())
    require_memory(spec, o.batch, Workload::Inference,
                   "bench --batch " + std::to_string(o.batch) + " of " + spec.name + " at " +
                       std::to_string(spec.img_size) + "x" + std::to_string(spec.img_size));

  auto model = build_model(spec);
  if (!o.weights.empty()) {
    require(o.res == 0 || o.res == load_arch(arch).img_size,
            "--weights with --res: weights are tied to the architecture's img_size");
    load_weights(*model, o.weights);
  }
  // Half precision (CUDA): the model is converted first, so BN is folded in half precision.
  const auto dtype = o.dtype == "float16" ? torch::kFloat16 : torch::kFloat32;
  model->eval();
  move_to(*model, device, dtype);
  std::unique_ptr<InferenceNet> net = o.unfused ? unfused(model) : fuse(*model);
  std::unique_ptr<InferenceNet> base = o.baseline ? official_fused(*model) : nullptr;
  const auto* fused = dynamic_cast<const FusedEfficientViT*>(net.get());
  require(!o.profile || fused != nullptr,
          "--profile: per-step times exist for the fused efficientvit network only");

  BenchOptions bo;
  bo.batch = o.batch;
  bo.resolution = spec.img_size;
  bo.in_chans = spec.in_chans;
  bo.device = device;
  bo.dtype = dtype;
  bo.seconds = o.seconds / o.rounds;
  bo.warmup_s = o.warmup;

  spdlog::info("bench {}: {} threads, batch {}, {}x{}, {} s warm-up, {} s timed in {} rounds{}",
               spec.name, o.threads, o.batch, spec.img_size, spec.img_size, o.warmup, o.seconds,
               o.rounds, base ? " (interleaved with the official-form baseline)" : "");
  Progress progress("bench " + spec.name);
  std::vector<double> ours_ms, theirs_ms;  // every timed iteration of every round
  const int parts = base ? 2 : 1;
  for (int round = 0; round < o.rounds; ++round) {
    auto report = [&](int part) {
      return [&, part](double f) { progress.update((round * parts + part + f) / (o.rounds * parts)); };
    };
    auto record = [&](const std::unique_ptr<InferenceNet>& n, int part, std::vector<double>& ms) {
      auto r = benchmark([&](const torch::Tensor& x) { return n->forward(x); }, bo, report(part));
      ms.insert(ms.end(), r.iteration_ms.begin(), r.iteration_ms.end());
    };
    record(net, 0, ours_ms);
    if (base) record(base, 1, theirs_ms);
    bo.warmup_s = std::min(bo.warmup_s, 1.0);  // later rounds only need to re-warm caches
  }
  const BenchResult r = summarize(ours_ms, o.batch);
  progress.update(1.0);

  nlohmann::json j = to_json(r);
  j["arch"] = spec.name;
  j["device"] = device.str();
  j["dtype"] = o.dtype;
  j["threads"] = o.threads;
  j["batch"] = o.batch;
  j["res"] = spec.img_size;
  j["network"] = o.unfused ? "unfused" : "fused";
  if (base) {
    const BenchResult b = summarize(theirs_ms, o.batch);
    j["baseline"] = to_json(b);
    j["speedup"] = r.img_per_s / b.img_per_s;
  }
  if (o.profile) {
    auto x = torch::randn({o.batch, spec.in_chans, spec.img_size, spec.img_size}).to(device, dtype);
    nlohmann::json steps = nlohmann::json::array();
    for (const auto& s : profile_steps(*fused, x, 20))
      steps.push_back({{"name", s.name}, {"median_ms", s.median_ms}});
    j["steps"] = steps;
  }
  return j;
}

// "stem", "dw", "ffn", "mixer", "subsample" (a subsample's DW/FFN pair), "patch_merging", "head".
std::string step_kind(const std::string& name) {
  const auto dots = std::count(name.begin(), name.end(), '.');
  if (dots == 0) return name == "patch_embed" ? "stem" : name;
  if (dots == 1) return "patch_merging";  // "blocksK.1"
  std::string part = name.substr(name.rfind('.') + 1);
  part.erase(std::remove_if(part.begin(), part.end(), ::isdigit), part.end());
  return part.empty() ? "subsample" : part;  // "blocksK.0.1" vs "blocksK.3.ffn0"
}

// Per-step table, then the total per kind of step.
void print_profile(const nlohmann::json& steps) {
  std::map<std::string, double> by_kind;
  double total = 0;
  std::printf("%-24s %9s\n", "step", "ms");
  for (const auto& s : steps) {
    const auto name = s["name"].get<std::string>();
    const double ms = s["median_ms"].get<double>();
    std::printf("%-24s %9.3f\n", name.c_str(), ms);
    by_kind[step_kind(name)] += ms;
    total += ms;
  }
  std::printf("total %.2f ms:", total);
  for (const auto& [kind, ms] : by_kind) std::printf("  %s %.2f", kind.c_str(), ms);
  std::printf("\n");
}

void run_bench(BenchCliOptions o) {
  apply_common_options(o.common);
  set_threads(o.threads);
  const torch::Device device = parse_device(o.device);
  require(o.dtype == "float32" || o.dtype == "float16", "--dtype: use float32 or float16");
  require(o.dtype == "float32" || device.is_cuda(), "--dtype float16 needs --device cuda");
  if (o.batch == 0) o.batch = device.is_cuda() ? 2048 : 16;  // unset (the flag refuses 0)
  require(o.weights.empty() || o.archs.size() == 1, "--weights needs exactly one --arch");

  nlohmann::json rows = nlohmann::json::array();
  for (const auto& arch : o.archs) rows.push_back(bench_one(arch, o, device));
  if (o.common.json) {
    print_json(rows);  // a list, one row per --arch, however many there are
    return;
  }
  std::printf("%-12s %10s %10s %8s %9s", "arch", "img/s", "ms/batch", "spread", "iters");
  if (o.baseline) std::printf(" %14s %8s", "official img/s", "speedup");
  std::printf("\n");
  for (const auto& j : rows) {
    std::printf("%-12s %10.1f %10.2f %7.1f%% %9d", j["arch"].get<std::string>().c_str(),
                j["img_per_s"].get<double>(), j["median_ms"].get<double>(),
                100 * j["spread"].get<double>(), j["iterations"].get<int>());
    if (o.baseline)
      std::printf(" %14.1f %7.2fx", j["baseline"]["img_per_s"].get<double>(),
                  j["speedup"].get<double>());
    std::printf("\n");
  }
  std::printf("(%s, %d thread(s), batch %lld, %s; img/s = batch / median iteration time)\n",
              o.device.c_str(), o.threads, static_cast<long long>(o.batch), o.dtype.c_str());
  for (const auto& j : rows)
    if (j.contains("steps")) {
      std::printf("\n%s, time per step of the fused network (median of 20 batches):\n",
                  j["arch"].get<std::string>().c_str());
      print_profile(j["steps"]);
    }
}

}  // namespace

void register_bench(CLI::App& root) {
  auto o = std::make_shared<BenchCliOptions>();
  auto* sub = root.add_subcommand("bench", "throughput (img/s) with the official speed-test protocol");
  sub->add_option("--arch", o->archs, "preset or ArchSpec JSON; several: m0,m1,... (one row each)")
      ->required()
      ->delimiter(',')
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub->add_option("--weights", o->weights, "safetensors weights (default: random init)");
  sub->add_option("--device", o->device, "cpu or cuda[:N]")->capture_default_str();
  sub->add_option("--dtype", o->dtype, "float32, or float16 on CUDA")->capture_default_str();
  sub->add_option("--threads", o->threads, "intra-op CPU threads")->check(thread_count(false))->capture_default_str();
  sub->add_option("--batch", o->batch, "batch size (default 16 on CPU, 2048 on CUDA)")->check(integer_in(1, kMaxBatch));
  sub->add_option("--res", o->res, "input resolution (default: the architecture's img_size)")->check(integer_in(1, kMaxImgSize));
  sub->add_option("--seconds", o->seconds, "timed seconds in total")->check(number_in(0.01, kMaxSeconds))->capture_default_str();
  sub->add_option("--warmup", o->warmup, "warm-up seconds")->check(number_in(0, kMaxSeconds))->capture_default_str();
  sub->add_option("--rounds", o->rounds, "timed rounds (interleaved with --baseline)")->check(integer_in(1, 1000))->capture_default_str();
  sub->add_flag("--baseline", o->baseline, "also time the official network form and print the speedup");
  sub->add_flag("--unfused", o->unfused, "time the unfused eval network instead of the fused one");
  sub->add_flag("--profile", o->profile, "also time each step of the fused network (where the time goes)");
  add_common_options(*sub, o->common);
  sub->callback([o] { run_bench(*o); });
}

}  // namespace vitnas::cli
