// vitnas forward --arch A --weights W --input X.safetensors --output Y.safetensors [--fused]:
// runs the network (eval) on a tensor from a safetensors file and writes "logits". This is how
// users check vitnas against PyTorch: same weights, same input, compare the logits.
#include <cstdio>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/limits.h"
#include "core/error.h"
#include "core/io.h"
#include "core/memory.h"
#include "core/safetensors.h"
#include "models/inference.h"

namespace vitnas::cli {

namespace {

struct ForwardOptions {
  CommonOptions common;
  std::string arch, weights, input, input_key, output, device = "cpu";
  bool fused = false;
  int threads = 1;
};

// The input tensor: --input-key, else the file's only tensor, else "__input__" / "input".
torch::Tensor pick_input(const safetensors::File& file, const ForwardOptions& o) {
  auto find = [&](const std::string& key) -> torch::Tensor {
    for (const auto& [k, t] : file.tensors)
      if (k == key) return t;
    return {};
  };
  if (!o.input_key.empty()) {
    auto t = find(o.input_key);
    require(t.defined(), o.input + ": no tensor '" + o.input_key + "' (see --input-key)");
    return t;
  }
  require(!file.tensors.empty(), o.input + ": holds no tensor (write the input as one)");
  if (file.tensors.size() == 1) return file.tensors[0].second;
  for (const char* key : {"__input__", "input"})
    if (auto t = find(key); t.defined()) return t;
  throw InputError(o.input + ": several tensors; choose one with --input-key");
}

void run_forward(const ForwardOptions& o) {
  apply_common_options(o.common);
  set_threads(o.threads);
  const torch::Device device = parse_device(o.device);
  auto model = load_model(o.arch, o.weights);
  const ArchSpec& spec = model->spec();

  require_writable(o.output, "--output");
  auto x = pick_input(safetensors::load(o.input), o);
  require(x.is_floating_point(), o.input + ": the input must be a floating-point tensor");
  if (x.dim() == 3) {
    spdlog::warn("{}: a 3-D input {} is taken as one image (C, H, W)", o.input, c10::str(x.sizes()));
    x = x.unsqueeze(0);
  }  require(x.dim() == 4 && x.size(1) == spec.in_chans && x.size(2) == spec.img_size &&
              x.size(3) == spec.img_size,
          o.input + ": input must be (B, " + std::to_string(spec.in_chans) + ", " +
              std::to_string(spec.img_size) + ", " + std::to_string(spec.img_size) + "), got " +
              c10::str(x.sizes()));
  require(x.size(0) >= 1, o.input + ": the input holds no image (batch 0)");
  // NaN or inf in, NaN logits out with exit 0 would be a silent wrong answer.
  const int64_t bad = x.numel() - torch::isfinite(x).sum().item<int64_t>();
  require(bad == 0, o.input + ": the input has " + std::to_string(bad) +
                        " NaN or infinite values (check how it was written)");
  if (device.is_cpu())
    require_memory(spec, x.size(0), Workload::Inference,
                   "forward on " + std::to_string(x.size(0)) + " images of " + spec.name);

  model->eval();
  model->to(device);
  auto net = o.fused ? fuse(*model) : unfused(model);
  auto logits = net->forward(x.to(device, torch::kFloat32)).cpu().contiguous();
  safetensors::save(o.output, {{"logits", logits}},
                    {{"arch", spec.name}, {"network", o.fused ? "fused" : "unfused"}});
  spdlog::info("wrote logits {} to {}", c10::str(logits.sizes()), o.output);
  if (o.common.json) {
    auto top = logits.argmax(1);
    nlohmann::json j = {{"output", o.output}, {"shape", logits.sizes().vec()},
                        {"top1", std::vector<int64_t>(top.data_ptr<int64_t>(),
                                                      top.data_ptr<int64_t>() + top.numel())}};
    print_json(j);
  }
}

}  // namespace

void register_forward(CLI::App& root) {
  auto o = std::make_shared<ForwardOptions>();
  auto* sub = root.add_subcommand("forward", "run a network on a tensor from a safetensors file");
  sub->add_option("--arch", o->arch, "preset or ArchSpec JSON")->required();
  sub->add_option("--weights", o->weights, "safetensors weights (official key names for EfficientViT)")
      ->required();
  sub->add_option("--input", o->input, "safetensors file holding the input (B, C, H, W)")->required();
  sub->add_option("--input-key", o->input_key, "tensor name in --input (default: the only tensor, or __input__ / input)");
  sub->add_option("--output", o->output, "safetensors file to write (tensor 'logits')")->required();
  sub->add_flag("--fused", o->fused, "run the BN-fused inference network");
  sub->add_option("--device", o->device, "cpu or cuda[:N]")->capture_default_str();
  sub->add_option("--threads", o->threads, "intra-op CPU threads")->check(thread_count(false))->capture_default_str();
  add_common_options(*sub, o->common);
  sub->callback([o] { run_forward(*o); });
}

}  // namespace vitnas::cli
