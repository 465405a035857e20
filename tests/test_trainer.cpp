// The training step and its state: it learns, distillation from an identical teacher costs
// nothing, a checkpoint restored mid-run continues bit for bit, checkpoints and recipes reject
// what they cannot be.
#include <catch2/catch.hpp>

#include <fstream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/arch_spec.h"
#include "core/io.h"
#include "models/weights.h"
#include "train/checkpoint.h"
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

bool same_parameters(ClassifierImpl& a, ClassifierImpl& b) {
  auto pa = a.parameters(), pb = b.parameters();
  for (size_t i = 0; i < pa.size(); ++i)
    if (!torch::equal(pa[i], pb[i])) return false;
  return true;
}

}  // namespace

TEST_CASE("trainer: the training step learns a fixed batch", "[train][trainer]") {
  ProcessGroup single(DistributedEnv{}, torch::kCPU);
  Trainer trainer(tiny_recipe(), TrainRuntime{}, single, 20);
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
  CHECK(Trainer(r, TrainRuntime{}, single, 10).step(b.images, b.labels).loss ==
        Approx(0.0).margin(1e-6));

  r.distill_alpha = 0.25;
  r.distill_token_beta = 0.0;
  TrainRecipe plain = tiny_recipe();
  plain.smoothing = 0.0;
  const double label_loss = Trainer(plain, TrainRuntime{}, single, 10).step(b.images, b.labels).loss;
  CHECK(Trainer(r, TrainRuntime{}, single, 10).step(b.images, b.labels).loss ==
        Approx(0.75 * label_loss).epsilon(1e-5));

  SECTION("a teacher for other inputs is refused") {
    ArchSpec other = r.arch;
    other.img_size = 32;
    save_arch(other, spec_path);
    CHECK_THAT(input_error([&] { Trainer(r, TrainRuntime{}, single, 10); }),
               Catch::Contains("--teacher") && Catch::Contains("3x32"));
  }
}

TEST_CASE("trainer: a restored checkpoint continues exactly", "[train][trainer]") {
  TrainRecipe r = tiny_recipe();
  r.ema_decay = 0.9;
  ProcessGroup single(DistributedEnv{}, torch::kCPU);
  std::vector<Batch> batches;
  for (int i = 0; i < 4; ++i) batches.push_back(random_batch(8, 10 + i));

  Trainer straight(r, TrainRuntime{}, single, 4);
  for (auto& b : batches) straight.step(b.images, b.labels);

  const std::string path = scratch_path("trainer_ckpt.safetensors");
  {
    Trainer first(r, TrainRuntime{}, single, 4);
    for (int i = 0; i < 2; ++i) first.step(batches[i].images, batches[i].labels);
    Checkpoint c = first.checkpoint();
    c.epoch = 1;
    c.recipe = recipe_to_json(r);
    save_checkpoint(path, c);
  }
  Trainer resumed(r, TrainRuntime{}, single, 4);
  resumed.restore(load_checkpoint(path), path);
  CHECK(resumed.steps() == 2);
  for (int i = 2; i < 4; ++i) resumed.step(batches[i].images, batches[i].labels);
  CHECK(same_parameters(resumed.model(), straight.model()));
  CHECK(same_parameters(resumed.ema()->model(), straight.ema()->model()));

  SECTION("a checkpoint of another network is refused") {
    TrainRecipe other = r;
    other.arch = arch_from_json(nlohmann::json::parse(test::kCustomSpec));
    Trainer wrong(other, TrainRuntime{}, single, 4);
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
