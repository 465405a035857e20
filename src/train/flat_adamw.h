// A fused AdamW: every trainable parameter becomes a view into one contiguous flat buffer and its
// gradient a view into a second one, so zeroing the gradients, clipping them, the data-parallel
// all-reduce (one tensor) and the update are a handful of vector ops over all parameters instead
// of ~10 small ops per tensor (EfficientViT-M0 has 354). It computes torch.optim.AdamW
// (amsgrad=False, maximize=False) with LibTorch's op order, so results agree to float rounding:
//   t_p += 1; p *= 1 - lr * wd_p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
//   p -= lr / (1 - b1^t_p) * m / (sqrt(v) / sqrt(1 - b2^t_p) + eps)
// Parameters that received no gradient since zero_grad() are not moved (no weight decay, no
// moment decay, no step), as torch's optimizers skip a parameter whose grad is None. Here every
// grad is a view that always exists, so a hook on each parameter records which ones backward
// reached; each parameter keeps its own step count t_p, as torch does. While every parameter is
// reached every step (a plain classifier) the counts stay equal and the update is the few flat
// ops above; otherwise it runs per contiguous run of reached parameters with equal counts.
#pragma once

#include <cstdint>
#include <memory>
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
  // floating point, does not require grad or appears twice, or an option is out of range.
  // Build it after the model is on its device and its weights are loaded: Module::to to another
  // device or set_data replaces the storage and breaks the views (detected, see zero_grad).
  FlatAdamW(const ParamGroups& groups, FlatAdamWOptions options = {});
  // Removes the hooks it put on the parameters.
  ~FlatAdamW();
  // Copies would step the same buffers twice.
  FlatAdamW(const FlatAdamW&) = delete;
  FlatAdamW& operator=(const FlatAdamW&) = delete;
  FlatAdamW(FlatAdamW&&) = default;
  FlatAdamW& operator=(FlatAdamW&&) = delete;

  // Zeroes the flat gradient buffer and forgets which parameters received a gradient. Use this,
  // not model->zero_grad(true) (which sets the grads to undefined); zero_grad(),
  // clip_grad_norm() and step() throw std::logic_error naming the parameter if a parameter or its
  // grad no longer points into the flat buffers.
  void zero_grad();

  // 1-D views of the whole buffers, (numel,): e.g. all-reduce flat_grad() in place.
  torch::Tensor flat_params() const { return params_; }
  torch::Tensor flat_grad() const { return grad_; }
  int64_t numel() const { return params_.numel(); }

  // The parameters in buffer order (no_decay first), with their names.
  const std::vector<torch::Tensor>& parameters() const { return tensors_; }
  const std::vector<std::string>& names() const { return names_; }

  // Whether backward delivered a gradient to each parameter since zero_grad(): (parameters,)
  // int32, 1 or 0, in parameters() order, on the parameters' device (ready to all-reduce).
  // What counts is a gradient that backward() delivers; one assigned by hand does not.
  torch::Tensor received_grad() const;
  // Replaces that record (non-zero: received), e.g. by its sum over the data-parallel ranks, so
  // that a parameter reached on any rank is stepped on all of them.
  void set_received_grad(const torch::Tensor& mask);

  // torch::nn::utils::clip_grad_norm_ with norm 2: returns the total L2 norm of the gradients
  // and, if max_norm / (norm + 1e-6) < 1, scales them by that factor. One reduction over the
  // flat buffer instead of a norm of per-tensor norms, so the norm agrees to float rounding.
  // (A parameter without a gradient holds zeros, so it adds nothing, as a None grad there.)
  // max_norm <= 0: no clipping, only the norm.
  double clip_grad_norm(double max_norm);

  // One AdamW step with learning rate `lr` (the schedule's) on the parameters that received a
  // gradient; increments steps() (the schedule's position) and their own step counts.
  void step(double lr);
  int64_t steps() const { return steps_; }
  // Each parameter's own step count, in parameters() order (all equal to steps() while every
  // parameter receives a gradient every step).
  const std::vector<int64_t>& parameter_steps() const { return param_steps_; }
  const FlatAdamWOptions& options() const { return options_; }

  // {"exp_avg": (numel,), "exp_avg_sq": (numel,) aliases of the live buffers (safetensors::save
  // copies them; clone to keep a snapshot), "step": int64 0-D, "param_steps": int64
  // (parameters,)}.
  safetensors::TensorList state() const;
  // Strict: InputError naming `source` if a key is missing, unknown or repeated, a moment has
  // another numel or dtype (a checkpoint of another network), or the step counts are malformed.
  // "param_steps" may be absent (checkpoints from before it existed): every count is then
  // "step". Nothing changes on error.
  void load_state(const safetensors::TensorList& state, const std::string& source);

 private:
  void check_views() const;
  // The AdamW update of elements [from, to) of the buffers, whose parameters all have step
  // count `t`.
  void update(int64_t from, int64_t to, int64_t t, double lr);

  FlatAdamWOptions options_;
  // Parallel: parameter i, its name, where it and its grad must point, where its slice starts.
  std::vector<torch::Tensor> tensors_;
  std::vector<std::string> names_;
  std::vector<const void*> param_ptrs_, grad_ptrs_;
  std::vector<int64_t> offsets_;  // offsets_[i] = first element of parameter i; back() = numel
  std::vector<unsigned> hooks_;   // the hook registered on parameter i
  // Written by the hooks, which outlive a move of this object: hence shared.
  std::shared_ptr<std::vector<uint8_t>> received_;
  std::vector<int64_t> param_steps_;
  int64_t no_decay_numel_ = 0;  // params_[0, no_decay_numel_) get no weight decay
  torch::Tensor params_, grad_;           // (numel,)
  torch::Tensor exp_avg_, exp_avg_sq_;    // (numel,) moments m and v
  torch::Tensor denom_;                   // (numel,) scratch, so a step allocates nothing
  int64_t steps_ = 0;
};

}  // namespace vitnas
