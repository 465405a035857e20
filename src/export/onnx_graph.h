// A small writer of ONNX graphs on libonnx's protobuf classes (export/onnx_export.cpp uses it):
// float32 and int64 initializers, and nodes with readable names and attributes. A node's single
// output takes the node's name, so the graph reads like the network ("blocks2.3.mixer.head1.scores").
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include <onnx/onnx_pb.h>
#include <torch/types.h>

namespace vitnas::onnx_export {

struct Attr {
  std::string name;
  std::variant<int64_t, float, std::vector<int64_t>> value;
};

class GraphWriter {
 public:
  explicit GraphWriter(onnx::GraphProto& graph) : graph_(graph) {}

  // A float32 initializer holding t (any dtype, layout or device; written contiguous).
  std::string weight(const std::string& name, const torch::Tensor& t);
  std::string scalar(const std::string& name, float value);  // a 0-d float32 initializer
  std::string ints(const std::string& name, const std::vector<int64_t>& values);  // 1-d int64

  // One node with one output, named `name`; returns the output.
  std::string node(const std::string& op, const std::string& name,
                   const std::vector<std::string>& inputs, const std::vector<Attr>& attrs = {});
  // One node with outputs name.<output_names[i]>.
  std::vector<std::string> nodes(const std::string& op, const std::string& name,
                                 const std::vector<std::string>& inputs,
                                 const std::vector<std::string>& output_names,
                                 const std::vector<Attr>& attrs = {});

 private:
  const std::string& claim(const std::string& name);  // every tensor name is used once

  onnx::GraphProto& graph_;
  std::set<std::string> names_;
};

}  // namespace vitnas::onnx_export
