// vitnas profile --device cpu|cuda|mpc (--space S.json | --arch A ...) --out T.json: builds a
// latency table. cpu/cuda: every op signature the space (or the archs) can produce is measured
// in the fused inference form, then a few whole networks calibrate the sum; the table is saved
// as it grows and --resume continues it. mpc: the table records the analytic cost model (cost
// table and link profile); nothing is measured.
#include <cstdio>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/limits.h"
#include "core/error.h"
#include "core/memory.h"
#include "core/search_space.h"
#include "profile/calibration.h"
#include "profile/mpc_model.h"
#include "profile/profile_job.h"
#include "profile/space_signatures.h"

namespace vitnas::cli {

namespace {

struct ProfileCliOptions {
  CommonOptions common;
  std::string device = "cpu", space, out, dtype = "float32";
  std::vector<std::string> archs;
  int threads = 1;
  int batch = 0;  // 0: 16 on CPU, 256 on CUDA, 1 for MPC
  bool resume = false;
  double seconds = 0.25;     // timed seconds per op
  int calibration_nets = 12;  // random networks of the space measured whole (besides its presets)
  uint64_t seed = 0;
  // mpc
  std::string link = "wan", network, costs;  // network: the old name of --link
  double bandwidth_mbit = 0, rtt_ms = 0;
};

LinkProfile link_of(const ProfileCliOptions& o) {
  if (o.bandwidth_mbit > 0 || o.rtt_ms > 0) {
    require(o.bandwidth_mbit > 0 && o.rtt_ms >= 0,
            "--bandwidth-mbit must be > 0 and --rtt-ms >= 0 (give both)");
    return custom_link(o.bandwidth_mbit, o.rtt_ms);
  }
  if (!o.network.empty()) {
    spdlog::warn("--network is deprecated (a network is a neural network here): use --link {}", o.network);
    return link_profile(o.network);
  }
  return link_profile(o.link);
}

void profile_mpc(const ProfileCliOptions& o, const std::vector<ArchSpec>& archs) {
  require(!std::filesystem::exists(o.out) || o.resume,
          o.out + " exists: pass --resume to replace its model, or choose another --out");
  const LinkProfile link = link_of(o);
  const LatencyTable table =
      make_mpc_table(o.costs.empty() ? crypten_cost_table() : load_cost_table(o.costs), link, archs);
  save_table(table, o.out);
  if (o.common.json) {
    // "network": the old name of "link", kept for one release.
    print_json({{"out", o.out}, {"device", device_to_json(table.device)},
                {"link", link_to_json(link)}, {"network", link_to_json(link)}});
    return;
  }
  std::printf("wrote %s: 2-party MPC, cost table '%s', link %s (%.0f Mbit/s, %.1f ms RTT)\n",
              o.out.c_str(), table.device.model.c_str(), link.name.c_str(),
              link.bandwidth_bits_per_s / 1e6, link.rtt_s * 1e3);
}

// --resume continues the same job: a table holding entries or networks this --space/--arch does
// not produce was started with other flags, and resuming it with these would leave most of what
// that job needs unmeasured while looking finished.
void require_same_job(const std::string& path, const std::vector<OpSignature>& signatures,
                      const std::vector<ArchSpec>& nets) {
  const LatencyTable table = load_table(path);
  std::set<std::string> keys;
  for (const auto& s : signatures) keys.insert(s.key());
  size_t foreign = 0;
  for (const auto& [key, e] : table.entries) foreign += keys.count(key) == 0 ? 1 : 0;
  for (const auto& n : table.networks) {
    bool known = false;
    for (const auto& a : nets) known = known || a == n.arch;
    foreign += known ? 0 : 1;
  }
  require(foreign == 0, path + ": " + std::to_string(foreign) + " of its entries and networks are "
                        "not produced by this --space/--arch/--calibration-nets/--seed: resume with "
                        "the flags the table was started with, or choose another --out");
}

void run_profile_cli(ProfileCliOptions o) {
  apply_common_options(o.common);
  require(!o.out.empty(), "--out: name the latency table file to write");
  require(o.space.empty() != o.archs.empty(), "give either --space or --arch");
  std::vector<ArchSpec> archs;
  for (const auto& a : o.archs) archs.push_back(load_arch(a));
  std::optional<SearchSpace> space;
  if (!o.space.empty()) space = load_space(o.space);

  if (device_kind_of(o.device) == DeviceKind::mpc) {
    profile_mpc(o, archs);
    return;
  }

  set_threads(o.threads);
  const torch::Device device = parse_device(o.device);
  require(o.dtype == "float32" || (o.dtype == "float16" && device.is_cuda()),
          "--dtype: float32, or float16 with --device cuda");
  if (o.batch == 0) o.batch = device.is_cuda() ? 256 : 16;  // unset (the flag refuses 0)
  // Each op measured is one part of a network at --batch, and the calibration networks run
  // whole: the widest network's inference estimate bounds both.
  if (device.is_cpu())
    for (const ArchSpec& a : space ? std::vector<ArchSpec>{largest(*space)} : archs)
      require_memory(a, o.batch, Workload::Inference,
                     "profile --batch " + std::to_string(o.batch) + " of " + a.name);

  ProfileJob job;
  job.out = o.out;
  job.resume = o.resume;
  job.device = device;
  job.dtype = o.dtype == "float16" ? torch::kFloat16 : torch::kFloat32;
  job.info = current_device(device.is_cuda() ? DeviceKind::cuda : DeviceKind::cpu, o.threads, o.batch, o.dtype,
                            device.is_cuda() ? device.index() : 0);
  job.op_timing.seconds = o.seconds;

  const auto signatures = space ? space_signatures(*space, o.batch) : arch_signatures(archs, o.batch);
  const auto nets = space ? calibration_networks(*space, o.calibration_nets, o.seed) : archs;
  spdlog::info("profile {}: {} ({} threads, batch {}), {} op signatures, {} calibration networks",
               o.out, job.info.model, o.threads, o.batch, signatures.size(), nets.size());

  if (o.resume && std::filesystem::exists(o.out)) require_same_job(o.out, signatures, nets);
  Progress bar("profile");
  const LatencyTable table =
      run_profile(job, signatures, nets, [&](double f, const std::string&) { bar.update(f); });

  double worst_spread = 0;
  for (const auto& [key, e] : table.entries) worst_spread = std::max(worst_spread, e.spread);
  const auto& c = table.calibration;
  if (o.common.json) {
    nlohmann::json j = {{"out", o.out}, {"device", device_to_json(table.device)},
                        {"entries", table.entries.size()}, {"networks", table.networks.size()}};
    if (c) j["calibration"] = {{"constant_ms", c->constant_ms}, {"scale", c->scale}, {"fit_mape", c->fit_mape}};
    print_json(j);
    return;
  }
  std::printf("wrote %s: %zu entries, %zu calibration networks (%s, %d thread(s), batch %d)\n",
              o.out.c_str(), table.entries.size(), table.networks.size(), table.device.model.c_str(),
              table.device.threads, table.device.batch);
  if (c)
    std::printf("calibration: %s\n", describe_calibration(*c).c_str());
}

}  // namespace

void register_profile(CLI::App& root) {
  auto o = std::make_shared<ProfileCliOptions>();
  auto* sub = root.add_subcommand("profile", "measure every block a space or arch can produce into a latency table");
  sub->add_option("--device", o->device, "cpu, cuda[:N] or mpc")->capture_default_str();
  sub->add_option("--space", o->space, "search-space JSON (every block it can produce)");
  sub->add_option("--arch", o->archs, "preset or ArchSpec JSON; several: m0,m1,...")
      ->delimiter(',')
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub->add_option("--out", o->out, "latency table JSON to write")->required();
  sub->add_flag("--resume", o->resume, "continue an interrupted table (same device)");
  sub->add_option("--threads", o->threads, "intra-op CPU threads")->check(thread_count(false))->capture_default_str();
  sub->add_option("--batch", o->batch, "batch size (default 16 on CPU, 256 on CUDA, 1 for MPC)")->check(integer_in(1, kMaxBatch));
  sub->add_option("--dtype", o->dtype, "float32, or float16 on CUDA")->capture_default_str();
  sub->add_option("--seconds", o->seconds, "timed seconds per op")->check(number_in(0.001, kMaxSeconds))->capture_default_str();
  sub->add_option("--calibration-nets", o->calibration_nets,
                  "random networks of the space measured whole to calibrate (besides its presets)")->check(integer_in(0, 10000))
      ->capture_default_str();
  sub->add_option("--seed", o->seed, "seed of the calibration networks")->capture_default_str();
  auto* link = sub->add_option("--link", o->link, "mpc: the link between the parties, lan or wan")
                   ->capture_default_str();
  sub->add_option("--network", o->network, "mpc: deprecated name of --link")->excludes(link);
  sub->add_option("--bandwidth-mbit", o->bandwidth_mbit, "mpc: custom bandwidth, Mbit/s")->check(number_in(1e-3, 1e9));
  sub->add_option("--rtt-ms", o->rtt_ms, "mpc: custom round-trip time, ms")->check(number_in(0, 1e6));
  sub->add_option("--costs", o->costs, "mpc: cost table JSON (default: CrypTen, REFERENCE.md)");
  add_common_options(*sub, o->common);
  sub->callback([o] { run_profile_cli(*o); });
}

}  // namespace vitnas::cli
