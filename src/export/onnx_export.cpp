#include "export/onnx_export.h"

#include <climits>
#include <cmath>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/arch_walk.h"
#include "core/error.h"
#include "core/io.h"

#ifdef VITNAS_WITH_ONNX
#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include "export/onnx_graph.h"
#include "models/attention_ops.h"
#include "models/fused_efficientvit.h"
#include "models/vit.h"
#endif

namespace vitnas {

#ifdef VITNAS_WITH_ONNX

namespace {

using onnx_export::Attr;
using onnx_export::GraphWriter;
using torch::Tensor;
using Ints = std::vector<int64_t>;

// The ops both families are written with, on top of the graph writer. Maps are NCHW.
class NetWriter {
 public:
  NetWriter(GraphWriter& g, int opset) : g_(g), opset_(opset) {}

  GraphWriter& graph() { return g_; }

  std::string conv(const std::string& name, const std::string& x, const Tensor& w, const Tensor& b,
                   int64_t stride, int64_t padding, int64_t groups) {
    const int64_t k = w.size(-1);
    return g_.node("Conv", name, {x, g_.weight(name + ".weight", w), g_.weight(name + ".bias", b)},
                   {{"kernel_shape", Ints{k, k}}, {"strides", Ints{stride, stride}},
                    {"pads", Ints{padding, padding, padding, padding}}, {"group", groups}});
  }
  std::string conv(const std::string& name, const std::string& x, const FusedConv& c) {
    return conv(name, x, c.weight, c.bias, c.stride, c.padding, c.groups);
  }
  std::string pointwise(const std::string& name, const std::string& x, const fused::Pointwise& p) {
    return conv(name, x, p.w, p.b, 1, 0, 1);
  }
  std::string depthwise(const std::string& name, const std::string& x, const fused::Depthwise& d) {
    return conv(name, x, d.w, d.b, d.stride, d.padding, d.w.size(0));
  }
  // x W^T + b on the last axis (b may be undefined: ViT's qkv without bias).
  std::string linear(const std::string& name, const std::string& x, const Tensor& w, const Tensor& b) {
    auto y = g_.node("MatMul", b.defined() ? name + ".matmul" : name,
                     {x, g_.weight(name + ".weight_t", w.t())});
    return b.defined() ? g_.node("Add", name, {y, g_.weight(name + ".bias", b)}) : y;
  }
  // (B, in) -> (B, out)
  std::string gemm(const std::string& name, const std::string& x, const Tensor& w, const Tensor& b) {
    return g_.node("Gemm", name, {x, g_.weight(name + ".weight", w), g_.weight(name + ".bias", b)},
                   {{"transB", int64_t(1)}});
  }

  std::string unary(const std::string& op, const std::string& name, const std::string& x) {
    return g_.node(op, name, {x});
  }
  std::string binary(const std::string& op, const std::string& name, const std::string& a,
                     const std::string& b) {
    return g_.node(op, name, {a, b});
  }
  std::string reshape(const std::string& name, const std::string& x, const Ints& shape) {
    return g_.node("Reshape", name, {x, g_.ints(name + ".shape", shape)});
  }
  std::string transpose(const std::string& name, const std::string& x, const Ints& perm) {
    return g_.node("Transpose", name, {x}, {{"perm", perm}});
  }
  std::string slice(const std::string& name, const std::string& x, int64_t axis, int64_t begin,
                    int64_t end) {
    return g_.node("Slice", name, {x, g_.ints(name + ".starts", {begin}),
                                   g_.ints(name + ".ends", {end}), g_.ints(name + ".axes", {axis})});
  }
  std::string concat(const std::string& name, const std::vector<std::string>& xs, int64_t axis) {
    return xs.size() == 1 ? xs[0] : g_.node("Concat", name, xs, {{"axis", axis}});
  }

  // The head kinds of attention_ops.h on scores (..., N, N), in its op order.
  std::string attention_map(const std::string& name, const std::string& scores, AttentionKind kind,
                            int64_t tokens) {
    switch (kind) {
      case AttentionKind::Softmax:
        return g_.node("Softmax", name, {scores}, {{"axis", int64_t(-1)}});
      case AttentionKind::ReluSoftmax: {  // ReLU(S) / (sum_j ReLU(S) + 1e-5)
        auto r = unary("Relu", name + ".relu", scores);
        auto sum = g_.node("ReduceSum", name + ".sum", {r, g_.ints(name + ".axes", {-1})},
                           {{"keepdims", int64_t(1)}});
        auto denominator = binary("Add", name + ".denominator", sum, g_.scalar(name + ".eps", 1e-5f));
        return binary("Div", name, r, denominator);
      }
      case AttentionKind::Scaling:  // S / N
        return binary("Div", name, scores, g_.scalar(name + ".tokens", float(tokens)));
    }
    throw std::logic_error("onnx export: unhandled attention kind");
  }

  // LayerNorm over the last axis: one op from opset 17, the same math in primitives below it.
  std::string layer_norm(const std::string& name, const std::string& x, const torch::nn::LayerNorm& ln) {
    const float eps = float(ln->options.eps());
    auto scale = g_.weight(name + ".weight", ln->weight), bias = g_.weight(name + ".bias", ln->bias);
    if (opset_ >= 17)
      return g_.node("LayerNormalization", name, {x, scale, bias},
                     {{"axis", int64_t(-1)}, {"epsilon", eps}});
    auto mean = g_.node("ReduceMean", name + ".mean", {x}, {{"axes", Ints{-1}}});
    auto d = binary("Sub", name + ".centered", x, mean);
    auto var = g_.node("ReduceMean", name + ".var", {binary("Mul", name + ".square", d, d)},
                       {{"axes", Ints{-1}}});
    auto std = unary("Sqrt", name + ".std", binary("Add", name + ".var_eps", var, g_.scalar(name + ".eps", eps)));
    auto normed = binary("Div", name + ".normed", d, std);
    return binary("Add", name, binary("Mul", name + ".scaled", normed, scale), bias);
  }

  // Exact GELU, 0.5 x (1 + erf(x / sqrt(2))) (GELU is an ONNX op only from opset 20).
  std::string gelu(const std::string& name, const std::string& x) {
    auto e = unary("Erf", name + ".erf", binary("Div", name + ".div", x, g_.scalar(name + ".sqrt2", float(std::sqrt(2.0)))));
    auto one_plus = binary("Add", name + ".one_plus", e, g_.scalar(name + ".one", 1.0f));
    return binary("Mul", name, binary("Mul", name + ".x", x, one_plus), g_.scalar(name + ".half", 0.5f));
  }

 private:
  GraphWriter& g_;
  int opset_;
};

int64_t conv_side(int64_t side, int64_t k, int64_t stride, int64_t padding) {
  return (side + 2 * padding - k) / stride + 1;
}

// EfficientViT: the fused network's steps, in order. `side` and `channels` follow the map.
class EfficientViTWriter {
 public:
  EfficientViTWriter(NetWriter& w, int64_t img_size) : w_(w), side_(img_size) {}

  std::string operator()(const std::string& name, const std::string& x, const fused::Stem& s) {
    std::string t = x;
    for (size_t i = 0; i < s.convs.size(); ++i) {
      const FusedConv& c = s.convs[i];
      t = w_.conv(name + "." + std::to_string(2 * i), t, c);  // the official child indices
      side_ = conv_side(side_, c.weight.size(-1), c.stride, c.padding);
      channels_ = c.weight.size(0);
      if (i + 1 < s.convs.size()) t = w_.unary("Relu", name + "." + std::to_string(2 * i + 1), t);
    }
    return t;
  }

  // The residual is folded into the kernel (fused::residual_depthwise).
  std::string operator()(const std::string& name, const std::string& x, const fused::Depthwise& d) {
    return w_.depthwise(name, x, d);
  }

  std::string operator()(const std::string& name, const std::string& x, const fused::FFNResidual& f) {
    auto h = w_.unary("Relu", name + ".act", w_.pointwise(name + ".pw1", x, f.pw1));
    return w_.binary("Add", name, x, w_.pointwise(name + ".pw2", h, f.pw2));
  }

  std::string operator()(const std::string& name, const std::string& x,
                         const fused::WindowAttentionResidual& a) {
    const WindowGeometry g = window_geometry(int(side_), int(a.window));
    const int64_t C = channels_, R = g.window, n = g.per_side, N = g.tokens();
    const int64_t chunk = C / int64_t(a.heads.size());
    std::string windows = x;  // (Bw, C, R, R)
    if (!g.whole_map()) {     // zero-pad bottom/right, then (B, C, nR, nR) -> (B n n, C, R, R)
      const int64_t pad = g.padded - side_;
      auto padded = w_.graph().node("Pad", name + ".pad",
                                    {x, w_.graph().ints(name + ".pad.pads", {0, 0, 0, 0, 0, 0, pad, pad})});
      auto t = w_.reshape(name + ".grid", padded, {-1, C, n, R, n, R});
      windows = w_.reshape(name + ".windows", w_.transpose(name + ".grid_t", t, {0, 2, 4, 1, 3, 5}),
                           {-1, C, R, R});
    }
    std::vector<std::string> outs;
    for (size_t i = 0; i < a.heads.size(); ++i) {
      const fused::AttentionHead& h = a.heads[i];
      const std::string hn = name + ".head" + std::to_string(i);
      const int64_t kd = h.key_dim, vd = h.v_dim;
      auto in = w_.slice(hn + ".chunk", windows, 1, int64_t(i) * chunk, int64_t(i + 1) * chunk);
      if (a.cascade && i > 0) in = w_.binary("Add", hn + ".cascade", in, outs.back());
      auto qkv = w_.graph().nodes("Split", hn + ".qkv_split",
                                 {w_.pointwise(hn + ".qkv", in, h.qkv), w_.graph().ints(hn + ".qkv_split.sizes", {kd, kd, vd})},
                                 {"q", "k", "v"}, {{"axis", int64_t(1)}});
      auto q = w_.depthwise(hn + ".q_dw", qkv[0], h.q_dw);  // the scale key_dim^-0.5 is folded in
      q = w_.transpose(hn + ".q_tokens", w_.reshape(hn + ".q_flat", q, {-1, kd, N}), {0, 2, 1});
      auto k = w_.reshape(hn + ".k_flat", qkv[1], {-1, kd, N});
      auto scores = w_.binary("Add", hn + ".scores", w_.binary("MatMul", hn + ".qk", q, k),
                              w_.graph().weight(hn + ".attention_bias", h.bias));  // (Bw, N, N)
      auto map = w_.attention_map(hn + ".map", scores, h.kind, N);
      auto v = w_.reshape(hn + ".v_flat", qkv[2], {-1, vd, N});
      // The official order: v (Bw, vd, N) @ map^T -> (Bw, vd, N).
      auto out = w_.binary("MatMul", hn + ".av", v, w_.transpose(hn + ".map_t", map, {0, 2, 1}));
      outs.push_back(w_.reshape(hn + ".out", out, {-1, vd, R, R}));
    }
    auto y = w_.pointwise(name + ".proj", w_.unary("Relu", name + ".proj_act", w_.concat(name + ".cat", outs, 1)), a.proj);
    if (!g.whole_map()) {  // windows back to the padded map, cropped to the map
      auto t = w_.transpose(name + ".merge_t", w_.reshape(name + ".merge", y, {-1, n, n, C, R, R}),
                            {0, 3, 1, 4, 2, 5});
      t = w_.reshape(name + ".padded_map", t, {-1, C, n * R, n * R});
      y = w_.graph().node("Slice", name + ".crop",
                          {t, w_.graph().ints(name + ".crop.starts", {0, 0}),
                           w_.graph().ints(name + ".crop.ends", {side_, side_}),
                           w_.graph().ints(name + ".crop.axes", {2, 3})});
    }
    return w_.binary("Add", name, x, y);
  }

  std::string operator()(const std::string& name, const std::string& x, const fused::PatchMergingStep& p) {
    auto h = w_.unary("Relu", name + ".act1", w_.pointwise(name + ".conv1", x, p.conv1));
    h = w_.unary("Relu", name + ".act2", w_.depthwise(name + ".conv2", h, p.conv2));
    side_ = conv_side(side_, p.conv2.w.size(-1), p.conv2.stride, p.conv2.padding);
    // Squeeze-excite: (B, hidden, 1, 1) gates
    auto s = w_.unary("GlobalAveragePool", name + ".se.pool", h);
    s = w_.unary("Relu", name + ".se.act", w_.pointwise(name + ".se.conv_reduce", s, p.fc1));
    s = w_.unary("Sigmoid", name + ".se.gate", w_.pointwise(name + ".se.conv_expand", s, p.fc2));
    channels_ = p.conv3.w.size(0);
    return w_.pointwise(name + ".conv3", w_.binary("Mul", name + ".se", h, s), p.conv3);
  }

  std::string operator()(const std::string& name, const std::string& x, const fused::Head& h) {
    auto pooled = w_.graph().node("Flatten", name + ".flatten",
                                  {w_.unary("GlobalAveragePool", name + ".pool", x)}, {{"axis", int64_t(1)}});
    return w_.gemm(name, pooled, h.linear.w.flatten(1), h.linear.b);  // (B, classes)
  }

 private:
  NetWriter& w_;
  int64_t side_;
  int64_t channels_ = 0;
};

void write_efficientvit(NetWriter& w, EfficientViTImpl& model, const std::string& images) {
  const FusedEfficientViT net(model);
  EfficientViTWriter writer(w, model.spec().img_size);
  std::string x = images;
  for (const auto& step : net.steps())
    x = std::visit([&](const auto& op) { return writer(step.name, x, op); }, step.op);
}

// ViT: the walk's parts, written from the module's weights (timm's names).
class ViTWriter : public ArchVisitor {
 public:
  ViTWriter(NetWriter& w, ViTImpl& model, std::string images)
      : w_(w), m_(model), x_(std::move(images)) {}

  void patch_embed(const Row&, const PatchEmbedPart& p) override {
    const auto& proj = m_.patch_proj;
    auto t = w_.conv("patch_embed.proj", x_, proj->weight, proj->bias, p.patch, 0, 1);  // (B, D, g, g)
    t = w_.transpose("patch_embed.tokens", w_.reshape("patch_embed.flatten", t, {0, p.dim, -1}), {0, 2, 1});
    if (p.cls_token) {  // the class token expanded to (B, 1, D), B read from the input's shape
      auto& g = w_.graph();
      auto batch = w_.slice("cls_token.batch", g.node("Shape", "cls_token.shape_of", {t}), 0, 0, 1);
      auto shape = w_.concat("cls_token.shape", {batch, g.ints("cls_token.rest", {1, p.dim})}, 0);
      auto cls = g.node("Expand", "cls_token.expand", {g.weight("cls_token", m_.cls_token), shape});
      t = w_.concat("cls_token.cat", {cls, t}, 1);
    }
    x_ = w_.binary("Add", "pos_embed.add", t, w_.graph().weight("pos_embed", m_.pos_embed));  // (B, T, D)
  }

  void vit_layer(const Row& row, const ViTLayerPart& l) override {
    const std::string name = row.name();  // "blocks.i"
    auto& layer = *(*m_.blocks)[size_t(row.position)]->as<ViTLayerImpl>();
    auto t = w_.binary("Add", name + ".attn_residual", x_,
                       attention(name + ".attn", w_.layer_norm(name + ".norm1", x_, layer.norm1), layer, l));
    switch (l.style) {
      case LayerStyle::DeiT:
        x_ = w_.binary("Add", name, t, mlp(name + ".mlp", w_.layer_norm(name + ".norm2", t, layer.norm2), layer, l));
        return;
      case LayerStyle::CCT:  // CCT normalises the residual stream itself before the MLP
        t = w_.layer_norm(name + ".norm2", t, layer.norm2);
        x_ = w_.binary("Add", name, t, mlp(name + ".mlp", t, layer, l));
        return;
    }
  }

  // Norm, the class token (or the token mean), the classifier with a distillation head averaged
  // in: ((W1 x + b1) + (W2 x + b2)) / 2 == ((W1 + W2) / 2) x + (b1 + b2) / 2.
  void head(const Row&, const HeadPart&) override {
    auto t = w_.layer_norm("norm", x_, m_.norm);
    auto pooled = m_.cls_token.defined()
                      ? w_.graph().node("Flatten", "pool",
                                        {w_.graph().node("Gather", "pool.cls", {t, w_.graph().ints("pool.index", {0})},
                                                         {{"axis", int64_t(1)}})},
                                        {{"axis", int64_t(1)}})
                      : w_.graph().node("ReduceMean", "pool", {t}, {{"axes", Ints{1}}, {"keepdims", int64_t(0)}});
    Tensor w = m_.head->weight, b = m_.head->bias;
    if (m_.head_dist) {
      w = (w + m_.head_dist->weight) / 2;
      b = (b + m_.head_dist->bias) / 2;
    }
    x_ = w_.gemm("head", pooled, w, b);
  }

 private:
  // Per head: kind(q k^T * scale) v on its slices of qkv, heads concatenated, then proj.
  std::string attention(const std::string& name, const std::string& x, ViTLayerImpl& layer,
                        const ViTLayerPart& l) {
    const auto& heads = l.layer->heads;
    int64_t qk = 0, oq = 0, ov = 0;
    for (const auto& h : heads) qk += h.qk_dim;
    auto qkv = w_.linear(name + ".qkv", x, layer.attn->qkv->weight, layer.attn->qkv->bias);  // (B, T, 2qk+v)
    std::vector<std::string> outs;
    for (size_t i = 0; i < heads.size(); ++i) {
      const std::string hn = name + ".head" + std::to_string(i);
      const ViTHeadSpec& h = heads[i];
      auto q = w_.slice(hn + ".q", qkv, 2, oq, oq + h.qk_dim);
      auto k = w_.slice(hn + ".k", qkv, 2, qk + oq, qk + oq + h.qk_dim);
      auto v = w_.slice(hn + ".v", qkv, 2, 2 * qk + ov, 2 * qk + ov + h.v_dim);
      auto scores = w_.binary("MatMul", hn + ".qk", q, w_.transpose(hn + ".k_t", k, {0, 2, 1}));
      scores = w_.binary("Mul", hn + ".scores", scores,
                         w_.graph().scalar(hn + ".scale", float(1.0 / std::sqrt(double(h.qk_dim)))));
      auto map = w_.attention_map(hn + ".map", scores, h.kind, l.tokens);
      outs.push_back(w_.binary("MatMul", hn + ".out", map, v));  // (B, T, v)
      oq += h.qk_dim;
      ov += h.v_dim;
    }
    return w_.linear(name + ".proj", w_.concat(name + ".cat", outs, 2), layer.attn->proj->weight,
                     layer.attn->proj->bias);
  }

  std::string mlp(const std::string& name, const std::string& x, ViTLayerImpl& layer, const ViTLayerPart& l) {
    auto h = w_.linear(name + ".fc1", x, layer.mlp->fc1->weight, layer.mlp->fc1->bias);
    switch (l.layer->act) {
      case Activation::GELU: h = w_.gelu(name + ".act", h); break;
      case Activation::ReLU: h = w_.unary("Relu", name + ".act", h); break;
      case Activation::Identity: break;
    }
    return w_.linear(name + ".fc2", h, layer.mlp->fc2->weight, layer.mlp->fc2->bias);
  }

  NetWriter& w_;
  ViTImpl& m_;
  std::string x_;
};

void add_value(onnx::ValueInfoProto* v, const std::string& name, const std::vector<int64_t>& dims,
               int64_t batch) {
  v->set_name(name);
  auto* type = v->mutable_type()->mutable_tensor_type();
  type->set_elem_type(onnx::TensorProto::FLOAT);
  auto* shape = type->mutable_shape();
  auto* b = shape->add_dim();
  if (batch > 0) b->set_dim_value(batch);
  else b->set_dim_param("batch");
  for (int64_t d : dims) shape->add_dim()->set_dim_value(d);
}

onnx::ModelProto build_model(ClassifierImpl& model, const OnnxOptions& o) {
  const ArchSpec& spec = model.spec();
  onnx::ModelProto m;
  m.set_ir_version(onnx::IR_VERSION);
  m.set_producer_name("vitnas");
  m.set_producer_version(VITNAS_VERSION);
  m.set_doc_string("vitnas " + spec.name + " (" + to_string(spec.family) + "), inference network");
  auto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(o.opset);
  auto* meta = m.add_metadata_props();
  meta->set_key("arch");
  meta->set_value(arch_to_json(spec).dump());

  onnx::GraphProto* graph = m.mutable_graph();
  graph->set_name(spec.name);
  add_value(graph->add_input(), "images", {spec.in_chans, spec.img_size, spec.img_size}, o.batch);
  GraphWriter g(*graph);
  NetWriter w(g, o.opset);
  torch::NoGradGuard no_grad;
  if (auto* evit = dynamic_cast<EfficientViTImpl*>(&model)) {
    write_efficientvit(w, *evit, "images");
  } else {
    ViTWriter writer(w, dynamic_cast<ViTImpl&>(model), "images");
    walk(spec, writer);
  }
  // Both end in the classifier's Gemm: its output is the graph's output "logits".
  graph->mutable_node(graph->node_size() - 1)->set_output(0, "logits");
  add_value(graph->add_output(), "logits", {spec.num_classes}, o.batch);
  return m;
}

}  // namespace

bool onnx_export_available() { return true; }

std::string onnx_model_bytes(ClassifierImpl& model, const OnnxOptions& o) {
  require(o.opset >= kMinOnnxOpset && o.opset <= kMaxOnnxOpset,
          "--opset " + std::to_string(o.opset) + " is not supported: choose " +
              std::to_string(kMinOnnxOpset) + ".." + std::to_string(kMaxOnnxOpset));
  onnx::ModelProto m = build_model(model, o);
  const size_t bytes = m.ByteSizeLong();
  require(bytes <= size_t(INT_MAX),
          model.spec().name + ": the ONNX model would take " + std::to_string(bytes >> 20) +
              " MiB; one ONNX file holds at most 2 GiB (protobuf), and external weight files "
              "are not written: export a smaller network");
  try {  // a failure here is a bug in this writer, not in the user's input
    onnx::checker::check_model(m);
    onnx::shape_inference::InferShapes(m, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(/*check_type=*/true, /*strict=*/1));
  } catch (const std::exception& e) {
    throw std::logic_error("onnx export of " + model.spec().name + " fails the ONNX checker: " + e.what());
  }
  std::string out;
  m.SerializeToString(&out);
  return out;
}

#else  // built without libonnx-dev

bool onnx_export_available() { return false; }

std::string onnx_model_bytes(ClassifierImpl&, const OnnxOptions&) {
  throw InputError("this vitnas was built without ONNX support: install libonnx-dev and rebuild");
}

#endif

void export_onnx(ClassifierImpl& model, const std::string& path, const OnnxOptions& options) {
  write_file_atomic(path, onnx_model_bytes(model, options));
}

}  // namespace vitnas
