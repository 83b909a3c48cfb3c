// 2-D max and average pooling on the device, as ops::max_pool2d / ops::avg_pool2d (PyTorch
// semantics): output size floor((H + 2p - k) / s) + 1; max pooling ignores the padding (-inf) and
// lets NaN win; average pooling divides by k*k clipped to the padded image when
// count_include_pad (PyTorch's default), else by the in-image count. f32 or f16 storage, f32
// arithmetic, summed in the CPU op's order (rows, then columns).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

namespace vrestore::kernels {

template <class T>  // float or __half
struct Pool2dParams {
  const T* input = nullptr;  // (N, C, H, W)
  T* output = nullptr;       // (N, C, out_height, out_width), computed by the caller
  int batch = 0, channels = 0, height = 0, width = 0;
  int out_height = 0, out_width = 0;
  int kernel = 1, stride = 1, padding = 0;  // padding <= kernel / 2 (checked by the op layer)
  bool count_include_pad = true;             // average pooling only
};

cudaError_t max_pool2d(const Pool2dParams<float>& p, cudaStream_t stream);
cudaError_t max_pool2d(const Pool2dParams<__half>& p, cudaStream_t stream);
cudaError_t avg_pool2d(const Pool2dParams<float>& p, cudaStream_t stream);
cudaError_t avg_pool2d(const Pool2dParams<__half>& p, cudaStream_t stream);

}  // namespace vrestore::kernels
