#include "train/evaluate.h"

#include <torch/torch.h>

#include "data/loader.h"
#include "data/split.h"
#include "train/metrics.h"

namespace vitnas {

nlohmann::json to_json(const EvalResult& r) {
  return {{"loss", r.loss}, {"top1", r.top1}, {"top5", r.top5}, {"images", r.images}};
}

namespace {

// [loss sum, top-1 hits, top-5 hits, images] of one batch's logits.
torch::Tensor batch_sums(const torch::Tensor& logits_in, const torch::Tensor& labels) {
  const torch::Tensor logits = logits_in.to(torch::kFloat32).cpu();
  const double loss = torch::nn::functional::cross_entropy(
                          logits, labels.cpu(),
                          torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                          .item<double>();
  TopkCounts counts = top1_top5(logits, labels.cpu());
  return torch::tensor({loss, double(counts.top1), double(counts.top5), double(counts.total)},
                       torch::kFloat64);
}

EvalResult from_sums(const torch::Tensor& sums) {
  EvalResult r;
  auto s = sums.accessor<double, 1>();
  r.images = static_cast<int64_t>(s[3]);
  if (r.images > 0) {
    r.loss = s[0] / s[3];
    r.top1 = 100.0 * s[1] / s[3];
    r.top5 = 100.0 * s[2] / s[3];
  }
  return r;
}

}  // namespace

TensorBatches load_batches(const std::shared_ptr<const data::Dataset>& dataset,
                           const data::TransformOptions& transform, int64_t batch_size,
                           int64_t max_batches, std::optional<uint64_t> seed, int threads,
                           torch::Device device) {
  data::LoaderOptions options;
  options.batch_size = batch_size;
  options.shuffle = seed.has_value();
  options.seed = seed.value_or(0);
  options.threads = threads;
  options.prefetch = std::max(2, threads * 2);
  data::DataLoader loader(dataset, transform, options);
  loader.begin_epoch(0);
  TensorBatches out;
  while (max_batches < 0 || out.count() < max_batches) {
    auto batch = loader.next();
    if (!batch) break;
    out.images.push_back(batch->images.to(device));
    out.labels.push_back(batch->labels.to(device));
  }
  return out;
}

EvalResult evaluate(torch::nn::Module& model,
                    const std::function<torch::Tensor(const torch::Tensor&)>& forward,
                    const TensorBatches& batches) {
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  torch::Tensor sums = torch::zeros({4}, torch::kFloat64);
  for (int64_t i = 0; i < batches.count(); ++i)
    sums += batch_sums(forward(batches.images[size_t(i)]), batches.labels[size_t(i)]);
  model.train(was_training);
  return from_sums(sums);
}

EvalResult evaluate(ClassifierImpl& model, const std::shared_ptr<const data::Dataset>& dataset,
                    const data::TransformOptions& transform, int64_t batch_size, int threads,
                    torch::Device device, ProcessGroup& group) {
  // This rank's shard: images rank, rank + world, ...
  std::vector<int64_t> shard;
  for (int64_t i = group.rank(); i < dataset->size(); i += group.world_size()) shard.push_back(i);
  auto part = std::make_shared<data::Subset>(dataset, std::move(shard));

  data::LoaderOptions options;
  options.batch_size = batch_size;
  options.shuffle = false;
  options.threads = threads;
  options.prefetch = std::max(2, threads * 2);
  data::DataLoader loader(part, transform, options);

  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  // [loss sum, top-1 hits, top-5 hits, images], summed over ranks at the end.
  torch::Tensor sums = torch::zeros({4}, torch::kFloat64);
  loader.begin_epoch(0);
  while (auto batch = loader.next())
    sums += batch_sums(model.forward(batch->images.to(device)), batch->labels);
  if (was_training) model.train();
  sums = sums.to(device);  // NCCL reduces CUDA tensors only
  group.allreduce_sum_(sums);
  return from_sums(sums.cpu());
}

}  // namespace vitnas
