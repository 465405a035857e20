// MPCViT's head-kind search (issue 13 part 1, its search and binarisation): the mixed head
// against its two kinds, the alphas of both families against networks built with those kinds,
// MPCViT's binarisation counts, the heads' MPC costs against the network cost, and
// `vitnas search-mpc` end to end on a tiny ViT.
#include <cmath>
#include <filesystem>
#include <numeric>
#include <optional>

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


// The searching model with every alpha set to `value` (and, with softmax candidates, every gamma
// to `gamma`) against a plain model of `kind` with the same weights.
void check_alpha_is_kind(const ArchSpec& spec, double value, AttentionKind kind,
                         std::optional<double> gamma = std::nullopt) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(5);
  Classifier search = build_model(spec);
  for (auto& [name, t] : state_dict(*search))
    if (t.is_floating_point() &&
        (name.find("bias") != std::string::npos || name.find("norm") != std::string::npos))
      t.normal_(0.0, 0.3);  // non-trivial biases and norms (fresh BN and LN are identities)
  const KindSearchParameters p = enable_kind_search(*search, gamma.has_value());
  for (auto a : p.alphas) a.fill_(value);
  REQUIRE(p.gammas.size() == (gamma ? p.alphas.size() : 0));
  for (auto g : p.gammas) g.fill_(*gamma);
  Classifier plain = build_model(with_all(spec, kind));
  load_state_dict(*plain, without_search_parameters(state_dict(*search)), "search weights");
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
  const auto mixed = attend_search(q, k, v, {}, alpha, {}, scale);
  CHECK(max_diff(mixed.select(1, 0), rs.select(1, 0)) < 1e-6);
  CHECK(max_diff(mixed.select(1, 1), sc.select(1, 1)) < 1e-6);
  CHECK(max_diff(mixed.select(1, 2), 0.3 * rs.select(1, 2) + 0.7 * sc.select(1, 2)) < 1e-6);

  // Softmax as a third candidate: gamma Softmax + (1 - gamma) (the mix above); gamma 0 is MPCViT's.
  const auto sm = attend(q, k, v, {}, AttentionKind::Softmax, scale);
  const auto gamma = torch::tensor({1.0f, 0.0f, 0.6f}).view({3, 1, 1});
  const auto three = attend_search(q, k, v, {}, alpha, gamma, scale);
  CHECK(max_diff(three.select(1, 0), sm.select(1, 0)) < 1e-6);
  CHECK(max_diff(three.select(1, 1), sc.select(1, 1)) < 1e-6);
  CHECK(max_diff(three.select(1, 2), 0.6 * sm.select(1, 2) + 0.4 * (0.3 * rs.select(1, 2) +
                                                                     0.7 * sc.select(1, 2))) < 1e-6);
  CHECK(max_diff(attend_search(q, k, v, {}, alpha, torch::zeros({3, 1, 1}), scale), mixed) < 1e-6);
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
    // With softmax candidates: gamma 1 is softmax whatever alpha, gamma 0 leaves MPCViT's mix.
    check_alpha_is_kind(spec, 0.4, AttentionKind::Softmax, 1.0);
    check_alpha_is_kind(spec, 1.0, AttentionKind::ReluSoftmax, 0.0);
  }
  // One alpha per head, in head_kinds order, initialised to 1, trained (a gradient reaches it).
  Classifier m = build_model(evit);
  {
    torch::NoGradGuard no_grad;  // the official init zeroes the residual branches' last BN
    for (auto& p : m->named_parameters())
      if (p.key().find("bn.weight") != std::string::npos) p.value().fill_(1.0);
  }
  const auto alphas = enable_kind_search(*m).alphas;
  const auto values = alpha_values(alphas);
  CHECK(values.size() == head_kinds(evit).size());
  CHECK(std::all_of(values.begin(), values.end(), [](double a) { return a == 1.0; }));
  // Enabling again with softmax candidates keeps the alphas and adds gammas, initialised to 0.
  const KindSearchParameters p = enable_kind_search(*m, true);
  CHECK(p.alphas[0].is_same(alphas[0]));
  const auto gammas = alpha_values(p.gammas);
  CHECK(gammas.size() == values.size());
  CHECK(std::all_of(gammas.begin(), gammas.end(), [](double g) { return g == 0.0; }));
  m->forward(torch::randn({2, evit.in_chans, evit.img_size, evit.img_size})).sum().backward();
  CHECK(alphas[0].grad().defined());
  CHECK(alphas[0].grad().abs().sum().item<double>() > 0);
  CHECK(p.gammas[0].grad().abs().sum().item<double>() > 0);
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
  // Gammas of 0: MPCViT's binarisation, unchanged.
  CHECK(names(head_kinds(binarise_kinds(spec, {0.2, 0.9, 0.5, 0.9}, 2, {0, 0, 0, 0}))) ==
        names(head_kinds(b)));
  // Softmax candidates, by hand. Nonlinear weights 1 - (1 - gamma)(1 - alpha): 0.92, 0.9, 0.55,
  // 0.96; head 3 (gamma 0.6 > 0.4 * 0.9) and head 0 (0.9 > 0.1 * 0.2) are softmax, head 1
  // (0 < 0.9) RSAttn.
  const std::vector<double> alphas = {0.2, 0.9, 0.5, 0.9}, gammas = {0.9, 0.0, 0.1, 0.6};
  CHECK(names(head_kinds(binarise_kinds(spec, alphas, 2, gammas))) ==
        std::vector<std::string>{"softmax", "scaling", "scaling", "softmax"});
  CHECK(names(head_kinds(binarise_kinds(spec, alphas, 3, gammas))) ==
        std::vector<std::string>{"softmax", "relu_softmax", "scaling", "softmax"});
  CHECK_THROWS_AS(binarise_kinds(spec, alphas, 2, {0.1}), InputError);

  const ArchSpec vit = preset("vit_7_4_32");
  const auto r1 = names(head_kinds(random_kinds(vit, 9, 1)));
  const auto r1b = names(head_kinds(random_kinds(vit, 9, 1)));
  const auto r2 = names(head_kinds(random_kinds(vit, 9, 2)));
  CHECK(std::count(r1.begin(), r1.end(), "relu_softmax") == 9);
  CHECK(r1 == r1b);  // a seed names one placement
  CHECK(r1 != r2);
  // With 4 of the 9 softmax: the same 9 positions nonlinear, 4 of them softmax.
  const auto r1s = names(head_kinds(random_kinds(vit, 9, 1, 4)));
  CHECK(std::count(r1s.begin(), r1s.end(), "softmax") == 4);
  CHECK(std::count(r1s.begin(), r1s.end(), "relu_softmax") == 5);
  for (size_t h = 0; h < r1.size(); ++h) CHECK((r1[h] == "scaling") == (r1s[h] == "scaling"));
  CHECK_THROWS_AS(random_kinds(vit, 9, 1, 10), InputError);
  CHECK(count_kinds(random_kinds(vit, 9, 1, 4), AttentionKind::Softmax) == 4);
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
                   "--random-baselines 1 --retrain-baselines --json --out " + q(out));
  INFO(r.err);
  REQUIRE(r.code == 0);
  const json front = json::parse(r.out);
  REQUIRE(front.at("networks").size() == 2);
  CHECK(front.at("heads") == 4);
  CHECK(front.at("alphas").size() == 4);
  for (const auto& n : front.at("networks")) {
    CHECK(n.at("relu_softmax_heads") == 2);  // 4 - int(0.5 * 4)
    CHECK(n.at("test_top1").get<double>() >= 0);
    CHECK(n.at("inherited_top1").get<double>() >= 0);
    CHECK(n.at("inherited_top1").get<double>() <= 100);
    const ArchSpec a = load_arch(out + "/" + n.at("arch").get<std::string>());
    const auto kinds = head_kinds(a);
    CHECK(std::count(kinds.begin(), kinds.end(), AttentionKind::ReluSoftmax) == 2);
  }
  REQUIRE(front.at("baselines").size() == 3);
  for (const auto& b : front.at("baselines")) {  // retrained, each of one kind
    CHECK(b.at("test_top1").get<double>() >= 0);
    const auto kinds = head_kinds(load_arch(out + "/" + b.at("arch").get<std::string>()));
    CHECK(b.at("name") == "all-" + to_string(kinds[0]));
    CHECK(std::count(kinds.begin(), kinds.end(), kinds[0]) == 4);
    CHECK(b.at("relu_softmax_heads") == (kinds[0] == AttentionKind::ReluSoftmax ? 4 : 0));
  }
  for (const char* f : {"front.json", "front.csv", "front.svg", "search/alphas.json",
                        "search/metrics.jsonl", "mu0.5/weights.safetensors",
                        "mu0.5_random1/weights.safetensors", "all-scaling/weights.safetensors"})
    CHECK(fs::exists(out + "/" + f));
  // The search's alphas moved from their initial 1 (the latency term pushes them down).
  const auto alphas = front.at("alphas").get<std::vector<double>>();
  CHECK(std::any_of(alphas.begin(), alphas.end(), [](double a) { return a != 1.0; }));

  // --resume: everything is done, nothing retrains; the same front.
  r = run_cli("search-mpc" + common + " --epochs 2 --mu 0.5 --retrain-epochs 1 "
              "--random-baselines 1 --retrain-baselines --json --resume --out " + q(out));
  REQUIRE(r.code == 0);
  CHECK(json::parse(r.out).at("networks") == front.at("networks"));
  CHECK(json::parse(r.out).at("baselines") == front.at("baselines"));
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

TEST_CASE("search-mpc: a network of the search's kinds inherits the search network's accuracy", "[kind_search][cli]") {
  // With a learning rate of 1e-12 every alpha stays 1 (to 1e-9): the searching network is the
  // all-RSAttn network, so the mu = 1 network with the search's weights must score what the
  // trainer's own evaluation of the searching network scored (another code path: the loader).
  namespace fs = std::filesystem;
  const std::string out = scratch_path("ksi_run");
  fs::remove_all(out);
  auto r = run_cli("search-mpc" + tiny_search_flags("ksi") +
                   " --epochs 1 --lr 1e-12 --min-lr 1e-12 --warmup-lr 1e-12 --mu 1 --json --out " +
                   q(out));
  INFO(r.err);
  REQUIRE(r.code == 0);
  const json front = json::parse(r.out);
  for (double a : front.at("alphas").get<std::vector<double>>()) CHECK(a == Approx(1).margin(1e-9));
  const std::string metrics = read_text(out + "/search/metrics.jsonl");
  const json last = json::parse(metrics.substr(metrics.rfind('{')));
  const double searched = front.at("networks")[0].at("inherited_top1");
  CHECK(searched == Approx(last.at("test_top1").get<double>()).margin(100.0 / 64 + 1e-9));
  for (const auto& b : front.at("baselines"))
    if (b.at("name") == "all-relu_softmax") CHECK(b.at("inherited_top1") == searched);
}

TEST_CASE("cli search-mpc --softmax-candidates: gammas searched, three kinds placed, random baseline alike", "[kind_search][cli]") {
  namespace fs = std::filesystem;
  const std::string common = tiny_search_flags("kss") + " --epochs 1 --mu 0.5,1 --random-baselines 1";
  const std::string out = scratch_path("kss_run");
  fs::remove_all(out);
  // A lambda this large makes the cost term dominate: softmax costs most under MPC, so every
  // gamma's gradient is positive and the search pushes each below its initial 0.
  auto r = run_cli("search-mpc" + common + " --lambda 1000 --softmax-candidates --json --out " +
                   q(out));
  INFO(r.err);
  REQUIRE(r.code == 0);
  const json front = json::parse(r.out);
  CHECK(front.at("softmax_candidates") == true);
  const json saved = json::parse(read_text(out + "/search/alphas.json"));
  REQUIRE(saved.at("gammas").size() == 4);
  REQUIRE(saved.at("softmax_s").size() == 4);
  for (const auto& g : saved.at("gammas")) CHECK(g.get<double>() < 0);
  for (size_t h = 0; h < 4; ++h)  // each head's softmax costs more than its RSAttn
    CHECK(saved.at("softmax_s")[h].get<double>() > saved.at("relu_softmax_s")[h].get<double>());
  // The binarisation: gamma < 0 < (1 - gamma) alpha wherever alpha > 0, so no head is softmax,
  // and mu counts the nonlinear heads.
  for (const auto& n : front.at("networks")) {
    const ArchSpec a = load_arch(out + "/" + n.at("arch").get<std::string>());
    CHECK(n.at("softmax_heads") == count_kinds(a, AttentionKind::Softmax));
    CHECK(n.at("relu_softmax_heads") == count_kinds(a, AttentionKind::ReluSoftmax));
    CHECK(n.at("relu_softmax_heads").get<int>() + n.at("softmax_heads").get<int>() ==
          (n.at("mu") == 1.0 ? 4 : 2));
  }
  for (const auto& b : front.at("baselines"))
    if (b.at("name") == "all-softmax") CHECK(b.at("softmax_heads") == 4);
  CHECK_THAT(read_text(out + "/front.csv"), Contains("softmax_heads"));
  // Determinism: the same seed and flags in a fresh directory give the same alphas and gammas.
  const std::string again = scratch_path("kss_again");
  fs::remove_all(again);
  r = run_cli("search-mpc" + common + " --lambda 1000 --softmax-candidates --json --out " +
              q(again));
  REQUIRE(r.code == 0);
  const json saved_again = json::parse(read_text(again + "/search/alphas.json"));
  CHECK(saved_again.at("alphas") == saved.at("alphas"));
  CHECK(saved_again.at("gammas") == saved.at("gammas"));

  // At lambda 0 with a learning rate of 1e-12 nothing moves: gamma 0 and alpha 1 everywhere,
  // every nonlinear head RSAttn, as MPCViT's search would give.
  const std::string still = scratch_path("kss_still");
  fs::remove_all(still);
  r = run_cli("search-mpc" + common + " --lambda 0 --lr 1e-12 --min-lr 1e-12 --warmup-lr 1e-12 "
              "--softmax-candidates --json --out " + q(still));
  REQUIRE(r.code == 0);
  for (const auto& n : json::parse(r.out).at("networks")) CHECK(n.at("softmax_heads") == 0);

  // The same directory without --softmax-candidates: another search, refused, nothing touched.
  const std::string before = read_text(out + "/front.json");
  r = run_cli("search-mpc" + common + " --lambda 1000 --json --resume --out " + q(out));
  CHECK(r.is_input_error());
  CHECK(read_text(out + "/front.json") == before);
}

TEST_CASE("cli search-mpc on efficientvit: retrained with a teacher, no token term unless asked", "[kind_search][cli]") {
  namespace fs = std::filesystem;
  const std::string arch = scratch_path("kse_custom.json");
  write_text(arch, kCustomSpec);
  const std::string table = scratch_path("kse_mpc.json");
  fs::remove(table);
  REQUIRE(run_cli("profile --device mpc --link wan --arch " + q(arch) + " --out " + q(table)).code == 0);
  const ArchSpec spec = arch_from_json(json::parse(kCustomSpec));
  const std::string teacher = scratch_path("kse_teacher.safetensors");
  save_weights(*build_model(with_all(spec, AttentionKind::Softmax)), teacher);
  const std::string common = " --arch " + q(arch) + " --table " + q(table) +
                             " --data synthetic:64 --batch 16 --threads 1 --no-progress "
                             "--log-level warn --epochs 1 --mu 0.5 --retrain-epochs 1 "
                             "--teacher-weights " + q(teacher);
  const std::string out = scratch_path("kse_run");
  fs::remove_all(out);
  // The token MSE is vit's (MPCViT's default here): left off for efficientvit, not an error.
  auto r = run_cli("search-mpc" + common + " --json --out " + q(out));
  INFO(r.err);
  REQUIRE(r.code == 0);
  const json front = json::parse(r.out);
  CHECK(front.at("networks")[0].at("relu_softmax_heads") ==
        int(head_kinds(spec).size()) - int(0.5 * double(head_kinds(spec).size())));
  CHECK(front.at("networks")[0].at("test_top1").get<double>() >= 0);
  // Asked for explicitly, it is refused with the reason.
  const std::string fresh = scratch_path("kse_token");
  fs::remove_all(fresh);
  r = run_cli("search-mpc" + common + " --distill-token-beta 1 --out " + q(fresh));
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("vit family"));
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
    load_state_dict(*plain, without_search_parameters(state_dict(*search)), "search weights");
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
