// The trainer's building blocks against hand-computed values: lr schedule, weight-decay groups,
// losses, model EMA, accuracy.
#include <catch2/catch.hpp>

#include <cmath>
#include <set>

#include <torch/torch.h>

#include "core/arch_spec.h"
#include "core/error.h"
#include "models/classifier.h"
#include "models/weights.h"
#include "train/ema.h"
#include "train/losses.h"
#include "train/metrics.h"
#include "train/param_groups.h"
#include "train/schedule.h"

using namespace vitnas;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

double scalar(const torch::Tensor& t) { return t.item<double>(); }

}  // namespace

TEST_CASE("lr schedule: linear warm-up, then timm's cosine at the absolute step", "[train]") {
  LrScheduleOptions o;
  o.lr = 1e-3;
  o.min_lr = 1e-5;
  o.warmup_lr = 1e-6;
  o.warmup_steps = 10;
  o.total_steps = 100;
  const LrSchedule s(o);
  CHECK(s.lr_at(0) == Approx(1e-6));
  CHECK(s.lr_at(5) == Approx(1e-6 + 5 * 0.999e-3 / 10));  // 5.005e-4
  CHECK(s.lr_at(9) == Approx(9.001e-4));                   // last warm-up step
  // First cosine step: 1e-5 + 0.5 * 9.9e-4 * (1 + cos(pi / 10)), cos(pi/10) = 0.9510565163
  CHECK(s.lr_at(10) == Approx(9.7577297557e-4));
  CHECK(s.lr_at(50) == Approx(5.05e-4));                   // cos(pi / 2) = 0
  CHECK(s.lr_at(99) == Approx(1e-5 + 0.5 * 9.9e-4 * (1 - 0.9995065604)));
  CHECK(s.lr_at(100) == Approx(1e-5));
  CHECK(s.lr_at(1000) == Approx(1e-5));
  CHECK(s.lr_at(-3) == Approx(1e-6));

  o.warmup_steps = 0;
  CHECK(LrSchedule(o).lr_at(0) == Approx(1e-3));
  o.warmup_steps = 100;
  CHECK_THROWS_AS(LrSchedule(o), InputError);

  // apply() sets every group, with optional per-group scales.
  auto a = torch::zeros({2}, torch::requires_grad());
  auto b = torch::zeros({2}, torch::requires_grad());
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{a});
  groups.emplace_back(std::vector<torch::Tensor>{b});
  torch::optim::AdamW opt(groups, torch::optim::AdamWOptions(0.5));
  s.apply(opt, 50);
  CHECK(opt.param_groups()[0].options().get_lr() == Approx(5.05e-4));
  CHECK(opt.param_groups()[1].options().get_lr() == Approx(5.05e-4));
  s.apply(opt, 50, {1.0, 0.5});
  CHECK(opt.param_groups()[1].options().get_lr() == Approx(2.525e-4));
  CHECK_THROWS_AS(s.apply(opt, 50, {1.0}), InputError);
}

TEST_CASE("weight decay groups of m0 follow timm and EfficientViT.no_weight_decay", "[train]") {
  auto model = build_model(preset("m0"));
  const auto named = model->named_parameters();
  const auto g = split_weight_decay(named);
  REQUIRE(g.decay.size() == g.decay_names.size());
  REQUIRE(g.no_decay.size() == g.no_decay_names.size());
  const std::set<std::string> decay(g.decay_names.begin(), g.decay_names.end());
  const std::set<std::string> no_decay(g.no_decay_names.begin(), g.no_decay_names.end());
  // A partition of all parameters.
  CHECK(decay.size() + no_decay.size() == named.size());
  int attention_biases = 0, conv_weights = 0;
  for (const auto& item : named) {
    const auto& name = item.key();
    INFO(name);
    CHECK(decay.count(name) + no_decay.count(name) == 1);
    const auto& p = item.value();
    if (ends_with(name, ".bias") || p.dim() <= 1) CHECK(no_decay.count(name) == 1);  // BN, biases
    if (ends_with(name, "attention_biases")) {
      ++attention_biases;
      CHECK(no_decay.count(name) == 1);
    }
    if (p.dim() == 4) {  // conv kernels
      ++conv_weights;
      CHECK(decay.count(name) == 1);
    }
  }
  CHECK(attention_biases > 0);
  CHECK(conv_weights > 0);
  CHECK(decay.count("head.l.weight") == 1);
  CHECK(no_decay.count("head.bn.weight") == 1);

  const auto groups = g.adamw(1e-3, 0.05);
  REQUIRE(groups.size() == 2);
  const auto& o0 = static_cast<const torch::optim::AdamWOptions&>(groups[0].options());
  const auto& o1 = static_cast<const torch::optim::AdamWOptions&>(groups[1].options());
  CHECK(o0.weight_decay() == 0.0);
  CHECK(o1.weight_decay() == Approx(0.05));
  CHECK(o1.lr() == Approx(1e-3));
  CHECK(groups[0].params().size() == g.no_decay.size());
  torch::optim::AdamW opt(groups, torch::optim::AdamWOptions(1e-3));  // accepted by AdamW
  CHECK(opt.param_groups().size() == 2);

  // Frozen parameters are in neither group.
  model->named_parameters()["head.l.weight"].set_requires_grad(false);
  const auto frozen = split_weight_decay(model->named_parameters());
  CHECK(frozen.decay.size() == g.decay.size() - 1);
}

TEST_CASE("weight decay groups of a ViT skip cls_token and pos_embed", "[train]") {
  auto model = build_model(preset("vit_7_4_32"));
  const auto g = split_weight_decay(model->named_parameters());
  const std::set<std::string> no_decay(g.no_decay_names.begin(), g.no_decay_names.end());
  CHECK(no_decay.count("cls_token") == 1);
  CHECK(no_decay.count("pos_embed") == 1);
  CHECK(no_decay.count("patch_embed.proj.bias") == 1);
  for (const auto& n : g.decay_names) CHECK(n.find("norm") == std::string::npos);
}

TEST_CASE("label smoothing cross-entropy: hand example, and plain CE at eps 0", "[train]") {
  // softmax([0, 0, ln 2]) = (1/4, 1/4, 1/2); target 2: nll ln2, mean(-logp) 5/3 ln2;
  // target 0: nll 2 ln2. eps 0.1: (0.9 + 1/6) ln2 = 16/15 ln2 and (1.8 + 1/6) ln2 = 59/30 ln2.
  const double ln2 = std::log(2.0);
  auto logits = torch::tensor({0.0, 0.0, ln2, 0.0, 0.0, ln2}, torch::kDouble).view({2, 3});
  auto target = torch::tensor({2, 0}, torch::kLong);
  CHECK(scalar(label_smoothing_cross_entropy(logits, target, 0.1)) == Approx(ln2 * 91.0 / 60.0));

  torch::manual_seed(3);
  auto x = torch::randn({4, 7});
  auto y = torch::randint(0, 7, {4}, torch::kLong);
  CHECK(scalar(label_smoothing_cross_entropy(x, y, 0.0)) ==
        Approx(scalar(torch::nn::functional::cross_entropy(x, y))));
  // Soft targets that are one-hot are plain CE too.
  CHECK(scalar(soft_target_cross_entropy(x, torch::one_hot(y, 7).to(torch::kFloat))) ==
        Approx(scalar(torch::nn::functional::cross_entropy(x, y))));
  CHECK_THROWS_AS(label_smoothing_cross_entropy(x, y, 1.0), InputError);
}

TEST_CASE("soft distillation: 0 for equal logits, batchmean KL * T^2 otherwise", "[train]") {
  torch::manual_seed(4);
  auto x = torch::randn({3, 5}, torch::kDouble);
  CHECK(scalar(soft_distillation_loss(x, x.clone(), 3.0)) == Approx(0.0).margin(1e-12));

  // Row 0: student (0, 0), teacher (ln 3, 0) at T = 2 -> p = sqrt3 / (sqrt3 + 1) vs (1/2, 1/2);
  // row 1 equal (KL 0). batchmean over 2 rows, times T^2 = 4.
  const double p = std::sqrt(3.0) / (std::sqrt(3.0) + 1.0), q = 1.0 - p;
  const double kl0 = p * std::log(2 * p) + q * std::log(2 * q);
  auto student = torch::tensor({0.0, 0.0, 1.0, 2.0}, torch::kDouble).view({2, 2});
  auto teacher = torch::tensor({std::log(3.0), 0.0, 1.0, 2.0}, torch::kDouble).view({2, 2});
  CHECK(scalar(soft_distillation_loss(student, teacher, 2.0)) == Approx(4.0 * kl0 / 2.0));

  // The combination: (1 - alpha) * base + alpha * distill + beta * token.
  DistillationOptions o;
  o.alpha = 0.3;
  o.temperature = 2.0;
  o.beta = 0.5;
  o.smoothing = 0.1;
  auto target = torch::tensor({1, 0}, torch::kLong);
  auto tok_s = torch::ones({2, 3}, torch::kDouble), tok_t = torch::zeros({2, 3}, torch::kDouble);
  auto dist_logits = student * 0.5;
  const auto l = distillation_loss(student, dist_logits, teacher, target, o, tok_s, tok_t);
  const double base = scalar(label_smoothing_cross_entropy(student, target, 0.1));
  const double distill = scalar(soft_distillation_loss(dist_logits, teacher, 2.0));
  CHECK(scalar(l.base) == Approx(base));
  CHECK(scalar(l.distill) == Approx(distill));
  CHECK(scalar(l.token) == Approx(1.0));
  CHECK(scalar(l.total) == Approx(0.7 * base + 0.3 * distill + 0.5 * 1.0));

  o.hard = true;
  o.beta = 0.0;
  const auto h = distillation_loss(student, {}, teacher, target, o);  // no distillation head
  CHECK_FALSE(h.token.defined());
  CHECK(scalar(h.distill) == Approx(scalar(torch::nn::functional::cross_entropy(
                                 student, torch::tensor({0, 1}, torch::kLong)))));
  o.beta = 1.0;
  CHECK_THROWS_AS(distillation_loss(student, {}, teacher, target, o), InputError);
}

TEST_CASE("model EMA: decay * old + (1 - decay) * new, integer buffers copied", "[train]") {
  auto model = build_model(preset("m0"));
  ModelEma ema(*model, 0.9);
  CHECK_FALSE(ema.model().is_training());
  for (const auto& p : ema.model().parameters()) CHECK_FALSE(p.requires_grad());

  std::vector<torch::Tensor> old;
  for (const auto& [name, t] : ema.state()) old.push_back(t.clone());
  {
    torch::NoGradGuard no_grad;
    torch::manual_seed(5);
    for (auto& [name, t] : state_dict(*model)) {
      if (t.is_floating_point())
        t.add_(torch::randn_like(t));
      else if (ends_with(name, "num_batches_tracked"))
        t.fill_(7);
    }
  }
  ema.update(*model);
  const auto now = ema.state();
  const auto src = state_dict(*model);
  REQUIRE(now.size() == src.size());
  bool saw_int = false;
  for (size_t i = 0; i < now.size(); ++i) {
    INFO(now[i].first);
    REQUIRE(now[i].first == src[i].first);
    if (now[i].second.is_floating_point()) {
      CHECK(torch::allclose(now[i].second, 0.9 * old[i] + 0.1 * src[i].second, 1e-5, 1e-6));
    } else {
      CHECK(torch::equal(now[i].second, src[i].second));
      saw_int = saw_int || ends_with(now[i].first, "num_batches_tracked");
    }
  }
  CHECK(saw_int);

  // The state loads back into an EMA (checkpoint resume).
  ModelEma other(*build_model(preset("m0")), 0.9);
  other.load_state(ema.state(), "ema.safetensors");
  CHECK(torch::equal(other.state()[0].second, ema.state()[0].second));
  CHECK_THROWS_AS(ModelEma(*model, 1.5), InputError);
}

TEST_CASE("top-k accuracy on a hand example, k clamped to the class count", "[train]") {
  auto logits = torch::tensor({0.1, 0.5, 0.2, 0.9,    // label 3: rank 1
                               0.8, 0.1, 0.7, 0.0,    // label 2: rank 2
                               0.3, 0.2, 0.1, 0.4})   // label 2: rank 4
                    .view({3, 4});
  auto target = torch::tensor({3, 2, 2}, torch::kLong);
  CHECK((topk_correct(logits, target, {1, 2, 3, 4, 5}) == std::vector<int64_t>{1, 2, 2, 3, 3}));
  const auto c = top1_top5(logits, target);
  CHECK(c.top1 == 1);
  CHECK(c.top5 == 3);
  CHECK(c.total == 3);
  // Soft (mixup) targets count their argmax.
  CHECK(topk_correct(logits, torch::one_hot(target, 4).to(torch::kFloat), {1})[0] == 1);
  CHECK_THROWS_AS(topk_correct(logits, torch::tensor({1, 2}), {1}), InputError);

  AverageMeter loss;
  loss.update(2.0);
  loss.update(4.0, 3);
  CHECK(loss.avg() == Approx(3.5));
  CHECK(loss.last() == 4.0);
  CHECK(loss.count() == 4);
  ThroughputMeter speed;
  speed.update(100, 1.0);
  speed.update(300, 1.0);
  CHECK(speed.rate() == Approx(200.0));
  CHECK(speed.last() == Approx(300.0));
}
