// vitnas prune --arch A --weights W (--table T --target-ms X | --target-ratio r | --target-macs M)
// --data D --out DIR [--steps K --finetune-epochs E --epochs F] [--resume]: latency-constrained
// structured pruning of a trained network (prune/prune_job.h); writes DIR/arch.json,
// DIR/weights.safetensors, DIR/scores.csv and DIR/prune_log.jsonl.
// vitnas prune analyse --arch A --weights W --data D --out DIR [--macs-ratio 0.5]: which widths
// Taylor pruning keeps under one global budget, per block and group type (kept.csv, kept.svg), and
// the importance checked against the real loss increase of sampled groups (oracle.csv).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/limits.h"
#include "cli/train_options.h"
#include "core/error.h"
#include "prune/analysis.h"
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

void register_analyse(CLI::App& prune) {
  struct Options {
    prune::AnalyseConfig config;
    CommonOptions common;
    int threads = 0;
  };
  auto o = std::make_shared<Options>();
  prune::AnalyseConfig& c = o->config;
  auto* cmd = prune.add_subcommand("analyse", "the paper's pruning analysis: kept q.k, v, FFN and merge widths per "
                                              "block under one MACs budget, and Taylor vs the real loss increase");
  cmd->add_option("--arch", c.arch, "the trained network: preset or ArchSpec JSON")->required();
  cmd->add_option("--weights", c.weights, "its safetensors weights")->required();
  cmd->add_option("--data", c.data, "dataset it was trained on")->capture_default_str();
  cmd->add_option("--val-fraction", c.val_fraction, "as in its training (the validation split)")->check(number_in(0, 0.99))->capture_default_str();
  cmd->add_option("--seed", c.seed, "the split's and the sampling's seed")->capture_default_str();
  cmd->add_option("--out", c.out, "output directory")->required();
  cmd->add_option("--macs-ratio", c.macs_ratio, "the global budget, a fraction of the MACs")->check(number_in(0, 1))->capture_default_str();
  cmd->add_option("--round-to", c.select.round_to, "channel widths are multiples of N")->check(integer_in(1, 1024))->capture_default_str();
  cmd->add_option("--round-qk", c.select.round_qk, "q.k and stem widths are multiples of N")->check(integer_in(1, 1024))->capture_default_str();
  cmd->add_flag("--embed", c.select.embed, "the embedding width (per stage) is pruned too");
  cmd->add_option("--round-embed", c.select.round_embed, "embedding widths are multiples of N")->check(integer_in(1, 1024))->capture_default_str();
  cmd->add_option("--importance-batches", c.importance_batches, "batches the Taylor score sums over")->check(integer_in(1, kMaxCount))->capture_default_str();
  cmd->add_option("--batch", c.batch_size, "images per importance batch")->check(integer_in(1, kMaxBatch))->capture_default_str();
  cmd->add_option("--oracle-groups", c.oracle_groups, "groups whose real removal is measured (0: none)")->check(integer_in(0, 100000))
      ->capture_default_str();
  cmd->add_option("--oracle-batches", c.oracle_batches, "validation batches of 128 the loss is measured on")->check(integer_in(1, kMaxCount))
      ->capture_default_str();
  cmd->add_flag("--normalise,!--raw", c.normalise,
                "scores divided by their group type's mean (as prune does), or raw Taylor across types")
      ->capture_default_str();
  cmd->add_option("--device", c.device, "cpu or cuda[:N]")->capture_default_str();
  cmd->add_option("--threads", o->threads, "intra-op CPU threads (0: all cores)")->check(thread_count(true))->capture_default_str();
  add_common_options(*cmd, o->common);
  cmd->callback([o] {
    apply_common_options(o->common);
    parse_device(o->config.device);
    set_threads(o->threads > 0 ? o->threads : machine_cores());
    const nlohmann::json s = prune::run_analysis(o->config);
    spdlog::info("kept at {:.0f}% of the MACs: {}", 100 * o->config.macs_ratio, s["kept_by_type"].dump());
    if (s.contains("oracle"))
      spdlog::info("Spearman vs the real loss increase of {} groups: taylor {:.3f}, magnitude {:.3f}, "
                   "first-order on the same images {:.3f}",
                   s["oracle"]["groups"].get<int>(), s["oracle"]["spearman_taylor"].get<double>(),
                   s["oracle"]["spearman_magnitude"].get<double>(),
                   s["oracle"]["spearman_first_order"].get<double>());
    if (o->common.json) print_json(s);
  });
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
  // Not ->required(): `prune analyse` is a subcommand of this command (the checks are validate()'s).
  cmd->add_option("--arch", c.arch, "the trained network: preset or ArchSpec JSON");
  cmd->add_option("--weights", c.weights, "its safetensors weights");
  cmd->add_option("--table", c.table, "latency table JSON (cpu, cuda, mpc); without it MACs are the cost");
  cmd->add_option("--target-ms", c.target_ms, "latency target in the table's unit (ms per batch, or s under mpc)")->check(number_in(0, 1e12));
  cmd->add_option("--target-ratio", c.target_ratio, "target as a fraction of the network's predicted cost (MACs without --table)")->check(number_in(0, 1));
  cmd->add_option("--target-macs", c.target_macs, "MACs target")->check(number_in(0, 1e18));
  cmd->add_option("--importance", c.importance, "taylor | magnitude | random")->capture_default_str();
  cmd->add_option("--importance-batches", c.importance_batches, "training minibatches the Taylor score sums over")->check(integer_in(1, kMaxCount))
      ->capture_default_str();
  cmd->add_option("--importance-batch-size", c.importance_batch_size, "images per importance batch")->check(integer_in(1, kMaxBatch))->capture_default_str();
  cmd->add_option("--round-to", c.select.round_to, "channel widths are multiples of N")->check(integer_in(1, 1024))->capture_default_str();
  cmd->add_option("--round-qk", c.select.round_qk, "q.k widths are multiples of N")->check(integer_in(1, 1024))->capture_default_str();
  cmd->add_flag("--no-units", o->no_units, "never remove whole mixers, DW + FFN pairs or vit heads");
  cmd->add_flag("--embed", c.select.embed,
                "narrow the embedding too (efficientvit: each stage's; with a cpu/cuda table every op is then "
                "profiled at every stream width: many more signatures)");
  cmd->add_option("--round-embed", c.select.round_embed, "embedding widths are multiples of N")->check(integer_in(1, 1024))->capture_default_str();
  cmd->add_option("--steps", c.steps, "pruning steps (the target is approached linearly)")->check(integer_in(1, 1000))->capture_default_str();
  cmd->add_option("--finetune-epochs", c.finetune_epochs, "fine-tune epochs after each step but the last (--epochs after the last)")->check(integer_in(0, kMaxEpochs))
      ->capture_default_str();
  cmd->add_flag("--no-profile", o->no_profile, "never measure widths the table lacks (error instead)");
  cmd->add_option("--calibration-networks", c.calibration_networks,
                  "calibrate the table on this many networks of the pruning's own space, timed here (the network "
                  "and random cuts of it); 0 keeps the table's calibration")->check(integer_in(0, 100))->capture_default_str();
  cmd->add_flag("--no-measure", o->no_measure, "do not time each step's network");
  cmd->add_option("--measure-seconds", c.measure_seconds, "timed seconds per network")->check(number_in(0.01, kMaxSeconds))->capture_default_str();
  cmd->add_option("--closed-loop", c.closed_loop,
                  "re-cut the last step up to N times against the measured latency of the cut over the "
                  "unpruned network's (not repeatable bit for bit: the cuts depend on timings)")->check(integer_in(0, 100))
      ->capture_default_str();
  cmd->add_option("--closed-loop-tolerance", c.closed_loop_tolerance,
                  "stop re-cutting when measured / goal is within 1 +- this")->check(number_in(0, 1))
      ->capture_default_str();
  cmd->add_flag("--allow-foreign-table", c.allow_foreign_table, "prune with a cpu/cuda table of another machine (unmeasured)");
  add_training_options(*cmd, o->train, /*classifier=*/false);
  cmd->get_option("--out")->required(false);  // see --arch; validate() names it when missing
  register_analyse(*cmd);
  cmd->callback([o, cmd] {
    if (cmd->got_subcommand("analyse")) return;
    run_prune_command(*o);
  });
}

}  // namespace vitnas::cli
