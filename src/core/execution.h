// The per-thread "current execution": which device the next ops run on and the CUDA resources
// they use. Installed only by src/api (an ExecutionScope per public call, from the model's
// options), read only by the op layer and src/cuda; model code never sees it, and kernels get
// the stream through their params.
#pragma once

#include "vrestore/tensor.h"

namespace vrestore {

namespace cuda {
class Context;  // cuda/context.h
}
class HostPool;  // core/host_pool.h

struct Execution {
  Device device = Device::CPU;
  int device_index = 0;     // CUDA device ordinal
  void* stream = nullptr;   // cudaStream_t; nullptr = the legacy default stream
  void* blas = nullptr;     // cublasHandle_t bound to `stream` (TF32 off in f32 mode); owned by the model
  // The model's device resources: device tensors come from its pool and are counted there. nullptr
  // (outside a model's call): plain stream-ordered allocations on `stream`, not counted.
  cuda::Context* context = nullptr;
  // The model's host buffer pool: host tensors allocated on this thread come from it and are
  // counted there (tensors allocated on OpenMP worker threads do not: they see no scope). nullptr
  // (outside a model's call, CUDA models): the C library, not counted.
  HostPool* host_pool = nullptr;
};

// This thread's current execution (a default Execution outside every scope).
const Execution& current_execution();

// Makes `e` the current execution of this thread until the scope ends (scopes nest).
class ExecutionScope {
 public:
  explicit ExecutionScope(const Execution& e);
  ~ExecutionScope();
  ExecutionScope(const ExecutionScope&) = delete;
  ExecutionScope& operator=(const ExecutionScope&) = delete;

 private:
  Execution saved_;
};

}  // namespace vrestore
