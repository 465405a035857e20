// `vitnas export onnx`: the inference network of any ArchSpec as an ONNX model. EfficientViT is
// written from the fused network itself (FusedEfficientViT's typed steps: BN folded, the residual
// depthwise conv and the attention scale folded, a distillation head averaged in), in NCHW with
// the official op order; the ViT from its modules (LayerNorm as one op from opset 17, decomposed
// below). Weights are initializers, node names follow the module paths
// ("blocks2.3.mixer.head1.scores"), and the ArchSpec travels in the model's metadata ("arch").
// Every model is checked before it is written: onnx::checker and strict shape inference with
// type checks (what Python's onnx.checker.check_model(full_check=True) runs).
#pragma once

#include <cstdint>
#include <string>

#include "models/classifier.h"

namespace vitnas {

constexpr int kMinOnnxOpset = 13, kMaxOnnxOpset = 17;

struct OnnxOptions {
  int opset = kMaxOnnxOpset;
  int64_t batch = 0;  // 0: a dynamic batch dimension named "batch"
};

// Whether this build has libonnx (the CMake option finds libonnx-dev).
bool onnx_export_available();

// The serialized, checked model: input "images" (B, C, H, W) float32, output "logits" (B, classes).
// InputError when the network cannot be written (an opset outside 13..17, or weights over the
// 2 GiB that one protobuf file holds).
std::string onnx_model_bytes(ClassifierImpl& model, const OnnxOptions& options);

// onnx_model_bytes written atomically to path.
void export_onnx(ClassifierImpl& model, const std::string& path, const OnnxOptions& options);

}  // namespace vitnas
