// Structural pruning: every group is cut with all its coupled weights (the pruned network's output
// equals the unpruned network's with the same channels zeroed through their masks, for both
// families, every group type, units included), the Taylor score is the loss's derivative along
// the group's weights (checked against a finite difference of the loss), and the budgeted
// selection meets its target, keeps the most important channels and refuses an impossible one.
#include <catch2/catch.hpp>

#include <random>
#include <set>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/arch_spec.h"
#include "core/complexity.h"
#include "models/weights.h"
#include "prune/analysis.h"
#include "prune/calibration_networks.h"
#include "prune/groups.h"
#include "prune/importance.h"
#include "prune/selection.h"
#include "prune/shrink.h"
#include "prune/width_signatures.h"
#include "profile/op_signature.h"
#include "fixtures.h"
#include "torch_fixtures.h"

using namespace vitnas;
using namespace vitnas::prune;
using vitnas::test::max_abs_diff;
using vitnas::test::perturb;

namespace {

// m0 at 64 px with a non-cascaded, mixed-kind mixer (free v widths), two FFNs before it and a
// subsample with FFNs on both sides: every efficientvit group type occurs.
ArchSpec hetero() {
  nlohmann::json j = arch_to_json(preset("m0"));
  j["img_size"] = 64;
  j["num_classes"] = 10;
  auto& b = j["stages"][1]["blocks"][0];
  b["ffn_before"] = {96, 64};
  b["attention"]["cascade"] = false;
  b["attention"]["heads"] = nlohmann::json::array(
      {{{"key_dim", 16}, {"v_dim", 24}, {"kernel", 3}, {"kind", "relu_softmax"}},
       {{"key_dim", 12}, {"v_dim", 40}, {"kernel", 5}, {"kind", "scaling"}},
       {{"key_dim", 16}, {"v_dim", 32}, {"kernel", 7}, {"kind", "softmax"}},
       {{"key_dim", 8}, {"v_dim", 16}, {"kernel", 3}, {"kind", "softmax"}}});
  j["stages"][2]["downsample"]["ffn_after"] = {384, 192};
  return arch_from_json(j);
}

ArchSpec small_vit() {
  nlohmann::json j = arch_to_json(preset("vit_7_4_32"));
  j["layers"][1]["heads"][0]["kind"] = "relu_softmax";
  j["layers"][2]["heads"][1]["kind"] = "scaling";
  return arch_from_json(j);
}

// A random plan over every allowed width, units removed with probability 1/3.
Plan random_plan(const std::vector<Dimension>& dims, uint64_t seed, SelectOptions o = {4, 2, true}) {
  std::mt19937_64 rng(seed);
  Plan p = full_plan(dims);
  for (size_t i = 0; i < dims.size(); ++i) {
    const std::vector<int> w = allowed_widths(dims[i], o);
    if (is_unit(dims[i].type)) p.widths[i] = rng() % 3 == 0 ? 0 : 1;
    else p.widths[i] = w[rng() % w.size()];
  }
  return p;
}

double pruned_vs_masked(const ArchSpec& spec, uint64_t seed) {
  torch::manual_seed(int64_t(seed));
  Classifier model = build_model(spec);
  perturb(*model, seed);
  model->eval();
  const auto dims = dimensions(spec);
  const SelectOptions every{4, 2, true, true, 8};  // the embedding too
  Plan plan = random_plan(dims, seed, every);
  // A plan that leaves no network (a vit layer without heads) is not one select() makes.
  for (int tries = 0; tries < 50; ++tries) {
    try {
      apply(spec, dims, plan);
      break;
    } catch (const InputError&) {
      plan = random_plan(dims, seed + 1000 + uint64_t(tries), every);
    }
  }
  // The vit embedding changes what LayerNorm averages over: not exact by design (its own test).
  for (size_t i = 0; i < dims.size(); ++i)
    if (dims[i].type == GroupType::ViTEmbed) plan.widths[i] = dims[i].size;
  const Scores scores = random_scores(dims, seed);
  Classifier pruned = shrink(*model, dims, plan, scores);
  pruned->eval();
  const torch::Tensor x = torch::randn({2, spec.in_chans, spec.img_size, spec.img_size});
  torch::NoGradGuard no_grad;
  const torch::Tensor y_pruned = pruned->forward(x);
  load_state_dict(*model, masked(*model, dims, plan, scores), "masked");
  return max_abs_diff(y_pruned, model->forward(x));
}

}  // namespace

TEST_CASE("groups of m0 follow the ArchSpec walk", "[prune]") {
  const auto dims = dimensions(preset("m0"));
  std::map<std::string, int> count;
  for (const Dimension& d : dims) count[to_string(d.type)] += 1;
  // m0: 6 blocks of 2 FFNs + 2 subsamples of 2 FFNs each = 16 FFNs; 6 mixers of 4 cascaded heads.
  CHECK(count["stem_hidden"] == 3);  // 8, 16, 32; the last (64) is the embedding
  CHECK(count["ffn_hidden"] == 16);
  CHECK(count["dw_ffn"] == 16);
  CHECK(count["mixer"] == 6);
  CHECK(count["qk"] == 24);
  CHECK(count["v"] == 0);  // cascade ties v to the chunk
  CHECK(count["merge_hidden"] == 2);
  CHECK(count["se_hidden"] == 2);
  // One embedding per stage, channel j = one position in each of the 4 heads' chunks.
  CHECK(count["embed"] == 3);
  CHECK(dims[2].name == "blocks3");
  CHECK(dims[2].size == 48);
  CHECK(dims[2].per_channel == 4);
  const Dimension& ffn = dims[7];
  CHECK(ffn.name == "blocks1.0.ffn0");
  CHECK(ffn.size == 128);
  CHECK(ffn.coupled.back().key == "blocks1.0.ffn0.m.pw2.c.weight");
  CHECK(ffn.coupled.back().axis == 1);
  // The weights the groups name exist with the extents they claim.
  Classifier model = build_model(preset("m0"));
  std::map<std::string, torch::Tensor> sd;
  for (auto& [k, t] : state_dict(*model)) sd[k] = t;
  for (const Dimension& d : dims)
    for (const auto* list : {&d.coupled, &d.mask})
      for (const Slice& s : *list) {
        INFO(d.name << " " << s.key);
        REQUIRE(sd.count(s.key));
        CHECK(s.offset + s.length <= sd[s.key].size(s.axis));
        CHECK(s.length % d.size == 0);
      }
}

TEST_CASE("pruned network == masked network, every group type, both families", "[prune]") {
  for (uint64_t seed : {1, 2, 3}) {
    CHECK(pruned_vs_masked(preset("m0"), seed) < 1e-5);
    CHECK(pruned_vs_masked(hetero(), seed) < 1e-5);
    CHECK(pruned_vs_masked(small_vit(), seed) < 1e-5);
  }
}

TEST_CASE("vit embedding cut: the kept channels of every tensor on the residual stream (listed by hand)",
          "[prune]") {
  ArchSpec spec = small_vit();
  spec.distillation = true;
  torch::manual_seed(3);
  Classifier model = build_model(spec);
  perturb(*model, 3);
  model->eval();
  const auto dims = dimensions(spec);
  REQUIRE(dims.front().type == GroupType::ViTEmbed);
  CHECK(dims.front().size == spec.vit.embed_dim);
  Plan plan = full_plan(dims);
  plan.widths[0] = 200;
  const Scores scores = random_scores(dims, 3);
  Classifier pruned = shrink(*model, dims, plan, scores);
  pruned->eval();
  CHECK(pruned->spec().vit.embed_dim == 200);

  // The same network by hand: timm's names, the kept channels of each axis that is the stream.
  const torch::Tensor keep = torch::tensor(kept_channels(scores[0], 200), torch::kLong);
  const auto ends = [](const std::string& k, const std::string& tail) {
    return k.size() >= tail.size() && k.compare(k.size() - tail.size(), tail.size(), tail) == 0;
  };
  safetensors::TensorList want;
  for (auto& [k, t] : state_dict(*model)) {
    torch::Tensor w = t;
    if (k == "cls_token" || k == "pos_embed") w = w.index_select(2, keep);
    else if (ends(k, "attn.qkv.weight") || ends(k, "mlp.fc1.weight") || k == "head.weight" || k == "head_dist.weight")
      w = w.index_select(1, keep);
    else if (k.rfind("patch_embed.proj.", 0) == 0 || k.rfind("norm.", 0) == 0 || ends(k, ".norm1.weight") ||
             ends(k, ".norm1.bias") || ends(k, ".norm2.weight") || ends(k, ".norm2.bias") || ends(k, "attn.proj.weight") ||
             ends(k, "attn.proj.bias") || ends(k, "mlp.fc2.weight") || ends(k, "mlp.fc2.bias"))
      w = w.index_select(0, keep);
    want.emplace_back(k, w);
  }
  ArchSpec narrow = spec;
  narrow.vit.embed_dim = 200;
  Classifier expected = build_model(narrow);
  load_state_dict(*expected, want, "hand-cut");
  expected->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({2, spec.in_chans, spec.img_size, spec.img_size});
  CHECK(max_abs_diff(pruned->forward(x), expected->forward(x)) == 0);
}

TEST_CASE("the pruned ArchSpec has the plan's widths and round-trips", "[prune]") {
  const ArchSpec spec = hetero();
  const auto dims = dimensions(spec);
  Plan plan = full_plan(dims);
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i].name == "blocks2.3.ffn1") plan.widths[i] = 40;
    if (dims[i].name == "blocks2.3.mixer.head1.v") plan.widths[i] = 8;
    if (dims[i].name == "blocks2.3.mixer.head0.qk") plan.widths[i] = 4;
    if (dims[i].name == "blocks2.3.ffn0.pair") plan.widths[i] = 0;  // the DW + FFN 96 goes
    if (dims[i].name == "blocks3.1.hidden") plan.widths[i] = 200;
  }
  const ArchSpec p = apply(spec, dims, plan);
  const BlockSpec& b = p.efficientvit.stages[1].blocks[0];
  CHECK(b.ffn_before == std::vector<int>{40});
  CHECK(b.attention->heads[1].v_dim == 8);
  CHECK(b.attention->heads[0].key_dim == 4);
  CHECK(p.efficientvit.stages[2].downsample->hidden == 200);
  CHECK(arch_from_json(arch_to_json(p)) == p);
}

TEST_CASE("taylor score == (d loss / d scale of the group's weights)^2 (finite difference)", "[prune]") {
  torch::manual_seed(5);
  const ArchSpec spec = hetero();
  Classifier model = build_model(spec);
  perturb(*model, 5);
  move_to(*model, torch::kCPU, torch::kDouble);
  const auto dims = dimensions(spec);
  TensorBatches batch;
  batch.images.push_back(torch::randn({4, 3, 64, 64}, torch::kDouble));
  batch.labels.push_back(torch::tensor({1, 3, 5, 7}, torch::kLong));
  const Scores taylor = taylor_scores(*model, dims, batch);
  const Scores first_order = first_order_loss_change(*model, dims, batch);

  std::map<std::string, torch::Tensor> params;
  for (auto& p : model->named_parameters()) params[p.key()] = p.value();
  const auto loss = [&] {
    torch::NoGradGuard no_grad;
    model->eval();
    return torch::nn::functional::cross_entropy(model->forward(batch.images[0]), batch.labels[0]).item<double>();
  };
  // Scaling channel j's weights by (1 + e): dL/de at 0 = sum of w * dL/dw over them.
  const auto scale = [&](const Dimension& d, int64_t j, double f) {
    torch::NoGradGuard no_grad;
    for (const Slice& s : d.coupled)
      if (params.count(s.key)) params[s.key].narrow(s.axis, s.offset + j * (s.length / d.size), s.length / d.size).mul_(f);
    for (const std::string& m : d.modules)
      for (auto& [k, p] : params)
        if (k.rfind(m + ".", 0) == 0) p.mul_(f);
  };
  int checked = 0;
  for (size_t i = 0; i < dims.size(); ++i) {
    const Dimension& d = dims[i];
    if (d.name != "blocks2.3.ffn0" && d.name != "blocks2.3.mixer.head1.qk" && d.name != "blocks2.3.mixer.head2.v" &&
        d.name != "blocks3.1.hidden" && d.name != "blocks2.3.mixer" && d.name != "blocks1.0.ffn1.pair" &&
        d.name != "blocks2" && d.name != "blocks3")
      continue;
    const int64_t j = d.size / 2;
    const double e = 1e-7;  // small: a wider step crosses ReLU kinks of the embedding's many paths
    scale(d, j, 1 + e);
    const double up = loss();
    scale(d, j, (1 - e) / (1 + e));
    const double down = loss();
    scale(d, j, 1 / (1 - e));
    const double derivative = (up - down) / (2 * e);
    INFO(d.name);
    CHECK(std::sqrt(taylor[i][size_t(j)]) == Approx(std::abs(derivative)).epsilon(1e-4).margin(1e-10));
    // Zeroing the weights is scaling by 1 + e at e = -1: to first order, -derivative.
    CHECK(first_order[i][size_t(j)] == Approx(-derivative).epsilon(1e-4).margin(1e-10));
    ++checked;
  }
  CHECK(checked == 8);
}

TEST_CASE("selection meets a MACs budget, keeps the important channels, refuses the impossible", "[prune]") {
  const ArchSpec spec = hetero();
  const auto dims = dimensions(spec);
  const Scores scores = random_scores(dims, 7);
  const CostFn macs = [](const ArchSpec& a) { return double(complexity(a).macs); };
  const double full = macs(spec);
  SelectOptions o;
  const Selection s = select(spec, dims, scores, macs, 0.5 * full, o);
  CHECK(s.cost <= 0.5 * full);
  CHECK(s.cost == macs(s.arch));
  CHECK(s.cost > 0.45 * full);  // gives back what fits
  CHECK(s.kept_value < s.total_value);
  // Same inputs, same decisions.
  CHECK(select(spec, dims, scores, macs, 0.5 * full, o).plan.widths == s.plan.widths);
  // Kept channels are the top-scoring ones.
  const std::vector<double> sc{0.5, 3.0, 1.0, 2.0, 0.1};
  CHECK(kept_channels(sc, 2) == std::vector<int64_t>{1, 3});
  CHECK(kept_channels(sc, 0).empty());
  // A target no network of this kind reaches.
  CHECK_THROWS_AS(select(spec, dims, scores, macs, 1.0, o), InputError);
  // The network is the plan's, and its cost the cost of that network, after many cuts in many
  // rows (m0: cached cuts of one row once carried that row's view of the others).
  const ArchSpec m0 = preset("m0");
  const auto m0_dims = dimensions(m0);
  for (uint64_t seed = 0; seed < 4; ++seed)
    for (double r : {0.95, 0.7, 0.4}) {
      const Selection m = select(m0, m0_dims, random_scores(m0_dims, seed), macs, r * macs(m0), o);
      CHECK(m.arch == apply(m0, m0_dims, m.plan));
      CHECK(m.cost == Approx(macs(m.arch)).epsilon(1e-12));
      CHECK(m.cost <= r * macs(m0));
    }
}

TEST_CASE("spearman: hand-computed ranks with ties", "[prune]") {
  // b's ranks with the tie at 7 averaged: 0, 1, 2.5, 4, 2.5; Pearson with 0..4 = 8 / sqrt(10 * 9.5).
  CHECK(spearman({1, 2, 3, 4, 5}, {5, 6, 7, 8, 7}) == Approx(8 / std::sqrt(95.0)));
  CHECK(spearman({1, 2, 3}, {10, 20, 30}) == Approx(1.0));
  CHECK(spearman({1, 2, 3}, {3, 2, 1}) == Approx(-1.0));
}

TEST_CASE("kept_by_row sums each row's kept channels per group type", "[prune]") {
  const ArchSpec spec = preset("m0");
  const auto dims = dimensions(spec);
  Plan plan = full_plan(dims);
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i].name == "blocks1.0.ffn0") plan.widths[i] = 32;  // of 128
    if (dims[i].name == "blocks1.0.ffn1") plan.widths[i] = 96;  // of 128
    if (dims[i].name == "blocks1.0.mixer.head3.qk") plan.widths[i] = 4;  // of 16
  }
  const auto rows = kept_by_row(dims, plan);
  int seen = 0;
  for (const KeptRow& r : rows) {
    if (r.row != "blocks1.0") continue;
    if (r.type == "ffn_hidden") {
      CHECK(r.ratio() == Approx(128.0 / 256.0));
      ++seen;
    }
    if (r.type == "qk") {
      CHECK(r.ratio() == Approx(52.0 / 64.0));
      ++seen;
    }
    CHECK(r.stage == 1);
  }
  CHECK(seen == 2);
}

TEST_CASE("width_signatures covers every op of every network the knapsack can make", "[prune]") {
  for (const auto& [spec, o] : {std::pair{preset("m0"), SelectOptions{8, 4, true}},
                                std::pair{hetero(), SelectOptions{8, 4, true}},
                                std::pair{hetero(), SelectOptions{8, 4, true, true, 32}}}) {
    std::set<std::string> keys;
    for (const OpSignature& s : width_signatures(spec, o, 16)) keys.insert(s.key());
    const auto dims = dimensions(spec);
    int networks = 0;
    for (uint64_t seed = 0; seed < 30; ++seed) {
      ArchSpec pruned;
      try {
        pruned = apply(spec, dims, random_plan(dims, seed, o));
      } catch (const InputError&) {
        continue;
      }
      ++networks;
      for_each_op(pruned, 16, [&](int, const OpSignature& s) {
        INFO(s.key());
        CHECK(keys.count(s.key()) == 1);
      });
    }
    CHECK(networks >= 20);
  }
}

TEST_CASE("pruning_calibration_networks: the network, then distinct cuts over its MACs that the table can price",
          "[prune]") {
  for (const auto& [spec, o] : {std::pair{preset("m0"), SelectOptions{8, 4, true}},
                                std::pair{hetero(), SelectOptions{8, 4, true}}}) {
    const auto nets = pruning_calibration_networks(spec, o, 12, 3);
    REQUIRE(nets.size() >= 8);  // enough for calibration.h's full fit (every group scale and the constant)
    REQUIRE(nets.size() <= 12);
    CHECK(nets.front() == spec);
    std::set<std::string> keys;
    for (const OpSignature& s : width_signatures(spec, o, 16)) keys.insert(s.key());
    std::set<std::string> distinct;
    const double full = double(complexity(spec).macs);
    double smallest = full;
    for (size_t i = 1; i < nets.size(); ++i) {
      INFO(nets[i].name);
      CHECK(nets[i].name.rfind("prune-calib-", 0) == 0);
      ArchSpec unnamed = nets[i];
      unnamed.name = spec.name;
      CHECK(distinct.insert(arch_to_json(unnamed).dump()).second);
      CHECK_FALSE(unnamed == spec);
      // The k-th cut meets its MACs target, 0.95 down to 0.3 of the network's in 11 steps.
      const int k = std::stoi(nets[i].name.substr(12));
      CHECK(double(complexity(nets[i]).macs) <= (0.95 - 0.065 * (k - 1)) * full);
      smallest = std::min(smallest, double(complexity(nets[i]).macs));
      // Every op is one the pruning profiles, so the table prices the network.
      for_each_op(nets[i], 16, [&](int, const OpSignature& s) { CHECK(keys.count(s.key()) == 1); });
    }
    CHECK(smallest <= 0.5 * full);  // the spread reaches well below the network
    // Chosen without timings: the same seed, the same networks; another seed, other cuts.
    const bool same_seed_same = pruning_calibration_networks(spec, o, 12, 3) == nets;
    const bool other_seed_same = pruning_calibration_networks(spec, o, 12, 4) == nets;
    CHECK(same_seed_same);
    CHECK_FALSE(other_seed_same);
    CHECK(pruning_calibration_networks(spec, o, 0, 3).empty());
  }
}
