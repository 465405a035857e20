// FlatAdamW against LibTorch: the same trajectory as torch::optim::AdamW with timm's weight-decay
// groups (also when steps leave parameters without a gradient), gradients that stay views of the
// flat buffer, clip_grad_norm_, and checkpoint state (also the format without per-parameter
// step counts).
#include <catch2/catch.hpp>

#include <map>
#include <stdexcept>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/arch_spec.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "fixtures.h"
#include "models/classifier.h"
#include "train/flat_adamw.h"
#include "train/param_groups.h"

using namespace vitnas;

namespace {

// kCustomSpec: 32x32 inputs, every block kind, a distillation head; small enough for many steps.
Classifier small_model() {
  return build_model(arch_from_json(nlohmann::json::parse(test::kCustomSpec)));
}

// Makes `to` an exact copy of `from` (same spec): parameters and buffers.
void copy_state(const Classifier& from, const Classifier& to) {
  torch::NoGradGuard no_grad;
  const auto fp = from->named_parameters(), tp = to->named_parameters();
  for (const auto& item : fp) tp[item.key()].copy_(item.value());
  const auto fb = from->named_buffers(), tb = to->named_buffers();
  for (const auto& item : fb) tb[item.key()].copy_(item.value());
}

struct Batch {
  torch::Tensor x, y;  // (B, 3, 32, 32), (B,)
};

std::vector<Batch> batches(int n, int64_t seed) {
  torch::manual_seed(seed);
  std::vector<Batch> out;
  for (int i = 0; i < n; ++i) out.push_back({torch::randn({4, 3, 32, 32}), torch::randint(10, {4})});
  return out;
}

// Both heads in the loss, so every parameter (the distillation head too) gets a gradient.
void backward(const Classifier& model, const Batch& b) {
  const auto [cls, dist] = model->forward_heads(model->forward_features(b.x));
  (torch::cross_entropy_loss(cls, b.y) + torch::cross_entropy_loss(dist, b.y)).backward();
}

// Largest |a - b| over the tensor, relative to its largest |b|.
double rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
  const double scale = b.abs().max().item<double>();
  return (a - b).abs().max().item<double>() / (scale > 0 ? scale : 1.0);
}

}  // namespace

TEST_CASE("FlatAdamW follows torch::optim::AdamW with the weight-decay groups",
          "[train][flat_adamw]") {
  const double wd = 0.05;
  auto ref = small_model();
  auto flat = small_model();
  copy_state(ref, flat);

  const auto ref_groups = split_weight_decay(ref->named_parameters());
  torch::optim::AdamW ref_opt(ref_groups.adamw(1e-3, wd));
  FlatAdamWOptions o;
  o.weight_decay = wd;
  FlatAdamW opt(split_weight_decay(flat->named_parameters()), o);
  REQUIRE(opt.numel() == [&] {
    int64_t n = 0;
    for (const auto& p : ref->parameters()) n += p.numel();
    return n;
  }());

  const std::vector<double> lrs = {1e-3, 3e-3, 2e-3, 5e-4, 1e-2};
  const auto data = batches(static_cast<int>(lrs.size()), 1);
  for (size_t s = 0; s < lrs.size(); ++s) {
    ref_opt.zero_grad();
    backward(ref, data[s]);
    for (auto& g : ref_opt.param_groups()) g.options().set_lr(lrs[s]);
    ref_opt.step();

    opt.zero_grad();
    backward(flat, data[s]);
    opt.step(lrs[s]);
  }
  CHECK(opt.steps() == 5);

  const auto rp = ref->named_parameters();
  double worst = 0;
  int64_t bitwise = 0;
  for (const auto& item : flat->named_parameters()) {
    const auto& r = rp[item.key()];
    REQUIRE(r.grad().defined());  // torch's AdamW stepped every parameter too
    const double d = rel_diff(item.value(), r);
    CHECK(d <= 1e-6);
    worst = std::max(worst, d);
    bitwise += torch::equal(item.value(), r);
  }
  INFO("worst relative difference " << worst);
  WARN("FlatAdamW vs AdamW: " << bitwise << " of " << rp.size()
                              << " parameter tensors bitwise equal, worst relative difference "
                              << worst);
  // The parameters moved (the comparison is not between two untouched models).
  auto fresh = small_model();
  CHECK(rel_diff(flat->named_parameters()["head.l.weight"], fresh->named_parameters()["head.l.weight"]) > 1e-3);
}

TEST_CASE("FlatAdamW keeps the model's output, gradients accumulate into the flat buffer",
          "[train][flat_adamw]") {
  auto model = small_model();
  model->eval();
  const auto x = batches(1, 2)[0].x;
  torch::Tensor before;
  {
    torch::NoGradGuard no_grad;
    before = model->forward(x);
  }
  FlatAdamW opt(split_weight_decay(model->named_parameters()));
  {
    torch::NoGradGuard no_grad;
    CHECK(torch::equal(model->forward(x), before));
  }
  model->train();

  const auto g = opt.flat_grad();
  const auto* lo = static_cast<const char*>(g.data_ptr());
  const auto* hi = lo + g.numel() * g.element_size();
  auto check_views = [&] {
    for (const auto& p : model->parameters()) {
      REQUIRE(p.grad().defined());
      const auto* at = static_cast<const char*>(p.grad().data_ptr());
      CHECK((at >= lo && at + p.numel() * p.element_size() <= hi));
      const auto* pa = static_cast<const char*>(p.data_ptr());
      const auto* plo = static_cast<const char*>(opt.flat_params().data_ptr());
      CHECK((pa >= plo && pa < plo + opt.numel() * p.element_size()));
    }
  };
  check_views();
  CHECK(g.abs().sum().item<double>() == 0);

  // AccumulateGrad adds into a defined grad in place when the engine runs with grad mode off
  // (backward without create_graph), so the views survive backward.
  const auto batch = batches(1, 3)[0];
  backward(model, batch);
  check_views();
  const auto once = g.clone();
  CHECK(once.abs().max().item<double>() > 0);
  double views_sq = 0;
  for (const auto& p : model->parameters()) views_sq += p.grad().pow(2).sum().item<double>();
  CHECK(views_sq == Approx(once.pow(2).sum().item<double>()).epsilon(1e-5));
  // A second backward on the same batch adds the same gradient (BN batch statistics are the same).
  backward(model, batch);
  CHECK(torch::allclose(g, 2 * once, 1e-5, 1e-7));

  opt.zero_grad();
  check_views();
  CHECK(g.abs().max().item<double>() == 0);
  for (const auto& p : model->parameters()) CHECK(p.grad().abs().max().item<double>() == 0);

  // Module::zero_grad() without set_to_none zeroes the same storage (grad.detach().zero_()).
  backward(model, batch);
  model->zero_grad();
  CHECK_NOTHROW(opt.zero_grad());
  CHECK(g.abs().max().item<double>() == 0);
}

TEST_CASE("FlatAdamW: the same AccumulateGrad behaviour on a bare leaf", "[train][flat_adamw]") {
  auto base = torch::zeros({6});
  auto x = torch::ones({3}, torch::requires_grad());
  x.mutable_grad() = base.narrow(0, 2, 3);
  (x * 2).sum().backward();
  CHECK(x.grad().data_ptr() == base.narrow(0, 2, 3).data_ptr());
  CHECK(torch::equal(base, torch::tensor({0.f, 0.f, 2.f, 2.f, 2.f, 0.f})));
  // With create_graph the grad is replaced out of place (it must carry a graph): no longer a view.
  (x * 3).sum().backward({}, /*retain_graph=*/true, /*create_graph=*/true);
  CHECK(x.grad().data_ptr() != base.narrow(0, 2, 3).data_ptr());
  CHECK(torch::equal(base, torch::tensor({0.f, 0.f, 2.f, 2.f, 2.f, 0.f})));
}

TEST_CASE("FlatAdamW detects gradients that are no longer views", "[train][flat_adamw]") {
  auto model = small_model();
  FlatAdamW opt(split_weight_decay(model->named_parameters()));
  const auto batch = batches(1, 4)[0];
  backward(model, batch);
  opt.step(1e-3);

  model->zero_grad(/*set_to_none=*/true);
  CHECK_THROWS_AS(opt.zero_grad(), std::logic_error);
  CHECK_THROWS_AS(opt.step(1e-3), std::logic_error);
  CHECK_THROWS_AS(opt.clip_grad_norm(1.0), std::logic_error);
  CHECK(opt.steps() == 1);

  // A parameter whose storage was replaced (e.g. Module::to another device).
  auto model2 = small_model();
  FlatAdamW opt2(split_weight_decay(model2->named_parameters()));
  auto w = model2->named_parameters()["head.l.weight"];
  {
    torch::NoGradGuard no_grad;
    w.set_data(w.clone());
  }
  try {
    opt2.step(1e-3);
    FAIL("expected std::logic_error");
  } catch (const std::logic_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("head.l.weight"));
  }
}

TEST_CASE("FlatAdamW::clip_grad_norm matches clip_grad_norm_", "[train][flat_adamw]") {
  auto ref = small_model();
  auto flat = small_model();
  copy_state(ref, flat);
  FlatAdamW opt(split_weight_decay(flat->named_parameters()));
  const auto batch = batches(1, 5)[0];
  backward(ref, batch);
  backward(flat, batch);

  // No clipping: only the norm.
  const auto unclipped = opt.flat_grad().clone();
  const double norm = opt.clip_grad_norm(0);
  CHECK(torch::equal(opt.flat_grad(), unclipped));
  CHECK(opt.clip_grad_norm(10 * norm) == Approx(norm).epsilon(1e-6));
  CHECK(torch::equal(opt.flat_grad(), unclipped));

  const double max_norm = 0.25 * norm;
  const double ref_norm = torch::nn::utils::clip_grad_norm_(ref->parameters(), max_norm);
  const double got = opt.clip_grad_norm(max_norm);
  CHECK(got == Approx(ref_norm).epsilon(1e-5));
  CHECK(got == Approx(norm).epsilon(1e-6));
  const auto rp = ref->named_parameters();
  for (const auto& item : flat->named_parameters())
    CHECK(torch::allclose(item.value().grad(), rp[item.key()].grad(), 1e-5, 1e-9));
  CHECK(opt.flat_grad().norm().item<double>() == Approx(max_norm).epsilon(1e-5));
}

TEST_CASE("FlatAdamW state round trip continues the same trajectory", "[train][flat_adamw]") {
  auto a = small_model();
  auto b = small_model();
  copy_state(a, b);
  FlatAdamW opt_a(split_weight_decay(a->named_parameters()));
  FlatAdamW opt_b(split_weight_decay(b->named_parameters()));
  const auto data = batches(4, 6);
  const std::vector<double> lrs = {2e-3, 1e-3, 3e-3, 5e-4};
  auto train = [&](const Classifier& m, FlatAdamW& opt, size_t s) {
    opt.zero_grad();
    backward(m, data[s]);
    opt.step(lrs[s]);
  };
  train(a, opt_a, 0);
  train(a, opt_a, 1);

  // b takes a's weights, BN statistics and optimizer state through a safetensors file.
  copy_state(a, b);
  const auto path = test::scratch_path("flat_adamw_state.safetensors");
  safetensors::save(path, opt_a.state());
  opt_b.load_state(safetensors::load(path).tensors, path);
  CHECK(opt_b.steps() == 2);
  CHECK(torch::equal(opt_b.flat_params(), opt_a.flat_params()));

  for (size_t s = 2; s < 4; ++s) {
    train(a, opt_a, s);
    train(b, opt_b, s);
  }
  CHECK(opt_b.steps() == 4);
  CHECK(torch::equal(opt_b.flat_params(), opt_a.flat_params()));
  CHECK(torch::equal(opt_b.state()[1].second, opt_a.state()[1].second));
}

TEST_CASE("FlatAdamW rejects bad state and bad parameters", "[train][flat_adamw]") {
  auto model = small_model();
  FlatAdamW opt(split_weight_decay(model->named_parameters()));
  const auto good = opt.state();
  const int64_t n = opt.numel();

  auto with = [&](const std::string& key, const torch::Tensor& t) {
    auto s = good;
    for (auto& [k, v] : s)
      if (k == key) v = t;
    return s;
  };
  std::string msg = test::input_error([&] { opt.load_state(with("exp_avg", torch::zeros({n + 1})), "other.ckpt"); });
  CHECK_THAT(msg, Catch::Contains("other.ckpt") && Catch::Contains("exp_avg"));
  test::input_error([&] { opt.load_state(with("exp_avg_sq", torch::zeros({n}, torch::kFloat64)), "x"); });
  test::input_error([&] { opt.load_state(with("step", torch::tensor(1.5)), "x"); });
  test::input_error([&] { opt.load_state({good[0], good[1]}, "x"); });  // no step
  auto extra = good;
  extra.emplace_back("max_exp_avg_sq", torch::zeros({n}));
  msg = test::input_error([&] { opt.load_state(extra, "x"); });
  CHECK_THAT(msg, Catch::Contains("max_exp_avg_sq"));
  auto twice = good;
  twice.push_back(good[0]);
  test::input_error([&] { opt.load_state(twice, "x"); });
  // Per-parameter step counts: one int64 per parameter tensor, within [0, step].
  const auto tensors = static_cast<int64_t>(opt.parameter_steps().size());
  msg = test::input_error([&] { opt.load_state(with("param_steps", torch::zeros({tensors + 1}, torch::kInt64)), "x"); });
  CHECK_THAT(msg, Catch::Contains("param_steps") && Catch::Contains("another network"));
  msg = test::input_error([&] { opt.load_state(with("param_steps", torch::full({tensors}, 1, torch::kInt64)), "x"); });
  CHECK_THAT(msg, Catch::Contains("outside [0, step 0]"));
  CHECK(opt.steps() == 0);
  CHECK_NOTHROW(opt.load_state(good, "x"));

  ParamGroups mixed;
  mixed.no_decay = {torch::zeros({2}, torch::requires_grad()),
                    torch::zeros({2}, torch::dtype(torch::kFloat64).requires_grad(true))};
  mixed.no_decay_names = {"a", "b"};
  msg = test::input_error([&] { FlatAdamW bad(mixed); });
  CHECK_THAT(msg, Catch::Contains("'b'"));
  ParamGroups twice_p;
  const auto t = torch::zeros({2}, torch::requires_grad());
  twice_p.no_decay = {t};
  twice_p.decay = {t};
  twice_p.no_decay_names = {"t"};
  twice_p.decay_names = {"u"};
  test::input_error([&] { FlatAdamW bad(twice_p); });
  test::input_error([&] { FlatAdamW bad(ParamGroups{}); });
}

// ---- parameters without a gradient ------------------------------------------------------------

namespace {

// Two branches on a shared stem and a gate that each step may or may not use, as a supernet's
// subnets leave parts of the network out. Parameters in buffer order: no decay gate (the module's
// own parameters come before its children's), stem.bias, a.bias, b.bias; decay stem.weight,
// a.weight, b.weight.
struct BranchesImpl : torch::nn::Module {
  BranchesImpl() {
    stem = register_module("stem", torch::nn::Linear(6, 8));
    a = register_module("a", torch::nn::Linear(8, 3));
    b = register_module("b", torch::nn::Linear(8, 3));
    gate = register_parameter("gate", torch::linspace(0.5, 1.5, 3));
  }
  // use: which of a, b, gate the output depends on.
  torch::Tensor forward(const torch::Tensor& x, bool use_a, bool use_b, bool use_gate) {
    const torch::Tensor h = torch::relu(stem(x));
    torch::Tensor y = h.narrow(1, 0, 3);  // the stem is always used
    if (use_a) y = y + a(h);
    if (use_b) y = y + b(h).pow(2);
    if (use_gate) y = y * gate;
    return y;
  }
  torch::nn::Linear stem{nullptr}, a{nullptr}, b{nullptr};
  torch::Tensor gate;
};
TORCH_MODULE(Branches);

struct Use {
  bool a, b, gate;
};

void copy_parameters(torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard no_grad;
  const auto fp = from.named_parameters(), tp = to.named_parameters();
  for (const auto& item : fp) tp[item.key()].copy_(item.value());
}

torch::Tensor branches_loss(Branches& m, const torch::Tensor& x, const Use& u) {
  return m->forward(x, u.a, u.b, u.gate).sin().sum();
}

}  // namespace

TEST_CASE("FlatAdamW skips parameters without a gradient, as torch::optim::AdamW does",
          "[train][flat_adamw]") {
  // A step that leaves a parameter out must not decay it, decay its moments or count a step for
  // it; torch's AdamW skips a parameter whose grad is undefined (zero_grad with set_to_none).
  const double wd = 0.1;
  torch::manual_seed(3);
  Branches ref, flat;
  copy_parameters(*ref, *flat);
  torch::optim::AdamW ref_opt(split_weight_decay(ref->named_parameters()).adamw(1e-2, wd));
  FlatAdamWOptions o;
  o.weight_decay = wd;
  FlatAdamW opt(split_weight_decay(flat->named_parameters()), o);
  const torch::Tensor a_initial = flat->a->weight.clone();
  REQUIRE(opt.names() == std::vector<std::string>{"gate", "stem.bias", "a.bias", "b.bias",
                                                  "stem.weight", "a.weight", "b.weight"});

  const std::vector<Use> uses = {{true, true, true},  {true, false, false}, {false, true, true},
                                 {true, false, true}, {false, false, false}, {true, true, false},
                                 {false, true, false}, {true, true, true}};
  const std::vector<double> lrs = {1e-2, 3e-2, 2e-2, 5e-3, 1e-2, 4e-2, 2e-2, 1e-2};
  // Each parameter's expected step count, counted here from the uses (stem: every step).
  std::map<std::string, int64_t> expected;
  for (size_t s = 0; s < uses.size(); ++s) {
    const Use& u = uses[s];
    INFO("step " << s);
    const torch::Tensor x = torch::randn({5, 6});

    ref->zero_grad(/*set_to_none=*/true);
    branches_loss(ref, x, u).backward();
    for (auto& g : ref_opt.param_groups()) g.options().set_lr(lrs[s]);
    ref_opt.step();

    opt.zero_grad();
    branches_loss(flat, x, u).backward();
    opt.step(lrs[s]);

    for (const char* name : {"stem.weight", "stem.bias"}) ++expected[name];
    if (u.a) ++expected["a.weight"], ++expected["a.bias"];
    if (u.b) ++expected["b.weight"], ++expected["b.bias"];
    if (u.gate) ++expected["gate"];
    const auto rp = ref->named_parameters();
    for (const auto& item : flat->named_parameters()) {
      INFO(item.key());
      CHECK(rel_diff(item.value(), rp[item.key()]) <= 1e-6);
    }
    for (size_t i = 0; i < opt.names().size(); ++i) {
      INFO(opt.names()[i]);
      CHECK(opt.parameter_steps()[i] == expected[opt.names()[i]]);
    }
  }
  CHECK(opt.steps() == 8);
  // Counts diverged (the per-run update path ran) and the parameters moved.
  CHECK(expected["b.weight"] == 5);
  CHECK(expected["gate"] == 4);
  CHECK(rel_diff(flat->a->weight, a_initial) > 1e-2);
}

TEST_CASE("FlatAdamW: a parameter that received no gradient is bit-identical after step()",
          "[train][flat_adamw]") {
  torch::manual_seed(4);
  Branches model;
  FlatAdamW opt(split_weight_decay(model->named_parameters()));
  // A few steps that use everything, so the moments and counts are non-zero.
  for (int s = 0; s < 3; ++s) {
    opt.zero_grad();
    branches_loss(model, torch::randn({5, 6}), {true, true, true}).backward();
    opt.step(1e-2);
  }
  auto slice = [&](const torch::Tensor& buffer, const std::string& name) {
    const auto& names = opt.names();
    int64_t offset = 0;
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == name) return buffer.narrow(0, offset, opt.parameters()[i].numel()).clone();
      offset += opt.parameters()[i].numel();
    }
    FAIL("no parameter " << name);
    return torch::Tensor();
  };
  const torch::Tensor b_before = model->b->weight.clone(), b_bias = model->b->bias.clone();
  const torch::Tensor b_m = slice(opt.state()[0].second, "b.weight");
  const torch::Tensor b_v = slice(opt.state()[1].second, "b.weight");
  const torch::Tensor a_before = model->a->weight.clone();

  opt.zero_grad();
  branches_loss(model, torch::randn({5, 6}), {true, false, true}).backward();
  // The hooks saw which parameters backward reached.
  CHECK(torch::equal(opt.received_grad(), torch::tensor({1, 1, 1, 0, 1, 1, 0}, torch::kInt32)));
  opt.step(1e-2);
  CHECK(torch::equal(model->b->weight, b_before));  // no weight decay, no stale-moment step
  CHECK(torch::equal(model->b->bias, b_bias));
  CHECK(torch::equal(slice(opt.state()[0].second, "b.weight"), b_m));
  CHECK(torch::equal(slice(opt.state()[1].second, "b.weight"), b_v));
  CHECK(opt.parameter_steps() == std::vector<int64_t>{4, 4, 4, 3, 4, 4, 3});
  CHECK_FALSE(torch::equal(model->a->weight, a_before));

  // zero_grad forgets, and a mask set from outside (another rank's) counts.
  opt.zero_grad();
  CHECK(opt.received_grad().sum().item<int64_t>() == 0);
  opt.set_received_grad(torch::tensor({0, 0, 0, 2, 0, 0, 1}, torch::kInt32));
  opt.step(1e-2);  // zero gradients: only the decay and the moments move b
  CHECK_FALSE(torch::equal(model->b->weight, b_before));
  CHECK(opt.parameter_steps() == std::vector<int64_t>{4, 4, 4, 4, 4, 4, 4});
}

TEST_CASE("FlatAdamW loads state without per-parameter counts, rejects bad ones",
          "[train][flat_adamw]") {
  torch::manual_seed(5);
  Branches a, b;
  copy_parameters(*a, *b);
  FlatAdamW opt_a(split_weight_decay(a->named_parameters()));
  FlatAdamW opt_b(split_weight_decay(b->named_parameters()));
  auto train = [](Branches& m, FlatAdamW& opt, const Use& u, uint64_t seed) {
    torch::manual_seed(seed);
    opt.zero_grad();
    branches_loss(m, torch::randn({5, 6}), u).backward();
    opt.step(1e-2);
  };
  train(a, opt_a, {true, true, true}, 1);
  train(a, opt_a, {true, true, true}, 2);

  // The checkpoint format before per-parameter counts: exp_avg, exp_avg_sq, step.
  safetensors::TensorList old;
  for (const auto& [key, t] : opt_a.state())
    if (key != "param_steps") old.emplace_back(key, t.clone());
  REQUIRE(old.size() == 3);
  copy_parameters(*a, *b);
  opt_b.load_state(old, "old.ckpt");
  CHECK(opt_b.steps() == 2);
  CHECK(opt_b.parameter_steps() == std::vector<int64_t>(7, 2));
  for (uint64_t s = 3; s < 6; ++s) {
    const Use u{s != 4, true, s == 5};
    train(a, opt_a, u, s);
    train(b, opt_b, u, s);
  }
  CHECK(torch::equal(opt_b.flat_params(), opt_a.flat_params()));
  CHECK(opt_b.parameter_steps() == opt_a.parameter_steps());
  CHECK(opt_a.parameter_steps() != std::vector<int64_t>(7, 5));  // they did diverge

  // Per-parameter counts round-trip through a file.
  const auto path = test::scratch_path("flat_adamw_counts.safetensors");
  safetensors::save(path, opt_a.state());
  FlatAdamW opt_c(split_weight_decay(Branches()->named_parameters()));
  opt_c.load_state(safetensors::load(path).tensors, path);
  CHECK(opt_c.parameter_steps() == opt_a.parameter_steps());

  auto with_counts = [&](const torch::Tensor& counts) {
    auto s = opt_a.state();
    for (auto& [k, v] : s)
      if (k == "param_steps") v = counts;
    return s;
  };
  auto load_error = [&](const torch::Tensor& counts) {
    return test::input_error([&] { opt_c.load_state(with_counts(counts), "x"); });
  };
  CHECK_THAT(load_error(torch::zeros({6}, torch::kInt64)), Catch::Contains("param_steps"));
  CHECK_THAT(load_error(torch::full({7}, 9, torch::kInt64)),
             Catch::Contains("outside [0, step 5]"));
  load_error(torch::zeros({7}, torch::kFloat32));
  CHECK(opt_c.parameter_steps() == opt_a.parameter_steps());  // unchanged by the failures
}
