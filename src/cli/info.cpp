// vitnas info --arch ARCH [--batch N] [--json]: parameters, MACs, a per-block breakdown and the
// memory estimate the commands check before they allocate (with --json, also the full ArchSpec
// under "arch", so a preset can be written out as a file).
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/limits.h"
#include "core/complexity.h"
#include "core/memory.h"

namespace vitnas::cli {

namespace {

struct InfoOptions {
  CommonOptions common;
  std::string arch;
  int64_t batch = 1;
};

void run_info(const InfoOptions& o) {
  apply_common_options(o.common);
  const ArchSpec spec = load_arch(o.arch);
  const Complexity c = complexity(spec);
  const int64_t weights = estimate_bytes(spec, o.batch, Workload::Weights);
  const int64_t inference = estimate_bytes(spec, o.batch, Workload::Inference);
  const int64_t training = estimate_bytes(spec, o.batch, Workload::Training);
  if (o.common.json) {
    nlohmann::json blocks = nlohmann::json::array();
    for (const auto& b : c.blocks)
      blocks.push_back({{"name", b.name}, {"type", b.type}, {"resolution", b.resolution},
                        {"in_dim", b.in_dim}, {"out_dim", b.out_dim}, {"detail", b.detail},
                        {"params", b.params}, {"macs", b.macs}});
    print_json({{"name", spec.name}, {"family", to_string(spec.family)},
                {"img_size", spec.img_size}, {"params", c.params}, {"macs", c.macs},
                {"blocks", blocks},
                {"memory", {{"batch", o.batch}, {"weights_bytes", weights},
                            {"inference_bytes", inference}, {"training_bytes", training}}},
                {"arch", arch_to_json(spec)}});
    return;
  }
  std::printf("%s (%s, %dx%d, %d classes)\n", spec.name.c_str(), to_string(spec.family).c_str(),
              spec.img_size, spec.img_size, spec.num_classes);
  std::printf("%-14s %-14s %5s %11s %12s %10s  %s\n", "block", "type", "res", "in -> out",
              "params", "MMACs", "detail");
  for (const auto& b : c.blocks)
    std::printf("%-14s %-14s %5d %5d->%-5d %12lld %10.3f  %s\n", b.name.c_str(), b.type.c_str(),
                b.resolution, b.in_dim, b.out_dim, static_cast<long long>(b.params),
                double(b.macs) / 1e6, b.detail.c_str());
  std::printf("total: %lld params, %.2f M MACs (batch 1, the paper's FLOPs)\n",
              static_cast<long long>(c.params), double(c.macs) / 1e6);
  std::printf("memory at batch %lld (checked before a run allocates): weights %s, inference %s, "
              "training %s\n",
              static_cast<long long>(o.batch), format_bytes(double(weights)).c_str(),
              format_bytes(double(inference)).c_str(), format_bytes(double(training)).c_str());
}

}  // namespace

void register_info(CLI::App& root) {
  auto opts = std::make_shared<InfoOptions>();
  auto* sub = root.add_subcommand("info", "parameters, MACs and per-block breakdown of a network");
  sub->add_option("--arch", opts->arch, "preset (m0..m5, vit_7_4_32, vit_9_12_64, deit_tiny) or ArchSpec JSON")
      ->required();
  sub->add_option("--batch", opts->batch, "images per batch for the memory estimate (default 1)")
      ->check(integer_in(1, kMaxBatch));
  add_common_options(*sub, opts->common);
  sub->callback([opts] { run_info(*opts); });
}

}  // namespace vitnas::cli
