// CUDA builds (and the emulated test build): the per-model device resources of context.h.
#include "cuda/context.h"

#include <cuda_runtime_api.h>

#include <cstdint>

#include "../../kernels/gemm.h"
#include "core/check.h"
#include "cuda/device.h"

namespace vrestore::cuda {
namespace {

[[noreturn]] void unsupported(int device_index, const std::string& why) {
  throw Error(concat("device cuda: ", why, device_index ? concat(" (device_index ", device_index, ")") : ""),
              ErrorCode::Unsupported);
}

void check_cuda(cudaError_t err, int device_index, const char* what) {
  if (err == cudaSuccess) return;
  cudaGetLastError();
  unsupported(device_index, concat(what, " failed: ", cudaGetErrorString(err)));
}

}  // namespace

std::shared_ptr<Context> Context::create(int device_index, void* stream) {
  const DeviceStatus status = query_device();
  if (!status.available) unsupported(device_index, status.reason);
  const int count = status.count;
  if (device_index < 0 || device_index >= count)
    unsupported(device_index, concat("no such device: ", count, " CUDA device", count == 1 ? " is" : "s are", " present"));
  std::shared_ptr<Context> c(new Context());
  c->device_index_ = device_index;
  check_cuda(cudaSetDevice(device_index), device_index, "cudaSetDevice");
  if (stream) {
    c->stream_ = stream;
  } else {
    cudaStream_t s = nullptr;
    check_cuda(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), device_index, "creating a stream");
    c->stream_ = s;
    c->owns_stream_ = true;
  }
  check_cuda(kernels::create_blas_handle(&c->blas_, device_index), device_index, "creating the cuBLAS handle");
  cudaMemPoolProps props{};
  props.allocType = cudaMemAllocationTypePinned;
  props.handleTypes = cudaMemHandleTypeNone;
  props.location.type = cudaMemLocationTypeDevice;
  props.location.id = device_index;
  cudaMemPool_t pool = nullptr;
  check_cuda(cudaMemPoolCreate(&pool, &props), device_index, "creating the memory pool");
  c->pool_ = pool;
  // Keep freed memory in the pool for the next frame instead of returning it to the driver after
  // every synchronisation; it goes back when the model (and its last tensor) is released.
  uint64_t keep = UINT64_MAX;
  check_cuda(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep), device_index,
             "configuring the memory pool");
  return c;
}

Context::~Context() {
  // Nothing can be reported from a destructor: errors are dropped (the device may be gone).
  if (stream_) cudaStreamSynchronize(static_cast<cudaStream_t>(stream_));
  kernels::destroy_blas_handle(blas_);
  if (pool_) cudaMemPoolDestroy(static_cast<cudaMemPool_t>(pool_));
  if (owns_stream_) cudaStreamDestroy(static_cast<cudaStream_t>(stream_));
  cudaGetLastError();
}

Execution Context::enter() {
  cudaSetDevice(device_index_);  // cannot fail for a device that create() opened
  Execution e;
  e.device = Device::CUDA;
  e.device_index = device_index_;
  e.stream = stream_;
  e.blas = blas_;
  e.context = this;
  return e;
}

void Context::count_allocation(size_t bytes) {
  const size_t now = current_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  size_t peak = peak_.load(std::memory_order_relaxed);
  while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

std::shared_ptr<void> Context::allocate(size_t bytes) {
  void* p = nullptr;
  const auto stream = static_cast<cudaStream_t>(stream_);
  const cudaError_t err = cudaMallocFromPoolAsync(&p, bytes == 0 ? 1 : bytes, static_cast<cudaMemPool_t>(pool_), stream);
  if (err != cudaSuccess) {
    cudaGetLastError();
    throw Error(concat("tensor: cannot allocate ", bytes, " bytes on cuda:", device_index_, " (", current_bytes(),
                       " bytes held by this model): ", cudaGetErrorString(err)),
                ErrorCode::OutOfMemory);
  }
  count_allocation(bytes);
  std::shared_ptr<Context> self = shared_from_this();
  return std::shared_ptr<void>(p, [self, bytes](void* q) {
    cudaFreeAsync(q, static_cast<cudaStream_t>(self->stream_));  // a deleter must not throw: errors dropped
    self->current_.fetch_sub(bytes, std::memory_order_relaxed);
  });
}

void Context::synchronize() {
  const cudaError_t err = cudaStreamSynchronize(static_cast<cudaStream_t>(stream_));
  if (err != cudaSuccess) {
    cudaGetLastError();
    fail("cuda:", device_index_, ": the model's stream failed: ", cudaGetErrorString(err));
  }
}

}  // namespace vrestore::cuda
