// Bilinear resize on the device, F.interpolate(mode='bilinear') semantics with align_corners True
// or False, either by an integer scale factor (out = in * f, PyTorch's scale 1/f) or to an explicit
// size (scale in/out). The same formula as the CPU op (src/cpu/sampling.cpp): the source
// coordinate is evaluated in double from PyTorch's fp32 scale, the weight rounded to fp32, and the
// blend is (1-fy)*((1-fx)*a + fx*b) + fy*((1-fx)*c + fx*d). f32 or f16 storage, f32 arithmetic.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

namespace vrestore::kernels {

template <class T>  // float or __half
struct ResizeBilinearParams {
  const T* input = nullptr;  // (N, C, in_height, in_width)
  T* output = nullptr;       // (N, C, out_height, out_width)
  int batch = 0, channels = 0;
  int in_height = 0, in_width = 0;
  int out_height = 0, out_width = 0;  // with scale_factor > 0: in * scale_factor
  int scale_factor = 0;               // > 0: F.interpolate(scale_factor=f); 0: F.interpolate(size=...)
  bool align_corners = false;
};

cudaError_t resize_bilinear(const ResizeBilinearParams<float>& p, cudaStream_t stream);
cudaError_t resize_bilinear(const ResizeBilinearParams<__half>& p, cudaStream_t stream);

}  // namespace vrestore::kernels
