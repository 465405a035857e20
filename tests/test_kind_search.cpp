// MPCViT's head-kind search (issue 13 part 1, its search and binarisation): the mixed head
// against its two kinds, the alphas of both families against networks built with those kinds,
// MPCViT's binarisation counts, the heads' MPC costs against the network cost, and
// `vitnas search-mpc` end to end on a tiny ViT.
#include <cmath>
#include <filesystem>
#include <numeric>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "cli_runner.h"
#include "core/arch_spec.h"
#include "core/error.h"
#include "fixtures.h"
#include "models/attention_ops.h"
#include "models/classifier.h"
#include "models/kind_search.h"
#include "models/weights.h"
#include "profile/mpc_cost.h"
#include "profile/mpc_model.h"
#include "search/mpc_kinds.h"

using namespace vitnas;
using namespace vitnas::test;
using Catch::Contains;
using nlohmann::json;

namespace {

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

ArchSpec with_all(ArchSpec s, AttentionKind k) {
  for (AttentionKind* p : head_kinds(s)) *p = k;
  return s;
}

// The searching model's weights without its alphas and betas: what a plain network loads.
safetensors::TensorList without_search_parameters(const ClassifierImpl& model) {
  safetensors::TensorList w;
  for (auto& [name, t] : state_dict(model))
    if (name.find("alpha") == std::string::npos && name.find("beta") == std::string::npos)
      w.emplace_back(name, t);
  return w;
}

// The searching model with every alpha set to `value` against a plain model of `kind` with the
// same weights.
void check_alpha_is_kind(const ArchSpec& spec, double value, AttentionKind kind) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(5);
  Classifier search = build_model(spec);
  for (auto& [name, t] : state_dict(*search))
    if (t.is_floating_point() &&
        (name.find("bias") != std::string::npos || name.find("norm") != std::string::npos))
      t.normal_(0.0, 0.3);  // non-trivial biases and norms (fresh BN and LN are identities)
  const auto alphas = enable_kind_search(*search);
  for (auto a : alphas) a.fill_(value);
  Classifier plain = build_model(with_all(spec, kind));
  load_state_dict(*plain, without_search_parameters(*search), "search weights");
  search->eval();
  plain->eval();
  const auto x = torch::randn({2, spec.in_chans, spec.img_size, spec.img_size});
  CHECK(max_diff(search->forward(x), plain->forward(x)) < 1e-5);
}

// Kinds as names (Catch prints these).
std::vector<std::string> names(const std::vector<AttentionKind>& kinds) {
  std::vector<std::string> out;
  for (AttentionKind k : kinds) out.push_back(to_string(k));
  return out;
}

// The tiny ViT as a file and its WAN mpc table (scratch files named by `prefix`): the flags
// every search-mpc run below starts with.
std::string tiny_search_flags(const std::string& prefix) {
  const std::string arch = scratch_path(prefix + "_tiny_vit.json");
  write_text(arch, kTinyViTSpec);
  const std::string table = scratch_path(prefix + "_mpc.json");
  std::filesystem::remove(table);
  REQUIRE(run_cli("profile --device mpc --link wan --arch " + q(arch) + " --out " + q(table)).code == 0);
  return " --arch " + q(arch) + " --table " + q(table) +
         " --data synthetic:256 --batch 32 --threads 1 --no-progress --log-level warn";
}

}  // namespace

TEST_CASE("kind search: the mixed head is alpha RSAttn + (1 - alpha) ScaleAttn", "[kind_search]") {
  torch::manual_seed(1);
  const auto q = torch::randn({2, 3, 9, 8}), k = torch::randn({2, 3, 9, 8}), v = torch::randn({2, 3, 9, 5});
  const double scale = 0.35;
  const auto rs = attend(q, k, v, {}, AttentionKind::ReluSoftmax, scale);
  const auto sc = attend(q, k, v, {}, AttentionKind::Scaling, scale);
  const auto alpha = torch::tensor({1.0f, 0.0f, 0.3f}).view({3, 1, 1});  // per head
  const auto mixed = attend_search(q, k, v, {}, alpha, scale);
  CHECK(max_diff(mixed.select(1, 0), rs.select(1, 0)) < 1e-6);
  CHECK(max_diff(mixed.select(1, 1), sc.select(1, 1)) < 1e-6);
  CHECK(max_diff(mixed.select(1, 2), 0.3 * rs.select(1, 2) + 0.7 * sc.select(1, 2)) < 1e-6);
}

TEST_CASE("kind search: alphas of 1 and 0 are RSAttn and ScaleAttn networks, both families", "[kind_search]") {
  ArchSpec mixed_widths = preset("vit_7_4_32");
  mixed_widths.vit.layers.resize(2);
  mixed_widths.vit.layers[1].heads[2].qk_dim = 32;  // the per-head path
  const ArchSpec evit = arch_from_json(json::parse(kCustomSpec));
  for (const ArchSpec& spec : {preset("vit_7_4_32"), mixed_widths, evit}) {
    INFO(spec.name);
    check_alpha_is_kind(spec, 1.0, AttentionKind::ReluSoftmax);
    check_alpha_is_kind(spec, 0.0, AttentionKind::Scaling);
  }
  // One alpha per head, in head_kinds order, initialised to 1, trained (a gradient reaches it).
  Classifier m = build_model(evit);
  {
    torch::NoGradGuard no_grad;  // the official init zeroes the residual branches' last BN
    for (auto& p : m->named_parameters())
      if (p.key().find("bn.weight") != std::string::npos) p.value().fill_(1.0);
  }
  const auto alphas = enable_kind_search(*m);
  const auto values = alpha_values(alphas);
  CHECK(values.size() == head_kinds(evit).size());
  CHECK(std::all_of(values.begin(), values.end(), [](double a) { return a == 1.0; }));
  m->forward(torch::randn({2, evit.in_chans, evit.img_size, evit.img_size})).sum().backward();
  CHECK(alphas[0].grad().defined());
  CHECK(alphas[0].grad().abs().sum().item<double>() > 0);
}

TEST_CASE("kind search: MPCViT's binarisation counts and ranking", "[kind_search]") {
  // 28 heads of vit_7_4_32: MPCViT's 3 / 9 / 14 / 20 RSAttn heads at mu 0.1 / 0.3 / 0.5 / 0.7.
  CHECK(relu_softmax_heads(28, 0.1) == 3);
  CHECK(relu_softmax_heads(28, 0.3) == 9);
  CHECK(relu_softmax_heads(28, 0.5) == 14);
  CHECK(relu_softmax_heads(28, 0.7) == 20);
  CHECK(relu_softmax_heads(28, 1.0) == 28);
  CHECK_THROWS_AS(relu_softmax_heads(28, 0.0), InputError);
  CHECK_THROWS_AS(relu_softmax_heads(28, 1.5), InputError);

  const ArchSpec spec = arch_from_json(json::parse(kTinyViTSpec));  // 2 layers of 2 heads
  const ArchSpec b = binarise_kinds(spec, {0.2, 0.9, 0.5, 0.9}, 2);  // ties keep position order
  CHECK(names(head_kinds(b)) ==
        std::vector<std::string>{"scaling", "relu_softmax", "scaling", "relu_softmax"});
  CHECK_THROWS_AS(binarise_kinds(spec, {0.1, 0.2}, 1), InputError);

  const ArchSpec vit = preset("vit_7_4_32");
  const auto r1 = names(head_kinds(random_kinds(vit, 9, 1)));
  const auto r1b = names(head_kinds(random_kinds(vit, 9, 1)));
  const auto r2 = names(head_kinds(random_kinds(vit, 9, 2)));
  CHECK(std::count(r1.begin(), r1.end(), "relu_softmax") == 9);
  CHECK(r1 == r1b);  // a seed names one placement
  CHECK(r1 != r2);
}

// Each head's MPC seconds are its share of what the network cost attributes to its kind: summed
// over the heads they give the breakdown's attention seconds of that kind. By hand, one RSAttn
// head of vit_7_4_32 on WAN: 40 of its layer's rounds shared by 4 heads, and its own bytes
// 8 (65 64 2) + 1,034,280 + 8 (65 65 + 65 64).
TEST_CASE("kind search: the heads' MPC costs", "[kind_search][mpc]") {
  const ArchSpec vit = preset("vit_7_4_32");
  const LatencyTable table = make_mpc_table(crypten_cost_table(), link_profile("wan"), {vit});
  const auto rs = head_seconds(table, vit, AttentionKind::ReluSoftmax);
  const auto sc = head_seconds(table, vit, AttentionKind::Scaling);
  REQUIRE(rs.size() == 28);
  REQUIRE(sc.size() == 28);
  const double bytes = 8.0 * 65 * 64 * 2 + 1034280 + 8.0 * (65 * 65 + 65 * 64);
  CHECK(rs[0] == Approx(40.0 / 4 * 0.040 + bytes * 8 / 400e6));
  const MpcBreakdown b = mpc_total(with_all(vit, AttentionKind::ReluSoftmax), table.mpc->costs,
                                   table.mpc->link);
  CHECK(std::accumulate(rs.begin(), rs.end(), 0.0) ==
        Approx(b.attention_seconds[int(AttentionKind::ReluSoftmax)]));
  CHECK(sc[0] < rs[0]);
  // A calibrated table charges the calibrated seconds (kinds form: the kind's scale).
  LatencyTable calibrated = table;
  MpcCalibration c;
  c.kind_scale[int(AttentionKind::ReluSoftmax)] = 2.0;
  calibrated.mpc->calibration = c;
  CHECK(head_seconds(calibrated, vit, AttentionKind::ReluSoftmax)[0] == Approx(2 * rs[0]));
  // Not an mpc table.
  LatencyTable cpu = table;
  cpu.device.kind = DeviceKind::cpu;
  CHECK_THROWS_AS(head_seconds(cpu, vit, AttentionKind::Scaling), InputError);
}

TEST_CASE("cli search-mpc: search, binarise, retrain with a random baseline, resume, bad input", "[kind_search][cli]") {
  namespace fs = std::filesystem;
  const std::string common = tiny_search_flags("ks") + " --lr 1e-3";
  const std::string arch = scratch_path("ks_tiny_vit.json");
  const std::string out = scratch_path("ks_run");
  fs::remove_all(out);
  auto r = run_cli("search-mpc" + common + " --epochs 2 --mu 0.5 --retrain-epochs 1 "
                   "--random-baselines 1 --json --out " + q(out));
  INFO(r.err);
  REQUIRE(r.code == 0);
  const json front = json::parse(r.out);
  REQUIRE(front.at("networks").size() == 2);
  CHECK(front.at("heads") == 4);
  CHECK(front.at("alphas").size() == 4);
  for (const auto& n : front.at("networks")) {
    CHECK(n.at("relu_softmax_heads") == 2);  // 4 - int(0.5 * 4)
    CHECK(n.at("test_top1").get<double>() >= 0);
    const ArchSpec a = load_arch(out + "/" + n.at("arch").get<std::string>());
    const auto kinds = head_kinds(a);
    CHECK(std::count(kinds.begin(), kinds.end(), AttentionKind::ReluSoftmax) == 2);
  }
  CHECK(front.at("baselines").size() == 3);
  for (const char* f : {"front.json", "front.csv", "front.svg", "search/alphas.json",
                        "search/metrics.jsonl", "mu0.5/weights.safetensors",
                        "mu0.5_random1/weights.safetensors"})
    CHECK(fs::exists(out + "/" + f));
  // The search's alphas moved from their initial 1 (the latency term pushes them down).
  const auto alphas = front.at("alphas").get<std::vector<double>>();
  CHECK(std::any_of(alphas.begin(), alphas.end(), [](double a) { return a != 1.0; }));

  // --resume: everything is done, nothing retrains; the same front.
  r = run_cli("search-mpc" + common + " --epochs 2 --mu 0.5 --retrain-epochs 1 "
              "--random-baselines 1 --json --resume --out " + q(out));
  REQUIRE(r.code == 0);
  CHECK(json::parse(r.out).at("networks") == front.at("networks"));
  // Without --resume the run is refused and nothing is touched.
  const std::string before = read_text(out + "/front.json");
  r = run_cli("search-mpc" + common + " --epochs 2 --mu 0.5 --out " + q(out));
  CHECK(r.is_input_error());
  CHECK(read_text(out + "/front.json") == before);

  // Bad input, each refused before anything is written.
  const std::string fresh = scratch_path("ks_bad");
  fs::remove_all(fresh);
  r = run_cli("search-mpc" + common + " --mu 1.5 --out " + q(fresh));
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("--mu"));
  r = run_cli("search-mpc --arch " + q(arch) + " --table " +
              q(std::string(VITNAS_SOURCE_DIR) + "/experiments/tables/cpu_1t_b16.json") +
              " --data synthetic:256 --out " + q(fresh));
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("mpc table"));
  // A teacher of another shape: weights of vit_7_4_32 for the tiny ViT.
  const std::string wrong = scratch_path("ks_wrong_teacher.safetensors");
  save_weights(*build_model(preset("vit_7_4_32")), wrong);
  r = run_cli("search-mpc" + common + " --retrain-epochs 1 --teacher-weights " + q(wrong) +
              " --out " + q(fresh));
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("ks_wrong_teacher"));
  CHECK(!fs::exists(fresh));
  // A corrupt alphas.json of a finished search: named, with the entry, exit 2.
  write_text(out + "/search/alphas.json", R"({"alphas": ["a", 1, 1, 1]})");
  r = run_cli("search-mpc" + common + " --epochs 2 --mu 0.5 --retrain-epochs 1 "
              "--random-baselines 1 --resume --out " + q(out));
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("alphas.json") && Contains("alphas[0]"));
}

// MPCViT+ (issue 13 part 2): a beta per layer mixing the MLP's GeLU with the identity.
TEST_CASE("linearisation search: betas of 1 and 0 are GeLU and linear networks, binarisation, costs", "[kind_search]") {
  torch::NoGradGuard no_grad;
  ArchSpec spec = preset("vit_7_4_32");
  spec.vit.layers.resize(3);
  spec.vit.layers[2].act = Activation::Identity;  // already linear: no beta
  torch::manual_seed(7);
  Classifier search = build_model(spec);
  const auto betas = enable_linearisation_search(*search);
  REQUIRE(betas.size() == 3);
  CHECK(betas[0].defined());
  CHECK(!betas[2].defined());
  const auto values = alpha_values(betas);
  CHECK(values[0] == 1.0);
  CHECK(std::isnan(values[2]));
  search->eval();
  const auto x = torch::randn({2, spec.in_chans, spec.img_size, spec.img_size});
  for (double beta : {1.0, 0.0}) {
    for (const auto& b : betas)
      if (b.defined()) b.fill_(beta);
    ArchSpec plain_spec = spec;
    if (beta == 0.0)
      for (auto& l : plain_spec.vit.layers) l.act = Activation::Identity;
    Classifier plain = build_model(plain_spec);
    load_state_dict(*plain, without_search_parameters(*search), "search weights");
    plain->eval();
    INFO("beta " << beta);
    CHECK(max_diff(search->forward(x), plain->forward(x)) < 1e-5);
  }
  CHECK_THROWS_AS(enable_linearisation_search(*build_model(arch_from_json(json::parse(kCustomSpec)))),
                  InputError);

  // The lowest betas go linear; already-linear layers (NaN) are skipped; too many are refused.
  const ArchSpec lin = linearise_layers(spec, {0.9, 0.2, std::nan("")}, 1);
  CHECK(lin.vit.layers[0].act == Activation::GELU);
  CHECK(lin.vit.layers[1].act == Activation::Identity);
  CHECK_THROWS_AS(linearise_layers(spec, {0.9, 0.2, std::nan("")}, 3), InputError);

  // Each layer's GeLU under MPC by hand on WAN: 35 rounds, 392 B x 65 tokens x 512; linear: 0.
  const LatencyTable table = make_mpc_table(crypten_cost_table(), link_profile("wan"), {spec});
  const auto s = activation_seconds(table, spec);
  REQUIRE(s.size() == 3);
  CHECK(s[0] == Approx(35 * 0.040 + 392.0 * 65 * 512 * 8 / 400e6));
  CHECK(s[2] == 0);
}

TEST_CASE("cli search-mpc --linearise: the lowest-beta layers are linear in every network", "[kind_search][cli]") {
  namespace fs = std::filesystem;
  const std::string common = tiny_search_flags("ksl");
  const std::string out = scratch_path("ksl_run");
  fs::remove_all(out);
  auto r = run_cli("search-mpc" + common + " --epochs 1 --mu 0.5,1 --linearise 1 --json --out " +
                   q(out));
  INFO(r.err);
  REQUIRE(r.code == 0);
  const json front = json::parse(r.out);
  REQUIRE(front.at("networks").size() == 2);
  for (const auto& n : front.at("networks")) {
    CHECK(n.at("linear_layers") == 1);
    CHECK(n.at("test_top1") == -1);  // not retrained
  }
  CHECK(json::parse(read_text(out + "/search/alphas.json")).at("betas").size() == 2);
  // Linear layers cost nothing under MPC: the linearised mu = 1 network is cheaper than all-RSAttn.
  double all_rs = 0;
  for (const auto& b : front.at("baselines"))
    if (b.at("name") == "all-relu_softmax") all_rs = b.at("mpc_seconds");
  CHECK(front.at("networks")[1].at("mpc_seconds").get<double>() < all_rs);
  // More layers than the network has: refused before anything is written.
  const std::string bad = scratch_path("ksl_bad");
  fs::remove_all(bad);
  r = run_cli("search-mpc" + common + " --linearise 3 --out " + q(bad));
  CHECK(r.is_input_error());
  CHECK(!fs::exists(bad));
}
