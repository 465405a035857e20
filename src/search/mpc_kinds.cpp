#include "search/mpc_kinds.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>

#include "core/error.h"
#include "profile/text.h"

namespace vitnas {

namespace {

// relu_softmax at the chosen positions, scaling elsewhere.
ArchSpec with_relu_softmax_at(const ArchSpec& spec, const std::vector<size_t>& order, int count) {
  ArchSpec out = spec;
  std::vector<AttentionKind*> kinds = head_kinds(out);
  for (AttentionKind* k : kinds) *k = AttentionKind::Scaling;
  for (int i = 0; i < count; ++i) *kinds[order[size_t(i)]] = AttentionKind::ReluSoftmax;
  return out;
}

void require_count(const ArchSpec& spec, int count) {
  const int heads = static_cast<int>(head_kinds(spec).size());
  require(heads > 0, spec.name + " has no attention heads to search");
  require(count >= 0 && count <= heads, "relu_softmax heads: " + std::to_string(count) +
                                            " of " + std::to_string(heads) + " heads");
}

}  // namespace

int relu_softmax_heads(int heads, double mu) {
  require(mu > 0 && mu <= 1, "--mu: each value must be in (0, 1], got " + printf_string("%g", mu));
  return heads - static_cast<int>((1 - mu) * heads);
}

ArchSpec binarise_kinds(const ArchSpec& spec, const std::vector<double>& alphas, int count,
                        const std::vector<double>& gammas) {
  require_count(spec, count);
  const size_t heads = head_kinds(spec).size();
  require(alphas.size() == heads, std::to_string(alphas.size()) + " alphas for the " +
                                      std::to_string(heads) + " heads of " + spec.name);
  require(gammas.empty() || gammas.size() == heads,
          std::to_string(gammas.size()) + " gammas for the " + std::to_string(heads) +
              " heads of " + spec.name);
  auto gamma = [&](size_t h) { return gammas.empty() ? 0.0 : gammas[h]; };
  std::vector<double> weight(heads);  // the head's weight on nonlinear maps
  for (size_t h = 0; h < heads; ++h) weight[h] = 1 - (1 - gamma(h)) * (1 - alphas[h]);
  std::vector<size_t> order(heads);
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return weight[a] > weight[b]; });
  ArchSpec out = with_relu_softmax_at(spec, order, count);
  std::vector<AttentionKind*> kinds = head_kinds(out);
  for (int i = 0; i < count; ++i) {
    const size_t h = order[size_t(i)];
    if (gamma(h) > (1 - gamma(h)) * alphas[h]) *kinds[h] = AttentionKind::Softmax;
  }
  return out;
}

ArchSpec linearise_layers(const ArchSpec& spec, const std::vector<double>& betas, int count) {
  require(spec.family == Family::ViT, "--linearise is for vit networks");
  require(betas.size() == spec.vit.layers.size(),
          std::to_string(betas.size()) + " betas for the " +
              std::to_string(spec.vit.layers.size()) + " layers of " + spec.name);
  std::vector<size_t> order;
  for (size_t i = 0; i < betas.size(); ++i)
    if (!std::isnan(betas[i])) order.push_back(i);
  require(count >= 0 && count <= static_cast<int>(order.size()),
          "--linearise " + std::to_string(count) + ": " + spec.name + " has " +
              std::to_string(order.size()) + " layers with a nonlinear MLP");
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return betas[a] < betas[b]; });
  ArchSpec out = spec;
  for (int i = 0; i < count; ++i) out.vit.layers[order[size_t(i)]].act = Activation::Identity;
  return out;
}

ArchSpec random_kinds(const ArchSpec& spec, int count, uint64_t seed, int softmax_count) {
  require_count(spec, count);
  require(softmax_count >= 0 && softmax_count <= count,
          "softmax heads: " + std::to_string(softmax_count) + " of " + std::to_string(count) +
              " nonlinear heads");
  std::vector<size_t> order(head_kinds(spec).size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::mt19937_64 rng(seed);
  // Fisher-Yates by hand: std::shuffle's draws differ between standard libraries.
  for (size_t i = order.size(); i > 1; --i)
    std::swap(order[i - 1], order[size_t(rng() % i)]);
  ArchSpec out = with_relu_softmax_at(spec, order, count);
  std::vector<AttentionKind*> kinds = head_kinds(out);
  for (int i = 0; i < softmax_count; ++i) *kinds[order[size_t(i)]] = AttentionKind::Softmax;
  return out;
}

int count_kinds(const ArchSpec& spec, AttentionKind kind) {
  int n = 0;
  for (AttentionKind k : head_kinds(spec)) n += k == kind;
  return n;
}

}  // namespace vitnas
