// vitnas prune --arch A --weights W (--table T --target-ms X | --target-ratio r | --target-macs M)
// --data D --out DIR [--steps K --finetune-epochs E --epochs F] [--resume]: latency-constrained
// structured pruning of a trained network (prune/prune_job.h); writes DIR/arch.json,
// DIR/weights.safetensors, DIR/scores.csv and DIR/prune_log.jsonl.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/train_options.h"
#include "core/error.h"
#include "prune/prune_job.h"

namespace vitnas::cli {

namespace {

struct PruneCliOptions {
  TrainCliOptions train;
  prune::PruneConfig config;
  bool no_profile = false, no_measure = false, no_units = false;
};

void run_prune_command(PruneCliOptions& o) {
  apply_common_options(o.train.common);
  require(o.train.nproc == 1, "--nproc: prune runs in one process");
  prune::PruneConfig c = o.config;
  c.recipe = o.train.recipe;
  c.runtime = o.train.runtime;
  c.out = o.train.out;
  c.resume = o.train.resume;
  c.profile_missing = !o.no_profile;
  c.measure = !o.no_measure;
  c.select.units = !o.no_units;
  parse_device(c.runtime.device);
  c.runtime.threads = c.runtime.threads > 0 ? c.runtime.threads : machine_cores();

  Progress bar("prune");
  const nlohmann::json last = prune::run_prune(c, [&](double f, const std::string& what) { bar.update(f, what); });
  const auto top1 = last.contains("val_top1") ? last["val_top1"] : last.value("test_top1", nlohmann::json());
  spdlog::info("pruned to {} {} predicted{}, {} MACs, top-1 {}; wrote {}", last["predicted"].dump(),
               last["unit"].get<std::string>(),
               last["measured"].is_null() ? "" : fmt::format(" ({} measured)", last["measured"].dump()),
               last["macs"].dump(), top1.dump(), c.out);
  if (o.train.common.json) print_json(last);
}

}  // namespace

void register_prune(CLI::App& root) {
  auto o = std::make_shared<PruneCliOptions>();
  o->train.recipe.epochs = 0;  // the final fine-tune: off unless asked for
  o->train.recipe.warmup_epochs = 0;  // a fine-tune starts from trained weights
  auto* cmd = root.add_subcommand(
      "prune", "latency-constrained structured pruning of a trained network: Taylor importance of "
               "FFN, q.k, v, PatchMerging and unit groups, a knapsack on the device's latency model, "
               "physical shrink, fine-tuning distilled from the unpruned network");
  prune::PruneConfig& c = o->config;
  cmd->add_option("--arch", c.arch, "the trained network: preset or ArchSpec JSON")->required();
  cmd->add_option("--weights", c.weights, "its safetensors weights")->required();
  cmd->add_option("--table", c.table, "latency table JSON (cpu, cuda, mpc); without it MACs are the cost");
  cmd->add_option("--target-ms", c.target_ms, "latency target in the table's unit (ms per batch, or s under mpc)");
  cmd->add_option("--target-ratio", c.target_ratio, "target as a fraction of the network's predicted cost (MACs without --table)");
  cmd->add_option("--target-macs", c.target_macs, "MACs target");
  cmd->add_option("--importance", c.importance, "taylor | magnitude | random")->capture_default_str();
  cmd->add_option("--importance-batches", c.importance_batches, "training minibatches the Taylor score sums over")
      ->capture_default_str();
  cmd->add_option("--importance-batch-size", c.importance_batch_size)->capture_default_str();
  cmd->add_option("--round-to", c.select.round_to, "channel widths are multiples of N")->capture_default_str();
  cmd->add_option("--round-qk", c.select.round_qk, "q.k widths are multiples of N")->capture_default_str();
  cmd->add_flag("--no-units", o->no_units, "never remove whole mixers, DW + FFN pairs or vit heads");
  cmd->add_option("--steps", c.steps, "pruning steps (the target is approached linearly)")->capture_default_str();
  cmd->add_option("--finetune-epochs", c.finetune_epochs, "fine-tune epochs after each step but the last (--epochs after the last)")
      ->capture_default_str();
  cmd->add_flag("--no-profile", o->no_profile, "never measure widths the table lacks (error instead)");
  cmd->add_flag("--no-measure", o->no_measure, "do not time each step's network");
  cmd->add_option("--measure-seconds", c.measure_seconds, "timed seconds per network")->capture_default_str();
  cmd->add_flag("--allow-foreign-table", c.allow_foreign_table, "prune with a cpu/cuda table of another machine (unmeasured)");
  add_training_options(*cmd, o->train, /*classifier=*/false);
  cmd->callback([o] { run_prune_command(*o); });
}

}  // namespace vitnas::cli
