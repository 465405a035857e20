// vitnas latency predict|validate|calibrate: use a latency table.
//   predict    per-row and total latency of archs from the table's latency model (cpu/cuda: ms
//              per batch; mpc: rounds, bytes, seconds)
//   validate   measures random networks of a space on this machine (the table's device) and
//              reports how well the table predicted them; or, --measured, scores it on networks
//              measured elsewhere
//   calibrate  refits the table's correction on measured whole networks from a file
//   check-costs (latency_check_costs.cpp) the MPC cost model against a measured 2-party engine
#include <chrono>
#include <cstdio>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/limits.h"
#include "core/error.h"
#include "core/io.h"
#include "core/search_space.h"
#include "profile/latency_model.h"
#include "profile/profile_job.h"
#include "profile/validation.h"

namespace vitnas::cli {

namespace {

// ---- predict ---------------------------------------------------------------------------

struct PredictOptions {
  CommonOptions common;
  std::string table;
  std::vector<std::string> archs;
  std::string device;  // if given, must be the table's
  int threads = 0, batch = 0;
  int repeat = 0;      // time this many predictions (predictions/s)
};

void run_predict(const PredictOptions& o) {
  apply_common_options(o.common);
  const LatencyTable table = load_table(o.table);
  // The table only speaks for its own device: a stated target must be that device.
  require_prediction_target(table.device, o.device, o.threads, o.batch, o.table);
  std::vector<ArchSpec> specs;
  for (const auto& a : o.archs) specs.push_back(load_arch(a));
  const auto model = make_latency_model(table);

  nlohmann::json rows = nlohmann::json::array();
  for (const auto& spec : specs) rows.push_back(model->prediction_json(spec));

  if (o.repeat > 0) {  // prediction throughput on one thread: the search's inner loop, cost()
    const auto t0 = std::chrono::steady_clock::now();
    double sink = 0;
    for (int i = 0; i < o.repeat; ++i) sink += model->cost(specs[size_t(i) % specs.size()]);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double rate = o.repeat / s;
    if (!o.common.json) std::printf("%d predictions in %.3f s: %.0f predictions/s (%.3f us each; checksum %.3g)\n",
                                    o.repeat, s, rate, 1e6 / rate, sink);
    for (auto& r : rows) r["predictions_per_s"] = rate;
  }
  if (o.common.json) {
    print_json(rows);  // a list, one row per --arch, however many there are
    return;
  }
  for (const auto& r : rows) std::printf("%s", model->prediction_text(r).c_str());
}

// ---- validate --------------------------------------------------------------------------

struct ValidateOptions {
  CommonOptions common;
  std::string table, space, csv, measured;
  std::vector<std::string> archs;
  int samples = 100;
  uint64_t seed = 1;
  double seconds = 3.0;  // timed seconds per network, over all rounds
  int rounds = 3;
};

void write_csv(const std::string& path, const std::vector<ValidationRow>& rows) {
  std::ostringstream out;
  out << "name,predicted_ms,measured_ms,error_pct,measured_spread_pct,arch\n";
  for (const auto& r : rows) {
    std::string arch = arch_to_json(r.arch).dump();
    std::string quoted;  // CSV: double the quotes inside a quoted field
    for (char ch : arch) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    out << r.arch.name << ',' << r.predicted_ms << ',' << r.measured_ms << ','
        << 100.0 * (r.predicted_ms - r.measured_ms) / r.measured_ms << ',' << 100.0 * r.spread
        << ",\"" << quoted << "\"\n";
  }
  write_file_atomic(path, out.str());
}

// --measured: networks measured elsewhere, predicted here (the only check of an mpc table).
void validate_measured(const ValidateOptions& o, const LatencyTable& table) {
  const Measurements m = load_measurements(o.measured);
  const std::vector<PredictedPoint> points = predict_measured(table, m);
  std::vector<double> predicted, measured;
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& p : points) {
    predicted.push_back(p.predicted_s);
    measured.push_back(p.measured_s);
    rows.push_back({{"label", p.label}, {"measured_s", p.measured_s}, {"predicted_s", p.predicted_s},
                    {"error_pct", 100.0 * (p.predicted_s - p.measured_s) / p.measured_s}});
  }
  const ValidationStats s = validation_stats(predicted, measured);
  if (o.common.json) {
    print_json({{"table", o.table}, {"measured", o.measured}, {"n", s.n}, {"mape", s.mape},
                {"max_error", s.max_error}, {"points", rows}});
    return;
  }
  std::printf("%d measured networks of %s predicted by %s\n", s.n, o.measured.c_str(), o.table.c_str());
  for (const auto& r : rows)
    std::printf("  %-24s measured %10.3f s  predicted %10.3f s  %+7.1f%%\n",
                r["label"].get<std::string>().c_str(), r["measured_s"].get<double>(),
                r["predicted_s"].get<double>(), r["error_pct"].get<double>());
  std::printf("MAPE %.2f%%  max error %.2f%%\n", s.mape, s.max_error);
}

void run_validate(const ValidateOptions& o) {
  apply_common_options(o.common);
  const LatencyTable table = load_table(o.table);
  if (!o.measured.empty()) {
    require(o.space.empty() && o.archs.empty() && o.csv.empty(),
            "--measured replaces --space, --arch and --csv: give --measured alone");
    validate_measured(o, table);
    return;
  }
  require(table.device.kind != DeviceKind::mpc,
          "validate measures networks on this machine; an mpc table has nothing to measure here: "
          "give --measured P.json, networks measured elsewhere");
  require(o.space.empty() != o.archs.empty(), "give either --space (with --samples) or --arch");
  require(o.samples >= 1, "--samples must be >= 1");
  require(o.seconds > 0, "--seconds must be > 0");
  require(o.rounds >= 1, "--rounds must be >= 1");
  if (!o.csv.empty()) require_writable(o.csv, "--csv");  // before minutes of measuring

  set_threads(table.device.threads, o.table + " (device.threads)");
  const torch::Device device = table.device.kind == DeviceKind::cuda ? torch::Device("cuda") : torch::Device("cpu");
  if (device.is_cuda()) parse_device("cuda");  // a clear error without a GPU
  require_same_device(table.device,
                      current_device(table.device.kind, table.device.threads, table.device.batch,
                                     table.device.dtype),
                      o.table);

  std::vector<ArchSpec> nets;
  if (!o.space.empty()) {  // held out: none of them a network the table was calibrated on
    std::vector<ArchSpec> calibration;
    for (const auto& n : table.networks) calibration.push_back(n.arch);
    nets = sample_distinct(load_space(o.space), o.samples, o.seed, calibration, "val-");
  }
  for (const auto& a : o.archs) nets.push_back(load_arch(a));
  const TimingOptions timing = validation_timing(o.seconds);
  spdlog::info("validate {}: {} networks, {} s each in {} rounds", o.table, nets.size(), o.seconds, o.rounds);

  Progress bar("validate");
  const auto rows = run_validation(table, nets, device, timing, o.rounds, [&](double f, const std::string&) { bar.update(f); });
  std::vector<double> predicted, measured;
  for (const auto& r : rows) {
    predicted.push_back(r.predicted_ms);
    measured.push_back(r.measured_ms);
  }
  const ValidationStats s = validation_stats(predicted, measured);
  if (!o.csv.empty()) write_csv(o.csv, rows);

  if (o.common.json) {
    print_json({{"table", o.table}, {"n", s.n}, {"mape", s.mape}, {"rmse_ms", s.rmse_ms},
                {"max_error", s.max_error}, {"within_5", s.within_5}, {"within_10", s.within_10},
                {"kendall_tau", s.kendall_tau}});
    return;
  }
  std::printf("%d networks on %s (%d thread(s), batch %d)\n", s.n, table.device.model.c_str(),
              table.device.threads, table.device.batch);
  std::printf("MAPE %.2f%%  RMSE %.3f ms  max error %.2f%%  within 5%%: %.0f%%  within 10%%: %.0f%%  Kendall tau %.3f\n",
              s.mape, s.rmse_ms, s.max_error, 100 * s.within_5, 100 * s.within_10, s.kendall_tau);
}

// ---- calibrate -------------------------------------------------------------------------

struct CalibrateOptions {
  CommonOptions common;
  std::string table, measured, out;
  std::string form;  // mpc: link (default) or kinds
  bool loo = false;  // also each point predicted by the fit on the others
};

void run_calibrate(const CalibrateOptions& o) {
  apply_common_options(o.common);
  const LatencyTable table = load_table(o.table);
  const Measurements measured = load_measurements(o.measured);
  const CalibratedTable c = calibrate(table, measured, o.form);
  // Before anything is written: a leave-one-out that cannot fit fails the command.
  const std::vector<PredictedPoint> loo =
      o.loo ? leave_one_out(table, measured, o.form) : std::vector<PredictedPoint>{};
  const std::string out = o.out.empty() ? o.table : o.out;
  save_table(c.table, out);

  nlohmann::json points = nlohmann::json::array();
  for (size_t i = 0; i < c.points.size(); ++i) {
    const PredictedPoint& p = c.points[i];
    points.push_back({{"label", p.label}, {"measured_s", p.measured_s}, {"predicted_s", p.predicted_s}});
    if (o.loo) points.back()["loo_predicted_s"] = loo[i].predicted_s;
  }
  std::vector<double> loo_predicted, loo_measured;
  for (const auto& p : loo) {
    loo_predicted.push_back(p.predicted_s);
    loo_measured.push_back(p.measured_s);
  }
  const ValidationStats loo_stats =
      o.loo ? validation_stats(loo_predicted, loo_measured) : ValidationStats{};
  if (o.common.json) {
    nlohmann::json j = {{"out", out}, {"fitted", c.fitted}, {"points", points}};
    if (o.loo) j["loo"] = {{"mape", loo_stats.mape}, {"max_error", loo_stats.max_error}};
    print_json(j);
    return;
  }
  std::printf("calibrated %s on %zu points -> %s\n", o.table.c_str(), c.points.size(), out.c_str());
  std::printf("  %s\n", c.fitted.c_str());
  // cpu/cuda points are one batch, milliseconds; mpc points are seconds.
  const bool ms = c.table.device.kind != DeviceKind::mpc;
  const double unit = ms ? 1e3 : 1.0;
  for (size_t i = 0; i < c.points.size(); ++i) {
    const PredictedPoint& p = c.points[i];
    std::printf("  %-24s measured %10.3f %s  fitted %10.3f %s", p.label.c_str(),
                unit * p.measured_s, ms ? "ms" : "s", unit * p.predicted_s, ms ? "ms" : "s");
    if (o.loo)
      std::printf("  left out: %10.3f %s %+7.1f%%", unit * loo[i].predicted_s, ms ? "ms" : "s",
                  100.0 * (loo[i].predicted_s - p.measured_s) / p.measured_s);
    std::printf("\n");
  }
  if (o.loo)
    std::printf("leave-one-out (each point predicted by the fit on the others): MAPE %.2f%%  max "
                "error %.2f%%\n", loo_stats.mape, loo_stats.max_error);
}

}  // namespace

void register_latency(CLI::App& root) {
  auto* latency = root.add_subcommand("latency", "predict, validate and calibrate with a latency table");
  latency->require_subcommand(1);

  auto p = std::make_shared<PredictOptions>();
  auto* predict = latency->add_subcommand("predict", "per-block and total latency of archs from a table");
  predict->add_option("--table", p->table, "latency table JSON")->required();
  predict->add_option("--arch", p->archs, "preset or ArchSpec JSON; several: m0,m1,...")
      ->required()
      ->delimiter(',')
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  predict->add_option("--device", p->device, "the device you predict for (refused unless the table's)");
  predict->add_option("--threads", p->threads, "the thread count you predict for (must be the table's)")->check(integer_in(1, 4096));
  predict->add_option("--batch", p->batch, "the batch you predict for (must be the table's)")->check(integer_in(1, kMaxBatch));
  predict->add_option("--repeat", p->repeat, "also time this many predictions (predictions/s)")->check(integer_in(0, kMaxCount));
  add_common_options(*predict, p->common);
  predict->callback([p] { run_predict(*p); });

  auto v = std::make_shared<ValidateOptions>();
  auto* validate = latency->add_subcommand("validate", "measure held-out networks here and score the table");
  validate->add_option("--table", v->table, "latency table JSON (of this machine)")->required();
  validate->add_option("--space", v->space, "search-space JSON to draw networks from");
  validate->add_option("--arch", v->archs, "or: these archs")
      ->delimiter(',')
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  validate->add_option("--samples", v->samples, "networks to draw")->check(integer_in(1, 100000))->capture_default_str();
  validate->add_option("--seed", v->seed, "seed of the draws")->capture_default_str();
  validate->add_option("--seconds", v->seconds, "timed seconds per network (all rounds)")->check(number_in(0.01, kMaxSeconds))->capture_default_str();
  validate->add_option("--rounds", v->rounds, "round-robin rounds over the networks")->check(integer_in(1, 1000))->capture_default_str();
  validate->add_option("--csv", v->csv, "write predicted vs measured per network");
  validate->add_option("--measured", v->measured,
                       "or: score the table on networks measured elsewhere (measured points JSON, "
                       "see README; the check of an mpc table) instead of measuring here");
  add_common_options(*validate, v->common);
  validate->callback([v] { run_validate(*v); });

  auto c = std::make_shared<CalibrateOptions>();
  auto* calibrate = latency->add_subcommand("calibrate", "fit the table's correction to measured networks");
  calibrate->add_option("--table", c->table, "latency table JSON")->required();
  calibrate->add_option("--measured", c->measured, "measured points JSON (see README)")->required();
  calibrate->add_option("--out", c->out, "write the calibrated table here (default: in place)");
  calibrate->add_option("--form", c->form,
                        "mpc: link (effective RTT and bandwidth, the default) or kinds "
                        "(per-attention-kind scales)")
      ->check(CLI::IsMember({"link", "kinds"}));
  calibrate->add_flag("--loo", c->loo,
                      "also predict each point from the fit on all the others (leave-one-out)");
  add_common_options(*calibrate, c->common);
  calibrate->callback([c] { run_calibrate(*c); });

  register_check_costs(*latency);
}

}  // namespace vitnas::cli
