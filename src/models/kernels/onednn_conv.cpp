#include "models/kernels/onednn_conv.h"

#include <cstring>
#include <unordered_map>

#include <torch/torch.h>

#include "core/error.h"

#ifdef VITNAS_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace vitnas::kernels {

using torch::Tensor;

#ifdef VITNAS_HAVE_DNNL

namespace {

using dnnl::memory;
using Tag = memory::format_tag;

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& cpu_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

// oneDNN's logical dims are NCHW whatever the layout; nhwc is the channels-last layout.
memory::desc nhwc(int64_t B, int64_t C, int64_t H, int64_t W) {
  return memory::desc({B, C, H, W}, memory::data_type::f32, Tag::nhwc);
}

// A conv primitive from src to dst (dst may be format any), its weights reordered once into the
// layout the kernel chose, and its bias.
struct ConvPrimitive {
  dnnl::convolution_forward primitive;
  memory::desc dst;
  memory weights, bias;
  std::string implementation;
};

ConvPrimitive conv_primitive(const Tensor& weight, const Tensor& bias, int64_t stride,
                             int64_t padding, int64_t groups, const memory::desc& src,
                             const memory::desc& dst, const dnnl::post_ops& ops) {
  const int64_t out = weight.size(0), in = weight.size(1) * groups, k = weight.size(2);
  const memory::dims wdims = groups > 1 ? memory::dims{groups, out / groups, in / groups, k, k}
                                        : memory::dims{out, in, k, k};
  const memory::desc bias_md({out}, memory::data_type::f32, Tag::x);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  const dnnl::convolution_forward::desc desc(
      dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src,
      memory::desc(wdims, memory::data_type::f32, Tag::any), bias_md, dst, {stride, stride},
      {padding, padding}, {padding, padding});
  const dnnl::convolution_forward::primitive_desc pd(desc, attr, cpu_engine());
  ConvPrimitive c{dnnl::convolution_forward(pd), pd.dst_desc(), memory(pd.weights_desc(), cpu_engine()),
                  memory(bias_md, cpu_engine()), pd.impl_info_str()};
  const Tensor w = weight.to(torch::kCPU, torch::kFloat32).contiguous();
  const Tensor b = bias.to(torch::kCPU, torch::kFloat32).contiguous();
  memory user(memory::desc(wdims, memory::data_type::f32, groups > 1 ? Tag::goihw : Tag::oihw),
              cpu_engine(), w.data_ptr());
  auto& stream = cpu_stream();
  dnnl::reorder(user, c.weights).execute(stream, user, c.weights);
  std::memcpy(c.bias.get_data_handle(), b.data_ptr(), size_t(out) * sizeof(float));
  stream.wait();
  return c;
}

// oneDNN's reference kernel: correct, but orders of magnitude slower than its JIT ones.
bool is_reference(const ConvPrimitive& c) { return c.implementation.rfind("ref", 0) == 0; }

int64_t out_side(int64_t side, int64_t k, int64_t stride, int64_t padding) {
  return (side + 2 * padding - k) / stride + 1;
}

}  // namespace

struct OneDnnConv::Compiled {
  ConvPrimitive conv;
  memory::desc src;
};

bool OneDnnConv::available(const Tensor& x) {
  return x.device().is_cpu() && x.scalar_type() == torch::kFloat32;
}

const OneDnnConv::Compiled& OneDnnConv::compiled(const Tensor& x, bool with_residual,
                                                 bool relu) const {
  const Key key{x.size(0), x.size(1), x.size(2), with_residual, relu};
  std::lock_guard<std::mutex> lock(mutex_);
  auto& slot = compiled_[key];
  if (slot) return *slot;

  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), in = x.size(3);
  const int64_t out = weight_.size(0), k = weight_.size(2);
  require(in == weight_.size(1) * groups_, "oneDNN conv: the input has " + std::to_string(in) +
                                               " channels, the weights expect " +
                                               std::to_string(weight_.size(1) * groups_));
  const memory::desc dst = nhwc(B, out, out_side(H, k, stride_, padding_), out_side(W, k, stride_, padding_));
  dnnl::post_ops ops;
  if (with_residual) ops.append_binary(dnnl::algorithm::binary_add, dst);
  if (relu) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
  auto c = std::make_unique<Compiled>();
  c->src = nhwc(B, in, H, W);
  c->conv = conv_primitive(weight_, bias_, stride_, padding_, groups_, c->src, dst, ops);
  slot = std::move(c);
  return *slot;
}

Tensor OneDnnConv::operator()(const Tensor& input, const Tensor& residual, bool relu) const {
  const Tensor x = input.contiguous();  // a channel slice (a head's chunk, q of qkv) is copied
  const Compiled& c = compiled(x, residual.defined(), relu);
  const auto d = c.conv.dst.dims();  // N, C, H, W
  Tensor y = torch::empty({d[0], d[2], d[3], d[1]}, x.options());
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, memory(c.src, cpu_engine(), x.data_ptr())},
      {DNNL_ARG_WEIGHTS, c.conv.weights},
      {DNNL_ARG_BIAS, c.conv.bias},
      {DNNL_ARG_DST, memory(c.conv.dst, cpu_engine(), y.data_ptr())}};
  Tensor r;
  if (residual.defined()) {
    r = residual.contiguous();
    require(r.sizes() == y.sizes(), "oneDNN conv: the residual's shape differs from the output's");
    args.insert({DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1,
                 memory(c.conv.dst, cpu_engine(), r.data_ptr())});
  }
  auto& stream = cpu_stream();
  c.conv.primitive.execute(stream, args);
  stream.wait();
  return y;
}

std::string OneDnnConv::implementation(const Tensor& x, bool with_residual, bool relu) const {
  return compiled(x.contiguous(), with_residual, relu).conv.implementation;
}

struct OneDnnConvChain::Compiled {
  memory::desc src, out;  // the images (nchw) and the map (nhwc)
  std::vector<ConvPrimitive> convs;
  dnnl::reorder to_nhwc;  // the last conv's layout -> nhwc
};

const OneDnnConvChain::Compiled& OneDnnConvChain::compiled(const Tensor& images) const {
  const std::array<int64_t, 3> key{images.size(0), images.size(2), images.size(3)};
  std::lock_guard<std::mutex> lock(mutex_);
  auto& slot = compiled_[key];
  if (slot) return *slot;
  int64_t B = images.size(0), C = images.size(1), H = images.size(2), W = images.size(3);
  auto c = std::make_unique<Compiled>();
  c->src = memory::desc({B, C, H, W}, memory::data_type::f32, Tag::nchw);
  std::vector<memory::desc> srcs{c->src};  // each conv's input layout
  auto build = [&](size_t i, const memory::desc& src, const memory::desc& dst) {
    dnnl::post_ops ops;
    if (i + 1 < convs_.size()) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    return conv_primitive(convs_[i].weight, convs_[i].bias, convs_[i].stride, convs_[i].padding, 1,
                          src, dst, ops);
  };
  for (size_t i = 0; i < convs_.size(); ++i) {
    const Conv& conv = convs_[i];
    const int64_t out = conv.weight.size(0), k = conv.weight.size(2);
    require(C == conv.weight.size(1), "oneDNN conv chain: conv " + std::to_string(i) + " expects " +
                                          std::to_string(conv.weight.size(1)) + " channels, gets " +
                                          std::to_string(C));
    const memory::desc src = srcs.back();
    H = out_side(H, k, conv.stride, conv.padding);
    W = out_side(W, k, conv.stride, conv.padding);
    C = out;
    const memory::desc any({B, C, H, W}, memory::data_type::f32, Tag::any);
    ConvPrimitive next = build(i, src, any);
    // The layout oneDNN picked for the previous output may have no JIT kernel as this conv's
    // input (AVX-512: 8 channels padded into nChw16c gets ref:any, 1.4 s per batch of 16 on
    // m0's stem). Then both meet in the first of these layouts that has one for both.
    for (const Tag tag : {Tag::nhwc, Tag::nChw8c, Tag::nchw}) {
      if (!is_reference(next) || i == 0) break;
      const auto d = src.dims();  // N, C, H, W
      const memory::desc mid(d, memory::data_type::f32, tag);
      ConvPrimitive prev = build(i - 1, srcs[i - 1], mid);
      ConvPrimitive retry = build(i, mid, any);
      if (is_reference(prev) || is_reference(retry)) continue;
      c->convs.back() = std::move(prev);
      srcs.back() = mid;
      next = std::move(retry);
    }
    c->convs.push_back(std::move(next));
    srcs.push_back(c->convs.back().dst);
  }
  c->out = nhwc(B, C, H, W);
  c->to_nhwc = dnnl::reorder(memory(srcs.back(), cpu_engine()), memory(c->out, cpu_engine()));
  slot = std::move(c);
  return *slot;
}

std::vector<std::string> OneDnnConvChain::implementations(const Tensor& images) const {
  std::vector<std::string> out;
  for (const ConvPrimitive& conv : compiled(images.contiguous()).convs) out.push_back(conv.implementation);
  return out;
}

Tensor OneDnnConvChain::operator()(const Tensor& input) const {
  const Tensor images = input.contiguous();
  const Compiled& c = compiled(images);
  auto& stream = cpu_stream();
  memory src(c.src, cpu_engine(), images.data_ptr());
  Tensor buffer;  // keeps the current blocked map alive
  for (const ConvPrimitive& conv : c.convs) {
    Tensor next = torch::empty({int64_t(conv.dst.get_size() / sizeof(float))}, images.options());
    memory dst(conv.dst, cpu_engine(), next.data_ptr());
    conv.primitive.execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, conv.weights},
                                    {DNNL_ARG_BIAS, conv.bias}, {DNNL_ARG_DST, dst}});
    src = dst;
    buffer = next;
  }
  const auto d = c.out.dims();  // N, C, H, W
  Tensor y = torch::empty({d[0], d[2], d[3], d[1]}, images.options());
  memory out(c.out, cpu_engine(), y.data_ptr());
  c.to_nhwc.execute(stream, src, out);
  stream.wait();
  return y;
}

#else  // without oneDNN: at::conv2d runs every conv (see the callers)

struct OneDnnConv::Compiled {};

bool OneDnnConv::available(const Tensor&) { return false; }

const OneDnnConv::Compiled& OneDnnConv::compiled(const Tensor&, bool, bool) const {
  throw std::logic_error("OneDnnConv: this build has no oneDNN (check available() first)");
}

Tensor OneDnnConv::operator()(const Tensor& x, const Tensor&, bool) const {
  compiled(x, false, false);
  return {};
}

std::string OneDnnConv::implementation(const Tensor&, bool, bool) const { return "none"; }

struct OneDnnConvChain::Compiled {};

const OneDnnConvChain::Compiled& OneDnnConvChain::compiled(const Tensor&) const {
  throw std::logic_error("OneDnnConvChain: this build has no oneDNN (check OneDnnConv::available() first)");
}

std::vector<std::string> OneDnnConvChain::implementations(const Tensor& images) const {
  compiled(images);
  return {};
}

Tensor OneDnnConvChain::operator()(const Tensor& x) const {
  compiled(x);
  return {};
}

#endif

OneDnnConv::OneDnnConv(const Tensor& weight, const Tensor& bias, int64_t stride, int64_t padding,
                       int64_t groups)
    : weight_(weight.detach()),  // moved to float32 CPU when a primitive is built
      bias_(bias.detach()),
      stride_(stride),
      padding_(padding),
      groups_(groups) {}

OneDnnConv::~OneDnnConv() = default;

OneDnnConvChain::OneDnnConvChain(std::vector<Conv> convs) : convs_(std::move(convs)) {
  for (auto& c : convs_) {
    c.weight = c.weight.detach();
    c.bias = c.bias.detach();
  }
}

OneDnnConvChain::~OneDnnConvChain() = default;

}  // namespace vitnas::kernels
