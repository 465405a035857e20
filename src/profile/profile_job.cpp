#include "profile/profile_job.h"

#include <chrono>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "core/error.h"
#include "profile/calibration.h"
#include "profile/benchmark.h"
#include "profile/op_profiler.h"
#include "profile/predictor.h"

namespace vitnas {

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

torch::Dtype dtype_of(const DeviceInfo& d) {
  return d.dtype == "float16" ? torch::kFloat16 : torch::kFloat32;
}

}  // namespace

std::vector<ArchSpec> calibration_networks(const SearchSpace& space, int count, uint64_t seed) {
  std::vector<ArchSpec> nets;
  for (const auto& name : preset_names()) {
    const ArchSpec p = preset(name);
    if (p.family == Family::EfficientViT && contains(space, p)) nets.push_back(p);
  }
  for (auto& a : sample_distinct(space, count, seed, nets, "calib-")) nets.push_back(std::move(a));
  return nets;
}

void fit_table_calibration(LatencyTable& table) {
  if (table.networks.empty()) return;
  const Predictor predictor(table);  // group_sums() are raw sums, whatever the calibration
  std::vector<CalibrationPoint> points;
  for (const auto& n : table.networks)
    points.push_back({n.arch.name, predictor.group_sums(n.arch), n.measured.median_ms});
  table.calibration = fit_calibration(points);
}

LatencyTable run_profile(const ProfileJob& job, const std::vector<OpSignature>& signatures,
                         const std::vector<ArchSpec>& calibration_networks, const ProgressFn& progress) {
  LatencyTable table;
  if (std::filesystem::exists(job.out)) {
    require(job.resume, job.out + " exists: pass --resume to continue it, or choose another --out");
    table = load_table(job.out);
    require_same_device(table.device, job.info, job.out);
    spdlog::info("resuming {}: {} entries, {} networks measured", job.out, table.entries.size(),
                 table.networks.size());
  }
  table.device = job.info;

  // Work left, weighted by a rough cost so the ETA is honest: a network ~ 10 ops.
  std::vector<const OpSignature*> todo;
  for (const auto& s : signatures)
    if (table.entries.count(s.key()) == 0) todo.push_back(&s);
  std::vector<const ArchSpec*> nets;
  for (const auto& a : calibration_networks) {
    bool done = false;
    for (const auto& n : table.networks) done = done || n.arch == a;
    if (!done) nets.push_back(&a);
  }
  spdlog::info("profile: {} of {} signatures and {} of {} calibration networks to measure",
               todo.size(), signatures.size(), nets.size(), calibration_networks.size());
  const double total = double(todo.size()) + 10.0 * double(nets.size());
  double done = 0, last_save = now_s();
  auto checkpoint = [&](bool force) {
    if (force || now_s() - last_save >= job.save_every_s) {
      save_table(table, job.out);
      last_save = now_s();
    }
  };

  auto measure_net = [&](const ArchSpec& a) {
    if (progress) progress(done / std::max(total, 1.0), "network " + a.name);
    const TableEntry e = measure_network(a, job.info.batch, job.device, job.dtype, job.network_timing);
    table.networks.push_back({a, e});
    spdlog::debug("network {}: {:.3f} ms (spread {:.1f}%)", a.name, e.median_ms, 100 * e.spread);
    done += 10;
    checkpoint(true);
  };
  // The calibration networks are spread evenly between the ops, so that both see the same mix
  // of machine states (a shared machine drifts by a few % over minutes).
  size_t next_net = 0;
  for (size_t j = 0; j < todo.size(); ++j) {
    const OpSignature* s = todo[j];
    if (progress) progress(done / std::max(total, 1.0), s->key());
    const TableEntry e = measure_op(*s, job.device, job.dtype, job.op_timing);
    table.entries[s->key()] = e;
    spdlog::debug("{}: {:.4f} ms (spread {:.1f}%, {} samples, {} rejected)", s->key(), e.median_ms,
                  100 * e.spread, e.samples, e.rejected);
    done += 1;
    checkpoint(false);
    if (next_net < nets.size() && (j + 1) * nets.size() >= (next_net + 1) * todo.size())
      measure_net(*nets[next_net++]);
  }
  checkpoint(true);
  for (; next_net < nets.size(); ++next_net) measure_net(*nets[next_net]);
  fit_table_calibration(table);
  save_table(table, job.out);
  if (progress) progress(1.0, "done");
  return table;
}

std::vector<ValidationRow> run_validation(const LatencyTable& table, const std::vector<ArchSpec>& networks,
                                          const torch::Device& device, const TimingOptions& timing,
                                          int rounds, const ProgressFn& progress) {
  const Predictor predictor(table);
  std::vector<double> predicted;  // all first: a missing entry fails before any measuring
  for (const auto& n : networks) predicted.push_back(predictor.cost(n));

  std::vector<NetworkRunner> runners;
  for (size_t i = 0; i < networks.size(); ++i) {
    if (progress) progress(0.0, "building " + networks[i].name);
    runners.push_back(network_runner(networks[i], table.device.batch, device, dtype_of(table.device)));
  }
  // Round-robin: each network is timed once per round, so a slow spell of the machine touches
  // one round of many networks instead of all rounds of one.
  TimingOptions per_round = timing;
  per_round.seconds = timing.seconds / rounds;
  std::vector<std::vector<double>> medians(networks.size());
  std::vector<std::vector<double>> spreads(networks.size());
  for (int r = 0; r < rounds; ++r)
    for (size_t i = 0; i < networks.size(); ++i) {
      if (progress) progress(double(r * networks.size() + i) / double(rounds * networks.size()), networks[i].name);
      const Timing t = time_calls(runners[i], device, per_round);
      medians[i].push_back(t.median_ms);
      spreads[i].push_back(t.spread);
    }
  std::vector<ValidationRow> rows;
  for (size_t i = 0; i < networks.size(); ++i)
    rows.push_back({networks[i], predicted[i], median(medians[i]), median(spreads[i])});
  if (progress) progress(1.0, "done");
  return rows;
}

}  // namespace vitnas
