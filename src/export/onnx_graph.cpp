#include "export/onnx_graph.h"

#include <stdexcept>

#include <torch/torch.h>

namespace vitnas::onnx_export {

const std::string& GraphWriter::claim(const std::string& name) {
  if (!names_.insert(name).second)
    throw std::logic_error("onnx export: the tensor name '" + name + "' is used twice");
  return name;
}

std::string GraphWriter::weight(const std::string& name, const torch::Tensor& t) {
  const torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  onnx::TensorProto* p = graph_.add_initializer();
  p->set_name(claim(name));
  p->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : c.sizes()) p->add_dims(d);
  p->set_raw_data(c.data_ptr(), size_t(c.numel()) * sizeof(float));  // little-endian, as ONNX wants
  return name;
}

std::string GraphWriter::scalar(const std::string& name, float value) {
  return weight(name, torch::tensor(value));
}

std::string GraphWriter::ints(const std::string& name, const std::vector<int64_t>& values) {
  onnx::TensorProto* p = graph_.add_initializer();
  p->set_name(claim(name));
  p->set_data_type(onnx::TensorProto::INT64);
  p->add_dims(int64_t(values.size()));
  for (int64_t v : values) p->add_int64_data(v);
  return name;
}

std::vector<std::string> GraphWriter::nodes(const std::string& op, const std::string& name,
                                            const std::vector<std::string>& inputs,
                                            const std::vector<std::string>& output_names,
                                            const std::vector<Attr>& attrs) {
  onnx::NodeProto* n = graph_.add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& in : inputs) n->add_input(in);
  std::vector<std::string> outputs;
  for (const auto& o : output_names) {
    outputs.push_back(claim(o.empty() ? name : name + "." + o));
    n->add_output(outputs.back());
  }
  for (const Attr& a : attrs) {
    onnx::AttributeProto* p = n->add_attribute();
    p->set_name(a.name);
    if (const auto* i = std::get_if<int64_t>(&a.value)) {
      p->set_type(onnx::AttributeProto::INT);
      p->set_i(*i);
    } else if (const auto* f = std::get_if<float>(&a.value)) {
      p->set_type(onnx::AttributeProto::FLOAT);
      p->set_f(*f);
    } else {
      p->set_type(onnx::AttributeProto::INTS);
      for (int64_t v : std::get<std::vector<int64_t>>(a.value)) p->add_ints(v);
    }
  }
  return outputs;
}

std::string GraphWriter::node(const std::string& op, const std::string& name,
                              const std::vector<std::string>& inputs,
                              const std::vector<Attr>& attrs) {
  return nodes(op, name, inputs, {""}, attrs)[0];
}

}  // namespace vitnas::onnx_export
