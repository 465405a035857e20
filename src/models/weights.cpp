#include "models/weights.h"

#include <set>
#include <unordered_map>

#include <torch/torch.h>

#include "core/error.h"

namespace vitnas {

namespace {

void collect(const torch::nn::Module& m, const std::string& prefix, safetensors::TensorList& out) {
  for (const auto& p : m.named_parameters(/*recurse=*/false)) out.emplace_back(prefix + p.key(), p.value());
  for (const auto& b : m.named_buffers(/*recurse=*/false)) out.emplace_back(prefix + b.key(), b.value());
  for (const auto& c : m.named_children()) collect(*c.value(), prefix + c.key() + ".", out);
}

std::string shape_str(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? "," : "") + std::to_string(t.size(i));
  return s + "]";
}

}  // namespace

safetensors::TensorList state_dict(const torch::nn::Module& model) {
  safetensors::TensorList out;
  collect(model, "", out);
  return out;
}

void load_state_dict(torch::nn::Module& model, const safetensors::TensorList& tensors,
                     const std::string& source) {
  std::unordered_map<std::string, torch::Tensor> given;
  for (const auto& [name, t] : tensors)
    if (name.rfind("__", 0) != 0) given.emplace(name, t);

  // Check everything before touching the model, so a bad file leaves it as it was.
  auto expected = state_dict(model);
  std::set<std::string> seen;
  for (const auto& [name, target] : expected) {
    auto it = given.find(name);
    require(it != given.end(), source + ": missing weight '" + name + "' " + shape_str(target) +
                                   " (is this file for another architecture?)");
    const auto& t = it->second;
    require(t.sizes() == target.sizes(), source + ": weight '" + name + "' has shape " +
                                             shape_str(t) + ", the model needs " + shape_str(target));
    const bool both_float = t.is_floating_point() && target.is_floating_point();
    require(both_float || t.scalar_type() == target.scalar_type(),
            source + ": weight '" + name + "' has dtype " + std::string(c10::toString(t.scalar_type())) +
                ", the model needs " + std::string(c10::toString(target.scalar_type())));
    seen.insert(name);
  }
  for (const auto& [name, t] : given)
    require(seen.count(name) > 0, source + ": unexpected weight '" + name +
                                      "' (not in this architecture; check --arch)");

  torch::NoGradGuard no_grad;
  for (auto& [name, target] : expected) target.copy_(given.at(name));
}

void load_weights(torch::nn::Module& model, const std::string& path) {
  load_state_dict(model, safetensors::load(path).tensors, path);
}

void save_weights(const torch::nn::Module& model, const std::string& path,
                  const std::map<std::string, std::string>& metadata) {
  auto metadata_with_format = metadata;
  metadata_with_format.emplace("format", "pt");  // what the safetensors PyTorch loader expects
  safetensors::save(path, state_dict(model), metadata_with_format);
}

}  // namespace vitnas
