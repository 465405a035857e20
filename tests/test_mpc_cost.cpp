// The analytic MPC cost model: operator costs pinned to REFERENCE.md section 2, network shapes
// (heads together, cascades in sequence), rows named like complexity(), the calibration on
// MPCViT's single-kind networks interpolating its mu networks, and the held-out Tiny-ImageNet
// figures pinned.
#include <cmath>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/arch_spec.h"
#include "core/complexity.h"
#include "core/error.h"
#include "core/io.h"
#include "fixtures.h"
#include "profile/measured_points.h"
#include "profile/mpc_calibration.h"
#include "profile/mpc_cost.h"

using namespace vitnas;
using nlohmann::json;

namespace {

const std::string kMpcDir = std::string(VITNAS_SOURCE_DIR) + "/experiments/mpc/";

ArchSpec vit_all(AttentionKind kind) {
  ArchSpec s = preset("vit_7_4_32");
  for (auto& l : s.vit.layers)
    for (auto& h : l.heads) h.kind = kind;
  return s;
}

// A one-layer ViT with `heads` softmax heads of 64 on 65 tokens.
ArchSpec one_layer_vit(int heads) {
  ArchSpec s = preset("vit_7_4_32");
  s.vit.embed_dim = 64 * heads;
  s.vit.layers.resize(1);
  s.vit.layers[0].heads.assign(heads, ViTHeadSpec{64, 64, AttentionKind::Softmax});
  return s;
}

const MpcRow& row(const MpcBreakdown& b, const std::string& name) {
  for (const auto& r : b.rows)
    if (r.name == name) return r;
  FAIL("no row named " << name);
  throw std::logic_error("unreachable");
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

}  // namespace

TEST_CASE("softmax and row max match REFERENCE.md", "[mpc]") {
  const CostTable t = crypten_cost_table();
  const MpcCost max65 = row_max_cost(65, 65, t);
  CHECK(max65.rounds == 78);
  CHECK(max65.bytes == 2709720);
  const MpcCost s65 = softmax_cost(65, 65, t);
  CHECK(s65.rounds == 115);
  CHECK(s65.bytes == 3034200);  // exact: 2,709,720 + 270,400 + 19,760 + 34,320

  CHECK(row_max_cost(257, 257, t).rounds == 89);
  CHECK(row_max_cost(257, 257, t).bytes == 162680.0 * 257);  // ~633 B per element
  CHECK(softmax_cost(257, 257, t).rounds == 126);
  // rows scale bytes, not rounds
  CHECK(softmax_cost(130, 65, t).rounds == 115);
  CHECK(softmax_cost(130, 65, t).bytes == 2 * s65.bytes);
}

TEST_CASE("relu_softmax normaliser matches REFERENCE.md", "[mpc]") {
  const CostTable t = crypten_cost_table();
  for (int64_t n : {65, 257}) {
    const MpcCost c = relu_softmax_cost(n, n, t);
    CHECK(c.rounds == 38);
    CHECK(c.bytes == 232.0 * n * n + 304.0 * n + 8.0 * (n * n + n));
  }
}

TEST_CASE("link profiles", "[mpc]") {
  const LinkProfile wan = link_profile("wan");
  CHECK(wan.bandwidth_bits_per_s == 400e6);
  CHECK(wan.rtt_s == Approx(0.040));
  const LinkProfile lan = link_profile("lan");
  CHECK(lan.bandwidth_bits_per_s == 3e9);
  CHECK(lan.rtt_s == Approx(0.0003));
  CHECK_THROWS_AS(link_profile("5g"), InputError);

  const MpcCost c{10, 50e6};  // 10 rounds, 50 MB = 400 Mbit
  CHECK(c.seconds(wan) == Approx(10 * 0.040 + 1.0));

  const LinkProfile custom = custom_link(100, 20);
  CHECK(custom.bandwidth_bits_per_s == 100e6);
  CHECK(custom.rtt_s == Approx(0.020));
  const LinkProfile back = link_from_json(link_to_json(custom));
  CHECK(back.bandwidth_bits_per_s == Approx(custom.bandwidth_bits_per_s));
  CHECK(back.rtt_s == Approx(custom.rtt_s));
  CHECK(link_from_json("wan").rtt_s == Approx(0.040));
  CHECK_THAT(message_of([] { link_from_json(json{{"rtt_ms", 5}}); }),
             Catch::Contains("link.bandwidth_mbit_per_s"));
}

TEST_CASE("vit_7_4_32 layer and head rows by hand", "[mpc]") {
  const CostTable t = crypten_cost_table();
  const MpcBreakdown b = mpc_cost(vit_all(AttentionKind::Softmax), t, link_profile("wan"));
  // LN0 (19) + heads together (1 + 115 + 1) + LN1 (19) + GeLU (35).
  CHECK(row(b, "blocks.0").cost.rounds == 190);
  // LN: 8*65*256 + 184*65 + 8*(65*256 + 65) = 278,720; GeLU 392*65*512 = 13,045,760;
  // 4 heads of 8*(65*64*2) + 3,034,200 + 8*(65*65 + 65*64) = 3,167,840.
  CHECK(row(b, "blocks.0").cost.bytes == 2 * 278720.0 + 13045760.0 + 4 * 3167840.0);
  CHECK(row(b, "patch_embed").cost.rounds == 0);
  CHECK(row(b, "head").cost.rounds == 19);  // the final LayerNorm
  CHECK(b.total.rounds == 7 * 190 + 19);
}

TEST_CASE("vit_7_4_32: scaling < relu_softmax < softmax on LAN and WAN", "[mpc]") {
  const CostTable t = crypten_cost_table();
  for (const std::string net : {"lan", "wan"}) {
    const LinkProfile n = link_profile(net);
    const double sm = mpc_cost(vit_all(AttentionKind::Softmax), t, n).seconds;
    const double rs = mpc_cost(vit_all(AttentionKind::ReluSoftmax), t, n).seconds;
    const double sc = mpc_cost(vit_all(AttentionKind::Scaling), t, n).seconds;
    WARN("uncalibrated " << net << " vit_7_4_32: all-softmax " << sm << " s, all-RSAttn " << rs
                         << " s, all-ScaleAttn " << sc << " s");
    CHECK(sc < rs);
    CHECK(rs < sm);
  }
}

TEST_CASE("heads of one layer share rounds, cascaded heads do not", "[mpc]") {
  const CostTable t = crypten_cost_table();
  const LinkProfile wan = link_profile("wan");
  const MpcRow one = row(mpc_cost(one_layer_vit(1), t, wan), "blocks.0");
  const MpcRow four = row(mpc_cost(one_layer_vit(4), t, wan), "blocks.0");
  CHECK(one.attention_seconds[0] > 0);
  // LayerNorm and MLP widths differ with embed_dim; compare the attention parts.
  const double attn_rounds_1 = one.cost.rounds - 19 - 19 - 35;
  const double attn_rounds_4 = four.cost.rounds - 19 - 19 - 35;
  CHECK(attn_rounds_1 == 117);
  CHECK(attn_rounds_4 == 117);
  CHECK(four.attention_seconds[0] > one.attention_seconds[0]);  // bytes grow with heads

  ArchSpec m0 = preset("m0");
  const MpcRow cascaded = row(mpc_cost(m0, t, wan), "blocks1.0");
  m0.efficientvit.stages[0].blocks[0].attention->cascade = false;
  const MpcRow independent = row(mpc_cost(m0, t, wan), "blocks1.0");
  // 4 heads on 7x7 windows (N = 49): softmax 69 (row max: 3 halvings of 10, pairwise on 7
  // in 8 + 3 + 10 + 1, argmax 7 + 10) + 8 + 28 + 1 = 106, plus 2 matmuls.
  CHECK(cascaded.cost.rounds - independent.cost.rounds == 3 * 108);
  CHECK(cascaded.cost.bytes == independent.cost.bytes);
}

TEST_CASE("EfficientViT m0 rows match complexity()", "[mpc]") {
  const ArchSpec m0 = preset("m0");
  const MpcBreakdown b = mpc_cost(m0, crypten_cost_table(), link_profile("lan"));
  const Complexity c = complexity(m0);
  REQUIRE(b.rows.size() == c.blocks.size());
  for (size_t i = 0; i < b.rows.size(); ++i) {
    CHECK(b.rows[i].name == c.blocks[i].name);
    CHECK(b.rows[i].type == c.blocks[i].type);
  }
  CHECK(b.total.rounds > 0);
  CHECK(b.total.bytes > 0);
  CHECK(b.seconds > 0);
  CHECK(b.seconds == Approx(b.total.rounds * 0.0003 + b.total.bytes * 8 / 3e9));

  // Stem: ReLUs after the first three convs, on 112^2 x 8, 56^2 x 16, 28^2 x 32.
  CHECK(row(b, "patch_embed").cost.rounds == 27);
  CHECK(row(b, "patch_embed").cost.bytes == 232.0 * (112 * 112 * 8 + 56 * 56 * 16 + 28 * 28 * 32));
  // PatchMerging 64 -> 256 -> 128 at 14 -> 7: ReLU, ReLU, SE ReLU (64), sigmoid (256), gate.
  const MpcRow& pm = row(b, "blocks2.1");
  CHECK(pm.cost.rounds == 9 + 9 + 9 + 23 + 1);
  CHECK(pm.cost.bytes == 232.0 * (14 * 14 * 256 + 7 * 7 * 256 + 64) + 376.0 * 256 +
                             8.0 * (7 * 7 * 256 + 256));
  CHECK(row(b, "head").cost.rounds == 0);
}

TEST_CASE("EfficientViT custom spec: windows, independent heads, attention-free rows", "[mpc]") {
  const ArchSpec spec = arch_from_json(json::parse(test::kCustomSpec));
  const CostTable t = crypten_cost_table();
  const MpcBreakdown b = mpc_cost(spec, t, link_profile("wan"));
  const Complexity c = complexity(spec);
  REQUIRE(b.rows.size() == c.blocks.size());
  for (size_t i = 0; i < b.rows.size(); ++i) CHECK(b.rows[i].name == c.blocks[i].name);
  for (int k = 0; k < 3; ++k) CHECK(b.attention_seconds[k] > 0);
  // blocks1.0: 8x8 map, window 4 -> 4 windows of N = 16; independent heads run together.
  // FFNs 64, 48 before and 64 after (ReLU each), heads: 2 matmuls, the softmax heads' map,
  // then the relu_softmax heads' map (kinds one after another, as CrypTen runs them), then the
  // ReLU before proj on 8x8 x (24 + 8) channels.
  const MpcRow& blk = row(b, "blocks1.0");
  const double softmax16 = 58 + 8 + 28 + 1, relu_softmax16 = 9 + 28 + 1;
  CHECK(blk.cost.rounds == 9 * 3 + 2 + softmax16 + relu_softmax16 + 9);
  const double heads_bytes =
      4 * (8.0 * (16 * 8 * 2) + softmax_cost(16, 16, t).bytes + 8.0 * (16 * 16 + 16 * 24)) +
      4 * (8.0 * (16 * 8 * 2) + relu_softmax_cost(16, 16, t).bytes + 8.0 * (16 * 16 + 16 * 8));
  CHECK(blk.cost.bytes == Approx(232.0 * 64 * (64 + 48 + 64 + 32) + heads_bytes));
  CHECK(row(b, "blocks1.1").cost.rounds == 9);  // one FFN, no attention
}

TEST_CASE("cost table JSON: round trip, file, rejections", "[mpc]") {
  const CostTable t = crypten_cost_table();
  const json j = cost_table_to_json(t);
  CHECK(cost_table_to_json(cost_table_from_json(j)) == j);
  CHECK(cost_table_to_json(load_cost_table(kMpcDir + "crypten_costs.json")) == j);
  CHECK(softmax_cost(65, 65, load_cost_table(kMpcDir + "crypten_costs.json")).bytes == 3034200);

  json missing = j;
  missing["ops"].erase("erf");
  CHECK_THAT(message_of([&] { cost_table_from_json(missing); }), Catch::Contains("ops.erf"));
  json negative = j;
  negative["ops"]["exp"]["rounds"] = -1;
  CHECK_THAT(message_of([&] { cost_table_from_json(negative); }),
             Catch::Contains("ops.exp.rounds"));
  json typo = j;
  typo["ops"]["sqaure"] = {{"rounds", 1}, {"bytes_per_elem", 8}};
  CHECK_THAT(message_of([&] { cost_table_from_json(typo); }), Catch::Contains("ops.sqaure"));
  // Older tables: the fitted row max and the ops now derived are refused with what to do.
  json fitted = j;
  fitted["row_max"] = {{"rounds_base", 34}, {"rounds_per_ln_step", 11}, {"anchors", json::array()}};
  CHECK_THAT(message_of([&] { cost_table_from_json(fitted); }),
             Catch::Contains("row_max") && Catch::Contains("derived"));
  json derived = j;
  derived["ops"]["relu"] = {{"rounds", 9}, {"bytes_per_elem", 232}};
  CHECK_THAT(message_of([&] { cost_table_from_json(derived); }),
             Catch::Contains("ops.relu") && Catch::Contains("remove it"));
  json form = j;
  form["row_max"] = "argmin";
  CHECK_THAT(message_of([&] { cost_table_from_json(form); }), Catch::Contains("row_max"));
}

// Three measured points fix the three kind scales exactly, and every head of a mu network is
// RSAttn or ScaleAttn: the model is linear in head counts, so its mu figures are an
// interpolation between the all-RSAttn and all-ScaleAttn points. This checks that MPCViT's
// measurements are that linear (within 5%), not that the model predicts unseen networks; the
// held-out check is the vit_9_12_64 test below.
TEST_CASE("calibration on MPCViT's single-kind points interpolates its mu networks", "[mpc]") {
  const CostTable t = crypten_cost_table();
  const Measurements cal = load_measurements(kMpcDir + "mpcvit_cifar10.json");
  REQUIRE(cal.points.size() == 3);
  CHECK(cal.link->name == "wan");
  const MpcCalibration c = fit_mpc_calibration(cal.points, t, *cal.link, "kinds");
  CHECK(c.points == 3);
  CHECK(c.rest_scale == 1);  // 3 points, 3 kind unknowns: rest is not fitted
  CHECK(c.max_rel_error < 1e-9);
  WARN("calibration (WAN): rest_scale " << c.rest_scale << ", softmax " << c.kind_scale[0]
                                        << ", relu_softmax " << c.kind_scale[1] << ", scaling "
                                        << c.kind_scale[2]);

  const Measurements mu = load_measurements(kMpcDir + "mpcvit_cifar10_mu.json");
  REQUIRE(mu.points.size() == 4);
  const int rs_heads[] = {3, 9, 14, 20};
  for (size_t i = 0; i < mu.points.size(); ++i) {
    const MeasuredPoint& p = mu.points[i];
    int rs = 0;
    for (const auto& l : p.arch.vit.layers)
      for (const auto& h : l.heads) rs += h.kind == AttentionKind::ReluSoftmax;
    CHECK(rs == rs_heads[i]);
    const MpcBreakdown b = mpc_cost(p.arch, t, *mu.link);
    const double predicted = calibrated_seconds(b, c, *mu.link);
    const double rel = (predicted - p.seconds) / p.seconds;
    char line[160];
    std::snprintf(line, sizeof line,
                  "%s: interpolated %.2f s, MPCViT %.2f s (%+.1f%%), analytic %.2f s",
                  p.label.c_str(), predicted, p.seconds, 100 * rel, b.seconds);
    WARN(line);
    CHECK(std::abs(rel) < 0.05);
  }
}

// The held-out check the published data allows: calibrated on MPCViT's CIFAR-10 points for
// vit_7_4_32 only, the model predicts MPCViT's Tiny-ImageNet points for vit_9_12_64 (WAN,
// REFERENCE.md section 2). It under-predicts them badly (MAPE ~65%): the CrypTen costs with
// per-kind scales fitted at N = 65 tokens do not carry over to N = 257. This test is a
// regression pin of those computed figures (README, "Latency prediction, MPC"), not a claim of
// accuracy: a change of the model that moves them must update the README with them.
TEST_CASE("held out: vit_9_12_64 on Tiny-ImageNet from the CIFAR-10 calibration (regression pin)", "[mpc]") {
  const CostTable t = crypten_cost_table();
  const Measurements cal = load_measurements(kMpcDir + "mpcvit_cifar10.json");
  const MpcCalibration c = fit_mpc_calibration(cal.points, t, *cal.link, "kinds");
  const Measurements held_out = load_measurements(kMpcDir + "mpcvit_tiny_imagenet.json");
  REQUIRE(held_out.points.size() == 3);
  CHECK(held_out.link->name == "wan");
  const double published[] = {1370.61, 1128.39, 121.57};  // all-softmax, all-RSAttn, all-ScaleAttn
  const double pinned[] = {416.7391, 240.4678, 66.1339};  // what the model predicts today
  for (size_t i = 0; i < 3; ++i) {
    const MeasuredPoint& p = held_out.points[i];
    CHECK(p.arch.name == "vit_9_12_64");
    CHECK(p.seconds == published[i]);
    const double predicted =
        calibrated_seconds(mpc_cost(p.arch, t, held_out.link.value()), c, *held_out.link);
    char line[160];
    std::snprintf(line, sizeof line, "%s: predicted %.2f s, MPCViT %.2f s (%+.1f%%)",
                  p.label.c_str(), predicted, p.seconds, 100 * (predicted - p.seconds) / p.seconds);
    WARN(line);
    CHECK_THAT(predicted, Catch::Matchers::WithinRel(pinned[i], 1e-6));
  }
}

// The link form recovers known scales: points made from the model itself with RTT x0.8 and
// bytes x12 give those two numbers back, and every other network's seconds follow.
TEST_CASE("calibration, link form: known scales are recovered", "[mpc]") {
  const CostTable t = crypten_cost_table();
  const LinkProfile wan = link_profile("wan");
  auto truth = [&](const ArchSpec& a) {
    const MpcBreakdown b = mpc_total(a, t, wan);
    return 0.8 * b.total.rounds * wan.rtt_s + 12.0 * b.total.bytes * 8 / wan.bandwidth_bits_per_s;
  };
  std::vector<MeasuredPoint> points;
  for (AttentionKind k : {AttentionKind::Softmax, AttentionKind::Scaling})
    points.push_back({vit_all(k), truth(vit_all(k)), to_string(k)});
  const MpcCalibration c = fit_mpc_calibration(points, t, wan);
  CHECK(c.form == "link");
  CHECK(c.rtt_scale == Approx(0.8));
  CHECK(c.bytes_scale == Approx(12.0));
  CHECK(c.max_rel_error < 1e-9);
  const ArchSpec other = preset("vit_9_12_64");
  CHECK(calibrated_seconds(mpc_total(other, t, wan), c, wan) == Approx(truth(other)));
  CHECK_THAT(describe_calibration(c, wan), Catch::Contains("32.0 ms") && Catch::Contains("33.3 Mbit/s"));

  const MpcCalibration back = calibration_from_json(calibration_to_json(c));
  CHECK(back.form == "link");
  CHECK(back.rtt_scale == c.rtt_scale);
  CHECK(back.bytes_scale == c.bytes_scale);
  json bad = calibration_to_json(c);
  bad["form"] = "tokens";
  CHECK_THAT(message_of([&] { calibration_from_json(bad); }), Catch::Contains("form"));
  CHECK_THAT(message_of([&] { fit_mpc_calibration(points, t, wan, "tokens"); }),
             Catch::Contains("unknown form"));
  // One point cannot fix two scales; MPCViT's three single-kind CIFAR-10 points ask for a
  // negative bytes scale, and the error says what to do.
  CHECK_THAT(message_of([&] { fit_mpc_calibration({points[0]}, t, wan); }),
             Catch::Contains("add points"));
  const Measurements cal = load_measurements(kMpcDir + "mpcvit_cifar10.json");
  CHECK_THAT(message_of([&] { fit_mpc_calibration(cal.points, t, wan); }),
             Catch::Contains("--form kinds"));
}

// Issue 13's "calibration to another framework, honestly scored": MPCViT's published SPU
// seconds on one backbone predict the other's. The link form (effective RTT and bandwidth, two
// numbers) fitted on the seven CIFAR-10 networks of vit_7_4_32 predicts the three Tiny-ImageNet
// networks of vit_9_12_64 (4x the tokens) within MAPE 20%, where the per-kind scales fitted on
// CIFAR-10 miss by ~65%; fitted on Tiny-ImageNet it predicts CIFAR-10 within MAPE 15%. These
// are the published figures against the model; the bars are the README's, the errors printed.
TEST_CASE("calibration, link form: MPCViT's CIFAR-10 seconds predict Tiny-ImageNet's and back", "[mpc]") {
  const CostTable t = crypten_cost_table();
  const Measurements cifar = load_measurements(kMpcDir + "mpcvit_cifar10_all.json");
  const Measurements tiny = load_measurements(kMpcDir + "mpcvit_tiny_imagenet.json");
  REQUIRE(cifar.points.size() == 7);
  REQUIRE(tiny.points.size() == 3);
  auto mape = [&](const MpcCalibration& c, const Measurements& m) {
    double sum = 0;
    for (const auto& p : m.points) {
      const double predicted = calibrated_seconds(mpc_total(p.arch, t, *m.link), c, *m.link);
      WARN(p.label << ": predicted " << predicted << " s, MPCViT " << p.seconds << " s");
      sum += std::abs(predicted - p.seconds) / p.seconds;
    }
    return 100 * sum / static_cast<double>(m.points.size());
  };
  const MpcCalibration on_cifar = fit_mpc_calibration(cifar.points, t, *cifar.link);
  const MpcCalibration kinds_on_cifar =
      fit_mpc_calibration(load_measurements(kMpcDir + "mpcvit_cifar10.json").points, t,
                          *cifar.link, "kinds");
  const double link_to_tiny = mape(on_cifar, tiny), kinds_to_tiny = mape(kinds_on_cifar, tiny);
  WARN("CIFAR-10 -> Tiny-ImageNet MAPE: link " << link_to_tiny << "%, kinds " << kinds_to_tiny << "%");
  CHECK(link_to_tiny < 20);
  CHECK(kinds_to_tiny > 60);
  const double tiny_to_cifar = mape(fit_mpc_calibration(tiny.points, t, *tiny.link), cifar);
  WARN("Tiny-ImageNet -> CIFAR-10 MAPE: link " << tiny_to_cifar << "%");
  CHECK(tiny_to_cifar < 15);
}

TEST_CASE("calibration: JSON, unit scales, errors", "[mpc]") {
  const CostTable t = crypten_cost_table();
  const LinkProfile wan = link_profile("wan");
  // Unit scales reproduce the analytic seconds of single-kind networks.
  const MpcBreakdown b = mpc_cost(vit_all(AttentionKind::ReluSoftmax), t, wan);
  CHECK(calibrated_seconds(b, MpcCalibration{}, wan) == Approx(b.seconds));

  MpcCalibration c;
  c.rest_scale = 1.5;
  c.kind_scale[1] = 3;
  c.points = 4;
  c.max_rel_error = 0.02;
  const MpcCalibration back = calibration_from_json(calibration_to_json(c));
  CHECK(back.rest_scale == 1.5);
  CHECK(back.kind_scale[1] == 3);
  CHECK(back.points == 4);
  CHECK(back.max_rel_error == 0.02);
  json bad = calibration_to_json(c);
  bad["kind_scale"]["scaling"] = 0;
  CHECK_THAT(message_of([&] { calibration_from_json(bad); }),
             Catch::Contains("kind_scale.scaling"));

  // One point mixing two kinds cannot fix two scales.
  ArchSpec mixed = vit_all(AttentionKind::Scaling);
  mixed.vit.layers[0].heads[0].kind = AttentionKind::Softmax;
  CHECK_THROWS_AS(fit_mpc_calibration({{mixed, 50, "mixed"}}, t, wan, "kinds"), InputError);
  // Faster than the analytic rest alone: the scale would have to be negative.
  CHECK_THAT(message_of([&] {
               fit_mpc_calibration({{vit_all(AttentionKind::Scaling), 1, "fast"}}, t, wan, "kinds");
             }),
             Catch::Contains("kind_scale.scaling"));
}

TEST_CASE("measured points: file errors name the point", "[mpc]") {
  json j = read_json_file(kMpcDir + "mpcvit_cifar10.json");
  j["points"][1]["all_kinds"] = "linear";
  const std::string tmp = test::scratch_path("mpc_points.json");
  write_json_file_atomic(tmp, j);
  const std::string msg = message_of([&] { load_measurements(tmp); });
  CHECK_THAT(msg, Catch::Contains("points[1].all_kinds"));
  CHECK_THAT(msg, Catch::Contains(tmp));
}
