#include "models/attention_kind.h"

#include <torch/torch.h>

namespace vitnas {

namespace {
constexpr double kRSAttnEps = 1e-5;  // MPCViT's normaliser epsilon
}

torch::Tensor attention_map(const torch::Tensor& scores, AttentionKind kind) {
  switch (kind) {
    case AttentionKind::Softmax:
      return scores.softmax(-1);
    case AttentionKind::ReluSoftmax: {
      auto r = torch::relu(scores);
      return r / (r.sum(-1, /*keepdim=*/true) + kRSAttnEps);
    }
    case AttentionKind::Scaling:
      return scores / static_cast<double>(scores.size(-1));
  }
  throw std::logic_error("attention_map: unhandled kind");
}

torch::Tensor attention_map_(torch::Tensor& scores, AttentionKind kind) {
  switch (kind) {
    case AttentionKind::Softmax:
      return at::_softmax_out(scores, scores, -1, false);
    case AttentionKind::ReluSoftmax: {
      scores.relu_();
      return scores.div_(scores.sum(-1, /*keepdim=*/true).add_(kRSAttnEps));
    }
    case AttentionKind::Scaling:
      return scores.div_(static_cast<double>(scores.size(-1)));
  }
  throw std::logic_error("attention_map_: unhandled kind");
}

}  // namespace vitnas
