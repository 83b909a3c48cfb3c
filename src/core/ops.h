// The operators models are built from, named after torch.nn.functional. Each function checks its
// arguments (throwing vrestore::Error with got-vs-expected), allocates the output and runs the
// CPU implementation (src/cpu/). All tensors are contiguous float32 in NCHW order.
#pragma once

#include <vector>

#include "../../kernels/op_common.h"  // Activation, WarpPadding, kLeakySlope, shared formulas
#include "vrestore/tensor.h"

namespace vrestore::ops {

// Activation fused into the producing op (None, ReLU, LeakyReLU with kLeakySlope = 0.1, Sigmoid);
// one definition for both backends, in kernels/op_common.h.
using vrestore::Activation;
using vrestore::kLeakySlope;

struct Conv2dParams {
  int stride = 1;
  int padding = -1;  // -1: "same" for odd kernels, dilation * (k - 1) / 2
  int dilation = 1;
  Activation activation = Activation::None;
};

// x (N, Cin, H, W), weight (Cout, Cin, kh, kw), bias (Cout) or nullptr -> (N, Cout, Ho, Wo)
// = act(conv(x) + bias) + residual, with residual (N, Cout, Ho, Wo) or nullptr: a residual block's
// skip connection, which the CUDA backend adds in the convolution's epilogue.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor* bias, const Conv2dParams& p = {},
              const Tensor* residual = nullptr);

struct DeformConv2dParams {
  int stride = 1;
  int padding = 1;
  int dilation = 1;
  Activation activation = Activation::None;
};

// Modulated deformable convolution (DCNv2) with torchvision.ops.deform_conv2d semantics.
// x (N, Cin, H, W); offset (N, 2*G*kh*kw, Ho, Wo) with channel 2*(g*K + k) = dy, +1 = dx;
// mask (N, G*kh*kw, Ho, Wo) in [0, 1]; G = deformable groups (inferred from offset); Cin % G == 0.
Tensor deform_conv2d(const Tensor& x, const Tensor& offset, const Tensor& mask, const Tensor& weight,
                     const Tensor* bias, const DeformConv2dParams& p = {});

// F.interpolate(mode='bilinear') with an integer scale factor: output (N, C, H*f, W*f),
// source coordinate computed with scale 1/f.
Tensor upsample_bilinear(const Tensor& x, int factor, bool align_corners);
// F.interpolate(mode='bilinear', size=(out_h, out_w)): scale = in/out per axis.
Tensor resize_bilinear(const Tensor& x, int64_t out_h, int64_t out_w, bool align_corners);

// (N, C*r*r, H, W) -> (N, C, H*r, W*r).
Tensor pixel_shuffle(const Tensor& x, int r);

// 2-D pooling, output size floor((H + 2p - k) / s) + 1. Max pool pads with -inf;
// avg pool divides by k*k when count_include_pad (PyTorch's default), else by the in-image count.
Tensor max_pool2d(const Tensor& x, int kernel, int stride, int padding);
Tensor avg_pool2d(const Tensor& x, int kernel, int stride, int padding, bool count_include_pad = true);

// Backward warp with an optical flow (BasicSR/mmedit flow_warp = grid_sample, bilinear,
// align_corners=True): output pixel (y, x) samples x at (x + flow[:, 0], y + flow[:, 1]).
// flow is planar (N, 2, H, W), channel 0 = dx (width), 1 = dy (height), in pixels.
// Zeros: each of the 4 neighbours outside the image contributes 0 (propagation warps);
// Border: the sample point is clamped into the image first (SpyNet's internal warps).
using vrestore::WarpPadding;  // kernels/op_common.h, with the sample-point formula both backends use
Tensor flow_warp(const Tensor& x, const Tensor& flow, WarpPadding padding);

// ---- element-wise and data movement (src/cpu/elementwise.cpp) ----------------------------------
// In place; negative_slope is LeakyReLU's (F.leaky_relu's negative_slope; VRT's heads also use 0.01
// and 0.2), ignored by the other activations.
void activate_(Tensor& x, Activation a, float negative_slope = kLeakySlope);
void sigmoid_(Tensor& x);                 // in place
void add_(Tensor& a, const Tensor& b);    // a += b, same shape
void scale_(Tensor& a, float s);          // a *= s
// Concatenate along dimension 1 (channels); all other dimensions must match.
Tensor cat1(const std::vector<Tensor>& parts);
// Concatenate along dimension 0 (e.g. frames (1, C, H, W) each -> (T, C, H, W)).
Tensor cat0(const std::vector<Tensor>& parts);
// x[:, begin:begin+count] as a new contiguous tensor; x has at least 2 dimensions.
Tensor narrow1(const Tensor& x, int64_t begin, int64_t count);
// (N, C, H, W) x (N, C, H, W) -> (N, 1, H, W): per-pixel sum of a*b over channels, in channel order.
Tensor channel_dot(const Tensor& a, const Tensor& b);
// x (..., C, H, W) *= w (..., 1, H, W): w broadcast over the channel dimension (rank >= 3), in place.
void mul_broadcast_channels_(Tensor& x, const Tensor& w);
// x = x * m * scale + add (same shapes), in place, in that order of operations.
void mul_add_(Tensor& x, const Tensor& m, const Tensor& add, float scale);
// (N, C, H, W) -> (N, C, H, W): out[:, c] = (x[:, c] - shift[c]) / scale[c] when divide, else
// (x[:, c] - shift[c]) * scale[c]; shift and scale have C entries.
Tensor affine_channels(const Tensor& x, const std::vector<float>& shift, const std::vector<float>& scale, bool divide);
// x (..., H, W) -> (..., h, w) with h, w >= 1: element (y, x) is x[min(y, H-1), min(x, W-1)], i.e.
// replicate padding at the bottom/right where h > H or w > W and a top-left crop where smaller.
Tensor pad_crop(const Tensor& x, int64_t h, int64_t w);
// F.pad of the last two dimensions of x (..., H, W) -> (..., top + H + bottom, left + W + right), pads
// >= 0, filled by `mode` (kernels/op_common.h PadMode): Reflect needs pads < the axis (nn.ReflectionPad2d),
// Symmetric pads <= the axis.
using vrestore::PadMode;
Tensor pad2d(const Tensor& x, int64_t top, int64_t bottom, int64_t left, int64_t right, PadMode mode);
// x (R, ...) -> (len(indices), ...): rows of x along dimension 0 (index_select(0, indices)).
Tensor index_select0(const Tensor& x, const std::vector<int64_t>& indices);
// dst (R, ...) rows[i] = src[i] for src (len(rows), ...) with dst's trailing shape, in place.
void copy_rows0_(Tensor& dst, const std::vector<int64_t>& rows, const Tensor& src);
// x with elements of `dtype` (f32 <-> f16, round to nearest even), on x's device; x itself when
// it already has that dtype. Mixed-precision models use it where f16 features meet f32-only
// layers (SpyNet, deformable-conv offsets and masks) and back.
Tensor to_dtype(const Tensor& x, DType dtype);
// start + |x| of every element, added one at a time in element order in double (a host scalar);
// passing the running sum as `start` makes a sum over several tensors round like one loop.
double sum_abs(const Tensor& x, double start = 0);

}  // namespace vrestore::ops
