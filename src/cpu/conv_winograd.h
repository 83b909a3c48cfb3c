// 3x3 stride-1 convolutions by Winograd's minimal filtering F(4x4, 3x3) (Lavin & Gray 2016):
// each 4x4 output tile costs 36 multiply-adds per (input, output) channel pair instead of 144.
//
//   V = B^T d B   input transform of each 6x6 input tile d, per input channel
//   U = G g G^T   weight transform of each 3x3 filter g, per (output, input) channel pair
//   M = U . V     36 independent GEMMs, (Cout x Cin) . (Cin x tiles), on the shared panel GEMM
//   Y = A^T M A   output transform to the 4x4 output tile, + bias, activated
//
// The weight transform is done in double and rounded once, so the only extra fp32 rounding is in the
// input and output transforms; against a direct convolution the difference stays at a few units of
// 1e-7 relative to the largest |input| * sum|weights| (tests/test_ops.cpp checks the model shapes).
#pragma once

#include <cstdint>

#include "core/ops.h"

namespace vrestore::cpu {

struct WinogradShape {
  int64_t batch, in_channels, height, width;
  int64_t out_channels;
  int64_t pad_h, pad_w;
  int64_t out_h, out_w;  // height + 2*pad_h - 2, width + 2*pad_w - 2
};

// Whether F(4x4, 3x3) beats the direct convolution for this shape (enough channels to amortise the
// transforms, enough tiles to fill the GEMM panels).
bool winograd_worthwhile(const WinogradShape& s);

// out (N, Cout, Ho, Wo) = conv3x3(x (N, Cin, H, W), weight (Cout, Cin, 3, 3)) + bias, activated,
// + residual (N, Cout, Ho, Wo) if not null (a residual block's sum, added while the output tile is
// in registers: the same f32 result as a separate add, one pass over memory less); stride 1,
// dilation 1, zero padding pad_h x pad_w.
void winograd_conv3x3(const float* x, const float* weight, const float* bias, ops::Activation act,
                      const float* residual, const WinogradShape& s, float* out);

}  // namespace vrestore::cpu
