// vitnas search-mpc --arch A --table T.json --data D --out DIR [--mu 0.1,0.3,0.5,0.7]
//   [--lambda L] [--cost latency|l1] [--epochs E] [--retrain-epochs R] [--teacher-weights W]
//   [--random-baselines N] [--retrain-baselines] [--softmax-candidates] [--linearise N] [--resume]
//   [training flags]
// MPCViT's MPC-aware head-kind search (search/mpc_search_job.h does the work).
#include <algorithm>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/limits.h"
#include "cli/train_options.h"
#include "core/error.h"
#include "profile/latency_table.h"
#include "search/mpc_search_job.h"
#include "train/distributed.h"

namespace vitnas::cli {

namespace {

struct SearchMpcCliOptions {
  TrainCliOptions train;
  std::string arch, table;
  std::vector<double> mu = {0.1, 0.3, 0.5, 0.7};
  MpcSearchOptions search;
  CLI::Option* token_beta_flag = nullptr;  // --distill-token-beta, to tell a default from a choice
};

void run_search_mpc(SearchMpcCliOptions& o) {
  apply_common_options(o.train.common);
  require(o.train.nproc == 1, "--nproc: search-mpc runs in one process");
  require(o.train.recipe.teacher.empty(),
          "--teacher: the teacher of search-mpc is the all-softmax network of --arch; give its "
          "weights with --teacher-weights");
  parse_device(o.train.runtime.device);
  const LatencyTable table = load_table(o.table);
  MpcSearchOptions s = o.search;
  s.recipe = o.train.recipe;
  s.recipe.arch = load_arch(o.arch);
  s.teacher_weights = o.train.recipe.teacher_weights;
  s.recipe.teacher_weights.clear();
  s.mu = o.mu;
  // MPCViT's token MSE is on by default for vit; an efficientvit network has no tokens.
  if (s.recipe.arch.family != Family::ViT && o.token_beta_flag->count() == 0)
    s.recipe.distill_token_beta = 0;
  // Both phases (search, retraining) share the recipe's warm-up: fitted to the shorter.
  fit_default_warmup(o.train, s.recipe,
                     s.retrain_epochs > 0 ? std::min(s.recipe.epochs, s.retrain_epochs) : s.recipe.epochs);
  set_threads(o.train.runtime.threads > 0 ? o.train.runtime.threads : machine_cores());
  ProcessGroup group(distributed_env_from_environment(), torch::Device(o.train.runtime.device));

  std::unique_ptr<Progress> bar;
  auto progress = [&](const std::string& phase) -> ProgressCallback {
    if (!o.train.runtime.progress) return nullptr;
    bar = std::make_unique<Progress>(phase);  // one bar per phase (search, each retraining)
    return training_progress(*bar);
  };
  const nlohmann::json front =
      run_mpc_search(s, table, o.train.runtime, o.train.out, o.train.resume, group, progress);
  bar.reset();
  if (o.train.common.json) {
    print_json(front);
    return;
  }
  std::printf("%-34s %-9s %5s %9s %7s %12s %9s %10s\n", "network", "placement", "mu", "RSAttn",
              "softmax", "MPC s", "top-1", "inherited");
  for (const char* rows : {"networks", "baselines"})
    for (const auto& n : front.at(rows))
      std::printf("%-34s %-9s %5.2f %4d / %-3d %7d %12.3f %8s %9.2f%%\n",
                  n.at("name").get<std::string>().c_str(),
                  n.at("placement").get<std::string>().c_str(), n.at("mu").get<double>(),
                  n.at("relu_softmax_heads").get<int>(), n.at("heads").get<int>(),
                  n.at("softmax_heads").get<int>(),
                  n.at("mpc_seconds").get<double>(),
                  n.at("test_top1").get<double>() < 0
                      ? "-"
                      : fmt::format("{:.2f}%", n.at("test_top1").get<double>()).c_str(),
                  n.at("inherited_top1").get<double>());
  std::printf("wrote %s/front.json, front.csv, front.svg\n", o.train.out.c_str());
}

}  // namespace

void register_search_mpc(CLI::App& root) {
  auto o = std::make_shared<SearchMpcCliOptions>();
  o->train.recipe.distill_token_beta = 1.0;  // MPCViT's token term, on by default here (vit)
  auto* cmd = root.add_subcommand(
      "search-mpc", "MPCViT's MPC-aware search: which heads keep RSAttn (the rest ScaleAttn) "
                    "at each mu, retrained with distillation; writes the front");
  cmd->add_option("--arch", o->arch, "the network whose heads are searched (preset or ArchSpec JSON)")->required();
  cmd->add_option("--table", o->table, "an mpc latency table (vitnas profile --device mpc)")->required();
  cmd->add_option("--mu", o->mu,
                  "RSAttn ratios in (0, 1], comma-separated (with --softmax-candidates: the "
                  "ratio of RSAttn and softmax heads together)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--lambda", o->search.lambda, "weight of the heads' MPC seconds in the search loss")
      ->check(number_in(0, 1e6))
      ->capture_default_str();
  cmd->add_option("--cost", o->search.cost, "latency (each head's MPC seconds) or l1 (sum |alpha|)")
      ->check(CLI::IsMember({"latency", "l1"}))
      ->capture_default_str();
  cmd->add_option("--retrain-epochs", o->search.retrain_epochs,
                  "retrain every binarised network from scratch for this many epochs (0: search "
                  "and binarise only)")
      ->check(integer_in(0, kMaxEpochs))
      ->capture_default_str();
  cmd->add_option("--random-baselines", o->search.random_baselines,
                  "per mu, also retrain this many random placements of as many RSAttn (and "
                  "softmax) heads")
      ->check(integer_in(0, 100))
      ->capture_default_str();
  cmd->add_flag("--retrain-baselines", o->search.retrain_baselines,
               "also retrain the all-softmax, all-RSAttn and all-ScaleAttn networks the same "
               "way (MPCViT's table)");
  cmd->add_flag("--softmax-candidates", o->search.softmax_candidates,
               "let softmax be a third candidate per head (a gamma per head, init 0: gamma "
               "softmax + (1 - gamma) the MPCViT mix; not in MPCViT)");
  cmd->add_option("--linearise", o->search.linearise,
                  "MPCViT+ (vit): also search a beta per layer (GeLU or identity) and make this "
                  "many lowest-beta layers linear in every network")
      ->check(integer_in(0, 10000))
      ->capture_default_str();
  add_training_options(*cmd, o->train, /*classifier=*/true);
  o->token_beta_flag = cmd->get_option("--distill-token-beta");
  cmd->callback([o] { run_search_mpc(*o); });
}

}  // namespace vitnas::cli
