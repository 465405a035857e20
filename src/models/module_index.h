// The modules of a network by state-dict path ("blocks2.3.mixer"), typed: how the fuser and the
// supernet's extract() find the module an arch_walk part names (module_path()).
#pragma once

#include <stdexcept>
#include <string>
#include <unordered_map>

#include <torch/nn/module.h>

namespace vitnas {

class ModuleIndex {
 public:
  explicit ModuleIndex(torch::nn::Module& model) {
    for (const auto& item : model.named_modules()) modules_.emplace(item.key(), item.value().get());
  }

  // The module at `path`; std::logic_error if there is none of type M (a walk/build mismatch).
  template <typename M>
  M& at(const std::string& path) const {
    const auto it = modules_.find(path);
    M* m = it == modules_.end() ? nullptr : it->second->as<M>();
    if (!m) throw std::logic_error("no module of the expected type at " + path);
    return *m;
  }
  // The module a Residual at `path` wraps ("path.m").
  template <typename M>
  M& inner(const std::string& path) const { return at<M>(path + ".m"); }

 private:
  std::unordered_map<std::string, torch::nn::Module*> modules_;
};

}  // namespace vitnas
