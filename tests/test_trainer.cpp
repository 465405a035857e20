// The training step and its state: the classifier trainer learns, distillation from an identical
// teacher costs nothing, a checkpoint restored mid-run continues bit for bit (also one without
// per-parameter step counts), checkpoints and recipes reject what they cannot be; the generic
// trainer trains any module, adds up several passes per step, and never moves a parameter no
// pass reached (on either of two Gloo ranks).
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/arch_spec.h"
#include "core/io.h"
#include "core/safetensors.h"
#include "models/weights.h"
#include "train/checkpoint.h"
#include "train/classifier_trainer.h"
#include "train/distributed.h"
#include "train/launch.h"
#include "train/trainer.h"
#include "fixtures.h"

using namespace vitnas;
using vitnas::test::input_error;
using vitnas::test::scratch_path;

namespace {

TrainRecipe tiny_recipe() {
  TrainRecipe r;
  r.arch = arch_from_json(nlohmann::json::parse(test::kTinyViTSpec));
  r.data = "synthetic:64";
  r.epochs = 2;
  r.batch_size = 8;
  r.lr = 2e-3;
  r.warmup_epochs = 0.5;
  r.clip_grad = 1.0;
  return r;
}

struct Batch {
  torch::Tensor images, labels;
};

Batch random_batch(int64_t n, uint64_t seed) {
  torch::manual_seed(seed);
  return {torch::randn({n, 3, 16, 16}), torch::randint(10, {n}, torch::kInt64)};
}

std::vector<Batch> four_batches(uint64_t seed) {
  std::vector<Batch> batches;
  for (uint64_t i = 0; i < 4; ++i) batches.push_back(random_batch(8, seed + i));
  return batches;
}

// The resume tests' checkpoint: a fresh trainer stepped on batches 0 and 1, saved as epoch 1 to
// `path` after `edit` (e.g. removing what an older format lacked).
void save_after_two_steps(const TrainRecipe& r, ProcessGroup& group,
                          const std::vector<Batch>& batches, const std::string& path,
                          const std::function<void(Checkpoint&)>& edit) {
  ClassifierTrainer first(r, TrainRuntime{}, group, 4);
  for (int i = 0; i < 2; ++i) first.step(batches[size_t(i)].images, batches[size_t(i)].labels);
  Checkpoint c = first.checkpoint();
  edit(c);
  c.epoch = 1;
  c.recipe = recipe_to_json(r);
  save_checkpoint(path, c);
}

bool same_parameters(ClassifierImpl& a, ClassifierImpl& b) {
  auto pa = a.parameters(), pb = b.parameters();
  for (size_t i = 0; i < pa.size(); ++i)
    if (!torch::equal(pa[i], pb[i])) return false;
  return true;
}

}  // namespace

TEST_CASE("trainer: the training step learns a fixed batch", "[train][trainer]") {
  ProcessGroup single(DistributedEnv{}, torch::kCPU);
  ClassifierTrainer trainer(tiny_recipe(), TrainRuntime{}, single, 20);
  Batch b = random_batch(16, 3);
  const double first = trainer.step(b.images, b.labels).loss;
  StepResult last;
  for (int i = 0; i < 39; ++i) last = trainer.step(b.images, b.labels);
  CHECK(trainer.steps() == 40);
  CHECK(last.loss < 0.5 * first);
  CHECK(last.correct > 8);
  CHECK(last.lr < 2e-5);                      // the cosine's last step (2 epochs x 20 steps)
  CHECK(trainer.lr() == Approx(1e-5));         // and its end
}

TEST_CASE("trainer: distilling from an identical teacher costs nothing", "[train][trainer]") {
  // The teacher is the student's own initialisation (same seed): KL and token MSE are 0, so the
  // loss is (1 - alpha) x the label loss.
  TrainRecipe r = tiny_recipe();
  r.smoothing = 0.0;
  const std::string spec_path = scratch_path("teacher_vit.json");
  const std::string weights_path = scratch_path("teacher_vit.safetensors");
  save_arch(r.arch, spec_path);
  torch::manual_seed(r.seed);
  save_weights(*build_model(r.arch), weights_path);
  r.teacher = spec_path;
  r.teacher_weights = weights_path;
  r.distill_token_beta = 1.0;

  ProcessGroup single(DistributedEnv{}, torch::kCPU);
  Batch b = random_batch(8, 4);
  r.distill_alpha = 1.0;
  CHECK(ClassifierTrainer(r, TrainRuntime{}, single, 10).step(b.images, b.labels).loss ==
        Approx(0.0).margin(1e-6));

  r.distill_alpha = 0.25;
  r.distill_token_beta = 0.0;
  TrainRecipe plain = tiny_recipe();
  plain.smoothing = 0.0;
  const double label_loss = ClassifierTrainer(plain, TrainRuntime{}, single, 10).step(b.images, b.labels).loss;
  CHECK(ClassifierTrainer(r, TrainRuntime{}, single, 10).step(b.images, b.labels).loss ==
        Approx(0.75 * label_loss).epsilon(1e-5));

  SECTION("a teacher for other inputs is refused") {
    ArchSpec other = r.arch;
    other.img_size = 32;
    save_arch(other, spec_path);
    CHECK_THAT(input_error([&] { ClassifierTrainer(r, TrainRuntime{}, single, 10); }),
               Catch::Contains("--teacher") && Catch::Contains("3x32"));
  }
}

TEST_CASE("trainer: a restored checkpoint continues exactly", "[train][trainer]") {
  TrainRecipe r = tiny_recipe();
  r.ema_decay = 0.9;
  ProcessGroup single(DistributedEnv{}, torch::kCPU);
  const std::vector<Batch> batches = four_batches(10);
  ClassifierTrainer straight(r, TrainRuntime{}, single, 4);
  for (auto& b : batches) straight.step(b.images, b.labels);

  const std::string path = scratch_path("trainer_ckpt.safetensors");
  save_after_two_steps(r, single, batches, path, [](Checkpoint&) {});
  ClassifierTrainer resumed(r, TrainRuntime{}, single, 4);
  resumed.restore(load_checkpoint(path), path);
  CHECK(resumed.steps() == 2);
  for (int i = 2; i < 4; ++i) resumed.step(batches[i].images, batches[i].labels);
  CHECK(same_parameters(resumed.model(), straight.model()));
  CHECK(same_parameters(*resumed.ema_model(), *straight.ema_model()));

  SECTION("a checkpoint of another network is refused") {
    TrainRecipe other = r;
    other.arch = arch_from_json(nlohmann::json::parse(test::kCustomSpec));
    ClassifierTrainer wrong(other, TrainRuntime{}, single, 4);
    CHECK_THAT(input_error([&] { wrong.restore(load_checkpoint(path), path); }),
               Catch::Contains(path));
  }
  SECTION("truncated or foreign files are one-line errors naming the file") {
    const std::string bytes = read_file(path);
    write_file_atomic(path, bytes.substr(0, bytes.size() / 2));
    CHECK_THAT(input_error([&] { load_checkpoint(path); }), Catch::Contains(path));
    save_weights(straight.model(), path);  // a weights file is not a checkpoint
    CHECK_THAT(input_error([&] { load_checkpoint(path); }),
               Catch::Contains("checkpoint format 'pt'"));
  }
}

TEST_CASE("recipe: validation and the first difference", "[train][trainer]") {
  TrainRecipe r = tiny_recipe();
  validate(r);
  TrainRecipe bad = r;
  bad.lr = 0;
  CHECK_THAT(input_error([&] { validate(bad); }), Catch::Contains("--lr"));
  bad = r;
  bad.teacher = "m0";
  CHECK_THAT(input_error([&] { validate(bad); }), Catch::Contains("--teacher-weights"));
  bad = r;
  bad.distill_token_beta = 1.0;  // without a teacher
  CHECK_THAT(input_error([&] { validate(bad); }), Catch::Contains("--teacher"));

  TrainRecipe other = r;
  CHECK(recipe_difference(recipe_to_json(r), recipe_to_json(other)).empty());
  other.lr = 3e-3;
  CHECK(recipe_difference(recipe_to_json(r), recipe_to_json(other)) ==
        "lr: 0.002 in the checkpoint, 0.003 now");
  other = r;
  other.arch = arch_from_json(nlohmann::json::parse(test::kCustomSpec));
  CHECK_THAT(recipe_difference(recipe_to_json(r), recipe_to_json(other)),
             Catch::StartsWith("arch: the checkpoint trained tiny_vit"));
}

// ---- the generic trainer: any module, several passes per step --------------------------------

namespace {

// Not an ArchSpec network: a linear map to learn, and a parameter no loss uses.
struct LinearFitImpl : torch::nn::Module {
  LinearFitImpl() {
    fc = register_module("fc", torch::nn::Linear(4, 2));
    head = register_module("head", torch::nn::Linear(2, 2));
    unused = register_parameter("unused", torch::ones({3, 3}));
  }
  torch::Tensor forward(const torch::Tensor& x) { return head(fc(x)); }
  torch::nn::Linear fc{nullptr}, head{nullptr};
  torch::Tensor unused;
};
TORCH_MODULE(LinearFit);

TrainerOptions fit_options(int64_t steps) {
  TrainerOptions o;
  o.adamw.weight_decay = 0.01;
  o.schedule = LrScheduleOptions{2e-2, 1e-3, 1e-3, steps / 10, steps};
  o.clip_grad = 10.0;
  return o;
}

// Data of y = x A^T + c with a fixed A, c.
Batch fit_batch(int64_t n, uint64_t seed) {
  torch::manual_seed(seed);
  const auto a = torch::tensor({{1.0f, -2.0f, 0.5f, 0.0f}, {0.0f, 1.0f, 1.0f, -1.0f}});
  const auto x = torch::randn({n, 4});
  return {x, torch::matmul(x, a.t()) + torch::tensor({0.5f, -0.5f})};
}

torch::Tensor fit_loss(LinearFit& m, const Batch& b) {
  return torch::mse_loss(m->forward(b.images), b.labels);
}

}  // namespace

TEST_CASE("trainer: any module trains, a parameter no loss uses is never moved",
          "[train][trainer]") {
  torch::manual_seed(7);
  LinearFit model;
  const torch::Tensor unused = model->unused.clone();
  ProcessGroup single(DistributedEnv{}, torch::kCPU);
  Trainer trainer(model.ptr(), fit_options(200), single);
  CHECK_THROWS_AS(trainer.apply(), std::logic_error);  // nothing accumulated

  const Batch b = fit_batch(64, 1);
  const double first = trainer.accumulate([&] { return fit_loss(model, b); });
  trainer.apply();
  double last = first;
  for (int i = 1; i < 200; ++i) {
    last = trainer.accumulate([&] { return fit_loss(model, b); });
    const ApplyResult r = trainer.apply();
    CHECK_FALSE(r.skipped);
  }
  CHECK(trainer.steps() == 200);
  CHECK(last < 1e-2 * first);
  // Weight decay would have shrunk it; Adam's moments never saw it.
  CHECK(torch::equal(model->unused, unused));
  const auto& names = trainer.optimizer().names();
  const auto& counts = trainer.optimizer().parameter_steps();
  for (size_t i = 0; i < names.size(); ++i) {
    INFO(names[i]);
    CHECK(counts[i] == (names[i] == "unused" ? 0 : 200));
  }
}

TEST_CASE("trainer: two accumulate() calls add up to the backward of the summed loss",
          "[train][trainer]") {
  torch::manual_seed(8);
  LinearFit twice, once, reference;
  {
    torch::NoGradGuard no_grad;
    for (auto* m : {&once, &reference})
      for (const auto& item : twice->named_parameters())
        (*m)->named_parameters()[item.key()].copy_(item.value());
  }
  const Batch b1 = fit_batch(8, 2), b2 = fit_batch(8, 3);
  ProcessGroup single(DistributedEnv{}, torch::kCPU);
  Trainer t_twice(twice.ptr(), fit_options(10), single);
  Trainer t_once(once.ptr(), fit_options(10), single);

  const double l1 = t_twice.accumulate([&] { return fit_loss(twice, b1); });
  const double l2 = t_twice.accumulate([&] { return fit_loss(twice, b2); });
  CHECK(t_once.accumulate([&] { return fit_loss(once, b1) + fit_loss(once, b2); }) ==
        Approx(l1 + l2).epsilon(1e-6));
  // The gradients before apply(): the plain autograd sum on a third copy.
  (fit_loss(reference, b1) + fit_loss(reference, b2)).backward();
  const auto rp = reference->named_parameters();
  for (const auto& item : twice->named_parameters()) {
    INFO(item.key());
    if (item.key() == "unused") continue;
    CHECK(torch::allclose(item.value().grad(), rp[item.key()].grad(), 1e-6, 1e-7));
    CHECK(item.value().grad().abs().max().item<double>() > 0);
  }
  t_twice.apply();
  t_once.apply();
  const auto op = once->named_parameters();
  for (const auto& item : twice->named_parameters()) {
    INFO(item.key());
    CHECK(torch::allclose(item.value(), op[item.key()], 1e-6, 1e-7));
    if (item.key() != "unused") CHECK_FALSE(torch::equal(item.value(), rp[item.key()]));
  }
  // apply() left the gradients zeroed for the next step.
  CHECK(t_twice.optimizer().flat_grad().abs().max().item<double>() == 0);
}

TEST_CASE("trainer: a checkpoint without per-parameter step counts still restores",
          "[train][trainer]") {
  // Checkpoints written before the counts existed hold optim.{exp_avg, exp_avg_sq, step}.
  TrainRecipe r = tiny_recipe();
  ProcessGroup single(DistributedEnv{}, torch::kCPU);
  const std::vector<Batch> batches = four_batches(20);
  ClassifierTrainer straight(r, TrainRuntime{}, single, 4);
  for (auto& b : batches) straight.step(b.images, b.labels);

  const std::string path = scratch_path("trainer_old_ckpt.safetensors");
  save_after_two_steps(r, single, batches, path, [](Checkpoint& c) {
    safetensors::TensorList old;
    for (const auto& [key, t] : c.optimizer)
      if (key != "param_steps") old.emplace_back(key, t);
    REQUIRE(old.size() == 3);
    c.optimizer = old;
  });
  ClassifierTrainer resumed(r, TrainRuntime{}, single, 4);
  resumed.restore(load_checkpoint(path), path);
  CHECK(resumed.steps() == 2);
  const auto& counts = resumed.trainer().optimizer().parameter_steps();
  CHECK(std::all_of(counts.begin(), counts.end(), [](int64_t t) { return t == 2; }));
  for (int i = 2; i < 4; ++i) resumed.step(batches[i].images, batches[i].labels);
  CHECK(same_parameters(resumed.model(), straight.model()));
}

// ---- two real processes: a parameter reached on one rank is stepped on both -----------------

TEST_CASE("trainer worker: ranks reaching different parameters", "[.][trainer_worker]") {
  const auto env = distributed_env_from_environment();
  ProcessGroup group(env, torch::kCPU, std::chrono::seconds(30));
  torch::manual_seed(9);
  LinearFit model;
  const torch::Tensor unused = model->unused.clone();
  const torch::Tensor fc_before = model->fc->weight.clone();
  Trainer trainer(model.ptr(), fit_options(10), group);
  const Batch b = fit_batch(8, 10 + static_cast<uint64_t>(group.rank()));
  // Rank 0's loss reaches only head (fc's output is detached), rank 1's reaches both.
  trainer.accumulate([&] {
    const torch::Tensor h = model->fc(b.images);
    return torch::mse_loss(model->head(group.rank() == 0 ? h.detach() : h), b.labels);
  });
  REQUIRE(trainer.optimizer().received_grad().sum().item<int64_t>() ==
          (group.rank() == 0 ? 2 : 4));
  trainer.apply();

  // fc moved on both ranks, and the replicas are still equal: rank 0's copy, broadcast, is
  // this rank's.
  REQUIRE_FALSE(torch::equal(model->fc->weight, fc_before));
  REQUIRE(torch::equal(model->unused, unused));
  torch::Tensor mine = trainer.optimizer().flat_params().clone();
  torch::Tensor rank0 = mine.clone();
  group.broadcast_(rank0, 0);
  REQUIRE(torch::equal(mine, rank0));
  const auto& names = trainer.optimizer().names();
  for (size_t i = 0; i < names.size(); ++i)
    REQUIRE(trainer.optimizer().parameter_steps()[i] == (names[i] == "unused" ? 0 : 1));
}

TEST_CASE("trainer: two Gloo ranks step every parameter reached on either", "[train][trainer]") {
  if (!ProcessGroup::multi_process_available()) {
    WARN("this LibTorch build has no Gloo: two-process test skipped");
    return;
  }
  CHECK(launch_local_processes(2, {current_executable(), "[trainer_worker]"}) == 0);
}
