// The one switch between real CUDA and the CPU emulator (tests/kernels/emulator/). Kernel code
// includes only this header and contains no other #ifdef __CUDACC__: under nvcc it is plain CUDA;
// under a host compiler the same .cuh/.cu files run each CUDA thread as a fiber (see docs/cuda.md).
//
//   KLAUNCH(kernel, grid, block, smem, stream, args...)  instead of kernel<<<grid, block, smem, stream>>>(args...)
//   DYN_SHARED(T, name);                                  instead of extern __shared__ T name[]
#pragma once

#if defined(__CUDACC__)

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#define KLAUNCH(kernel, grid, block, smem, stream, ...) \
  kernel<<<(grid), (block), (smem), (stream)>>>(__VA_ARGS__)
// Full unrolling where registers must hold an array (ptxas would otherwise spill it to the stack);
// the host compiler of the emulated build has no such pragma, so there it is nothing.
#define VR_UNROLL _Pragma("unroll")
// One byte array shared by every kernel of a translation unit; 16-byte alignment covers float4.
#define DYN_SHARED(T, name)                                     \
  extern __shared__ __align__(16) unsigned char vrestore_dynamic_smem[]; \
  T* name = reinterpret_cast<T*>(vrestore_dynamic_smem)

#else

#include "cuda_emulator.h"

#define KLAUNCH(kernel, grid, block, smem, stream, ...) \
  ::cuemu::launch(#kernel, kernel, (grid), (block), (smem), (stream), __VA_ARGS__)
#define VR_UNROLL
#define DYN_SHARED(T, name) T* name = static_cast<T*>(::cuemu::detail::dynamic_shared())

#endif
