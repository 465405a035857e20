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

std::string shape_str(torch::IntArrayRef sizes) {
  std::string s = "[";
  for (size_t i = 0; i < sizes.size(); ++i) s += (i ? "," : "") + std::to_string(sizes[i]);
  return s + "]";
}

// Keys starting with "__" are data stored beside the weights (reference inputs, logits).
bool is_data(const std::string& name) { return name.rfind("__", 0) == 0; }

// One given tensor (its name, shape and dtype) against the model's tensor of that name.
void check_weight(const std::string& name, torch::IntArrayRef sizes, torch::ScalarType dtype,
                  const torch::Tensor& target, const std::string& source) {
  require(sizes == target.sizes(), source + ": weight '" + name + "' has shape " +
                                       shape_str(sizes) + ", the model needs " +
                                       shape_str(target.sizes()));
  const bool both_float = c10::isFloatingType(dtype) && target.is_floating_point();
  require(both_float || dtype == target.scalar_type(),
          source + ": weight '" + name + "' has dtype " + std::string(c10::toString(dtype)) +
              ", the model needs " + std::string(c10::toString(target.scalar_type())));
}

std::string unexpected(const std::string& source, const std::string& name) {
  return source + ": unexpected weight '" + name + "' (not in this architecture; check --arch)";
}

std::string missing(const std::string& source, const std::string& name, const torch::Tensor& t) {
  return source + ": missing weight '" + name + "' " + shape_str(t.sizes()) +
         " (is this file for another architecture?)";
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
    if (!is_data(name)) given.emplace(name, t);

  // Check everything before touching the model, so a bad file leaves it as it was.
  auto expected = state_dict(model);
  std::set<std::string> seen;
  for (const auto& [name, target] : expected) {
    auto it = given.find(name);
    require(it != given.end(), missing(source, name, target));
    check_weight(name, it->second.sizes(), it->second.scalar_type(), target, source);
    seen.insert(name);
  }
  for (const auto& [name, t] : given) require(seen.count(name) > 0, unexpected(source, name));

  torch::NoGradGuard no_grad;
  for (auto& [name, target] : expected) target.copy_(given.at(name));
}

void load_weights(torch::nn::Module& model, const std::string& path) {
  // The file's header is checked against the model before any tensor is read: a wrong or
  // hostile file fails at its first bad entry, whatever the size of its data.
  const auto expected = state_dict(model);
  std::unordered_map<std::string, torch::Tensor> by_name(expected.begin(), expected.end());
  safetensors::Checks checks;
  checks.each = [&](const safetensors::TensorInfo& t) {
    if (is_data(t.name)) return;
    const auto it = by_name.find(t.name);
    require(it != by_name.end(), unexpected(path, t.name));
    check_weight(t.name, t.shape, t.dtype, it->second, path);
  };
  checks.all = [&](const safetensors::Header& header) {
    std::set<std::string> given;
    for (const auto& t : header.tensors) given.insert(t.name);
    for (const auto& [name, target] : expected)
      require(given.count(name) > 0, missing(path, name, target));
  };
  load_state_dict(model, safetensors::load(path, checks).tensors, path);
}

void save_weights(const torch::nn::Module& model, const std::string& path,
                  const std::map<std::string, std::string>& metadata) {
  auto metadata_with_format = metadata;
  metadata_with_format.emplace("format", "pt");  // what the safetensors PyTorch loader expects
  safetensors::save(path, state_dict(model), metadata_with_format);
}

}  // namespace vitnas
