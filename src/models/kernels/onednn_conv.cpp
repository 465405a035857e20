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

}  // namespace

struct OneDnnConv::Compiled {
  dnnl::convolution_forward primitive;
  memory::desc src, dst;
  memory weights, bias;
  std::string implementation;
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
  const int64_t Ho = (H + 2 * padding_ - k) / stride_ + 1, Wo = (W + 2 * padding_ - k) / stride_ + 1;
  auto c = std::make_unique<Compiled>();
  c->src = nhwc(B, in, H, W);
  c->dst = nhwc(B, out, Ho, Wo);
  const memory::dims wdims = groups_ > 1 ? memory::dims{groups_, out / groups_, in / groups_, k, k}
                                         : memory::dims{out, in, k, k};
  const memory::desc bias_md({out}, memory::data_type::f32, Tag::x);

  dnnl::post_ops ops;
  if (with_residual) ops.append_binary(dnnl::algorithm::binary_add, c->dst);
  if (relu) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  const dnnl::convolution_forward::desc desc(
      dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, c->src,
      memory::desc(wdims, memory::data_type::f32, Tag::any), bias_md, c->dst, {stride_, stride_},
      {padding_, padding_}, {padding_, padding_});
  const dnnl::convolution_forward::primitive_desc pd(desc, attr, cpu_engine());
  c->primitive = dnnl::convolution_forward(pd);
  c->implementation = pd.impl_info_str();

  // The weights, once, into the layout the kernel chose.
  auto& stream = cpu_stream();
  const Tensor w = weight_.to(torch::kCPU, torch::kFloat32).contiguous();
  const Tensor b = bias_.to(torch::kCPU, torch::kFloat32).contiguous();
  memory user(memory::desc(wdims, memory::data_type::f32, groups_ > 1 ? Tag::goihw : Tag::oihw),
              cpu_engine(), w.data_ptr());
  c->weights = memory(pd.weights_desc(), cpu_engine());
  dnnl::reorder(user, c->weights).execute(stream, user, c->weights);
  c->bias = memory(bias_md, cpu_engine());
  std::memcpy(c->bias.get_data_handle(), b.data_ptr(), size_t(out) * sizeof(float));
  stream.wait();
  slot = std::move(c);
  return *slot;
}

Tensor OneDnnConv::operator()(const Tensor& input, const Tensor& residual, bool relu) const {
  const Tensor x = input.contiguous();  // a channel slice (a head's chunk, q of qkv) is copied
  const Compiled& c = compiled(x, residual.defined(), relu);
  const auto d = c.dst.dims();  // N, C, H, W
  Tensor y = torch::empty({d[0], d[2], d[3], d[1]}, x.options());
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, memory(c.src, cpu_engine(), x.data_ptr())},
      {DNNL_ARG_WEIGHTS, c.weights},
      {DNNL_ARG_BIAS, c.bias},
      {DNNL_ARG_DST, memory(c.dst, cpu_engine(), y.data_ptr())}};
  Tensor r;
  if (residual.defined()) {
    r = residual.contiguous();
    require(r.sizes() == y.sizes(), "oneDNN conv: the residual's shape differs from the output's");
    args.insert({DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1,
                 memory(c.dst, cpu_engine(), r.data_ptr())});
  }
  auto& stream = cpu_stream();
  c.primitive.execute(stream, args);
  stream.wait();
  return y;
}

std::string OneDnnConv::implementation(const Tensor& x, bool with_residual, bool relu) const {
  return compiled(x.contiguous(), with_residual, relu).implementation;
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

#endif

OneDnnConv::OneDnnConv(const Tensor& weight, const Tensor& bias, int64_t stride, int64_t padding,
                       int64_t groups)
    : weight_(weight.detach()),  // moved to float32 CPU when a primitive is built
      bias_(bias.detach()),
      stride_(stride),
      padding_(padding),
      groups_(groups) {}

OneDnnConv::~OneDnnConv() = default;

}  // namespace vitnas::kernels
