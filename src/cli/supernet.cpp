// vitnas supernet train|eval|extract: the weight-sharing supernet of a search space.
//   train    --space S.json --data D --epochs E --out DIR [--random-subnets 2] [--bn-batches 10]
//            [the training flags of `train`]: the sandwich rule with in-place distillation
//   eval     --supernet DIR (--arch A[,B...] | --samples N [--seed K]) [--table T.json]: top-1
//            of subnets with inherited weights after BN recalibration, params, MACs, latency
//   extract  --supernet DIR --arch A --out DIR2: arch.json + weights.safetensors (official keys)
//            that info, bench, forward and train (--init-weights) accept
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/limits.h"
#include "cli/train_options.h"
#include "core/complexity.h"
#include "core/error.h"
#include "core/search_space.h"
#include "models/weights.h"
#include "profile/latency_model.h"
#include "train/supernet_dir.h"

namespace vitnas::cli {

namespace {

struct SubnetOptions {
  CommonOptions common;
  std::string supernet, archs, table, out, device = "cpu";
  int samples = 0;
  uint64_t seed = 0;
  int64_t bn_batches = -1;  // -1: the recipe's
  bool ema = false;
  int threads = 0;
};

// "largest,m0,a.json" -> the ArchSpecs, each in the space: "largest" and "smallest" name the
// space's extremes, anything else is a preset or an ArchSpec JSON file.
std::vector<ArchSpec> load_archs(const std::string& list, const SearchSpace& space) {
  std::vector<ArchSpec> out;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');) {
    if (item.empty()) continue;
    out.push_back(item == "largest" ? largest(space)
                  : item == "smallest" ? smallest(space)
                                       : load_arch(item));
    require_in_space(space, out.back());
  }
  require(!out.empty(), "--arch: name at least one architecture");
  return out;
}

SupernetDir open(const SubnetOptions& o) {
  apply_common_options(o.common);
  require(o.bn_batches >= -1, "--bn-batches: must be >= 0");
  set_threads(o.threads > 0 ? o.threads : machine_cores());
  return open_supernet(o.supernet, parse_device(o.device), o.ema);
}

int64_t bn_batches(const SubnetOptions& o, const SupernetDir& s) {
  return o.bn_batches >= 0 ? o.bn_batches : s.recipe.bn_batches;
}

void run_eval(const SubnetOptions& o) {
  require(o.archs.empty() != (o.samples == 0), "give --arch or --samples N (one of them)");
  require(o.samples >= 0, "--samples: must be >= 1");
  const auto latency = o.table.empty() ? nullptr : make_latency_model(load_table(o.table));
  SupernetDir s = open(o);
  const std::vector<ArchSpec> subnets = o.samples > 0
                                            ? sample_distinct(s.space, o.samples, o.seed, {}, "sample")
                                            : load_archs(o.archs, s.space);
  SubnetEvaluator evaluate = make_evaluator(s, bn_batches(o, s), 2);

  nlohmann::json rows = nlohmann::json::array();
  Progress bar("eval");
  for (size_t i = 0; i < subnets.size(); ++i) {
    const ArchSpec& a = subnets[i];
    const auto start = std::chrono::steady_clock::now();
    const EvalResult r = evaluate(a);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const Complexity c = complexity(a);
    nlohmann::json row = {{"name", a.name},   {"top1", r.top1},      {"top5", r.top5},
                          {"loss", r.loss},   {"images", r.images},  {"params", c.params},
                          {"macs", c.macs},   {"seconds", seconds},  {"arch", arch_to_json(a)}};
    if (latency) {
      row["latency"] = latency->cost(a);
      row["latency_unit"] = latency->unit();
    }
    rows.push_back(row);
    bar.update(double(i + 1) / double(subnets.size()), a.name);
  }
  if (o.common.json) {
    print_json({{"supernet", o.supernet}, {"space", s.space.name},
                {"bn_batches", bn_batches(o, s)}, {"subnets", rows}});
    return;
  }
  std::printf("%-12s %8s %8s %12s %10s %12s %8s\n", "subnet", "top-1 %", "loss", "params",
              "MMACs", latency ? ("latency " + latency->unit()).c_str() : "", "eval s");
  for (const auto& r : rows)
    std::printf("%-12s %8.2f %8.4f %12lld %10.2f %12s %8.3f\n",
                r["name"].get<std::string>().c_str(), r["top1"].get<double>(),
                r["loss"].get<double>(), static_cast<long long>(r["params"].get<int64_t>()),
                double(r["macs"].get<int64_t>()) / 1e6,
                r.contains("latency") ? fmt::format("{:.4g}", r["latency"].get<double>()).c_str()
                                      : "",
                r["seconds"].get<double>());
}

void run_extract(const SubnetOptions& o) {
  require(!o.out.empty(), "--out: the directory to write arch.json and weights.safetensors");
  SupernetDir s = open(o);
  const std::vector<ArchSpec> archs = load_archs(o.archs, s.space);
  require(archs.size() == 1, "--arch: extract takes one architecture");
  SubnetEvaluator evaluate = make_evaluator(s, bn_batches(o, s), 2);
  const Classifier model = evaluate.extract(archs[0]);
  std::filesystem::create_directories(o.out);
  save_arch(archs[0], o.out + "/arch.json");
  save_weights(*model, o.out + "/weights.safetensors",
               {{"arch", archs[0].name}, {"supernet", o.supernet}});
  spdlog::info("wrote {0}/arch.json and {0}/weights.safetensors ({1}, BN recalibrated on {2} "
               "batches)", o.out, archs[0].name, bn_batches(o, s));
  if (o.common.json) print_json({{"out", o.out}, {"arch", archs[0].name}});
}

void add_supernet_options(CLI::App& sub, SubnetOptions& o) {
  sub.add_option("--supernet", o.supernet, "a `supernet train` run directory")->required();
  sub.add_option("--bn-batches", o.bn_batches,
                 "BN recalibration batches of the training split (default: the run's)")->check(integer_in(0, kMaxCount));
  sub.add_flag("--ema", o.ema, "use the EMA weights (supernet_ema.safetensors)");
  sub.add_option("--device", o.device, "cpu or cuda[:N]")->capture_default_str();
  sub.add_option("--threads", o.threads, "intra-op CPU threads (0: the machine's cores)")->check(thread_count(true));
  add_common_options(sub, o.common);
}

}  // namespace

void register_supernet(CLI::App& root) {
  auto* cmd = root.add_subcommand("supernet", "train a search space's weight-sharing supernet, "
                                              "evaluate and extract its subnets");
  cmd->require_subcommand(1);

  auto t = std::make_shared<TrainCliOptions>();
  auto space = std::make_shared<std::string>();
  auto* train = cmd->add_subcommand("train", "sandwich rule (largest, smallest, random subnets) "
                                             "with in-place distillation");
  train->add_option("--space", *space, "search space JSON (experiments/spaces/*.json)")->required();
  train->add_option("--random-subnets", t->recipe.random_subnets,
                    "random subnets per step besides the largest and smallest")->check(integer_in(0, 64))
      ->capture_default_str();
  train->add_option("--bn-batches", t->recipe.bn_batches,
                    "BN recalibration batches before each epoch's evaluation")->check(integer_in(0, kMaxCount))
      ->capture_default_str();
  add_training_options(*train, *t, /*classifier=*/false);
  train->callback([t, space] {
    TrainRecipe recipe = t->recipe;
    recipe.space = load_space(*space);
    recipe.arch = largest(*recipe.space);
    run_training_command(*t, recipe);
  });

  auto e = std::make_shared<SubnetOptions>();
  auto* eval = cmd->add_subcommand("eval", "top-1 of subnets with inherited weights (after BN "
                                           "recalibration), params, MACs, latency");
  eval->add_option("--arch", e->archs, "subnets, comma-separated: largest, smallest, presets or ArchSpec JSON files");
  eval->add_option("--samples", e->samples, "evaluate N distinct random subnets instead")->check(integer_in(1, 100000));
  eval->add_option("--seed", e->seed, "of --samples")->capture_default_str();
  eval->add_option("--table", e->table, "latency table: adds each subnet's predicted latency");
  add_supernet_options(*eval, *e);
  eval->callback([e] { run_eval(*e); });

  auto x = std::make_shared<SubnetOptions>();
  auto* extract = cmd->add_subcommand("extract", "a subnet as a standalone network (arch.json + "
                                                 "weights.safetensors, official keys)");
  extract->add_option("--arch", x->archs, "the subnet: largest, smallest, a preset or ArchSpec JSON")->required();
  extract->add_option("--out", x->out, "output directory")->required();
  add_supernet_options(*extract, *x);
  extract->callback([x] { run_extract(*x); });
}

}  // namespace vitnas::cli
