#include "train/train_config.h"

#include <cmath>

#include "core/error.h"

namespace vitnas {

namespace {

void require_range(bool ok, const std::string& flag, const std::string& rule) {
  require(ok, "--" + flag + ": must be " + rule);
}

}  // namespace

void validate(const TrainRecipe& r) {
  vitnas::validate(r.arch);
  require_range(r.epochs >= 1, "epochs", ">= 1");
  require_range(r.batch_size >= 1, "batch", ">= 1");
  require_range(r.train_images >= 0, "train-images", ">= 0 (0: all)");
  require_range(r.test_images >= 0, "test-images", ">= 0 (0: all)");
  // Training BatchNorm normalises over the batch: one image has no variance to normalise by.
  require(r.batch_size >= 2 || r.arch.family == Family::ViT,
          "--batch: BatchNorm (efficientvit) needs at least 2 images per step and process");
  require_range(r.world_size >= 1, "nproc", ">= 1");
  if (r.kind_search) {
    const auto& k = *r.kind_search;
    require_range(k.lambda >= 0 && std::isfinite(k.lambda), "lambda", ">= 0");
    require(k.cost == "latency" || k.cost == "l1", "--cost: latency or l1, got " + k.cost);
    const size_t heads = head_kinds(r.arch).size();
    require(heads > 0, r.arch.name + " has no attention heads to search");
    require(k.relu_softmax_s.size() == heads && k.scaling_s.size() == heads,
            "kind search: the heads' MPC costs do not match the " + std::to_string(heads) +
                " heads of " + r.arch.name);
    require(k.softmax_s.empty() || k.softmax_s.size() == heads,
            "kind search: the heads' softmax MPC costs do not match the " +
                std::to_string(heads) + " heads of " + r.arch.name);
    require(k.activation_s.empty() || (r.arch.family == Family::ViT &&
                                       k.activation_s.size() == r.arch.vit.layers.size()),
            "kind search: the layers' activation costs do not match " + r.arch.name +
                " (the linearisation search is for vit networks)");
  }
  require_range(r.lr > 0 && std::isfinite(r.lr), "lr", "> 0");
  require_range(r.min_lr >= 0 && r.min_lr <= r.lr, "min-lr", "in [0, lr]");
  require_range(r.warmup_lr >= 0 && r.warmup_lr <= r.lr, "warmup-lr", "in [0, lr]");
  require_range(r.warmup_epochs >= 0 && r.warmup_epochs < static_cast<double>(r.epochs),
                "warmup-epochs", "in [0, epochs)");
  require_range(r.weight_decay >= 0, "weight-decay", ">= 0");
  require_range(r.clip_grad >= 0, "clip-grad", ">= 0 (0 = off)");
  require_range(r.smoothing >= 0 && r.smoothing < 1, "smoothing", "in [0, 1)");
  require_range(r.drop_path >= 0 && r.drop_path < 1, "drop-path", "in [0, 1)");
  require_range(r.ema_decay >= 0 && r.ema_decay < 1, "ema-decay", "in [0, 1) (0 = off)");
  require_range(r.val_fraction >= 0 && r.val_fraction < 1, "val-fraction", "in [0, 1)");
  require_range(r.augment == "auto" || r.augment == "rrc" || r.augment == "pad_crop" ||
                    r.augment == "none",
                "augment", "auto, rrc, pad_crop or none");
  require_range(r.rrc_min_scale > 0 && r.rrc_min_scale <= 1, "rrc-min-scale", "in (0, 1]");
  require(r.teacher.empty() == r.teacher_weights.empty(),
          "--teacher and --teacher-weights go together (a teacher needs its trained weights)");
  require_range(r.distill_alpha >= 0 && r.distill_alpha <= 1, "distill-alpha", "in [0, 1]");
  require_range(r.distill_temperature > 0, "distill-temperature", "> 0");
  require_range(r.distill_token_beta >= 0, "distill-token-beta", ">= 0");
  require(r.distill_token_beta == 0 || r.arch.family == Family::ViT,
          "--distill-token-beta: the token MSE (MPCViT) is defined for the vit family only");
  require(r.distill_token_beta == 0 || !r.teacher.empty(),
          "--distill-token-beta needs a --teacher");
  if (!r.space) return;
  require_range(r.random_subnets >= 0, "random-subnets", ">= 0");
  require_range(r.bn_batches >= 0, "bn-batches", ">= 0");
  require(r.space->img_size.size() == 1,
          "--space " + r.space->name + ": a supernet trains at one resolution; give img_size one value");
  require(r.teacher.empty(), "--teacher: a supernet distils from its largest subnet (in place)");
  require(r.drop_path == 0, "--drop-path: not supported in supernet training");
  require(r.init_weights.empty(), "--init-weights: not supported in supernet training");
}

nlohmann::json recipe_to_json(const TrainRecipe& r) {
  nlohmann::json j = {{"arch", arch_to_json(r.arch)},
          {"data", r.data},
          {"epochs", r.epochs},
          {"batch", r.batch_size},
          {"world_size", r.world_size},
          {"seed", r.seed},
          {"lr", r.lr},
          {"min_lr", r.min_lr},
          {"warmup_lr", r.warmup_lr},
          {"warmup_epochs", r.warmup_epochs},
          {"weight_decay", r.weight_decay},
          {"clip_grad", r.clip_grad},
          {"smoothing", r.smoothing},
          {"drop_path", r.drop_path},
          {"ema_decay", r.ema_decay},
          {"val_fraction", r.val_fraction},
          {"augment", r.augment},
          {"flip", r.flip},
          {"rrc_min_scale", r.rrc_min_scale},
          {"teacher", r.teacher},
          {"teacher_weights", r.teacher_weights},
          {"distill_alpha", r.distill_alpha},
          {"distill_temperature", r.distill_temperature},
          {"distill_token_beta", r.distill_token_beta},
          {"distill_hard", r.distill_hard},
          {"amp", r.amp}};
  // Keys appear only when used, so that older checkpoints' recipes still compare equal.
  if (!r.init_weights.empty()) j["init_weights"] = r.init_weights;
  if (r.train_images > 0) j["train_images"] = r.train_images;
  if (r.test_images > 0) j["test_images"] = r.test_images;
  if (r.space) {
    j["space"] = space_to_json(*r.space);
    j["random_subnets"] = r.random_subnets;
    j["bn_batches"] = r.bn_batches;
  }
  if (r.kind_search) {
    j["kind_search"] = {{"lambda", r.kind_search->lambda},
                        {"cost", r.kind_search->cost},
                        {"relu_softmax_s", r.kind_search->relu_softmax_s},
                        {"scaling_s", r.kind_search->scaling_s}};
    if (!r.kind_search->activation_s.empty())
      j["kind_search"]["activation_s"] = r.kind_search->activation_s;
    if (!r.kind_search->softmax_s.empty())
      j["kind_search"]["softmax_s"] = r.kind_search->softmax_s;
  }
  return j;
}

std::string recipe_difference(const nlohmann::json& saved, const nlohmann::json& now) {
  for (const auto& [key, value] : now.items()) {
    if (!saved.contains(key)) return key + ": not in the checkpoint";
    if (saved[key] == value) continue;
    if (key == "space")
      return "space: the checkpoint trained the supernet of space " +
             saved[key].value("name", std::string("?")) + " (different choices), not " +
             value.value("name", std::string("?"));
    if (key == "arch")  // the whole spec would make an unreadable line
      return "arch: the checkpoint trained " + saved[key].value("name", std::string("?")) +
             " (a different network), not " + value.value("name", std::string("?"));
    return key + ": " + saved[key].dump() + " in the checkpoint, " + value.dump() + " now";
  }
  return "";
}

std::string resolved_augment(const TrainRecipe& r) {
  if (r.augment != "auto") return r.augment;
  return r.arch.img_size < 64 ? "pad_crop" : "rrc";
}

}  // namespace vitnas
