// ONNX export, checked in an independent runtime: ONNX Runtime (onnxruntime-node, installed by
// scripts/setup.sh) runs the exported graph, and its logits must equal vitnas's fused network's
// (what `vitnas forward --fused` writes) within 1e-4, for every attention kind, padded windows,
// cascade on/off, attention-free blocks, distillation heads and both families.
#include <cstdlib>
#include <filesystem>

#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "cli_runner.h"
#include "core/arch_spec.h"
#include "core/safetensors.h"
#include "export/onnx_export.h"
#include "fixtures.h"
#include "models/inference.h"
#include "torch_fixtures.h"

#ifdef VITNAS_WITH_ONNX  // a build without libonnx-dev has no ONNX export to test

using namespace vitnas;
using namespace vitnas::test;

namespace {

// `node scripts/onnx_run.js` on images; fails the test with ONNX Runtime's message.
torch::Tensor onnx_runtime_logits(const std::string& model, const torch::Tensor& images) {
  const std::string in = scratch_path("ort_in.safetensors"), out = scratch_path("ort_out.safetensors"),
                    err = scratch_path("ort_err.txt");
  safetensors::save(in, {{"images", images.contiguous()}});
  std::filesystem::remove(out);
  const std::string cmd = std::string("NODE_PATH=") + q(VITNAS_ORT_NODE_PATH) + " node " +
                          q(std::string(VITNAS_SOURCE_DIR) + "/scripts/onnx_run.js") + " " + q(model) +
                          " " + q(in) + " " + q(out) + " 2>" + q(err);
  const int status = std::system(cmd.c_str());
  INFO("ONNX Runtime: " << read_text(err)
                        << " (is onnxruntime-node installed? bash scripts/setup.sh does it)");
  REQUIRE(status == 0);
  return safetensors::load(out).tensors.at(0).second;
}

// Random weights with non-trivial BN statistics and biases, exported and run in ONNX Runtime:
// within 1e-4, and within 1e-4 of the logits' own scale (some random networks give logits of
// 1e-3, where an absolute bound alone would let a wrong graph through).
void check_onnx_vs_fused(const ArchSpec& spec, int64_t batch, int opset) {
  auto model = build_model(spec);
  perturb(*model, 11);
  model->eval();
  torch::manual_seed(3);
  const auto images = torch::randn({batch, spec.in_chans, spec.img_size, spec.img_size});
  const auto expected = fuse(*model)->forward(images);
  const std::string path = scratch_path(spec.name + ".onnx");
  export_onnx(*model, path, {opset, 0});
  const auto got = onnx_runtime_logits(path, images);
  REQUIRE(got.sizes() == expected.sizes());
  const double diff = max_abs_diff(got, expected), scale = expected.abs().max().item<double>();
  INFO(spec.name << " opset " << opset << ": max |logit| " << scale);
  CHECK(diff <= 1e-4);
  CHECK(diff <= 1e-4 * scale);
}

// kCustomSpec on a 40x40 input: maps of 10 and 5 with window 4, so stage 1's windows are
// zero-padded (12 = 3 x 4) and stage 2's are too (5 -> 8); kinds softmax, relu_softmax and
// scaling; kernels 1, 3, 5; non-cascade and cascade heads with free v_dim; an attention-free
// block; a stage that is only its downsample; a distillation head.
ArchSpec heterogeneous_efficientvit() {
  ArchSpec spec = arch_from_json(nlohmann::json::parse(kCustomSpec));
  spec.img_size = 40;
  spec.name = "heterogeneous";
  return spec;
}

// A CCT-style ViT: no class token (mean pooling), no qkv bias, heads of different widths and
// kinds, ReLU and identity MLPs, a distillation head.
const char* kCctSpec = R"({
  "family": "vit", "name": "cct_like", "img_size": 16, "patch_size": 4, "in_chans": 3,
  "num_classes": 7, "embed_dim": 24, "cls_token": false, "qkv_bias": false, "style": "cct",
  "distillation": true,
  "layers": [
    {"heads": [{"qk_dim": 8, "v_dim": 16, "kind": "softmax"},
               {"qk_dim": 4, "v_dim": 8, "kind": "scaling"}], "mlp_hidden": 32, "act": "relu"},
    {"heads": [{"qk_dim": 12, "v_dim": 12, "kind": "relu_softmax"}], "mlp_hidden": 40, "act": "identity"}]})";

}  // namespace

TEST_CASE("onnx export: m0..m5 in ONNX Runtime give vitnas's fused logits", "[onnx]") {
  for (const char* name : {"m0", "m1", "m2", "m3", "m4", "m5"}) {
    INFO(name);
    check_onnx_vs_fused(preset(name), 2, kMaxOnnxOpset);
  }
}

TEST_CASE("onnx export: padded windows, every attention kind, cascade off, distillation", "[onnx]") {
  const ArchSpec spec = heterogeneous_efficientvit();
  for (int opset : {kMinOnnxOpset, kMaxOnnxOpset}) {
    INFO("opset " << opset);
    check_onnx_vs_fused(spec, 3, opset);
  }
}

TEST_CASE("onnx export: vit_7_4_32, deit_tiny and a CCT-style ViT, LayerNorm op and decomposed", "[onnx]") {
  check_onnx_vs_fused(preset("vit_7_4_32"), 2, kMaxOnnxOpset);
  check_onnx_vs_fused(preset("deit_tiny"), 1, kMaxOnnxOpset);
  const ArchSpec cct = arch_from_json(nlohmann::json::parse(kCctSpec));
  for (int opset : {kMinOnnxOpset, kMaxOnnxOpset}) {
    INFO("opset " << opset);
    check_onnx_vs_fused(cct, 3, opset);
  }
}

TEST_CASE("onnx export: Python's onnx.checker full check accepts the graph", "[onnx]") {
  auto model = build_model(heterogeneous_efficientvit());
  const std::string path = scratch_path("checked.onnx");
  export_onnx(*model, path, {kMinOnnxOpset, 0});
  const std::string cmd = std::string(VITNAS_PYTHON) + " -c 'import onnx, sys; m = onnx.load(sys.argv[1]); "
                          "onnx.checker.check_model(m, full_check=True); "
                          "print(m.graph.node[0].name, m.metadata_props[0].key)' " + q(path) +
                          " >" + q(scratch_path("checker.txt")) + " 2>&1";
  const int status = std::system(cmd.c_str());
  INFO(read_text(scratch_path("checker.txt")));
  REQUIRE(status == 0);
  CHECK(read_text(scratch_path("checker.txt")) == "patch_embed.0 arch\n");  // readable names, the spec
}

TEST_CASE("cli export onnx: forward --fused logits, a static batch, bad input writes no file", "[onnx]") {
  const std::string weights = scratch_path("m0_onnx.safetensors"), images = scratch_path("m0_in.safetensors");
  const std::string onnx = scratch_path("m0_static.onnx"), logits = scratch_path("m0_logits.safetensors");
  auto model = build_model(preset("m0"));
  perturb(*model, 5);
  save_weights(*model, weights);
  torch::manual_seed(1);
  const auto x = torch::randn({3, 3, 224, 224});
  safetensors::save(images, {{"images", x}});

  REQUIRE(run_cli("export onnx --arch m0 --weights " + q(weights) + " --out " + q(onnx) + " --batch 3").code == 0);
  REQUIRE(run_cli("forward --fused --arch m0 --weights " + q(weights) + " --input " + q(images) +
                  " --output " + q(logits)).code == 0);
  CHECK(max_abs_diff(onnx_runtime_logits(onnx, x), safetensors::load(logits).tensors.at(0).second) <= 1e-4);

  const std::string none = scratch_path("never.onnx");
  for (const std::string& args :
       {"--arch m0 --out " + q(none) + " --opset 12", "--arch m0 --out " + q(none) + " --opset 18",
        "--arch m0 --out " + q(none) + " --batch 0", "--arch m0 --out " + q(none) + " --batch many",
        "--arch m1 --weights " + q(weights) + " --out " + q(none),  // m0's weights
        "--arch m0 --out " + q(scratch_path("no_such_dir/m0.onnx"))}) {
    INFO(args);
    const CliRun r = run_cli("export onnx " + args);
    CHECK(r.is_input_error());
    CHECK_FALSE(std::filesystem::exists(none));
  }
}

#endif  // VITNAS_WITH_ONNX
