#include "train/classifier_trainer.h"

#include <torch/torch.h>

#include "core/io.h"
#include "models/kind_search.h"
#include "models/weights.h"
#include "train/evaluate.h"
#include "train/metrics.h"

namespace vitnas {

namespace {

// The kind search's alphas (and betas) on `model`, before the optimizer sees its parameters.
void enable_searches(const TrainRecipe& r, ClassifierImpl& model) {
  if (!r.kind_search) return;
  enable_kind_search(model, !r.kind_search->softmax_s.empty());
  if (!r.kind_search->activation_s.empty()) enable_linearisation_search(model);
}

// The seed's initialisation (the same on every rank), or the recipe's initial weights; with the
// kind search, the alphas too.
Classifier build_seeded(const TrainRecipe& r) {
  torch::manual_seed(r.seed);
  Classifier model = build_model(r.arch, ModelOptions{r.drop_path});
  if (!r.init_weights.empty()) load_weights(*model, r.init_weights);
  enable_searches(r, *model);
  return model;
}

Classifier build_ema_copy(const TrainRecipe& r) {
  if (r.ema_decay <= 0) return nullptr;
  Classifier copy = build_model(r.arch);
  enable_searches(r, *copy);
  return copy;
}

// "val_top1", "val_top5", ... from an evaluation.
void add_eval(nlohmann::json& line, const std::string& prefix, const EvalResult& e) {
  line[prefix + "_top1"] = e.top1;
  line[prefix + "_top5"] = e.top5;
  line[prefix + "_loss"] = e.loss;
}

}  // namespace

TrainerOptions trainer_options(const TrainRecipe& recipe, const TrainRuntime& runtime,
                               int64_t steps_per_epoch) {
  TrainerOptions o;
  o.device = torch::Device(runtime.device);
  o.adamw = FlatAdamWOptions{recipe.lr, 0.9, 0.999, 1e-8, recipe.weight_decay};
  o.schedule = LrScheduleOptions{
      recipe.lr, recipe.min_lr, recipe.warmup_lr,
      static_cast<int64_t>(recipe.warmup_epochs * static_cast<double>(steps_per_epoch)),
      recipe.epochs * steps_per_epoch};
  o.clip_grad = recipe.clip_grad;
  o.ema_decay = recipe.ema_decay;
  o.amp = recipe.amp;
  o.seed = recipe.seed;
  return o;
}

ClassifierTrainer::ClassifierTrainer(const TrainRecipe& recipe, const TrainRuntime& runtime,
                                     ProcessGroup& group, int64_t steps_per_epoch)
    : arch_(recipe.arch),
      kind_search_(recipe.kind_search),
      model_(build_seeded(recipe)),
      ema_model_(build_ema_copy(recipe)),
      loss_(recipe, torch::Device(runtime.device)),
      trainer_(model_, trainer_options(recipe, runtime, steps_per_epoch), group, ema_model_) {
  if (!kind_search_) return;
  // Already enabled: returns the registered parameters.
  kinds_ = enable_kind_search(*model_, !kind_search_->softmax_s.empty());
  if (!kind_search_->activation_s.empty()) betas_ = enable_linearisation_search(*model_);
  const auto device = trainer_.device();
  auto seconds = [&](const std::vector<double>& s) {
    return torch::tensor(s, torch::kFloat32).to(device);
  };
  relu_softmax_s_ = seconds(kind_search_->relu_softmax_s);
  scaling_s_ = seconds(kind_search_->scaling_s);
  if (!kinds_.gammas.empty()) softmax_s_ = seconds(kind_search_->softmax_s);
}

torch::Tensor ClassifierTrainer::kind_search_loss() const {
  const torch::Tensor alpha = torch::cat(kinds_.alphas);  // (heads), head_kinds order
  const bool l1 = kind_search_->cost == "l1";
  // Per head: MPCViT's mixed cost; with softmax candidates, gamma softmax + (1 - gamma) that.
  torch::Tensor head = l1 ? alpha.abs() : alpha * relu_softmax_s_ + (1 - alpha) * scaling_s_;
  if (!kinds_.gammas.empty()) {
    const torch::Tensor gamma = torch::cat(kinds_.gammas);
    head = l1 ? head + gamma.abs() : gamma * softmax_s_ + (1 - gamma) * head;
  }
  torch::Tensor cost = head.sum();
  for (size_t l = 0; l < betas_.size(); ++l)  // MPCViT+: a linear layer costs nothing
    if (betas_[l].defined())
      cost = cost + (l1 ? betas_[l].abs().sum() : betas_[l].sum() * kind_search_->activation_s[l]);
  return kind_search_->lambda * cost;
}

StepResult ClassifierTrainer::step(const torch::Tensor& images_in,
                                   const torch::Tensor& labels_in) {
  const torch::Tensor images = images_in.to(trainer_.device(), /*non_blocking=*/true);
  const torch::Tensor labels = labels_in.to(trainer_.device(), /*non_blocking=*/true);
  StepResult r;
  r.images = images.size(0);
  torch::Tensor class_logits;
  r.loss = trainer_.accumulate([&] {
    ClassifierLoss::Output out = loss_(*model_, images, labels);
    class_logits = out.class_logits;
    return kind_search_ ? out.loss + kind_search_loss() : out.loss;
  });
  const ApplyResult applied = trainer_.apply();
  r.lr = applied.lr;
  r.skipped = applied.skipped;
  r.correct = topk_correct(class_logits.detach(), labels, {1})[0];
  return r;
}

}  // namespace vitnas

namespace vitnas {

void ClassifierTrainer::evaluate(nlohmann::json& line, const EvalData& d) {
  auto eval = [&](ClassifierImpl& model, const std::string& prefix) {
    if (d.val)
      add_eval(line, prefix + "val",
               vitnas::evaluate(model, d.val, d.transform, d.batch_size, d.threads, d.device,
                                *d.group));
    add_eval(line, prefix + "test",
             vitnas::evaluate(model, d.test, d.transform, d.batch_size, d.threads, d.device,
                              *d.group));
  };
  eval(*model_, "");
  if (ema_model_) eval(*ema_model_, "ema_");
  if (kind_search_) line["alphas"] = alpha_values(kinds_.alphas);
  if (!kinds_.gammas.empty()) line["gammas"] = alpha_values(kinds_.gammas);
  if (!betas_.empty()) line["betas"] = alpha_values(betas_);  // NaN (null): a linear layer
}

void ClassifierTrainer::save(const std::filesystem::path& dir, int64_t epochs_done) {
  const std::map<std::string, std::string> meta = {{"arch", arch_.name},
                                                   {"epoch", std::to_string(epochs_done)}};
  save_arch(arch_, (dir / "arch.json").string());
  save_weights(*model_, (dir / "weights.safetensors").string(), meta);
  if (ema_model_) save_weights(*ema_model_, (dir / "weights_ema.safetensors").string(), meta);
  if (kind_search_) {
    nlohmann::json values = {{"arch", arch_.name},
                             {"epoch", epochs_done},
                             {"alphas", alpha_values(kinds_.alphas)},
                             {"relu_softmax_s", kind_search_->relu_softmax_s},
                             {"scaling_s", kind_search_->scaling_s},
                             {"betas", alpha_values(betas_)},
                             {"activation_s", kind_search_->activation_s}};
    if (!kinds_.gammas.empty()) {
      values["gammas"] = alpha_values(kinds_.gammas);
      values["softmax_s"] = kind_search_->softmax_s;
    }
    write_json_file_atomic((dir / "alphas.json").string(), values);
  }
}

}  // namespace vitnas
