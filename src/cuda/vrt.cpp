// CUDA adapters of VRT's transformer ops (core/ops_vrt.h): per-token ops (kernels/vrt_tokens.h)
// and the fused window attention (kernels/window_attention.h).
#include "../../kernels/vrt_tokens.h"
#include "../../kernels/window_attention.h"

#include <memory>

#include "cuda/adapter.h"
#include "cuda/memory.h"

namespace vrestore::cuda {

namespace {

kernels::GemmContext gemm_context(const char* op) {
  const Execution& e = current_execution();
  VR_CHECK(e.blas != nullptr, op, ": no cuBLAS handle in the current execution (run CUDA ops through a Model "
                                  "loaded on cuda)");
  return kernels::GemmContext{e.blas, current_stream()};
}

}  // namespace

void run(const ops::LinearArgs& a) {
  const char* op = "linear";
  const kernels::GemmContext gemm = gemm_context(op);
  with_dtype(a.x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::LinearParams<T> p;
    p.x = device_ptr<T>(a.x);
    p.weight = device_ptr<T>(a.weight);
    p.bias = device_ptr<T>(a.bias);
    p.out = device_ptr<T>(a.out);
    p.rows = to_int(a.rows, op, "the number of rows");
    p.in_features = to_int(a.in_features, op, "in_features");
    p.out_features = to_int(a.out_features, op, "out_features");
    const std::shared_ptr<void> workspace = allocate(kernels::linear_workspace_bytes(p));  // weightᵀ
    p.workspace = static_cast<T*>(workspace.get());
    check_launch(kernels::linear(p, gemm), op);
  });
}

void run(const ops::LayerNormArgs& a) {
  with_dtype(a.x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::LayerNormParams<T> p;
    p.x = device_ptr<T>(a.x);
    p.weight = device_ptr<float>(a.weight);
    p.bias = device_ptr<float>(a.bias);
    p.out = device_ptr<T>(a.out);
    p.rows = to_int(a.rows, "layer_norm", "the number of rows");
    p.channels = to_int(a.channels, "layer_norm", "C");
    p.eps = a.eps;
    check_launch(kernels::layer_norm(p, current_stream()), "layer_norm");
  });
}

void run(const ops::GeluArgs& a) {
  with_dtype(a.x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::GeluParams<T> p;
    p.x = device_ptr<T>(a.x);
    p.gate = device_ptr<T>(a.gate);
    p.out = device_ptr<T>(a.out);
    p.count = a.x.numel();
    check_launch(kernels::gelu(p, current_stream()), "gelu");
  });
}

void run(const ops::AddBroadcastArgs& a) {
  with_dtype(a.x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::AddBroadcastParams<T> p;
    p.x = device_ptr<T>(a.x);
    p.y = device_ptr<T>(a.y);
    p.inner = to_int(a.y.numel(), "add_broadcast", "the broadcast operand's size");
    p.outer = a.x.numel() / a.y.numel();
    check_launch(kernels::add_broadcast(p, current_stream()), "add_broadcast");
  });
}

void run(const ops::TransposeArgs& a) {
  with_dtype(a.x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::TransposeParams<T> p;
    p.x = device_ptr<T>(a.x);
    p.out = device_ptr<T>(a.out);
    p.batch = to_int(a.batch, "transpose", "N");
    p.rows = to_int(a.rows, "transpose", "the rows");
    p.cols = to_int(a.cols, "transpose", "the columns");
    check_launch(kernels::transpose(p, current_stream()), "transpose");
  });
}

void run(const ops::WindowPartitionArgs& a) {
  const char* op = a.reverse ? "window_reverse" : "window_partition";
  with_dtype(a.x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::WindowPartitionParams<T> p;
    p.x = device_ptr<T>(a.x);
    p.out = device_ptr<T>(a.out);
    p.g = a.g;
    p.channels = to_int(a.channels, op, "C");
    p.reverse = a.reverse;
    check_launch(kernels::window_partition(p, current_stream()), op);
  });
}

void run(const ops::WindowAttentionArgs& a) {
  const char* op = "window_attention";
  VR_CHECK(a.head_dim <= kernels::kWindowAttentionMaxHeadDim, op, ": head dim is ", a.head_dim,
           ", the CUDA kernel handles at most ", kernels::kWindowAttentionMaxHeadDim);
  with_dtype(a.qkv.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::WindowAttentionParams<T> p;
    p.qkv = device_ptr<T>(a.qkv);
    p.bias_table = device_ptr<T>(a.bias_table);
    p.out = device_ptr<T>(a.out);
    p.g = a.g;
    for (int axis = 0; axis < 3; ++axis) p.full_window[axis] = a.full_window[axis];
    p.heads = to_int(a.heads, op, "the number of heads");
    p.head_dim = to_int(a.head_dim, op, "the head dim");
    p.scale = a.scale;
    p.mutual = a.mutual;
    check_launch(kernels::window_attention(p, current_stream()), op);
  });
}

}  // namespace vrestore::cuda
