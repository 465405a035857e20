#include "prune/importance.h"

#include <map>
#include <random>
#include <sstream>

#include <torch/torch.h>

#include "core/error.h"
#include "core/io.h"

namespace vitnas::prune {

ImportanceKind importance_from_string(const std::string& name) {
  if (name == "taylor") return ImportanceKind::Taylor;
  if (name == "magnitude") return ImportanceKind::Magnitude;
  if (name == "random") return ImportanceKind::Random;
  throw InputError("--importance: '" + name + "' is not one of taylor, magnitude, random");
}

std::string to_string(ImportanceKind k) {
  switch (k) {
    case ImportanceKind::Taylor: return "taylor";
    case ImportanceKind::Magnitude: return "magnitude";
    case ImportanceKind::Random: return "random";
  }
  return "?";
}

namespace {

using Params = std::map<std::string, torch::Tensor>;

Params parameters(ClassifierImpl& model) {
  Params out;
  for (const auto& p : model.named_parameters()) out[p.key()] = p.value();
  return out;
}

// Per channel of `d`, the sum over its weights of f(weight, gradient) (f elementwise), in
// double. BN statistics are buffers, not parameters: they carry no gradient and no magnitude.
template <typename F>
std::vector<double> per_channel_sum(const Dimension& d, const Params& params, F f) {
  torch::Tensor acc = torch::zeros({d.size}, torch::kDouble);
  for (const Slice& s : d.coupled) {
    const auto it = params.find(s.key);
    if (it == params.end()) continue;
    const torch::Tensor v = f(it->second).narrow(s.axis, s.offset, s.length).movedim(s.axis, 0);
    acc += v.reshape({d.size, -1}).sum(1).to(torch::kDouble).cpu();
  }
  for (const std::string& m : d.modules)  // a unit: every parameter under its modules
    for (const auto& [key, p] : params)
      if (key.compare(0, m.size() + 1, m + ".") == 0) acc += f(p).sum().to(torch::kDouble).cpu();
  return std::vector<double>(acc.data_ptr<double>(), acc.data_ptr<double>() + d.size);
}

}  // namespace

namespace {

// Per batch and channel, the sum over the group's weights of w * dL/dw (the network in eval mode:
// as deployed, BN on its running statistics); add(dimension, channel, value) folds it in.
template <typename Add>
void for_each_batch_wg(ClassifierImpl& model, const std::vector<Dimension>& dims, const TensorBatches& batches,
                       Add add) {
  require(batches.count() > 0 && !batches.labels.empty(), "taylor importance needs labelled batches");
  const Params params = parameters(model);
  const bool was_training = model.is_training();
  model.eval();
  for (int64_t b = 0; b < batches.count(); ++b) {
    model.zero_grad();
    torch::nn::functional::cross_entropy(model.forward(batches.images[b]), batches.labels[b]).backward();
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < dims.size(); ++i) {
      const auto wg = per_channel_sum(dims[i], params, [](const torch::Tensor& w) {
        return w.grad().defined() ? w * w.grad() : torch::zeros_like(w);
      });
      for (size_t j = 0; j < wg.size(); ++j) add(i, j, wg[j]);
    }
  }
  model.zero_grad();
  model.train(was_training);
}

Scores zero_scores(const std::vector<Dimension>& dims) {
  Scores s;
  for (const Dimension& d : dims) s.emplace_back(size_t(d.size), 0.0);
  return s;
}

}  // namespace

Scores taylor_scores(ClassifierImpl& model, const std::vector<Dimension>& dims, const TensorBatches& batches) {
  Scores scores = zero_scores(dims);
  for_each_batch_wg(model, dims, batches, [&](size_t i, size_t j, double wg) { scores[i][j] += wg * wg; });
  return scores;
}

Scores first_order_loss_change(ClassifierImpl& model, const std::vector<Dimension>& dims,
                               const TensorBatches& batches) {
  Scores change = zero_scores(dims);
  const double n = double(batches.count());
  for_each_batch_wg(model, dims, batches, [&](size_t i, size_t j, double wg) { change[i][j] -= wg / n; });
  return change;
}

Scores magnitude_scores(ClassifierImpl& model, const std::vector<Dimension>& dims) {
  torch::NoGradGuard no_grad;
  const Params params = parameters(model);
  Scores scores;
  for (const Dimension& d : dims) {
    std::vector<double> s = per_channel_sum(d, params, [](const torch::Tensor& w) { return w * w; });
    for (double& x : s) x = std::sqrt(x);
    scores.push_back(std::move(s));
  }
  return scores;
}

Scores random_scores(const std::vector<Dimension>& dims, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Scores scores;
  for (const Dimension& d : dims) {
    std::vector<double> s(size_t(d.size));
    for (double& x : s) x = u(rng);
    scores.push_back(std::move(s));
  }
  return scores;
}

Scores importance(ImportanceKind kind, ClassifierImpl& model, const std::vector<Dimension>& dims,
                  const TensorBatches& batches, uint64_t seed) {
  switch (kind) {
    case ImportanceKind::Taylor: return taylor_scores(model, dims, batches);
    case ImportanceKind::Magnitude: return magnitude_scores(model, dims);
    case ImportanceKind::Random: return random_scores(dims, seed);
  }
  return {};
}

void normalise_per_type(Scores& scores, const std::vector<Dimension>& dims) {
  std::map<GroupType, std::pair<double, int64_t>> sums;  // type -> (sum, count)
  for (size_t i = 0; i < dims.size(); ++i)
    for (double s : scores[i]) {
      sums[dims[i].type].first += s;
      sums[dims[i].type].second += 1;
    }
  for (size_t i = 0; i < dims.size(); ++i) {
    const auto& [sum, count] = sums[dims[i].type];
    const double mean = count > 0 ? sum / double(count) : 0.0;
    if (mean > 0)
      for (double& s : scores[i]) s /= mean;
  }
}

void write_scores_csv(const std::string& path, const std::vector<Dimension>& dims, const Scores& scores) {
  std::ostringstream out;
  out.precision(9);
  out << "dimension,type,channel,score\n";
  for (size_t i = 0; i < dims.size(); ++i)
    for (size_t j = 0; j < scores[i].size(); ++j)
      out << dims[i].name << ',' << to_string(dims[i].type) << ',' << j << ',' << scores[i][j] << '\n';
  write_file_atomic(path, out.str());
}

}  // namespace vitnas::prune
