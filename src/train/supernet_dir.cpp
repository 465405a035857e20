#include "train/supernet_dir.h"

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io.h"
#include "core/memory.h"
#include "models/classifier.h"
#include "models/weights.h"
#include "train/run.h"

namespace vitnas {

namespace {

// The fields of recipe.json that say which data the supernet saw.
TrainRecipe data_settings(const std::string& path, const SearchSpace& space) {
  const nlohmann::json j = read_json_file(path);
  TrainRecipe r;
  try {
    r.data = j.at("data").get<std::string>();
    r.val_fraction = j.at("val_fraction").get<double>();
    r.seed = j.at("seed").get<uint64_t>();
    r.batch_size = j.at("batch").get<int64_t>();
    r.bn_batches = j.at("bn_batches").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path + ": not a supernet recipe (" + e.what() + ")");
  }
  r.space = space;
  r.arch = largest(space);
  return r;
}

}  // namespace

SupernetDir open_supernet(const std::string& dir, torch::Device device, bool ema) {
  namespace fs = std::filesystem;
  const fs::path d(dir);
  require(fs::is_directory(d), "--supernet " + dir + ": no such directory");
  SupernetDir s;
  s.path = dir;
  s.space = load_space((d / "space.json").string());
  s.recipe = data_settings((d / "recipe.json").string(), s.space);
  s.net = Supernet(s.space);
  load_weights(*s.net, (d / (ema ? "supernet_ema.safetensors" : "supernet.safetensors")).string());
  move_to(*s.net, device, torch::kFloat32);
  s.net->eval();
  return s;
}

SubnetEvaluator make_evaluator(SupernetDir& s, int64_t bn_batches, int threads,
                               int64_t eval_images) {
  const Datasets data = open_datasets(s.recipe);
  const data::TransformOptions eval = transform_options(s.recipe, data.name, false);
  const torch::Device device = s.net->head->l->weight.device();
  TensorBatches calibration = load_batches(data.train, eval, s.recipe.batch_size, bn_batches,
                                           s.recipe.seed, threads, device);
  const int64_t eval_batch = std::max<int64_t>(s.recipe.batch_size, 256);
  // The batches are held in memory for the whole run (search asks for thousands of subnets), and
  // the largest subnet runs on them: check both before loading a large split.
  const auto& held = data.val ? data.val : data.test;
  const int64_t eval_count = eval_images > 0 ? std::min(eval_images, held->size()) : held->size();
  const int64_t image_bytes = int64_t(4) * s.recipe.arch.in_chans * s.recipe.arch.img_size *
                              s.recipe.arch.img_size;
  // x1.1: the batch tensors and the loader's copies add 3-15% to the images' bytes
  // (benchmarks/memory_bound_supernet.sh).
  const double held_bytes = 1.1 * double(image_bytes) * double(eval_count + bn_batches * s.recipe.batch_size);
  require_memory_bytes(
      static_cast<int64_t>(held_bytes) + estimate_bytes(s.recipe.arch, eval_batch, Workload::Inference),
      "evaluating subnets on " + std::to_string(eval_count) + " images (+ " +
          std::to_string(bn_batches) + " recalibration batches of " +
          std::to_string(s.recipe.batch_size) + ")",
      "the images held in memory and the largest subnet's inference at batch " +
          std::to_string(eval_batch),
      "evaluate on fewer images (search --eval-images) or with fewer --bn-batches");
  TensorBatches split = load_batches(held, eval, eval_batch,
                                     eval_images > 0 ? (eval_images + eval_batch - 1) / eval_batch : -1,
                                     std::nullopt, threads, device);
  return SubnetEvaluator(*s.net, std::move(calibration), std::move(split));
}

}  // namespace vitnas
