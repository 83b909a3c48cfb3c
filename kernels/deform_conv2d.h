// Modulated deformable convolution (DCNv2) on the device, torchvision.ops.deform_conv2d semantics
// (spec_edvr_basicvsr.md §1.7): a deformable im2col builds, per image, the column matrix
// (Cin*kh*kw, Ho*Wo) of bilinear samples already multiplied by the mask; one GEMM with the weight
// (Cout, Cin*kh*kw) through the gemm seam produces the output; an epilogue adds bias + activation.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "bias_activation.h"
#include "gemm.h"

namespace vrestore::kernels {

// All tensors are contiguous fp32 NCHW in device memory.
struct DeformConv2dParams {
  const float* input = nullptr;   // (N, Cin, H, W)
  const float* offset = nullptr;  // (N, 2*G*kh*kw, Ho, Wo): channel 2*(g*K + k) = dy, +1 = dx; K = kh*kw
  const float* mask = nullptr;    // (N, G*kh*kw, Ho, Wo): channel g*K + k
  const float* weight = nullptr;  // (Cout, Cin, kh, kw)
  const float* bias = nullptr;    // (Cout) or nullptr
  float* output = nullptr;        // (N, Cout, Ho, Wo)
  float* columns = nullptr;       // workspace of deform_conv2d_workspace_floats(*this) floats
  int batch = 0, in_channels = 0, height = 0, width = 0;
  int out_channels = 0, kernel_h = 0, kernel_w = 0;
  int out_height = 0, out_width = 0;  // (H + 2*pad - dil*(k-1) - 1) / stride + 1, computed by the caller
  int stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
  int deformable_groups = 1;  // G; in_channels % G == 0
  Activation activation = Activation::None;
  float leaky_slope = 0.1f;
};

// Size of the column workspace: one image's (Cin*kh*kw, Ho*Wo) matrix.
inline int64_t deform_conv2d_workspace_floats(const DeformConv2dParams& p) {
  return int64_t(p.in_channels) * p.kernel_h * p.kernel_w * p.out_height * p.out_width;
}

// Runs on gemm.stream. Arguments are trusted (checked by the op layer).
cudaError_t deform_conv2d(const DeformConv2dParams& p, const GemmContext& gemm);

}  // namespace vrestore::kernels
