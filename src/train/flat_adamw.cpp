#include "train/flat_adamw.h"

#include <algorithm>
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
    require(p.requires_grad(), "FlatAdamW: parameter '" + names_[i] + "' does not require grad");
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

  received_ = std::make_shared<std::vector<uint8_t>>(tensors_.size(), 0);
  param_steps_.assign(tensors_.size(), 0);
  int64_t offset = 0;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    torch::Tensor& p = tensors_[i];
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
    offsets_.push_back(offset);
    // Runs when backward has this parameter's gradient, before it is added to the grad. An
    // undefined one (a node that gave none) is not a gradient: torch would leave grad None.
    hooks_.push_back(p.register_hook([received = received_, i](const torch::Tensor& g) {
      if (g.defined()) (*received)[i] = 1;
    }));
    offset += n;
  }
  offsets_.push_back(offset);
}

FlatAdamW::~FlatAdamW() {
  if (!received_) return;  // moved from
  for (size_t i = 0; i < tensors_.size(); ++i) tensors_[i].remove_hook(hooks_[i]);
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
  std::fill(received_->begin(), received_->end(), 0);
}

torch::Tensor FlatAdamW::received_grad() const {
  std::vector<int32_t> mask(received_->begin(), received_->end());
  return torch::tensor(mask, torch::kInt32).to(params_.device());
}

void FlatAdamW::set_received_grad(const torch::Tensor& mask) {
  TORCH_CHECK(mask.dim() == 1 && mask.numel() == static_cast<int64_t>(tensors_.size()),
              "FlatAdamW::set_received_grad: expected ", tensors_.size(), " entries, got sizes ",
              mask.sizes());
  const torch::Tensor m = mask.to(torch::kCPU, torch::kInt32).contiguous();
  const int32_t* v = m.data_ptr<int32_t>();
  for (size_t i = 0; i < tensors_.size(); ++i) (*received_)[i] = v[i] != 0;
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
  ++steps_;
  const std::vector<uint8_t>& received = *received_;
  const size_t n = tensors_.size();
  bool all_received = true;
  for (size_t i = 0; i < n; ++i) {
    if (received[i])
      ++param_steps_[i];
    else
      all_received = false;
  }
  const bool equal_counts =
      std::all_of(param_steps_.begin(), param_steps_.end(),
                  [&](int64_t t) { return t == param_steps_.front(); });
  if (all_received && equal_counts) {
    update(0, numel(), param_steps_.front(), lr);  // the common case: a few flat ops
  } else {
    // Runs of adjacent parameters that received a gradient and share a step count.
    for (size_t first = 0; first < n;) {
      if (!received[first]) {
        ++first;
        continue;
      }
      size_t end = first + 1;
      while (end < n && received[end] && param_steps_[end] == param_steps_[first]) ++end;
      update(offsets_[first], offsets_[end], param_steps_[first], lr);
      first = end;
    }
  }
  // The writes went through the flat buffer, not the parameters: bump their version counters as
  // an in-place update of each would, so autograd still catches a stale saved tensor.
  for (size_t i = 0; i < n; ++i)
    if (received[i]) tensors_[i].unsafeGetTensorImpl()->bump_version();
}

void FlatAdamW::update(int64_t from, int64_t to, int64_t t, double lr) {
  const double b1 = options_.beta1, b2 = options_.beta2;
  const int64_t n = to - from;
  // Decoupled weight decay before the moments, as LibTorch's AdamW::step; only the part of
  // [from, to) that lies in the decay group.
  const int64_t decay_from = std::max(from, no_decay_numel_);
  if (options_.weight_decay != 0 && decay_from < to)
    params_.narrow(0, decay_from, to - decay_from).mul_(1 - lr * options_.weight_decay);
  const double bias_correction1 = 1 - std::pow(b1, t);
  const double bias_correction2 = 1 - std::pow(b2, t);
  torch::Tensor param = params_.narrow(0, from, n), grad = grad_.narrow(0, from, n);
  torch::Tensor exp_avg = exp_avg_.narrow(0, from, n), exp_avg_sq = exp_avg_sq_.narrow(0, from, n);
  torch::Tensor denom = denom_.narrow(0, from, n);
  exp_avg.mul_(b1).add_(grad, 1 - b1);
  exp_avg_sq.mul_(b2).addcmul_(grad, grad, 1 - b2);
  // denom = (sqrt(v) / sqrt(bc2)) + eps, the same three ops as LibTorch, written in place.
  torch::sqrt_out(denom, exp_avg_sq);
  denom.div_(std::sqrt(bias_correction2)).add_(options_.eps);
  param.addcdiv_(exp_avg, denom, -(lr / bias_correction1));
}

safetensors::TensorList FlatAdamW::state() const {
  return {{"exp_avg", exp_avg_},
          {"exp_avg_sq", exp_avg_sq_},
          {"step", torch::tensor(steps_, torch::kInt64)},
          {"param_steps", torch::tensor(param_steps_, torch::kInt64)}};
}

void FlatAdamW::load_state(const safetensors::TensorList& state, const std::string& source) {
  const std::string where = source + ": optimizer state ";
  torch::Tensor exp_avg, exp_avg_sq, step, param_steps;
  for (const auto& [key, t] : state) {
    torch::Tensor* slot = key == "exp_avg"       ? &exp_avg
                          : key == "exp_avg_sq"  ? &exp_avg_sq
                          : key == "step"        ? &step
                          : key == "param_steps" ? &param_steps
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
  // Before per-parameter counts existed every parameter was stepped every step.
  std::vector<int64_t> counts(tensors_.size(), steps);
  if (param_steps.defined()) {
    const int64_t n = static_cast<int64_t>(tensors_.size());
    require(param_steps.dim() == 1 && param_steps.numel() == n &&
                param_steps.scalar_type() == torch::kInt64,
            where + "'param_steps' must be int64 of shape [" + std::to_string(n) + "], got " +
                c10::toString(param_steps.scalar_type()) + " of shape " +
                c10::str(param_steps.sizes()) + " (a checkpoint of another network?)");
    const torch::Tensor c = param_steps.to(torch::kCPU).contiguous();
    counts.assign(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + n);
    for (int64_t i = 0; i < n; ++i)
      require(counts[i] >= 0 && counts[i] <= steps,
              where + "'param_steps' of '" + names_[i] + "' is " + std::to_string(counts[i]) +
                  ", outside [0, step " + std::to_string(steps) + "]");
  }

  torch::NoGradGuard no_grad;
  exp_avg_.copy_(exp_avg);
  exp_avg_sq_.copy_(exp_avg_sq);
  steps_ = steps;
  param_steps_ = std::move(counts);
}

}  // namespace vitnas
