#include "models/surgery.h"

#include <map>
#include <stdexcept>

#include <torch/torch.h>

#include "models/weights.h"

namespace vitnas {

namespace {

// Per tensor and axis, which positions go.
using Marks = std::map<std::string, std::map<int, std::vector<bool>>>;

Marks marks_of(const safetensors::TensorList& tensors, const std::vector<AxisCut>& cuts) {
  std::map<std::string, const torch::Tensor*> by_key;
  for (const auto& [k, t] : tensors) by_key[k] = &t;
  Marks marks;
  for (const AxisCut& c : cuts) {
    const auto it = by_key.find(c.key);
    if (it == by_key.end()) throw std::logic_error("surgery: no tensor " + c.key);
    const torch::Tensor& t = *it->second;
    if (c.axis < 0 || c.axis >= t.dim()) throw std::logic_error("surgery: bad axis of " + c.key);
    auto& m = marks[c.key][c.axis];
    if (m.empty()) m.assign(size_t(t.size(c.axis)), false);
    for (int64_t i : c.indices) {
      if (i < 0 || i >= int64_t(m.size())) throw std::logic_error("surgery: index out of range in " + c.key);
      m[size_t(i)] = true;
    }
  }
  return marks;
}

torch::Tensor positions(const std::vector<bool>& marked, bool wanted) {
  std::vector<int64_t> out;
  for (size_t i = 0; i < marked.size(); ++i)
    if (marked[i] == wanted) out.push_back(int64_t(i));
  return torch::tensor(out, torch::kLong);
}

bool under(const std::string& key, const std::vector<std::string>& modules) {
  for (const std::string& m : modules)
    if (key.size() > m.size() && key.compare(0, m.size(), m) == 0 && key[m.size()] == '.') return true;
  return false;
}

std::string without_digits(const std::string& s) {
  std::string out;
  for (char c : s)
    if (c < '0' || c > '9') out += c;
  return out;
}

}  // namespace

safetensors::TensorList cut(const safetensors::TensorList& tensors, const std::vector<AxisCut>& cuts,
                            const std::vector<std::string>& removed_modules) {
  const Marks marks = marks_of(tensors, cuts);
  safetensors::TensorList out;
  for (const auto& [key, t] : tensors) {
    if (under(key, removed_modules)) continue;
    torch::Tensor kept = t;
    const auto it = marks.find(key);
    if (it != marks.end())
      for (const auto& [axis, marked] : it->second) kept = kept.index_select(axis, positions(marked, false));
    out.emplace_back(key, kept.contiguous());
  }
  return out;
}

safetensors::TensorList zeroed(const safetensors::TensorList& tensors, const std::vector<AxisCut>& cuts) {
  const Marks marks = marks_of(tensors, cuts);
  safetensors::TensorList out;
  for (const auto& [key, t] : tensors) {
    torch::Tensor z = t.clone();
    const auto it = marks.find(key);
    if (it != marks.end())
      for (const auto& [axis, marked] : it->second) z.index_fill_(axis, positions(marked, true), 0);
    out.emplace_back(key, z);
  }
  return out;
}

void load_cut(torch::nn::Module& model, const safetensors::TensorList& tensors) {
  const safetensors::TensorList expected = state_dict(model);
  if (expected.size() != tensors.size())
    throw std::logic_error("surgery: " + std::to_string(tensors.size()) + " tensors left for a model of " +
                           std::to_string(expected.size()));
  safetensors::TensorList renamed;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& [key, t] = tensors[i];
    const auto& [new_key, like] = expected[i];
    if (without_digits(key) != without_digits(new_key) || t.sizes() != like.sizes())
      throw std::logic_error("surgery: " + key + " does not fit " + new_key);
    renamed.emplace_back(new_key, t);
  }
  load_state_dict(model, renamed, "surgery");
}

}  // namespace vitnas
