// vitnas latency predict|validate|calibrate: use a latency table.
//   predict    per-block and total latency of archs (cpu/cuda: ms per batch; mpc: rounds,
//              bytes, seconds)
//   validate   measures random networks of a space on this machine (the table's device) and
//              reports how well the table predicted them
//   calibrate  refits the table's correction on measured whole networks from a file
#include <chrono>
#include <cstdio>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "core/io.h"
#include "core/search_space.h"
#include "profile/calibration.h"
#include "profile/mpc_cost.h"
#include "profile/predictor.h"
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

nlohmann::json predict_mpc(const MpcDevice& mpc, const ArchSpec& spec) {
  const MpcBreakdown b = mpc_cost(spec, mpc.costs, mpc.network);
  nlohmann::json blocks = nlohmann::json::array();
  for (const auto& row : b.blocks) {
    nlohmann::json j = {{"name", row.name}, {"type", row.type}, {"rounds", row.cost.rounds},
                        {"bytes", row.cost.bytes}, {"seconds", row.seconds}};
    if (mpc.calibration) j["calibrated_seconds"] = calibrated_seconds(row, *mpc.calibration);
    blocks.push_back(j);
  }
  nlohmann::json j = {{"arch", spec.name}, {"rounds", b.total.rounds}, {"bytes", b.total.bytes},
                      {"analytic_seconds", b.seconds}, {"blocks", blocks},
                      {"network", network_to_json(mpc.network)}};
  // `seconds` is the figure to use: calibrated when the table has a calibration.
  j["seconds"] = mpc.calibration ? calibrated_seconds(b, *mpc.calibration) : b.seconds;
  j["calibrated"] = mpc.calibration.has_value();
  return j;
}

nlohmann::json predict_measured(const Predictor& predictor, const ArchSpec& spec) {
  const Prediction p = predictor.breakdown(spec);
  nlohmann::json blocks = nlohmann::json::array();
  for (const auto& b : p.blocks)
    blocks.push_back({{"name", b.name}, {"type", b.type}, {"raw_ms", b.raw_ms}, {"ms", b.calibrated_ms}});
  return {{"arch", spec.name}, {"ms", p.ms}, {"raw_ms", p.raw_ms},
          {"img_per_s", predictor.batch() / (p.ms / 1e3)}, {"blocks", blocks}};
}

void print_prediction(const nlohmann::json& j, bool mpc) {
  std::printf("%s\n", j["arch"].get<std::string>().c_str());
  if (mpc) {
    std::printf("  %-14s %-14s %8s %14s %10s\n", "block", "type", "rounds", "bytes", "seconds");
    for (const auto& b : j["blocks"])
      std::printf("  %-14s %-14s %8.0f %14.0f %10.3f\n", b["name"].get<std::string>().c_str(),
                  b["type"].get<std::string>().c_str(), b["rounds"].get<double>(),
                  b["bytes"].get<double>(), b.value("calibrated_seconds", b["seconds"].get<double>()));
    std::printf("  total: %.0f rounds, %.0f bytes, %.3f s%s (analytic %.3f s)\n",
                j["rounds"].get<double>(), j["bytes"].get<double>(), j["seconds"].get<double>(),
                j["calibrated"].get<bool>() ? " calibrated" : "", j["analytic_seconds"].get<double>());
    return;
  }
  std::printf("  %-14s %-14s %10s\n", "block", "type", "ms");
  for (const auto& b : j["blocks"])
    std::printf("  %-14s %-14s %10.3f\n", b["name"].get<std::string>().c_str(),
                b["type"].get<std::string>().c_str(), b["ms"].get<double>());
  std::printf("  total: %.3f ms per batch (%.1f img/s; sum of entries %.3f ms)\n", j["ms"].get<double>(),
              j["img_per_s"].get<double>(), j["raw_ms"].get<double>());
}

void run_predict(const PredictOptions& o) {
  apply_common_options(o.common);
  const LatencyTable table = load_table(o.table);
  // The table only speaks for its own device: a stated target must be that device.
  if (!o.device.empty())
    require(o.device == table.device.kind || (table.device.kind == "cuda" && o.device.rfind("cuda", 0) == 0),
            o.table + " is a table of device " + table.device.kind + ", not " + o.device);
  if (o.threads > 0)
    require(o.threads == table.device.threads, o.table + " was measured with " +
                                                   std::to_string(table.device.threads) + " thread(s), not " +
                                                   std::to_string(o.threads));
  if (o.batch > 0)
    require(o.batch == table.device.batch, o.table + " was measured at batch " +
                                               std::to_string(table.device.batch) + ", not " +
                                               std::to_string(o.batch));
  std::vector<ArchSpec> specs;
  for (const auto& a : o.archs) specs.push_back(load_arch(a));
  const bool mpc = table.device.kind == "mpc";
  std::optional<Predictor> predictor;
  if (!mpc) predictor.emplace(table);

  nlohmann::json rows = nlohmann::json::array();
  for (const auto& spec : specs)
    rows.push_back(mpc ? predict_mpc(*table.mpc, spec) : predict_measured(*predictor, spec));

  if (o.repeat > 0) {  // prediction throughput on one thread, the search's inner loop
    const auto t0 = std::chrono::steady_clock::now();
    double sink = 0;
    for (int i = 0; i < o.repeat; ++i)
      sink += mpc ? mpc_cost(specs[size_t(i) % specs.size()], table.mpc->costs, table.mpc->network).seconds
                  : predictor->predict_ms(specs[size_t(i) % specs.size()]);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double rate = o.repeat / s;
    if (!o.common.json) std::printf("%d predictions in %.3f s: %.0f predictions/s (%.3f us each; checksum %.3g)\n",
                                    o.repeat, s, rate, 1e6 / rate, sink);
    for (auto& r : rows) r["predictions_per_s"] = rate;
  }
  if (o.common.json) {
    print_json(rows.size() == 1 ? rows[0] : rows);
    return;
  }
  for (const auto& r : rows) print_prediction(r, mpc);
}

// ---- validate --------------------------------------------------------------------------

struct ValidateOptions {
  CommonOptions common;
  std::string table, space, csv;
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

void run_validate(const ValidateOptions& o) {
  apply_common_options(o.common);
  const LatencyTable table = load_table(o.table);
  require(table.device.kind != "mpc",
          "validate measures networks on this machine; an mpc table has nothing to measure here");
  require(o.space.empty() != o.archs.empty(), "give either --space (with --samples) or --arch");
  require(o.samples >= 1, "--samples must be >= 1");
  require(o.seconds > 0, "--seconds must be > 0");
  require(o.rounds >= 1, "--rounds must be >= 1");

  set_threads(table.device.threads);
  const torch::Device device = table.device.kind == "cuda" ? torch::Device("cuda") : torch::Device("cpu");
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
  TimingOptions timing{0.2, 2, o.seconds, 5, 0.0};
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
};

void run_calibrate(const CalibrateOptions& o) {
  apply_common_options(o.common);
  LatencyTable table = load_table(o.table);
  const Measurements m = load_measurements(o.measured);
  require(!m.points.empty(), o.measured + ": no points");
  nlohmann::json points = nlohmann::json::array();

  if (table.mpc) {
    const NetworkProfile& n = table.mpc->network;
    require(m.network.bandwidth_bits_per_s == n.bandwidth_bits_per_s && m.network.rtt_s == n.rtt_s,
            o.measured + " was measured on network '" + m.network.name + "' but " + o.table +
                " models '" + n.name + "': profile an mpc table with that network");
    const MpcCalibration c = fit_mpc_calibration(m.points, table.mpc->costs, n);
    table.mpc->calibration = c;
    for (const auto& p : m.points)
      points.push_back({{"label", p.label}, {"measured_s", p.seconds},
                        {"predicted_s", calibrated_seconds(mpc_cost(p.arch, table.mpc->costs, n), c)}});
  } else {
    table.networks.clear();
    for (const auto& p : m.points) table.networks.push_back({p.arch, {p.seconds * 1e3, 0, 1, 0}});
    for (size_t i = 0; i < m.points.size(); ++i) table.networks[i].arch.name = m.points[i].label;
    fit_table_calibration(table);
    const Predictor predictor(table);
    for (const auto& p : m.points)
      points.push_back({{"label", p.label}, {"measured_s", p.seconds},
                        {"predicted_s", predictor.predict_ms(p.arch) / 1e3}});
  }
  const std::string out = o.out.empty() ? o.table : o.out;
  save_table(table, out);

  if (o.common.json) {
    print_json({{"out", out}, {"points", points}});
    return;
  }
  std::printf("calibrated %s on %zu points -> %s\n", o.table.c_str(), m.points.size(), out.c_str());
  if (table.mpc) {
    const auto& c = *table.mpc->calibration;
    std::printf("  rest x%.4f, softmax x%.4f, relu_softmax x%.4f, scaling x%.4f\n", c.rest_scale,
                c.kind_scale[0], c.kind_scale[1], c.kind_scale[2]);
  }
  for (const auto& p : points)
    std::printf("  %-24s measured %10.3f s  fitted %10.3f s\n", p["label"].get<std::string>().c_str(),
                p["measured_s"].get<double>(), p["predicted_s"].get<double>());
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
  predict->add_option("--threads", p->threads, "the thread count you predict for (must be the table's)");
  predict->add_option("--batch", p->batch, "the batch you predict for (must be the table's)");
  predict->add_option("--repeat", p->repeat, "also time this many predictions (predictions/s)");
  add_common_options(*predict, p->common);
  predict->callback([p] { run_predict(*p); });

  auto v = std::make_shared<ValidateOptions>();
  auto* validate = latency->add_subcommand("validate", "measure held-out networks here and score the table");
  validate->add_option("--table", v->table, "latency table JSON (of this machine)")->required();
  validate->add_option("--space", v->space, "search-space JSON to draw networks from");
  validate->add_option("--arch", v->archs, "or: these archs")
      ->delimiter(',')
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  validate->add_option("--samples", v->samples, "networks to draw")->capture_default_str();
  validate->add_option("--seed", v->seed, "seed of the draws")->capture_default_str();
  validate->add_option("--seconds", v->seconds, "timed seconds per network (all rounds)")->capture_default_str();
  validate->add_option("--rounds", v->rounds, "round-robin rounds over the networks")->capture_default_str();
  validate->add_option("--csv", v->csv, "write predicted vs measured per network");
  add_common_options(*validate, v->common);
  validate->callback([v] { run_validate(*v); });

  auto c = std::make_shared<CalibrateOptions>();
  auto* calibrate = latency->add_subcommand("calibrate", "fit the table's correction to measured networks");
  calibrate->add_option("--table", c->table, "latency table JSON")->required();
  calibrate->add_option("--measured", c->measured, "measured points JSON (see README)")->required();
  calibrate->add_option("--out", c->out, "write the calibrated table here (default: in place)");
  add_common_options(*calibrate, c->common);
  calibrate->callback([c] { run_calibrate(*c); });
}

}  // namespace vitnas::cli
