// The models reproduce the official EfficientViT exactly: same state-dict keys and shapes, and
// the official eval-mode logits for random non-trivial weights (../shared/reference).
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/arch_spec.h"
#include "core/complexity.h"
#include "core/safetensors.h"
#include "models/attention_ops.h"
#include "models/classifier.h"
#include "models/inference.h"
#include "models/weights.h"
#include "torch_fixtures.h"

using namespace vitnas;
using vitnas::test::max_abs_diff;
using vitnas::test::perturb;

namespace {

std::string reference(const std::string& file) {
  return std::string(VITNAS_REFERENCE_DIR) + "/efficientvit/" + file;
}

// (key, shape) rows of keys_mN.tsv, shapes as "64x3x3x3" or "scalar".
std::vector<std::pair<std::string, std::string>> official_keys(const std::string& preset) {
  std::ifstream in(reference("keys_" + preset + ".tsv"));
  REQUIRE(in.good());
  std::vector<std::pair<std::string, std::string>> rows;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string key, shape;
    ss >> key >> shape;
    rows.emplace_back(key, shape);
  }
  return rows;
}

std::string shape_of(const torch::Tensor& t) {
  if (t.dim() == 0) return "scalar";
  std::string s;
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? "x" : "") + std::to_string(t.size(i));
  return s;
}

}  // namespace

TEST_CASE("EfficientViT presets have exactly the official state-dict keys, in order",
          "[models]") {
  for (const auto& name : {"m0", "m1", "m2", "m3", "m4", "m5"}) {
    INFO(name);
    auto model = build_model(preset(name));
    auto sd = state_dict(*model);
    auto keys = official_keys(name);
    REQUIRE(sd.size() == keys.size());
    for (size_t i = 0; i < sd.size(); ++i) {
      INFO(keys[i].first);
      CHECK(sd[i].first == keys[i].first);
      CHECK(shape_of(sd[i].second) == keys[i].second);
    }
    int64_t params = 0;
    for (const auto& p : model->parameters()) params += p.numel();
    CHECK(params == complexity(preset(name)).params);
  }
}

namespace {

ArchSpec custom_efficientvit() {
  // 40x40 input: stage maps 10 and 5, window 4 -> padded windows in stage 1; non-cascade heads
  // with free v_dim, all three kinds, an attention-free block, two FFNs before, distillation.
  auto j = arch_to_json(preset("m0"));
  j["name"] = "custom";
  j["img_size"] = 40;
  j["num_classes"] = 7;
  j["distillation"] = true;
  j["stem"] = nlohmann::json::array({16, 64});
  j["stages"][0]["window"] = 4;
  auto& heads = j["stages"][0]["blocks"][0]["attention"]["heads"];
  j["stages"][0]["blocks"][0]["attention"]["cascade"] = false;
  heads[0]["kind"] = "relu_softmax";
  heads[1]["kind"] = "scaling";
  heads[1]["v_dim"] = 24;
  heads[2]["key_dim"] = 8;
  heads[3]["kernel"] = 3;
  j["stages"][0]["blocks"][0]["ffn_before"] = nlohmann::json::array({96, 64});
  j["stages"][1]["blocks"][1]["attention"] = nullptr;
  j["stages"][2]["blocks"][0]["attention"]["heads"][2]["kind"] = "scaling";
  return arch_from_json(j);
}

}  // namespace

TEST_CASE("fused EfficientViT equals the unfused eval network", "[models][fuse]") {
  torch::NoGradGuard no_grad;
  for (const auto& spec : {preset("m0"), preset("m2"), custom_efficientvit()}) {
    INFO(spec.name);
    auto model = build_model(spec);
    perturb(*model, 7);
    model->eval();
    auto x = torch::randn({3, 3, spec.img_size, spec.img_size});
    auto reference = model->forward(x);
    auto fused = fuse(*model);
    CHECK(max_abs_diff(fused->forward(x), reference) < 1e-5 * std::max(1.0, reference.abs().max().item<double>()));
  }
}

TEST_CASE("m0 and m1 reproduce the official logits, unfused and fused", "[models][fuse]") {
  for (const auto& name : {"m0", "m1"}) {
    INFO(name);
    auto file = safetensors::load(reference(std::string("vec_") + name + ".safetensors"));
    torch::Tensor input, logits;
    for (const auto& [k, t] : file.tensors) {
      if (k == "__input__") input = t;
      if (k == "__logits__") logits = t;
    }
    auto model = build_model(preset(name));
    load_state_dict(*model, file.tensors, name);
    model->eval();
    torch::NoGradGuard no_grad;
    CHECK(max_abs_diff(model->forward(input), logits) < 1e-4);
    CHECK(max_abs_diff(fuse(*model)->forward(input), logits) < 1e-4);
  }
}

// Their outputs are checked against an independent forward in test_vit_reference.cpp.
TEST_CASE("ViT presets have the spec's parameter count and logits shape", "[models][vit]") {
  torch::NoGradGuard no_grad;
  for (const auto& name : {"vit_7_4_32", "vit_9_12_64", "deit_tiny"}) {
    INFO(name);
    auto spec = preset(name);
    auto model = build_model(spec);
    int64_t params = 0;
    for (const auto& p : model->parameters()) params += p.numel();
    CHECK(params == complexity(spec).params);
    model->eval();
    auto y = model->forward(torch::randn({2, spec.in_chans, spec.img_size, spec.img_size}));
    CHECK(y.sizes() == torch::IntArrayRef({2, spec.num_classes}));
  }
}

TEST_CASE("attention kinds follow MPCViT's formulas", "[models]") {
  auto s = torch::tensor({{1.0, -2.0, 3.0}});
  auto soft = attention_map(s, AttentionKind::Softmax);
  CHECK(soft.sum().item<double>() == Approx(1.0));
  auto rs = attention_map(s, AttentionKind::ReluSoftmax);
  CHECK(rs[0][0].item<double>() == Approx(1.0 / (4.0 + 1e-5)));
  CHECK(rs[0][1].item<double>() == 0.0);
  auto sc = attention_map(s, AttentionKind::Scaling);
  CHECK(sc[0][2].item<double>() == Approx(1.0));
  for (auto kind : {AttentionKind::Softmax, AttentionKind::ReluSoftmax, AttentionKind::Scaling}) {
    auto copy = s.clone();
    CHECK(max_abs_diff(attention_map_(copy, kind), attention_map(s, kind)) < 1e-7);
  }
}

TEST_CASE("the official-form baseline (BN replaced in place) equals the unfused network",
          "[models][fuse]") {
  torch::NoGradGuard no_grad;
  auto spec = custom_efficientvit();
  auto model = build_model(spec);
  perturb(*model, 3);
  model->eval();
  auto x = torch::randn({2, 3, spec.img_size, spec.img_size});
  auto reference = model->forward(x);
  CHECK(max_abs_diff(official_fused(*model)->forward(x), reference) < 1e-5);
  CHECK(max_abs_diff(model->forward(x), reference) == 0.0);  // the model itself is untouched
}

TEST_CASE("move_to changes floating tensors only, like PyTorch's Module.to", "[models]") {
  auto model = build_model(preset("m0"));
  move_to(*model, torch::kCPU, torch::kFloat64);
  for (const auto& [name, t] : state_dict(*model)) {
    INFO(name);
    const bool integer = name.find("num_batches_tracked") != std::string::npos ||
                         name.find("attention_bias_idxs") != std::string::npos;
    CHECK(t.scalar_type() == (integer ? torch::kInt64 : torch::kFloat64));
  }
  model->eval();
  torch::NoGradGuard no_grad;
  auto y = model->forward(torch::randn({1, 3, 224, 224}, torch::kFloat64));
  CHECK(y.scalar_type() == torch::kFloat64);
}
