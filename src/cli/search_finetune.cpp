// vitnas search finetune --front DIR --out DIR2 [--networks budgets|front|NAME,...]
//   [--supernet DIR] [--from-scratch] [--arch REF[,REF...]] [training flags]
// Trains the networks a search chose (search/finetune_job.h does the work) and reports their
// test top-1 beside what the search predicted. --arch adds reference networks (the hand-designed
// one, its scaled versions) trained from scratch with the same recipe, so a config of `train`
// (experiments/train/fmnist.json, whose "arch" is the hand-designed network) works as it is.
#include <cstdio>
#include <memory>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/limits.h"
#include "cli/train_options.h"
#include "core/error.h"
#include "core/io.h"
#include "search/finetune_job.h"
#include "train/distributed.h"

namespace vitnas::cli {

namespace {

struct FinetuneCliOptions {
  TrainCliOptions train;
  std::string front, networks = "budgets", supernet, references;
  bool from_scratch = false, ema = false;
  int64_t bn_batches = -1;
  const CLI::Option* data_flag = nullptr;
  const CLI::Option* val_fraction_flag = nullptr;
};

void print_report(const nlohmann::json& report) {
  std::printf("%-12s %-28s %-8s %9s %10s %9s %9s %9s\n", "network", "role", "init", "searched",
              "latency", "val", "test", "seconds");
  auto number = [](const nlohmann::json& v, const char* f) {
    return v.is_null() ? std::string("-") : fmt::format(fmt::runtime(f), v.get<double>());
  };
  for (const auto& n : report.at("networks"))
    std::printf("%-12s %-28s %-8s %9s %10s %8.2f%% %8.2f%% %9.0f\n",
                n.at("name").get<std::string>().c_str(), n.at("role").get<std::string>().c_str(),
                n.at("init").get<std::string>().c_str(),
                number(n.at("searched_accuracy"), "{:.2f}%").c_str(),
                number(n.at("searched_latency"), "{:.4g}").c_str(), n.at("val_top1").get<double>(),
                n.at("test_top1").get<double>(), n.at("seconds").get<double>());
}

void run_finetune_command(FinetuneCliOptions& o) {
  apply_common_options(o.train.common);
  require(o.train.nproc == 1, "--nproc: search finetune trains its networks in one process");
  parse_device(o.train.runtime.device);
  std::vector<FinetuneNetwork> networks = front_networks(o.front, o.networks);
  std::stringstream refs(o.references);
  for (std::string item; std::getline(refs, item, ',');) {
    if (item.empty()) continue;
    FinetuneNetwork n;
    n.arch = load_arch(item);
    n.role = "reference";
    networks.push_back(n);
  }

  // The supernet: --supernet, else the one the search used (front.json records it).
  std::string supernet_path = o.supernet;
  if (supernet_path.empty() && !o.from_scratch) {
    const nlohmann::json front = read_json_file(o.front + "/front.json");
    if (front.contains("supernet") && front["supernet"].is_string())
      supernet_path = front["supernet"].get<std::string>();
  }
  std::optional<SupernetDir> supernet;
  FinetuneOptions f;
  f.recipe = o.train.recipe;
  f.from_scratch = o.from_scratch;
  if (!supernet_path.empty() && !o.from_scratch) {
    supernet = open_supernet(supernet_path, parse_device(o.train.runtime.device), o.ema);
    f.bn_batches = o.bn_batches >= 0 ? o.bn_batches : supernet->recipe.bn_batches;
    // The data the supernet saw, unless told otherwise: its validation split is the one the
    // search scored on, so the test set stays unseen.
    if (o.data_flag->count() == 0) f.recipe.data = supernet->recipe.data;
    if (o.val_fraction_flag->count() == 0) f.recipe.val_fraction = supernet->recipe.val_fraction;
  }
  fit_default_warmup(o.train, f.recipe, f.recipe.epochs);

  set_threads(o.train.runtime.threads > 0 ? o.train.runtime.threads : machine_cores());
  ProcessGroup group(distributed_env_from_environment(), torch::Device(o.train.runtime.device));
  std::unique_ptr<Progress> bar;
  auto progress = [&](const std::string& name) -> ProgressCallback {
    if (!o.train.runtime.progress) return nullptr;
    bar = std::make_unique<Progress>(name);  // one bar per network
    return training_progress(*bar);
  };
  const nlohmann::json report = run_finetune(networks, f, supernet ? &*supernet : nullptr,
                                             o.train.runtime, o.train.out, o.train.resume, group,
                                             progress);
  bar.reset();
  if (o.train.common.json) {
    print_json(report);
    return;
  }
  print_report(report);
  std::printf("wrote %s/finetune.json, finetune.csv and a training run per network\n",
              o.train.out.c_str());
}

}  // namespace

const CLI::App* register_search_finetune(CLI::App& search) {
  auto o = std::make_shared<FinetuneCliOptions>();
  auto* cmd = search.add_subcommand(
      "finetune", "train the networks a search chose (from the supernet's weights, or from "
                  "scratch) and report their test top-1 beside the search's figures");
  cmd->add_option("--front", o->front, "a `vitnas search` output directory (front.json)")->required();
  cmd->add_option("--networks", o->networks,
                  "budgets (each budget's pick), front (every front network), or names from "
                  "front.json, comma-separated")
      ->capture_default_str();
  cmd->add_option("--supernet", o->supernet,
                  "the supernet to extract the networks from (default: the search's)");
  cmd->add_flag("--from-scratch", o->from_scratch,
                "train the networks from the seed's initialisation, not the supernet's weights");
  cmd->add_option("--arch", o->references,
                  "reference networks trained from scratch beside them with the same recipe "
                  "(presets or ArchSpec files, comma-separated)");
  cmd->add_option("--bn-batches", o->bn_batches,
                  "BN recalibration batches of the extraction (default: the supernet run's)")
      ->check(integer_in(0, kMaxCount));
  cmd->add_flag("--ema", o->ema, "extract from the supernet's EMA weights");
  add_training_options(*cmd, o->train, /*classifier=*/true);
  o->data_flag = cmd->get_option("--data");
  o->val_fraction_flag = cmd->get_option("--val-fraction");
  cmd->callback([o] { run_finetune_command(*o); });
  return cmd;
}

}  // namespace vitnas::cli
