// A fused AdamW: every trainable parameter becomes a view into one contiguous flat buffer and its
// gradient a view into a second one, so zeroing the gradients, clipping them, the data-parallel
// all-reduce (one tensor) and the update are a handful of vector ops over all parameters instead
// of ~10 small ops per tensor (EfficientViT-M0 has 354). It computes torch.optim.AdamW
// (amsgrad=False, maximize=False) with LibTorch's op order, so results agree to float rounding:
//   t += 1; p *= 1 - lr * wd_p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// One difference: every parameter is stepped every time. torch's AdamW skips a parameter whose
// grad is undefined (never reached by a backward); here its grad is a zero view, so weight decay
// and the decaying moments still move it, as torch's does once the grad exists and is zeroed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "core/safetensors.h"
#include "train/param_groups.h"

namespace vitnas {

struct FlatAdamWOptions {
  double lr = 1e-3;  // a default only: step() takes the scheduled lr
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.05;  // for ParamGroups::decay; no_decay gets 0
};

class FlatAdamW {
 public:
  // Copies the parameters of `groups` into one flat buffer (no_decay first, then decay, each in
  // list order; on the parameters' device and dtype) and re-points every parameter at its slice
  // (Tensor::set_), so the model keeps working unchanged and owns no other copy. Each parameter's
  // grad becomes a view of the zeroed flat gradient buffer; backward (grad mode off inside the
  // engine) accumulates into a defined grad in place, so the views survive. Existing grads are
  // dropped. InputError if there are no parameters, their devices or dtypes differ, one is not
  // floating point or appears twice, or an option is out of range.
  // Build it after the model is on its device and its weights are loaded: Module::to to another
  // device or set_data replaces the storage and breaks the views (detected, see zero_grad).
  FlatAdamW(const ParamGroups& groups, FlatAdamWOptions options = {});
  // Copies would step the same buffers twice.
  FlatAdamW(const FlatAdamW&) = delete;
  FlatAdamW& operator=(const FlatAdamW&) = delete;
  FlatAdamW(FlatAdamW&&) = default;
  FlatAdamW& operator=(FlatAdamW&&) = default;

  // Zeroes the flat gradient buffer. Use this, not model->zero_grad(true) (which sets the grads to
  // undefined); zero_grad(), clip_grad_norm() and step() throw std::logic_error naming the
  // parameter if a parameter or its grad no longer points into the flat buffers.
  void zero_grad();

  // 1-D views of the whole buffers, (numel,): e.g. all-reduce flat_grad() in place.
  torch::Tensor flat_params() const { return params_; }
  torch::Tensor flat_grad() const { return grad_; }
  int64_t numel() const { return params_.numel(); }

  // torch::nn::utils::clip_grad_norm_ with norm 2: returns the total L2 norm of the gradients
  // and, if max_norm / (norm + 1e-6) < 1, scales them by that factor. One reduction over the
  // flat buffer instead of a norm of per-tensor norms, so the norm agrees to float rounding.
  // max_norm <= 0: no clipping, only the norm.
  double clip_grad_norm(double max_norm);

  // One AdamW step with learning rate `lr` (the schedule's); increments steps().
  void step(double lr);
  int64_t steps() const { return steps_; }
  const FlatAdamWOptions& options() const { return options_; }

  // {"exp_avg": (numel,), "exp_avg_sq": (numel,), "step": int64 0-D}, aliases of the live
  // buffers (safetensors::save copies them; clone to keep a snapshot).
  safetensors::TensorList state() const;
  // Strict: InputError naming `source` if a key is missing, extra or repeated, or a moment has
  // another numel or dtype (a checkpoint of another network). Nothing changes on error.
  void load_state(const safetensors::TensorList& state, const std::string& source);

 private:
  void check_views() const;

  FlatAdamWOptions options_;
  // Parallel: parameter i, its name, and where it and its grad must point.
  std::vector<torch::Tensor> tensors_;
  std::vector<std::string> names_;
  std::vector<const void*> param_ptrs_, grad_ptrs_;
  int64_t no_decay_numel_ = 0;  // params_[0, no_decay_numel_) get no weight decay
  torch::Tensor params_, grad_;           // (numel,)
  torch::Tensor exp_avg_, exp_avg_sq_;    // (numel,) moments m and v
  torch::Tensor denom_;                   // (numel,) scratch, so a step allocates nothing
  int64_t steps_ = 0;
};

}  // namespace vitnas
