// CUDA adapters of the convolutions: conv2d (kernels/conv2d.h) and deformable conv
// (kernels/deform_conv2d.h), each with its column workspace a per-call allocation of at most 64 MiB.
#include "../../kernels/conv2d.h"
#include "../../kernels/deform_conv2d.h"

#include "cuda/adapter.h"
#include "cuda/memory.h"

namespace vrestore::cuda {

namespace {

using kernels::GemmContext;

GemmContext gemm_context(const char* op) {
  const Execution& e = current_execution();
  VR_CHECK(e.blas != nullptr, op, ": no cuBLAS handle in the current execution (run CUDA ops through a Model "
                                  "loaded on cuda)");
  return GemmContext{e.blas, current_stream()};
}

// The geometry both convolutions' params share (the kernels index with int).
template <class Params>
void set_geometry(Params& p, const ops::ConvGeometry& g, const char* op) {
  p.batch = to_int(g.batch, op, "N");
  p.in_channels = to_int(g.in_channels, op, "Cin");
  p.height = to_int(g.height, op, "H");
  p.width = to_int(g.width, op, "W");
  p.out_channels = to_int(g.out_channels, op, "Cout");
  p.kernel_h = to_int(g.kernel_h, op, "kh");
  p.kernel_w = to_int(g.kernel_w, op, "kw");
  p.out_height = to_int(g.out_h, op, "Ho");
  p.out_width = to_int(g.out_w, op, "Wo");
  p.stride_h = p.stride_w = to_int(g.stride, op, "stride");
  p.pad_h = to_int(g.pad_h, op, "padding");
  p.pad_w = to_int(g.pad_w, op, "padding");
  p.dilation_h = p.dilation_w = to_int(g.dilation, op, "dilation");
}

}  // namespace

void run(const ops::Conv2dArgs& a) {
  const char* op = "conv2d";
  const GemmContext gemm = gemm_context(op);
  with_dtype(a.x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::Conv2dParams<T> p;
    p.input = device_ptr<T>(a.x);
    p.weight = device_ptr<T>(a.weight);
    p.bias = device_ptr<T>(a.bias);
    p.residual = device_ptr<T>(a.residual);
    p.output = device_ptr<T>(a.out);
    set_geometry(p, a.g, op);
    p.activation = a.activation;
    p.leaky_slope = kLeakySlope;
    const size_t bytes = kernels::conv2d_workspace_bytes(p);  // 0 for a pointwise conv
    const std::shared_ptr<void> workspace = bytes ? allocate(bytes) : nullptr;  // freed stream-ordered after the launch
    p.workspace = static_cast<T*>(workspace.get());
    check_launch(kernels::conv2d(p, gemm), op);
  });
}

void run(const ops::DeformConv2dArgs& a) {
  const char* op = "deform_conv2d";
  const GemmContext gemm = gemm_context(op);
  with_dtype(a.x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::DeformConv2dParams<T> p;
    p.input = device_ptr<T>(a.x);
    p.offset = device_ptr<float>(a.offset);
    p.mask = device_ptr<float>(a.mask);
    p.weight = device_ptr<T>(a.weight);
    p.bias = device_ptr<T>(a.bias);
    p.output = device_ptr<T>(a.out);
    set_geometry(p, a.g, op);
    p.deformable_groups = to_int(a.groups, op, "the deformable groups");
    p.activation = a.activation;
    p.leaky_slope = kLeakySlope;
    const size_t bytes = kernels::deform_conv2d_workspace_bytes(p);
    const std::shared_ptr<void> workspace = allocate(bytes);  // freed stream-ordered after the launch
    p.workspace = static_cast<T*>(workspace.get());
    check_launch(kernels::deform_conv2d(p, gemm), op);
  });
}

}  // namespace vrestore::cuda
