// vitnas search --table T.json --out DIR (--space S.json | --supernet DIR) [--budgets 1.2,2.4 |
// --pareto]: NSGA-II (or --strategy random, the baseline) over a space's networks, scored by the
// device's latency model and, with a supernet, by inherited-weight accuracy. Writes front.json,
// front.csv, front.svg, front/*.json, history.jsonl and state.json (--resume continues it).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/limits.h"
#include "core/complexity.h"
#include "core/error.h"
#include "profile/latency_model.h"
#include "profile/profile_job.h"
#include "profile/space_signatures.h"
#include "search/front_report.h"
#include "search/search_job.h"
#include "train/supernet_dir.h"

namespace vitnas::cli {

namespace {

struct SearchCliOptions {
  CommonOptions common;
  std::string space, supernet, table, out, strategy = "nsga2", objectives, budgets, marks;
  std::string device = "cpu";
  bool pareto = false, resume = false, measure = false, allow_foreign = false, ema = false;
  SearchConfig config;
  int64_t bn_batches = -1, eval_images = 0;
  double measure_seconds = 2.0;
  int threads = 0;
};

std::vector<double> parse_budgets(const std::string& list) {
  std::vector<double> out;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');) {
    double v = 0;
    try {
      size_t used = 0;
      v = std::stod(item, &used);
      require(used == item.size(), "");
    } catch (const std::exception&) {
      throw InputError("--budgets: \"" + item + "\" is not a number (latencies in the table's unit)");
    }
    require(v > 0, "--budgets: " + item + " must be > 0");
    out.push_back(v);
  }
  return out;
}

// The table must describe this machine (its measured latencies mean nothing elsewhere) and
// price every op the space can produce.
void check_table(const LatencyTable& table, const SearchCliOptions& o, const SearchSpace& space) {
  if (table.device.kind == DeviceKind::mpc) return;  // a model, valid anywhere
  try {
    require_same_device(table.device,
                        current_device(table.device.kind, table.device.threads,
                                       table.device.batch, table.device.dtype),
                        o.table);
  } catch (const InputError& e) {
    if (!o.allow_foreign) throw InputError(std::string(e.what()) + " (--allow-foreign-table searches with it anyway)");
    require(!o.measure, std::string(e.what()) + ": --measure times networks on the table's device only");
    spdlog::warn("{}: searching with it anyway (--allow-foreign-table)", e.what());
  }
  for (const OpSignature& s : space_signatures(space, table.device.batch))
    require(table.entries.count(s.key()),
            o.table + " has no entry '" + s.key() + "' that networks of " + space.name +
                " need: profile the space on this device (vitnas profile --space ... --resume)");
}

std::vector<MarkedNetwork> load_marks(const std::string& list, const SearchSpace& space,
                                      const LatencyModel& latency, SubnetEvaluator* accuracy) {
  std::vector<MarkedNetwork> out;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');) {
    if (item.empty()) continue;
    MarkedNetwork m;
    m.arch = load_arch(item);
    const Complexity c = complexity(m.arch);
    m.scores.latency = latency.cost(m.arch);
    m.scores.params = double(c.params);
    m.scores.macs = double(c.macs);
    m.has_accuracy = accuracy != nullptr && contains(space, m.arch);
    if (m.has_accuracy) m.scores.accuracy = (*accuracy)(m.arch).top1;
    out.push_back(m);
  }
  return out;
}

// --measure: the networks reported (the budget picks with --budgets, else the whole front)
// timed on the table's device (`latency validate`'s protocol).
std::map<size_t, Measured> measure_reported(const LatencyTable& table, const SearchState& s,
                                            const SearchConfig& c, const std::vector<double>& budgets,
                                            double seconds) {
  std::vector<size_t> chosen;
  if (budgets.empty()) {
    chosen = pareto_front(s, c);
  } else {
    for (const auto& pick : budget_picks(s, c, budgets))
      if (pick && std::find(chosen.begin(), chosen.end(), *pick) == chosen.end()) chosen.push_back(*pick);
  }
  std::vector<ArchSpec> archs;
  for (size_t i : chosen) {
    archs.push_back(s.archive[i].genotype.arch);
    archs.back().name = s.archive[i].name();
  }
  set_threads(table.device.threads, "the latency table's device.threads");
  const torch::Device device(table.device.kind == DeviceKind::cuda ? "cuda" : "cpu");
  Progress bar("measure");
  const auto rows = run_validation(table, archs, device, validation_timing(seconds), 3,
                                   [&](double f, const std::string&) { bar.update(f); });
  std::map<size_t, Measured> out;
  for (size_t k = 0; k < rows.size(); ++k) out[chosen[k]] = {rows[k].measured_ms, rows[k].spread};
  return out;
}

void print_row(const nlohmann::json& r, bool accuracy, bool measured) {
  std::printf("  %-9s", r["name"].get<std::string>().c_str());
  if (accuracy) std::printf(" %7.2f", r["accuracy"].get<double>());
  std::printf(" %10.4g %10.3f %10.2f %6.0f%%", r["latency"].get<double>(),
              r["params"].get<double>() / 1e6, r["macs"].get<double>() / 1e6,
              100 * r["attention_share"].get<double>());
  if (measured && r.contains("measured_latency"))
    std::printf(" %10.4g %+7.1f%%", r["measured_latency"].get<double>(), r["error_pct"].get<double>());
  std::printf("\n");
}

void run_search_command(SearchCliOptions o) {
  apply_common_options(o.common);
  require(!o.table.empty(), "--table: the latency table of the target device is required");
  require(!o.out.empty(), "--out: the directory to write the front to is required");
  require(!o.space.empty() || !o.supernet.empty(), "give --space S.json or --supernet DIR (or both)");
  require(!(o.pareto && !o.budgets.empty()), "give --budgets or --pareto, not both");
  o.config.strategy = strategy_of(o.strategy);
  const bool with_accuracy = !o.supernet.empty();
  o.config.objectives =
      parse_objectives(o.objectives.empty() ? (with_accuracy ? "accuracy,latency" : "macs:max,latency")
                                            : o.objectives);
  for (const auto& obj : o.config.objectives)
    require(obj.metric != Metric::accuracy || with_accuracy,
            "--objectives: accuracy needs --supernet DIR (a trained supernet of the space)");
  const std::vector<double> budgets = parse_budgets(o.budgets);
  validate(o.config);

  const LatencyTable table = load_table(o.table);
  const auto latency = make_latency_model(table);
  require(!o.measure || table.device.kind != DeviceKind::mpc,
          "--measure times networks on this machine; an mpc table's latency is a model");
  set_threads(o.threads > 0 ? o.threads : machine_cores());

  std::optional<SupernetDir> supernet;
  std::unique_ptr<SubnetEvaluator> accuracy;
  SearchSpace space;
  if (with_accuracy) {
    supernet = open_supernet(o.supernet, parse_device(o.device), o.ema);
    space = supernet->space;
    if (!o.space.empty())
      require(space_to_json(load_space(o.space)) == space_to_json(space),
              "--space " + o.space + " is not the space of --supernet " + o.supernet +
                  " (its space.json): give the supernet's space or leave --space out");
  } else {
    space = load_space(o.space);
  }
  check_table(table, o, space);
  const double fastest = latency->cost(smallest(space));
  for (double b : budgets)
    require(b >= fastest, "--budgets: " + fmt::format("{:.4g}", b) + " " + latency->unit() +
                              " is below the smallest network of " + space.name + " (" +
                              fmt::format("{:.4g}", fastest) + " " + latency->unit() + ")");
  if (with_accuracy) {
    const int64_t bn = o.bn_batches >= 0 ? o.bn_batches : supernet->recipe.bn_batches;
    accuracy = std::make_unique<SubnetEvaluator>(make_evaluator(*supernet, bn, 2, o.eval_images));
  }

  const ScoreFn score = [&](const ArchSpec& a) {
    Scores s;
    const Complexity c = complexity(a);
    s.latency = latency->cost(a);
    s.params = double(c.params);
    s.macs = double(c.macs);
    if (accuracy) s.accuracy = (*accuracy)(a).top1;
    return s;
  };
  const std::vector<MarkedNetwork> marks = load_marks(o.marks, space, *latency, accuracy.get());

  spdlog::info("search {}: {} over {} ({} objectives: {}), population {}, {} generations, seed {}",
               o.out, to_string(o.config.strategy), space.name, o.config.objectives.size(),
               objectives_text(o.config.objectives), o.config.population, o.config.generations,
               o.config.seed);
  const auto start = std::chrono::steady_clock::now();
  SearchState state;
  {
    Progress bar("search");
    state = run_search(space, o.config, score, {o.out, o.resume},
                       [&](double f, const std::string& status) { bar.update(f, status); });
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  FrontReport report;
  report.space = space.name;
  report.table = o.table;
  report.supernet = o.supernet;
  report.unit = latency->unit();
  report.has_accuracy = with_accuracy;
  report.budgets = budgets;
  report.marks = marks;
  if (o.measure)
    report.measured = measure_reported(table, state, o.config, budgets, o.measure_seconds);
  nlohmann::json result = write_front(o.out, state, o.config, report);
  result["seconds"] = seconds;
  if (o.common.json) {
    print_json(result);
    return;
  }
  std::printf("%s search of %s: %zu networks scored in %.1f s; front of %zu, hypervolume %.4f\n",
              to_string(o.config.strategy).c_str(), space.name.c_str(), state.archive.size(),
              seconds, result["front"].size(), result["hypervolume"].get<double>());
  std::printf("  %-9s%s %10s %10s %10s %7s%s\n", "network", with_accuracy ? "  top-1%" : "",
              ("lat " + latency->unit()).c_str(), "M params", "MMACs", "attn",
              o.measure ? "   measured   error" : "");
  if (!budgets.empty()) {
    for (const auto& b : result["budgets"]) {
      std::printf("budget %.4g %s:\n", b["budget"].get<double>(), latency->unit().c_str());
      if (b["name"].is_null())
        std::printf("  (no feasible network this fast was found)\n");
      else
        print_row(b, with_accuracy, o.measure);
    }
  } else {
    for (const auto& r : result["front"]) print_row(r, with_accuracy, o.measure);
  }
  std::printf("wrote %s/front.json, front.csv, front.svg, front/*.json, history.jsonl\n", o.out.c_str());
}

}  // namespace

void register_search(CLI::App& root) {
  auto o = std::make_shared<SearchCliOptions>();
  auto* cmd = root.add_subcommand(
      "search", "hardware-aware architecture search: NSGA-II over a space, accuracy from a "
                "supernet, latency from a device's table; writes the Pareto front");
  // Not ->required(): `search finetune` has its own flags.
  cmd->add_option("--table", o->table, "latency table of the target device (cpu, cuda or mpc) (required)");
  cmd->add_option("--out", o->out, "output directory (front, history, state) (required)");
  cmd->add_option("--space", o->space, "search space JSON (default: the supernet's)");
  cmd->add_option("--supernet", o->supernet, "a `supernet train` run: accuracy with inherited weights");
  cmd->add_option("--budgets", o->budgets, "latency budgets in the table's unit, comma-separated: "
                                           "the best network under each");
  cmd->add_flag("--pareto", o->pareto, "report the whole front (the default without --budgets)");
  cmd->add_option("--strategy", o->strategy, "nsga2, or random (the baseline, same evaluations)")
      ->capture_default_str();
  cmd->add_option("--population", o->config.population, "networks per generation")->check(integer_in(2, 100000))->capture_default_str();
  cmd->add_option("--generations", o->config.generations, "generations after the first")->check(integer_in(0, 100000))->capture_default_str();
  cmd->add_option("--seed", o->config.seed, "names the whole search")->capture_default_str();
  cmd->add_option("--mutation-prob", o->config.mutation_prob, "per choice")->check(number_in(0, 1))->capture_default_str();
  cmd->add_option("--crossover-prob", o->config.crossover_prob, "per child")->check(number_in(0, 1))->capture_default_str();
  cmd->add_option("--objectives", o->objectives,
                  "of accuracy, latency, params, macs (name:max / name:min); default "
                  "accuracy,latency with a supernet, else macs:max,latency");
  cmd->add_option("--max-params", o->config.constraints.max_params, "constraint (0: none)")->check(number_in(0, 1e15));
  cmd->add_option("--max-macs", o->config.constraints.max_macs, "constraint (0: none)")->check(number_in(0, 1e18));
  cmd->add_option("--max-latency", o->config.constraints.max_latency,
                  "constraint in the table's unit (0: none)")->check(number_in(0, 1e12));
  cmd->add_option("--mark", o->marks, "reference networks for the plot and report (presets or "
                                      "ArchSpec files, comma-separated)");
  cmd->add_flag("--resume", o->resume, "continue the search saved in --out");
  cmd->add_flag("--measure", o->measure, "time the reported networks (the budget picks, else the "
                                         "front) on this machine, the table's device, and report "
                                         "the prediction error");
  cmd->add_option("--measure-seconds", o->measure_seconds, "timed seconds per network")->check(number_in(0.01, kMaxSeconds))->capture_default_str();
  cmd->add_flag("--allow-foreign-table", o->allow_foreign,
                "search with a cpu/cuda table made on another machine (warns)");
  cmd->add_option("--bn-batches", o->bn_batches, "BN recalibration batches (default: the supernet run's)")->check(integer_in(0, kMaxCount));
  cmd->add_option("--eval-images", o->eval_images,
                  "score accuracy on the first N validation images (0: all)")->check(integer_in(0, 1000000000))->capture_default_str();
  cmd->add_flag("--ema", o->ema, "the supernet's EMA weights");
  cmd->add_option("--device", o->device, "where the supernet runs: cpu or cuda[:N]")->capture_default_str();
  cmd->add_option("--threads", o->threads, "intra-op CPU threads (0: the machine's cores)")->check(thread_count(true));
  add_common_options(*cmd, o->common);
  const CLI::App* finetune = register_search_finetune(*cmd);
  cmd->callback([o, finetune] {
    if (!finetune->parsed()) run_search_command(*o);
  });
}

}  // namespace vitnas::cli
