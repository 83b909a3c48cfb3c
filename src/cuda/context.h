// The CUDA resources of one model (issue 7): its stream (its own or the caller's), the cuBLAS
// handle the GEMM seam uses on it, a stream-ordered memory pool, and a count of the bytes the model
// holds on the device (current and peak). No CUDA header here: src/api uses it in every build,
// and no_cuda.cpp makes create() fail with "built without CUDA".
//
// Lifetime: every allocation holds the context, so the pool and an own stream live until the last
// device tensor of the model is released, even after the Model itself is gone.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>

#include "core/execution.h"

namespace vrestore::cuda {

class Context : public std::enable_shared_from_this<Context> {
 public:
  // Opens CUDA device `device_index` with `stream` (a caller's cudaStream_t) or, when nullptr, a
  // new non-blocking stream of its own. Throws vrestore::Error (ErrorCode::Unsupported) in one line
  // when the device is missing or this build has no CUDA backend.
  static std::shared_ptr<Context> create(int device_index, void* stream);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // What an ExecutionScope installs so that ops run here. Also makes the device current for the
  // calling thread (CUDA's current device is per thread).
  Execution enter();

  // `bytes` from the pool, ordered on the stream (freed there when the last owner lets go), counted
  // in current/peak. Throws vrestore::Error (ErrorCode::OutOfMemory) naming the size.
  std::shared_ptr<void> allocate(size_t bytes);

  // Waits until the stream has finished all work queued so far.
  void synchronize();

  int device_index() const { return device_index_; }
  size_t current_bytes() const { return current_.load(std::memory_order_relaxed); }
  size_t peak_bytes() const { return peak_.load(std::memory_order_relaxed); }
  void reset_peak() { peak_.store(current_bytes(), std::memory_order_relaxed); }

 private:
  Context() = default;
  void count_allocation(size_t bytes);

  int device_index_ = 0;
  void* stream_ = nullptr;  // cudaStream_t
  bool owns_stream_ = false;
  void* blas_ = nullptr;    // cublasHandle_t (a dummy when emulated)
  void* pool_ = nullptr;    // cudaMemPool_t
  std::atomic<size_t> current_{0}, peak_{0};
};

}  // namespace vrestore::cuda
