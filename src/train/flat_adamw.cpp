#include "train/flat_adamw.h"

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <unordered_set>

#include <torch/torch.h>

#include "core/error.h"

namespace vitnas {

namespace {

std::string describe(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.scalar_type() << " on " << t.device();
  return s.str();
}

}  // namespace

FlatAdamW::FlatAdamW(const ParamGroups& groups, FlatAdamWOptions options) : options_(options) {
  require(options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 && options.beta2 < 1,
          "FlatAdamW: betas must lie in [0, 1), got " + std::to_string(options.beta1) + ", " +
              std::to_string(options.beta2));
  require(options.eps >= 0 && options.weight_decay >= 0,
          "FlatAdamW: eps and weight_decay must be >= 0");
  require(groups.no_decay.size() == groups.no_decay_names.size() &&
              groups.decay.size() == groups.decay_names.size(),
          "FlatAdamW: ParamGroups names and tensors differ in length");

  // timm's order (as ParamGroups::adamw): no decay first, so decay is one slice at the end.
  tensors_ = groups.no_decay;
  names_ = groups.no_decay_names;
  tensors_.insert(tensors_.end(), groups.decay.begin(), groups.decay.end());
  names_.insert(names_.end(), groups.decay_names.begin(), groups.decay_names.end());
  require(!tensors_.empty(), "FlatAdamW: no trainable parameters");

  const torch::Tensor& first = tensors_.front();
  std::unordered_set<const c10::TensorImpl*> seen;
  int64_t numel = 0;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const torch::Tensor& p = tensors_[i];
    require(p.defined(), "FlatAdamW: parameter '" + names_[i] + "' is undefined");
    require(p.is_floating_point(), "FlatAdamW: parameter '" + names_[i] + "' is " + describe(p) +
                                       ", not floating point");
    require(p.scalar_type() == first.scalar_type() && p.device() == first.device(),
            "FlatAdamW: parameter '" + names_[i] + "' is " + describe(p) + " but '" + names_[0] +
                "' is " + describe(first) + "; all parameters must share one device and dtype");
    // A tensor twice (a module registered under two names) would get two slices, one orphaned.
    require(seen.insert(p.unsafeGetTensorImpl()).second,
            "FlatAdamW: parameter '" + names_[i] + "' appears twice");
    if (i < groups.no_decay.size()) no_decay_numel_ += p.numel();
    numel += p.numel();
  }

  torch::NoGradGuard no_grad;
  const auto opts = torch::TensorOptions().dtype(first.scalar_type()).device(first.device());
  params_ = torch::empty({numel}, opts);
  grad_ = torch::zeros({numel}, opts);
  exp_avg_ = torch::zeros({numel}, opts);
  exp_avg_sq_ = torch::zeros({numel}, opts);
  denom_ = torch::empty({numel}, opts);

  int64_t offset = 0;
  for (auto& p : tensors_) {
    const int64_t n = p.numel();
    // (n,) -> p's shape, contiguous whatever p's own layout was (copy_ handles channels_last).
    const torch::Tensor slice = params_.narrow(0, offset, n).view(p.sizes());
    slice.copy_(p);
    // set_ changes the storage of p's own TensorImpl, which the module shares: its forward now
    // reads the flat buffer.
    p.set_(params_.storage(), params_.storage_offset() + offset, p.sizes(), slice.strides());
    p.mutable_grad() = grad_.narrow(0, offset, n).view(p.sizes());
    param_ptrs_.push_back(p.data_ptr());
    grad_ptrs_.push_back(p.grad().data_ptr());
    offset += n;
  }
}

void FlatAdamW::check_views() const {
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const torch::Tensor& p = tensors_[i];
    if (p.data_ptr() != param_ptrs_[i])
      throw std::logic_error("FlatAdamW: parameter '" + names_[i] +
                             "' no longer lives in the flat buffer (Module::to, set_data or a "
                             "replaced tensor?); build the optimizer after moving and loading");
    const torch::Tensor& g = p.grad();
    if (!g.defined() || g.data_ptr() != grad_ptrs_[i])
      throw std::logic_error("FlatAdamW: the grad of parameter '" + names_[i] +
                             "' is no longer a view of the flat gradient buffer (zero_grad with "
                             "set_to_none, or a grad assigned?); use FlatAdamW::zero_grad");
  }
}

void FlatAdamW::zero_grad() {
  check_views();
  torch::NoGradGuard no_grad;
  grad_.zero_();
}

double FlatAdamW::clip_grad_norm(double max_norm) {
  check_views();
  torch::NoGradGuard no_grad;
  const torch::Tensor norm = grad_.norm(2);  // 0-D, in the gradients' dtype
  const double total = norm.item<double>();
  if (max_norm > 0) {
    // clip_grad_norm_'s expression, evaluated in the gradients' dtype as there; multiplying by a
    // clamped 1 would be a no-op pass over the buffer, so it is skipped.
    const torch::Tensor coef = max_norm / (norm + 1e-6);
    if (coef.item<double>() < 1.0) grad_.mul_(coef);
  }
  return total;
}

void FlatAdamW::step(double lr) {
  check_views();
  torch::NoGradGuard no_grad;
  const double b1 = options_.beta1, b2 = options_.beta2;
  // Decoupled weight decay before the moments, as LibTorch's AdamW::step.
  if (options_.weight_decay != 0 && no_decay_numel_ < numel())
    params_.narrow(0, no_decay_numel_, numel() - no_decay_numel_)
        .mul_(1 - lr * options_.weight_decay);
  ++steps_;
  const double bias_correction1 = 1 - std::pow(b1, steps_);
  const double bias_correction2 = 1 - std::pow(b2, steps_);
  exp_avg_.mul_(b1).add_(grad_, 1 - b1);
  exp_avg_sq_.mul_(b2).addcmul_(grad_, grad_, 1 - b2);
  // denom = (sqrt(v) / sqrt(bc2)) + eps, the same three ops as LibTorch, written in place.
  torch::sqrt_out(denom_, exp_avg_sq_);
  denom_.div_(std::sqrt(bias_correction2)).add_(options_.eps);
  params_.addcdiv_(exp_avg_, denom_, -(lr / bias_correction1));
  // The writes went through the flat buffer, not the parameters: bump their version counters as
  // an in-place update of each would, so autograd still catches a stale saved tensor.
  for (auto& p : tensors_) p.unsafeGetTensorImpl()->bump_version();
}

safetensors::TensorList FlatAdamW::state() const {
  return {{"exp_avg", exp_avg_},
          {"exp_avg_sq", exp_avg_sq_},
          {"step", torch::tensor(steps_, torch::kInt64)}};
}

void FlatAdamW::load_state(const safetensors::TensorList& state, const std::string& source) {
  const std::string where = source + ": optimizer state ";
  torch::Tensor exp_avg, exp_avg_sq, step;
  for (const auto& [key, t] : state) {
    torch::Tensor* slot = key == "exp_avg"      ? &exp_avg
                          : key == "exp_avg_sq" ? &exp_avg_sq
                          : key == "step"       ? &step
                                                : nullptr;
    require(slot != nullptr, where + "has an unknown key '" + key + "'");
    require(!slot->defined(), where + "has key '" + key + "' twice");
    require(t.defined(), where + "'" + key + "' is undefined");
    *slot = t;
  }
  for (const auto& [key, t] : {std::pair<std::string, torch::Tensor>{"exp_avg", exp_avg},
                               {"exp_avg_sq", exp_avg_sq}}) {
    require(t.defined(), where + "lacks '" + key + "'");
    require(t.dim() == 1 && t.numel() == numel(),
            where + "'" + key + "' has shape " + c10::str(t.sizes()) + ", expected [" +
                std::to_string(numel()) + "] (a checkpoint of another network?)");
    require(t.scalar_type() == params_.scalar_type(),
            where + "'" + key + "' is " + c10::toString(t.scalar_type()) + ", the parameters are " +
                c10::toString(params_.scalar_type()));
  }
  require(step.defined(), where + "lacks 'step'");
  require(step.numel() == 1 && step.scalar_type() == torch::kInt64,
          where + "'step' must be one int64, got " + c10::toString(step.scalar_type()) + " of shape " +
              c10::str(step.sizes()));
  const int64_t steps = step.item<int64_t>();
  require(steps >= 0, where + "'step' is negative (" + std::to_string(steps) + ")");

  torch::NoGradGuard no_grad;
  exp_avg_.copy_(exp_avg);
  exp_avg_sq_.copy_(exp_avg_sq);
  steps_ = steps;
}

}  // namespace vitnas
