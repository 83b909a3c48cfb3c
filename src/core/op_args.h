// One argument struct per op: what the checked ops:: function (ops.cpp) hands to a backend's
// run(). Shapes are validated, geometry is resolved and `out` is allocated on the inputs' device
// and dtype before a backend sees the struct, so backends trust every field. Tensors are held by
// value (shared storage): a backend writes through `out` (or through the in-place operand).
#pragma once

#include <cstdint>
#include <vector>

#include "../../kernels/op_common.h"
#include "vrestore/tensor.h"

namespace vrestore::ops {

// Shape of a convolution (conv2d or deform_conv2d), resolved once at the op entry.
struct ConvGeometry {
  int64_t batch, in_channels, height, width;
  int64_t out_channels, kernel_h, kernel_w;
  int64_t stride, pad_h, pad_w, dilation;
  int64_t out_h, out_w;
  int64_t taps() const { return kernel_h * kernel_w; }
  int64_t depth() const { return in_channels * taps(); }
};

struct Conv2dArgs {
  Tensor x, weight, bias;  // (N, Cin, H, W), (Cout, Cin, kh, kw), (Cout) or undefined
  ConvGeometry g;
  Activation activation = Activation::None;
  Tensor residual;  // (N, Cout, Ho, Wo) added after the activation, or undefined
  Tensor out;       // (N, Cout, Ho, Wo)
};

struct DeformConv2dArgs {
  Tensor x, offset, mask, weight, bias;  // offset (N, 2*G*K, Ho, Wo), mask (N, G*K, Ho, Wo)
  ConvGeometry g;
  int64_t groups = 1;  // deformable groups G
  Activation activation = Activation::None;
  Tensor out;  // (N, Cout, Ho, Wo)
};

struct FlowWarpArgs {
  Tensor x, flow;  // (N, C, H, W), planar (N, 2, H, W)
  WarpPadding padding = WarpPadding::Zeros;
  Tensor out;  // (N, C, H, W)
};

// Bilinear resampling of (N, C, H, W) to out's size; ratio_* is PyTorch's fp32 scale per axis
// (1/factor, in/out, or (in-1)/(out-1) with align_corners).
struct ResizeBilinearArgs {
  Tensor x;
  float ratio_h = 1, ratio_w = 1;
  int scale_factor = 0;  // > 0: F.interpolate(scale_factor=f) (out = in * f); 0: F.interpolate(size=...)
  bool align_corners = false;
  Tensor out;
};

struct PixelShuffleArgs {
  Tensor x;  // (N, C*r*r, H, W)
  int factor = 1;
  Tensor out;  // (N, C, H*r, W*r)
};

enum class PoolKind { Max, Average };
struct Pool2dArgs {
  Tensor x;  // (N, C, H, W)
  PoolKind kind = PoolKind::Max;
  int kernel = 1, stride = 1, padding = 0;
  bool count_include_pad = true;  // Average only
  Tensor out;  // (N, C, Ho, Wo)
};

// x = act(x), in place (Sigmoid included).
struct ActivateArgs {
  Tensor x;
  Activation activation = Activation::None;
  float negative_slope = kLeakySlope;  // LeakyReLU's slope for x < 0
};

// a += b, in place; same shape.
struct AddArgs {
  Tensor a, b;
};

// a *= s, in place.
struct ScaleArgs {
  Tensor a;
  float s = 1;
};

// out = parts concatenated along dimension `dim` (0 or 1).
struct ConcatArgs {
  std::vector<Tensor> parts;
  Tensor out;
  int dim = 1;
};

// out = x[:, begin:begin + out.size(1)] (a copy), any rank >= 2.
struct NarrowArgs {
  Tensor x;
  int64_t begin = 0;
  Tensor out;
};

// out (N, 1, H, W) = sum over c of a[n, c] * b[n, c], channels in order (TSA's correlation).
struct ChannelDotArgs {
  Tensor a, b;
  Tensor out;
};

// x (F, C, H, W) *= w (F, 1, H, W), broadcast over C, in place (any leading dims folded into F).
struct MulBroadcastChannelsArgs {
  Tensor x, w;
};

// x = x * m * scale + add, element by element in that order, in place (TSA's attention modulation).
struct MulAddArgs {
  Tensor x, m, add;
  float scale = 1;
};

// out[..., y, x] = x[..., pad_source_index(y - top, H, mode), pad_source_index(x - left, W, mode)]
// for out's size: pads the last two dimensions (pad2d, pad_crop) or crops them (pad_crop: the
// top-left window).
struct PadCropArgs {
  Tensor x;
  Tensor out;
  int64_t top = 0, left = 0;
  PadMode mode = PadMode::Replicate;
};

// out[i] = x[indices[i]] along dimension 0 (indices checked by the op layer).
struct IndexSelect0Args {
  Tensor x;
  std::vector<int64_t> indices;
  Tensor out;
};

// dst[rows[i]] = src[i] along dimension 0, in place in dst (rows checked by the op layer).
struct CopyRows0Args {
  Tensor dst, src;
  std::vector<int64_t> rows;
};

// out = x converted to out's dtype (f32 <-> f16, round to nearest even), on x's device. The one op
// whose CPU body handles f16 storage: it is how host tensors change precision (Tensor::to).
struct CastArgs {
  Tensor x;
  Tensor out;
};

// *result += |x| of every element, one at a time in element order, in double (a running sum
// continued across calls rounds exactly like one loop over all the tensors).
struct SumAbsArgs {
  Tensor x;
  double* result = nullptr;
};

// out[n, c] = (x[n, c] - shift[c]) / scale[c] (divide) or (x[n, c] - shift[c]) * scale[c].
struct ChannelAffineArgs {
  Tensor x;
  std::vector<float> shift, scale;
  bool divide = false;
  Tensor out;
};

}  // namespace vrestore::ops
