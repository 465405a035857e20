#include "prune/prune_job.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "core/complexity.h"
#include "core/error.h"
#include "core/io.h"
#include "core/memory.h"
#include "models/weights.h"
#include "profile/calibration.h"
#include "profile/device_info.h"
#include "profile/latency_model.h"
#include "profile/latency_table.h"
#include "profile/profile_job.h"
#include "prune/calibration_networks.h"
#include "prune/groups.h"
#include "prune/shrink.h"
#include "prune/width_signatures.h"
#include "train/evaluate.h"
#include "train/run.h"

namespace vitnas::prune {

namespace fs = std::filesystem;

void validate(const PruneConfig& c) {
  const int targets = (c.target_ms > 0) + (c.target_ratio > 0) + (c.target_macs > 0);
  require(targets == 1, "give exactly one of --target-ms, --target-ratio, --target-macs (> 0)");
  require(c.target_ratio < 1, "--target-ratio: must be in (0, 1), got " + std::to_string(c.target_ratio));
  require(c.target_ms == 0 || !c.table.empty(), "--target-ms needs --table (the latency model)");
  require(!c.arch.empty(), "--arch: the trained network is required");
  require(!c.out.empty(), "--out: the run directory is required");
  require(!c.weights.empty(), "--weights: the trained network's weights are required");
  require(c.steps >= 1 && c.steps <= 100, "--steps: must be in 1..100");
  require(c.importance_batches >= 1, "--importance-batches: must be >= 1");
  require(c.importance_batch_size >= 1, "--importance-batch-size: must be >= 1");
  validate(c.select);
  require(c.finetune_epochs >= 0, "--finetune-epochs: must be >= 0");
  require(c.measure_seconds > 0, "--measure-seconds: must be > 0");
  require(c.calibration_networks >= 0 && c.calibration_networks <= 100, "--calibration-networks: must be in 0..100");
  require(c.closed_loop >= 0 && c.closed_loop <= 20, "--closed-loop: must be in 0..20");
  require(c.closed_loop == 0 || (!c.table.empty() && c.target_macs == 0),
          "--closed-loop: needs --table and a latency target (--target-ms or --target-ratio)");
  require(c.closed_loop_tolerance > 0 && c.closed_loop_tolerance < 0.5, "--closed-loop-tolerance: must be in (0, 0.5)");
  importance_from_string(c.importance);
  TrainRecipe r = c.recipe;
  r.arch = load_arch(c.arch);
  // Checked as each fine-tune runs it (the shortest one); without any, the rest of the recipe.
  const int64_t shortest = c.steps > 1 && c.finetune_epochs > 0 && (r.epochs == 0 || c.finetune_epochs < r.epochs)
                               ? c.finetune_epochs : r.epochs;
  r.epochs = shortest > 0 ? shortest : int64_t(r.warmup_epochs) + 1;
  validate(r);
  // The Taylor scores run forward and backward on --importance-batch-size images.
  require_memory(r.arch, c.importance_batch_size, Workload::Training,
                 "prune --importance-batch-size " + std::to_string(c.importance_batch_size) +
                     " of " + r.arch.name);
}

nlohmann::json config_to_json(const PruneConfig& c) {
  nlohmann::json recipe = recipe_to_json(c.recipe);
  recipe.erase("arch");
  return {{"arch", arch_to_json(load_arch(c.arch))},
          {"weights", c.weights},
          {"table", c.table},
          {"target_ms", c.target_ms},
          {"target_ratio", c.target_ratio},
          {"target_macs", c.target_macs},
          {"importance", c.importance},
          {"importance_batches", c.importance_batches},
          {"importance_batch_size", c.importance_batch_size},
          {"round_to", c.select.round_to},
          {"round_qk", c.select.round_qk},
          {"units", c.select.units},
          {"embed", c.select.embed},
          {"round_embed", c.select.round_embed},
          {"steps", c.steps},
          {"finetune_epochs", c.finetune_epochs},
          {"profile_missing", c.profile_missing},
          {"calibration_networks", c.calibration_networks},
          {"closed_loop", c.closed_loop},
          {"closed_loop_tolerance", c.closed_loop_tolerance},
          {"recipe", recipe}};
}

namespace {

// What a network costs: the latency model of a table, or MACs.
struct Budget {
  std::unique_ptr<LatencyModel> model;
  LatencyTable table;  // the working table (with the widths pruning needs)
  bool measurable = false;
  std::string unit = "MACs";
  double operator()(const ArchSpec& a) const { return model ? model->cost(a) : double(complexity(a).macs); }
};

std::vector<nlohmann::json> read_log(const fs::path& path) {
  std::vector<nlohmann::json> lines;
  if (!fs::exists(path)) return lines;
  std::istringstream in(read_file(path.string()));
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    require(!j.is_discarded() && j.is_object() && j.contains("step") && j["step"] == lines.size(),
            path.string() + " line " + std::to_string(n) +
                " is corrupt: delete the run directory to start over");
    lines.push_back(std::move(j));
  }
  return lines;
}

void write_log(const fs::path& path, const std::vector<nlohmann::json>& lines) {
  std::string text;
  for (const auto& l : lines) text += l.dump() + "\n";
  write_file_atomic(path.string(), text);
}

// Channels per group type, summed over a network's dimensions (units count 1 each; an
// efficientvit embedding its stream channels, as G changes when a stage loses its attention).
std::map<std::string, int64_t> widths_by_type(const ArchSpec& a) {
  std::map<std::string, int64_t> out;
  for (const Dimension& d : dimensions(a)) out[to_string(d.type)] += int64_t(d.size) * d.per_channel;
  return out;
}

class Job {
 public:
  explicit Job(const PruneConfig& c, const PruneProgress& progress)
      : c_(c), progress_(progress), dir_(c.out), device_(c.runtime.device) {}

  nlohmann::json run() {
    validate(c_);
    const int train_threads = std::max(1, c_.runtime.threads);  // the CLI resolves 0 to the cores
    original_ = load_arch(c_.arch);
    Classifier model = build_model(original_);
    load_weights(*model, c_.weights);
    recipe_ = c_.recipe;
    recipe_.arch = original_;  // the images' size and channels
    data_ = open_datasets(recipe_);

    // The run directory: a new one, or the same configuration resumed.
    const nlohmann::json config = config_to_json(c_);
    const fs::path config_path = dir_ / "prune.json";
    std::vector<nlohmann::json> log;
    if (fs::exists(config_path)) {
      require(c_.resume, config_path.string() + " exists: pass --resume to continue, or choose another --out");
      const std::string diff = recipe_difference(read_json_file(config_path.string()), config);
      require(diff.empty(), "--resume: " + diff + " (the run in " + c_.out +
                                ": resume with its settings, or choose another --out)");
      log = read_log(dir_ / "prune_log.jsonl");
    }
    open_budget();  // errors about the table come before anything is written
    require(c_.closed_loop == 0 || budget_.measurable,
            "--closed-loop: " + c_.table + " is not a cpu/cuda table of this machine, so nothing can be timed");
    fs::create_directories(dir_);
    prepare_table();  // DIR/table.json only: a cache of measurements, whatever the settings

    torch::set_num_threads(train_threads);
    const double c0 = budget_(original_);
    const double target = c_.target_ms > 0 ? c_.target_ms : c_.target_macs > 0 ? c_.target_macs : c_.target_ratio * c0;
    require(target < c0, "target " + std::to_string(target) + " " + budget_.unit +
                             " is not below the network's own cost " + std::to_string(c0) + ": nothing to prune");
    {  // Can the options reach the target at all? (The minimum does not depend on the scores.)
      const auto dims = dimensions(original_);
      Scores zero;
      for (const Dimension& d : dims) zero.emplace_back(size_t(d.size), 0.0);
      select(original_, dims, zero, std::cref(budget_), target, c_.select);
    }
    write_json_file_atomic(config_path.string(), config);
    save_arch(original_, (dir_ / "original_arch.json").string());

    model->to(device_);
    if (log.empty()) log.push_back(step_line(0, std::nullopt, original_, *model));
    write_log(dir_ / "prune_log.jsonl", log);
    for (int s = int(log.size()); s <= c_.steps; ++s) {
      const double t = c0 + (target - c0) * double(s) / double(c_.steps);
      Classifier current = s == 1 ? model : load_step(s - 1);
      torch::set_num_threads(train_threads);
      Classifier next = run_step(s, t, *current);
      log.push_back(step_line(s, t, next->spec(), *next));
      if (fs::exists(step_dir(s) / "closed_loop.json"))
        log.back()["closed_loop"] = read_json_file((step_dir(s) / "closed_loop.json").string());
      write_log(dir_ / "prune_log.jsonl", log);
    }

    // The result: the last step's network.
    Classifier result = load_step(c_.steps);
    save_arch(result->spec(), (dir_ / "arch.json").string());
    save_weights(*result, (dir_ / "weights.safetensors").string());
    write_file_atomic((dir_ / "scores.csv").string(), read_file((step_dir(c_.steps) / "scores.csv").string()));
    report(1.0, "done");
    return log.back();
  }

 private:
  fs::path step_dir(int s) const { return dir_ / "steps" / std::to_string(s); }
  int64_t finetune_epochs(int s) const { return s == c_.steps ? c_.recipe.epochs : c_.finetune_epochs; }
  fs::path step_weights(int s) const {
    return finetune_epochs(s) > 0 ? step_dir(s) / "finetune" / "weights.safetensors" : step_dir(s) / "pruned.safetensors";
  }
  Classifier load_step(int s) const {
    Classifier m = build_model(load_arch((step_dir(s) / "arch.json").string()));
    load_weights(*m, step_weights(s).string());
    m->to(device_);
    return m;
  }
  // Where the table's latencies are measured: its own device, whatever trains.
  torch::Device table_device() const {
    return budget_.table.device.kind == DeviceKind::cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  }
  void report(double fraction, const std::string& what) const {
    if (progress_) progress_(fraction, what);
  }

  // The table, checked against this machine; cpu/cuda tables price efficientvit networks only.
  void open_budget() {
    if (c_.table.empty()) return;
    budget_.table = load_table(c_.table);
    const DeviceInfo& d = budget_.table.device;
    budget_.unit = d.kind == DeviceKind::mpc ? "s" : "ms";
    if (d.kind == DeviceKind::mpc) return;
    require(original_.family == Family::EfficientViT,
            c_.table + ": cpu/cuda tables price efficientvit networks; prune a vit with --target-macs "
                       "or an mpc table");
    try {
      require_same_device(d, current_device(d.kind, d.threads, d.batch, d.dtype), c_.table);
      budget_.measurable = true;
    } catch (const InputError& e) {
      if (!c_.allow_foreign_table)
        throw InputError(std::string(e.what()) + " (--allow-foreign-table prunes with it anyway, unmeasured)");
      spdlog::warn("{}: pruning with it anyway, without measuring (--allow-foreign-table)", e.what());
    }
  }

  // The widths the knapsack may price, measured into DIR/table.json when the table lacks them.
  void prepare_table() {
    if (c_.table.empty()) return;
    if (budget_.table.device.kind != DeviceKind::mpc) {
      // The given table, plus what an earlier run measured into DIR/table.json on this device.
      const fs::path working = dir_ / "table.json";
      LatencyTable t = budget_.table;
      if (fs::exists(working)) {
        const LatencyTable cached = load_table(working.string());
        try {
          require_same_device(cached.device, t.device, working.string());
          t.entries.insert(cached.entries.begin(), cached.entries.end());  // the given table's win
          for (const auto& n : cached.networks)
            if (std::none_of(t.networks.begin(), t.networks.end(), [&](const auto& m) { return m.arch == n.arch; }))
              t.networks.push_back(n);
        } catch (const InputError&) {
          spdlog::warn("{}: made on another device, measured again", working.string());
        }
      }
      // Calibrated on the pruning's own networks where they can be timed here (see
      // prune/calibration_networks.h); otherwise the table's calibration stays.
      std::vector<ArchSpec> calibration;
      if (c_.calibration_networks > 0 && c_.profile_missing && budget_.measurable) {
        calibration = pruning_calibration_networks(original_, c_.select, c_.calibration_networks, c_.recipe.seed);
        std::vector<MeasuredNetwork> kept;
        for (auto& n : t.networks)
          if (std::find(calibration.begin(), calibration.end(), n.arch) != calibration.end()) kept.push_back(n);
        t.networks = std::move(kept);
      }
      save_table(t, working.string());
      const auto sigs = width_signatures(original_, c_.select, t.device.batch);
      std::vector<OpSignature> missing;
      for (const auto& s : sigs)
        if (!t.entries.count(s.key())) missing.push_back(s);
      if (!missing.empty())
        require(c_.profile_missing && budget_.measurable,
                c_.table + " has no entry '" + missing.front().key() + "' (and " + std::to_string(missing.size() - 1) +
                    " more) that pruning needs: " +
                    (budget_.measurable ? "drop --no-profile to measure them here"
                                        : "profile them on the table's device (vitnas profile --resume)"));
      if (!missing.empty() || t.networks.size() < calibration.size()) {
        spdlog::info("measuring {} op widths the table lacks and {} networks for its calibration into {}",
                     missing.size(), calibration.size() - t.networks.size(), working.string());
        ProfileJob job;
        job.out = working.string();
        job.resume = true;
        job.device = table_device();
        job.info = t.device;
        torch::set_num_threads(t.device.threads);
        t = run_profile(job, sigs, calibration, [this](double f, const std::string& what) { report(0.1 * f, "profile " + what); });
      }
      if (!calibration.empty()) {
        fit_table_calibration(t);
        save_table(t, working.string());
        spdlog::info("{} calibrated on {} of its networks: {}", working.string(), t.networks.size(),
                     describe_calibration(*t.calibration));
      }
      budget_.table = std::move(t);
    }
    budget_.model = make_latency_model(budget_.table);
  }

  TensorBatches importance_batches(int s) const {
    if (importance_from_string(c_.importance) != ImportanceKind::Taylor) return {};
    return load_batches(data_.train, transform_options(recipe_, data_.name, /*train=*/false),
                        c_.importance_batch_size, c_.importance_batches, c_.recipe.seed + uint64_t(s),
                        c_.runtime.loader_threads, device_);
  }

  Classifier run_step(int s, double target, ClassifierImpl& current) {
    const fs::path dir = step_dir(s);
    const double base = double(s - 1) / double(c_.steps);
    const double share = 1.0 / double(c_.steps);
    fs::create_directories(dir);
    if (!fs::exists(dir / "pruned.safetensors")) {  // the cut is deterministic: made once
      report(0.1 + 0.9 * base, "step " + std::to_string(s) + ": importance");
      const auto dims = dimensions(current.spec());
      Scores scores = importance(importance_from_string(c_.importance), current, dims, importance_batches(s),
                                 c_.recipe.seed + uint64_t(s));
      normalise_per_type(scores, dims);
      const Selection sel = select(current.spec(), dims, scores, std::cref(budget_), target, c_.select);
      Classifier pruned = shrink(current, dims, sel.plan, scores);
      if (s == c_.steps && c_.closed_loop > 0) pruned = close_loop(current, dims, scores, target, pruned, dir);
      write_scores_csv((dir / "scores.csv").string(), dims, scores);
      ArchSpec arch = pruned->spec();
      arch.name = original_.name + "-pruned" + std::to_string(s);
      save_arch(arch, (dir / "arch.json").string());
      save_weights(*pruned, (dir / "pruned.safetensors").string(), {{"arch", arch.name}});
      spdlog::info("step {}: {} -> {:.4g} {} (target {:.4g})", s, current.spec().name, sel.cost, budget_.unit, target);
    }
    const int64_t epochs = finetune_epochs(s);
    if (epochs > 0) {
      TrainRecipe r = c_.recipe;
      r.arch = load_arch((dir / "arch.json").string());
      r.epochs = epochs;
      r.init_weights = (dir / "pruned.safetensors").string();
      r.teacher = (dir_ / "original_arch.json").string();
      r.teacher_weights = c_.weights;
      ProcessGroup group(DistributedEnv{}, device_);
      TrainRuntime rt = c_.runtime;
      rt.progress = false;
      run_training(r, rt, (dir / "finetune").string(), /*resume=*/true, group, [&](const TrainProgress& p) {
        report(0.1 + 0.9 * (base + share * double(p.epoch * p.batches + p.batch) / double(p.epochs * p.batches)),
               "step " + std::to_string(s) + ": fine-tune epoch " + std::to_string(p.epoch + 1) + "/" +
                   std::to_string(p.epochs));
      });
    }
    return load_step(s);
  }

  // One cut of the closed loop, timed with the unpruned network.
  struct TimedCut {
    double target = 0, predicted = 0, measured = 0, unpruned_measured = 0, ratio = 0, goal = 0;
    double error() const { return ratio / goal - 1; }
    nlohmann::json json() const {
      return {{"target", target},     {"predicted", predicted}, {"measured", measured},
              {"unpruned_measured", unpruned_measured}, {"ratio", ratio}, {"goal", goal}, {"error", error()}};
    }
  };

  // The next knapsack target from the cuts timed so far: between the nearest cuts below and above
  // the goal (linear in the measured ratio) once the goal is bracketed, before that the last
  // target scaled by goal / ratio. (The measured ratio moves in steps, not smoothly, as the
  // knapsack's choices change: scaling alone overshoots back and forth.)
  static double next_target(const std::vector<TimedCut>& timed, double goal) {
    const TimedCut *below = nullptr, *above = nullptr;
    for (const TimedCut& c : timed) {
      if (c.ratio < goal && (!below || c.ratio > below->ratio)) below = &c;
      if (c.ratio >= goal && (!above || c.ratio < above->ratio)) above = &c;
    }
    if (!below || !above) return timed.back().target * goal / timed.back().ratio;
    return below->target + (goal - below->ratio) * (above->target - below->target) / (above->ratio - below->ratio);
  }

  // --closed-loop (see the header): the cut nearest the measured goal; every cut timed is written
  // to DIR/closed_loop.json.
  Classifier close_loop(ClassifierImpl& current, const std::vector<Dimension>& dims, const Scores& scores,
                        double target, Classifier pruned, const fs::path& dir) {
    torch::set_num_threads(budget_.table.device.threads);
    std::vector<TimedCut> timed;
    std::set<std::string> seen{arch_to_json(pruned->spec()).dump()};
    Classifier best = pruned;
    double best_error = std::numeric_limits<double>::infinity();
    for (int k = 0;; ++k) {
      report(0.1 + 0.9 * double(c_.steps - 1) / double(c_.steps),
             "closed loop " + std::to_string(k + 1) + "/" + std::to_string(c_.closed_loop + 1) + ": measure");
      const auto rows = run_validation(budget_.table, {original_, pruned->spec()}, table_device(),
                                       validation_timing(c_.measure_seconds), 5);
      TimedCut t;
      t.target = target;
      t.predicted = rows[1].predicted_ms;
      t.measured = rows[1].measured_ms;
      t.unpruned_measured = rows[0].measured_ms;
      t.ratio = t.measured / t.unpruned_measured;
      t.goal = c_.target_ratio > 0 ? c_.target_ratio : c_.target_ms / t.unpruned_measured;
      timed.push_back(t);
      spdlog::info("closed loop {}: target {:.4g} {} -> measured {:.4g} of the unpruned network (goal {:.4g}, {:+.1f}%)",
                   k + 1, target, budget_.unit, t.ratio, t.goal, 100 * t.error());
      if (std::abs(t.error()) < best_error) {
        best = pruned;
        best_error = std::abs(t.error());
      }
      if (best_error <= c_.closed_loop_tolerance || k == c_.closed_loop) break;
      target = next_target(timed, t.goal);
      try {
        const Selection sel = select(current.spec(), dims, scores, std::cref(budget_), target, c_.select);
        pruned = shrink(current, dims, sel.plan, scores);
      } catch (const InputError& e) {
        spdlog::warn("closed loop: {}; keeping the nearest cut", e.what());
        break;
      }
      if (!seen.insert(arch_to_json(pruned->spec()).dump()).second) break;  // the same cut again: settled
    }
    nlohmann::json trace = nlohmann::json::array();
    for (const TimedCut& t : timed) trace.push_back(t.json());
    write_json_file_atomic((dir / "closed_loop.json").string(), trace);
    return best;
  }

  nlohmann::json step_line(int s, std::optional<double> target, const ArchSpec& arch, ClassifierImpl& model) {
    const Complexity cx = complexity(arch);
    nlohmann::json line{{"step", s},
                        {"arch", arch.name},
                        {"unit", budget_.unit},
                        {"target", target ? nlohmann::json(*target) : nlohmann::json()},
                        {"predicted", budget_(arch)},
                        {"macs", cx.macs},
                        {"params", cx.params}};
    nlohmann::json measured;
    if (budget_.measurable && c_.measure) {
      report(0.1 + 0.9 * double(s) / double(c_.steps), "step " + std::to_string(s) + ": measure");
      torch::set_num_threads(budget_.table.device.threads);
      const auto rows = run_validation(budget_.table, {arch}, table_device(), validation_timing(c_.measure_seconds), 3);
      measured = rows.front().measured_ms;
      line["measured_spread"] = rows.front().spread;
    }
    line["measured"] = measured;
    const auto now = widths_by_type(arch), then = widths_by_type(original_);
    nlohmann::json kept = nlohmann::json::object();
    for (const auto& [type, total] : then) kept[type] = {now.count(type) ? now.at(type) : 0, total};
    line["kept"] = kept;
    const auto eval_set = data_.val ? data_.val : data_.test;
    ProcessGroup group(DistributedEnv{}, device_);
    const EvalResult e = evaluate(model, eval_set, transform_options(recipe_, data_.name, false), 256,
                                  c_.runtime.loader_threads, device_, group);
    line[data_.val ? "val_top1" : "test_top1"] = e.top1;
    line[data_.val ? "val_loss" : "test_loss"] = e.loss;
    return line;
  }

  const PruneConfig& c_;
  PruneProgress progress_;
  fs::path dir_;
  torch::Device device_;
  ArchSpec original_;
  TrainRecipe recipe_;  // the configuration's, for the original network
  Datasets data_;
  Budget budget_;
};

}  // namespace

nlohmann::json run_prune(const PruneConfig& c, const PruneProgress& progress) { return Job(c, progress).run(); }

}  // namespace vitnas::prune
