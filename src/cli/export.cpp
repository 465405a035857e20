// vitnas export onnx --arch A [--weights W] --out M.onnx [--batch B|dynamic] [--opset 13..17]:
// the network's inference graph as an ONNX model (export/onnx_export.h), checked before it is
// written. vitnas export weights --arch A --weights W --naming official|timm --out F: the weights
// under another tool's key layout (export/weight_naming.h). Files are written atomically: a
// failed export leaves no file.
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/limits.h"
#include "core/error.h"
#include "core/io.h"
#include "export/onnx_export.h"
#include "export/weight_naming.h"
#include "models/weights.h"

namespace vitnas::cli {

namespace {

struct OnnxCliOptions {
  CommonOptions common;
  std::string arch, weights, out, batch = "dynamic";
  int opset = kMaxOnnxOpset;
  uint64_t seed = 0;
};

int64_t parse_batch(const std::string& batch) {
  if (batch == "dynamic") return 0;
  return std::stoll(batch);  // the flag's validator has checked it
}

void run_export_onnx(const OnnxCliOptions& o) {
  apply_common_options(o.common);
  require(onnx_export_available(),
          "this vitnas was built without ONNX support: install libonnx-dev and rebuild");
  require_writable(o.out, "--out");
  auto model = load_model(o.arch, o.weights, o.seed);
  if (o.weights.empty())
    spdlog::warn("no --weights: exporting {} with its random initialisation (seed {})",
                 model->spec().name, o.seed);
  model->eval();
  const OnnxOptions options{o.opset, parse_batch(o.batch)};
  export_onnx(*model, o.out, options);
  spdlog::info("wrote {} ({}, opset {}, batch {})", o.out, model->spec().name, o.opset, o.batch);
  if (o.common.json)
    print_json({{"out", o.out}, {"arch", model->spec().name}, {"opset", o.opset},
                {"batch", o.batch}, {"input", "images"}, {"output", "logits"}});
}

struct WeightsCliOptions {
  CommonOptions common;
  std::string arch, weights, naming = "timm", out;
};

void run_export_weights(const WeightsCliOptions& o) {
  apply_common_options(o.common);
  const WeightNaming naming = parse_weight_naming(o.naming);
  require_writable(o.out, "--out");
  auto model = load_model(o.arch, o.weights);  // a strict load: the weights fit the arch
  const auto tensors = rename_weights(model->spec(), state_dict(*model), naming);
  safetensors::save(o.out, tensors, {{"arch", model->spec().name}, {"naming", o.naming}});
  spdlog::info("wrote {} ({} tensors, {} naming)", o.out, tensors.size(), o.naming);
  if (o.common.json)
    print_json({{"out", o.out}, {"arch", model->spec().name}, {"naming", o.naming},
                {"tensors", tensors.size()}});
}

}  // namespace

void register_export(CLI::App& root) {
  auto* cmd = root.add_subcommand("export", "write a network for other tools (ONNX, timm weights)");
  cmd->require_subcommand(1);

  auto o = std::make_shared<OnnxCliOptions>();
  auto* onnx = cmd->add_subcommand(
      "onnx", "the fused inference network as an ONNX model (BN folded, weights as initializers, "
              "checked with onnx::checker and strict shape inference)");
  onnx->add_option("--arch", o->arch, "preset or ArchSpec JSON")->required();
  onnx->add_option("--weights", o->weights, "safetensors weights (default: random initialisation with --seed)");
  onnx->add_option("--out", o->out, "the .onnx file to write")->required();
  onnx->add_option("--batch", o->batch, "input batch size, or \"dynamic\" for a batch dimension named \"batch\"")
      ->check(CLI::IsMember({"dynamic"}) | integer_in(1, kMaxBatch))
      ->capture_default_str();
  onnx->add_option("--opset", o->opset, "ONNX opset (13..17; LayerNormalization is one op from 17)")
      ->check(integer_in(kMinOnnxOpset, kMaxOnnxOpset))
      ->capture_default_str();
  onnx->add_option("--seed", o->seed, "initialisation seed when no --weights are given")->capture_default_str();
  add_common_options(*onnx, o->common);
  onnx->callback([o] { run_export_onnx(*o); });

  auto w = std::make_shared<WeightsCliOptions>();
  auto* weights = cmd->add_subcommand(
      "weights", "the weights under another key layout: official (the EfficientViT code's) or "
                 "timm (efficientvit_msra; for ViTs, VisionTransformer's)");
  weights->add_option("--arch", w->arch, "preset or ArchSpec JSON")->required();
  weights->add_option("--weights", w->weights, "safetensors weights in vitnas's (official) names")->required();
  weights->add_option("--naming", w->naming, "official or timm")
      ->check(CLI::IsMember({"official", "timm"}))->capture_default_str();
  weights->add_option("--out", w->out, "the safetensors file to write")->required();
  add_common_options(*weights, w->common);
  weights->callback([w] { run_export_weights(*w); });
}

}  // namespace vitnas::cli
