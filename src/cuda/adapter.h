// Shared by the thin CUDA adapters (src/cuda/<family>.cpp): each cuda::run(const XArgs&) of
// core/op_list.h turns its checked args into a kernel's params (kernels/<op>.h), picks the f32 or
// f16 variant with one dtype switch and launches on the current execution's stream.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <climits>
#include <cstdint>
#include <type_traits>

#include "core/check.h"
#include "core/execution.h"
#include "core/op_list.h"
#include "vrestore/tensor.h"

namespace vrestore::cuda {

inline cudaStream_t current_stream() { return static_cast<cudaStream_t>(current_execution().stream); }

// Throws "<op>: CUDA error: ..." for a failed launch.
inline void check_launch(cudaError_t err, const char* op) {
  if (err == cudaSuccess) return;
  cudaGetLastError();
  fail(op, ": CUDA error: ", cudaGetErrorString(err));
}

// The kernels index with int: a size that does not fit is an error, not a wrap-around.
inline int to_int(int64_t v, const char* op, const char* what) {
  VR_CHECK(v >= 0 && v <= INT_MAX, op, ": ", what, " is ", v, ", more than the CUDA kernels index (", INT_MAX, ")");
  return static_cast<int>(v);
}

// The device pointer of a checked operand as the kernels' element type (float or __half).
template <class T>
T* device_ptr(const Tensor& t) {
  if (!t.defined()) return nullptr;
  Tensor view = t;  // args hold operands as const; the backend writes through out and in-place operands
  if constexpr (std::is_same_v<T, float>) return view.data<float>(Device::CUDA);
  else return reinterpret_cast<__half*>(view.data<Half>(Device::CUDA));
}

// Calls f(float{}) or f(__half{}) for the dtype: the one switch between the kernel variants.
template <class F>
void with_dtype(DType dtype, F&& f) {
  if (dtype == DType::F16) f(__half{});
  else f(float{});
}

}  // namespace vrestore::cuda
