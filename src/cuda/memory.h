// Device memory as the rest of the library sees it: no CUDA header here. Implemented by
// src/cuda/memory.cpp in CUDA builds and by no_cuda.cpp (throwing "built without CUDA") otherwise.
// Tensor (src/core/tensor.cpp) allocates and copies CUDA tensors only through these.
#pragma once

#include <cstddef>
#include <memory>

#include "vrestore/tensor.h"

namespace vrestore::cuda {

// `bytes` of device memory on the current execution's device, released when the last owner lets
// go. Throws vrestore::Error naming the size when the device is out of memory.
std::shared_ptr<void> allocate(size_t bytes);

// Copies `bytes` from src (on src_device) to dst (on dst_device); at least one side is CUDA. Runs on
// the current execution's stream and returns when the copy is complete.
void copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);

// Sets `bytes` of device memory at dst to zero (all-zero bits: 0.0 in f32 and f16), ordered on the
// current execution's stream (no wait).
void fill_zero(void* dst, size_t bytes);

}  // namespace vrestore::cuda
