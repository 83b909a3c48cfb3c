// CUDA builds: device memory for tensors (cuda/memory.h), on the current execution's device and
// stream. Stream-ordered (cudaMallocAsync/cudaFreeAsync): a tensor freed while its stream still
// has work queued is reused only by later work on that stream.
#include "cuda/memory.h"

#include <cuda_runtime_api.h>

#include "core/check.h"
#include "core/execution.h"
#include "cuda/context.h"

namespace vrestore::cuda {
namespace {

cudaStream_t current_stream() { return static_cast<cudaStream_t>(current_execution().stream); }

}  // namespace

std::shared_ptr<void> allocate(size_t bytes) {
  if (Context* context = current_execution().context) return context->allocate(bytes);
  void* p = nullptr;
  const cudaStream_t stream = current_stream();
  const cudaError_t err = cudaMallocAsync(&p, bytes == 0 ? 1 : bytes, stream);
  if (err != cudaSuccess) {
    cudaGetLastError();  // not sticky: clear it so that later calls start clean
    fail("tensor: cannot allocate ", bytes, " bytes on cuda: ", cudaGetErrorString(err));
  }
  // Freed on the stream it was allocated on; a deleter must not throw, so an error is dropped.
  return std::shared_ptr<void>(p, [stream](void* q) { cudaFreeAsync(q, stream); });
}

void fill_zero(void* dst, size_t bytes) {
  const cudaError_t err = cudaMemsetAsync(dst, 0, bytes, current_stream());
  if (err != cudaSuccess) {
    cudaGetLastError();
    fail("tensor: zeroing ", bytes, " bytes on cuda failed: ", cudaGetErrorString(err));
  }
}

void copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  const cudaMemcpyKind kind = dst_device == Device::CUDA
                                  ? (src_device == Device::CUDA ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                  : cudaMemcpyDeviceToHost;
  const cudaStream_t stream = current_stream();
  cudaError_t err = cudaMemcpyAsync(dst, src, bytes, kind, stream);
  if (err == cudaSuccess) err = cudaStreamSynchronize(stream);
  if (err != cudaSuccess) {
    cudaGetLastError();
    fail("tensor: copying ", bytes, " bytes ", device_name(src_device), " -> ", device_name(dst_device),
         " failed: ", cudaGetErrorString(err));
  }
}

}  // namespace vrestore::cuda
