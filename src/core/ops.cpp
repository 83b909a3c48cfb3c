// The checked op functions of ops.h: each validates its arguments (got-vs-expected messages),
// resolves geometry, allocates the output on the input's device and dtype, fills the op's args
// struct (op_args.h) and runs it on exactly one backend (op_list.h).
#include "core/ops.h"

#include <climits>
#include <cmath>

#include "core/checked_math.h"
#include "core/op_dispatch.h"

namespace vrestore::ops {
namespace {

using detail::check_operand;
using detail::dispatch;
using detail::output_like;

// Checks x (N, Cin, H, W), weight (Cout, Cin, kh, kw), bias (Cout) or nullptr, stride/dilation >= 1,
// padding >= 0 (or -1 = "same" for odd kernels when allow_same) and a non-empty output.
ConvGeometry check_conv_geometry(const char* op, const Tensor& x, const Tensor& weight, const Tensor* bias, int stride,
                                 int padding, int dilation, bool allow_same) {
  check_operand(op, "x", x, x);
  check_operand(op, "weight", weight, x);
  if (bias) check_operand(op, "bias", *bias, x);
  check_rank(op, "x", x, 4);
  check_rank(op, "weight", weight, 4);
  ConvGeometry s{};
  s.batch = x.size(0);
  s.in_channels = x.size(1);
  s.height = x.size(2);
  s.width = x.size(3);
  s.out_channels = weight.size(0);
  s.kernel_h = weight.size(2);
  s.kernel_w = weight.size(3);
  VR_CHECK(weight.size(1) == s.in_channels, op, ": weight has shape ", weight.shape_str(), " with ", weight.size(1),
           " input channels, expected ", s.in_channels, " (the channels of x ", x.shape_str(), ")");
  VR_CHECK(s.kernel_h >= 1 && s.kernel_w >= 1 && s.out_channels >= 1, op, ": weight has shape ", weight.shape_str(),
           ", expected at least one output channel and a kernel of at least 1x1");
  if (bias) check_shape(op, "bias", *bias, {s.out_channels});
  VR_CHECK(stride >= 1, op, ": stride is ", stride, ", expected >= 1");
  VR_CHECK(dilation >= 1, op, ": dilation is ", dilation, ", expected >= 1");
  if (allow_same && padding == -1) {
    VR_CHECK(s.kernel_h % 2 == 1 && s.kernel_w % 2 == 1, op, ": padding -1 (\"same\") got a ", s.kernel_h, "x",
             s.kernel_w, " kernel, expected odd kernel sizes");
    s.pad_h = dilation * (s.kernel_h - 1) / 2;
    s.pad_w = dilation * (s.kernel_w - 1) / 2;
  } else {
    VR_CHECK(padding >= 0, op, ": padding is ", padding, ", expected >= 0", allow_same ? " or -1 (\"same\")" : "");
    s.pad_h = s.pad_w = padding;
  }
  s.stride = stride;
  s.dilation = dilation;
  s.out_h = conv_output_size(s.height, s.kernel_h, s.stride, s.pad_h, s.dilation);
  s.out_w = conv_output_size(s.width, s.kernel_w, s.stride, s.pad_w, s.dilation);
  VR_CHECK(s.out_h >= 1 && s.out_w >= 1, op, ": output would be ", s.out_h, "x", s.out_w, " for x ", x.shape_str(),
           ", kernel ", s.kernel_h, "x", s.kernel_w, ", stride ", s.stride, ", padding ", s.pad_h, "x", s.pad_w,
           ", dilation ", s.dilation, "; expected at least 1x1");
  return s;
}

Tensor pool2d(const char* op, const Tensor& x, PoolKind kind, int kernel, int stride, int padding,
              bool count_include_pad) {
  check_operand(op, "x", x, x);
  check_rank(op, "x", x, 4);
  VR_CHECK(kernel >= 1, op, ": kernel is ", kernel, ", expected >= 1");
  VR_CHECK(stride >= 1, op, ": stride is ", stride, ", expected >= 1");
  // PyTorch's limit; it also guarantees every window overlaps the image.
  VR_CHECK(padding >= 0 && padding <= kernel / 2, op, ": padding is ", padding, ", expected 0 to kernel/2 = ",
           kernel / 2);
  const int64_t out_h = conv_output_size(x.size(2), kernel, stride, padding, 1);
  const int64_t out_w = conv_output_size(x.size(3), kernel, stride, padding, 1);
  VR_CHECK(out_h >= 1 && out_w >= 1, op, ": output would be ", out_h, "x", out_w, " for x ", x.shape_str(),
           ", kernel ", kernel, ", stride ", stride, ", padding ", padding, "; expected at least 1x1");
  Pool2dArgs a{x, kind, kernel, stride, padding, count_include_pad,
               output_like(x, {x.size(0), x.size(1), out_h, out_w})};  // (N, C, Ho, Wo)
  dispatch(a, x);
  return a.out;
}

// PyTorch's fp32 scale for one axis.
float bilinear_ratio(int64_t in, int64_t out, float unaligned_ratio, bool align_corners) {
  if (align_corners) return out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1) : 0.0f;
  return unaligned_ratio;
}

Tensor bilinear(const Tensor& x, int64_t out_h, int64_t out_w, float ratio_h, float ratio_w, int scale_factor,
                bool align_corners) {
  ResizeBilinearArgs a{x, bilinear_ratio(x.size(2), out_h, ratio_h, align_corners),
                       bilinear_ratio(x.size(3), out_w, ratio_w, align_corners), scale_factor, align_corners,
                       output_like(x, {x.size(0), x.size(1), out_h, out_w})};  // (N, C, out_h, out_w)
  dispatch(a, x);
  return a.out;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor* bias, const Conv2dParams& p,
              const Tensor* residual) {
  Conv2dArgs a;
  a.g = check_conv_geometry("conv2d", x, weight, bias, p.stride, p.padding, p.dilation, true);
  a.x = x;
  a.weight = weight;
  if (bias) a.bias = *bias;
  a.activation = p.activation;
  a.out = output_like(x, {a.g.batch, a.g.out_channels, a.g.out_h, a.g.out_w});  // (N, Cout, Ho, Wo)
  if (residual) {
    check_operand("conv2d", "residual", *residual, x);
    check_shape("conv2d", "residual", *residual, a.out.shape());
    a.residual = *residual;
  }
  dispatch(a, x);
  return a.out;
}

Tensor deform_conv2d(const Tensor& x, const Tensor& offset, const Tensor& mask, const Tensor& weight,
                     const Tensor* bias, const DeformConv2dParams& p) {
  check_operand("deform_conv2d", "offset", offset, x, true);
  check_operand("deform_conv2d", "mask", mask, x, true);
  check_rank("deform_conv2d", "offset", offset, 4);
  check_rank("deform_conv2d", "mask", mask, 4);
  DeformConv2dArgs a;
  a.g = check_conv_geometry("deform_conv2d", x, weight, bias, p.stride, p.padding, p.dilation, false);
  const ConvGeometry& s = a.g;
  const int64_t taps = s.taps();
  const int64_t offset_channels = offset.size(1);
  VR_CHECK(offset_channels >= 2 * taps && offset_channels % (2 * taps) == 0, "deform_conv2d: offset has shape ",
           offset.shape_str(), " with ", offset_channels, " channels, expected a positive multiple of 2*kh*kw = ",
           2 * taps);
  a.groups = offset_channels / (2 * taps);
  VR_CHECK(s.in_channels % a.groups == 0, "deform_conv2d: x has ", s.in_channels,
           " channels, expected a multiple of the ", a.groups, " deformable groups implied by offset ",
           offset.shape_str());
  check_shape("deform_conv2d", "offset", offset, {s.batch, 2 * a.groups * taps, s.out_h, s.out_w});
  check_shape("deform_conv2d", "mask", mask, {s.batch, a.groups * taps, s.out_h, s.out_w});
  VR_CHECK((s.height + 2) * (s.width + 2) <= INT32_MAX, "deform_conv2d: x has shape ", x.shape_str(),
           ", expected fewer than 2^31 pixels per channel");
  a.x = x;
  a.offset = offset;
  a.mask = mask;
  a.weight = weight;
  if (bias) a.bias = *bias;
  a.activation = p.activation;
  a.out = output_like(x, {s.batch, s.out_channels, s.out_h, s.out_w});  // (N, Cout, Ho, Wo)
  dispatch(a, x);
  return a.out;
}

Tensor flow_warp(const Tensor& x, const Tensor& flow, WarpPadding padding) {
  check_operand("flow_warp", "x", x, x);
  check_operand("flow_warp", "flow", flow, x, true);
  check_rank("flow_warp", "x", x, 4);
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  check_shape("flow_warp", "flow", flow, {n, 2, h, w});
  VR_CHECK(h * w <= INT32_MAX, "flow_warp: x has shape ", x.shape_str(), ", expected fewer than 2^31 pixels per channel");
  FlowWarpArgs a{x, flow, padding, output_like(x, {n, c, h, w})};  // (N, C, H, W)
  dispatch(a, x);
  return a.out;
}

Tensor upsample_bilinear(const Tensor& x, int factor, bool align_corners) {
  check_operand("upsample_bilinear", "x", x, x);
  check_rank("upsample_bilinear", "x", x, 4);
  VR_CHECK(factor >= 1, "upsample_bilinear: factor is ", factor, ", expected >= 1");
  VR_CHECK(x.size(2) >= 1 && x.size(3) >= 1, "upsample_bilinear: x has shape ", x.shape_str(),
           ", expected a non-empty image");
  // With a scale factor PyTorch uses scale = 1/factor, not in/out (the same here, as out = in*factor).
  const float inverse = static_cast<float>(1.0 / factor);
  return bilinear(x, x.size(2) * factor, x.size(3) * factor, inverse, inverse, factor, align_corners);
}

Tensor resize_bilinear(const Tensor& x, int64_t out_h, int64_t out_w, bool align_corners) {
  check_operand("resize_bilinear", "x", x, x);
  check_rank("resize_bilinear", "x", x, 4);
  VR_CHECK(out_h >= 1 && out_w >= 1, "resize_bilinear: output size is ", out_h, "x", out_w,
           ", expected at least 1x1");
  VR_CHECK(x.size(2) >= 1 && x.size(3) >= 1, "resize_bilinear: x has shape ", x.shape_str(),
           ", expected a non-empty image");
  const float ratio_h = static_cast<float>(x.size(2)) / static_cast<float>(out_h);
  const float ratio_w = static_cast<float>(x.size(3)) / static_cast<float>(out_w);
  return bilinear(x, out_h, out_w, ratio_h, ratio_w, 0, align_corners);
}

Tensor pixel_shuffle(const Tensor& x, int r) {
  check_operand("pixel_shuffle", "x", x, x);
  check_rank("pixel_shuffle", "x", x, 4);
  VR_CHECK(r >= 1, "pixel_shuffle: upscale factor is ", r, ", expected >= 1");
  const int64_t n = x.size(0), in_c = x.size(1), h = x.size(2), w = x.size(3);
  VR_CHECK(in_c % (int64_t{r} * r) == 0, "pixel_shuffle: x has shape ", x.shape_str(), " with ", in_c,
           " channels, expected a multiple of r*r = ", r * r);
  const int64_t c = in_c / (r * r);
  PixelShuffleArgs a{x, r, output_like(x, {n, c, h * r, w * r})};  // (N, C, H*r, W*r)
  dispatch(a, x);
  return a.out;
}

Tensor max_pool2d(const Tensor& x, int kernel, int stride, int padding) {
  return pool2d("max_pool2d", x, PoolKind::Max, kernel, stride, padding, true);
}

Tensor avg_pool2d(const Tensor& x, int kernel, int stride, int padding, bool count_include_pad) {
  return pool2d("avg_pool2d", x, PoolKind::Average, kernel, stride, padding, count_include_pad);
}

void activate_(Tensor& x, Activation act, float negative_slope) {
  check_operand("activate", "x", x, x);
  VR_CHECK(std::isfinite(negative_slope), "activate: negative_slope ", negative_slope, " is not finite");
  if (act == Activation::None) return;
  dispatch(ActivateArgs{x, act, negative_slope}, x);
}

void sigmoid_(Tensor& x) { activate_(x, Activation::Sigmoid); }

void add_(Tensor& a, const Tensor& b) {
  check_operand("add", "a", a, a);
  check_operand("add", "b", b, a);
  VR_CHECK(a.shape() == b.shape(), "add: shapes ", a.shape_str(), " and ", b.shape_str(), " differ");
  dispatch(AddArgs{a, b}, a);
}

void scale_(Tensor& a, float s) {
  check_operand("scale", "a", a, a);
  dispatch(ScaleArgs{a, s}, a);
}

namespace {

Tensor cat(const std::vector<Tensor>& parts, int dim) {
  VR_CHECK(!parts.empty(), "cat: no tensors");
  const Tensor& first = parts[0];
  check_operand("cat", "tensor 0", first, first);
  VR_CHECK(first.dim() >= dim + 1, "cat: tensor 0 has shape ", first.shape_str(), ", expected at least ", dim + 1,
           " dimensions");
  Shape shape = first.shape();
  int64_t channels = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    check_operand("cat", concat("tensor ", i).c_str(), parts[i], first);
    Shape s = parts[i].shape();
    VR_CHECK(s.size() == shape.size(), "cat: tensor ", i, " has shape ", parts[i].shape_str(), ", expected rank ",
             shape.size());
    channels += s[dim];
    s[dim] = shape[dim];
    VR_CHECK(s == shape, "cat: tensor ", i, " has shape ", parts[i].shape_str(),
             ", which differs from tensor 0 ", first.shape_str(), " outside dimension ", dim);
  }
  shape[dim] = channels;
  ConcatArgs a{parts, output_like(first, shape), dim};
  dispatch(a, first);
  return a.out;
}

}  // namespace

Tensor cat1(const std::vector<Tensor>& parts) { return cat(parts, 1); }
Tensor cat0(const std::vector<Tensor>& parts) { return cat(parts, 0); }

Tensor narrow1(const Tensor& x, int64_t begin, int64_t count) {
  check_operand("narrow", "x", x, x);
  VR_CHECK(x.dim() >= 2 && begin >= 0 && count >= 0 && begin <= x.size(1) && count <= x.size(1) - begin,
           "narrow: channels [", begin, ", ", begin + count, ") out of range for x ", x.shape_str());
  Shape shape = x.shape();
  shape[1] = count;
  NarrowArgs a{x, begin, output_like(x, shape)};
  dispatch(a, x);
  return a.out;
}

Tensor channel_dot(const Tensor& a, const Tensor& b) {
  check_operand("channel_dot", "a", a, a);
  check_operand("channel_dot", "b", b, a);
  check_rank("channel_dot", "a", a, 4);
  check_shape("channel_dot", "b", b, a.shape());
  ChannelDotArgs args{a, b, output_like(a, {a.size(0), 1, a.size(2), a.size(3)})};  // (N, 1, H, W)
  dispatch(args, a);
  return args.out;
}

void mul_broadcast_channels_(Tensor& x, const Tensor& w) {
  check_operand("mul_broadcast_channels", "x", x, x);
  check_operand("mul_broadcast_channels", "w", w, x);
  VR_CHECK(x.dim() >= 3, "mul_broadcast_channels: x has shape ", x.shape_str(), ", expected at least 3 dimensions");
  Shape expected = x.shape();
  expected[expected.size() - 3] = 1;
  check_shape("mul_broadcast_channels", "w", w, expected);
  dispatch(MulBroadcastChannelsArgs{x, w}, x);
}

void mul_add_(Tensor& x, const Tensor& m, const Tensor& add, float scale) {
  check_operand("mul_add", "x", x, x);
  check_operand("mul_add", "m", m, x);
  check_operand("mul_add", "add", add, x);
  check_shape("mul_add", "m", m, x.shape());
  check_shape("mul_add", "add", add, x.shape());
  dispatch(MulAddArgs{x, m, add, scale}, x);
}

Tensor pad_crop(const Tensor& x, int64_t h, int64_t w) {
  check_operand("pad_crop", "x", x, x);
  VR_CHECK(x.dim() >= 2 && x.size(-2) >= 1 && x.size(-1) >= 1, "pad_crop: x has shape ", x.shape_str(),
           ", expected at least 2 dimensions and a non-empty image");
  VR_CHECK(h >= 1 && w >= 1, "pad_crop: output size is ", h, "x", w, ", expected at least 1x1");
  Shape shape = x.shape();
  shape[shape.size() - 2] = h;
  shape[shape.size() - 1] = w;
  PadCropArgs a{x, output_like(x, shape)};
  dispatch(a, x);
  return a.out;
}

Tensor pad2d(const Tensor& x, int64_t top, int64_t bottom, int64_t left, int64_t right, PadMode mode) {
  check_operand("pad2d", "x", x, x);
  VR_CHECK(x.dim() >= 2 && x.size(-2) >= 1 && x.size(-1) >= 1, "pad2d: x has shape ", x.shape_str(),
           ", expected at least 2 dimensions and a non-empty image");
  VR_CHECK(top >= 0 && bottom >= 0 && left >= 0 && right >= 0, "pad2d: pads (top ", top, ", bottom ", bottom,
           ", left ", left, ", right ", right, ") must be >= 0");
  const int64_t h = x.size(-2), w = x.size(-1);
  // One reflection covers the padding (F.pad's own limits).
  const int64_t limit_h = mode == PadMode::Reflect ? h - 1 : h, limit_w = mode == PadMode::Reflect ? w - 1 : w;
  VR_CHECK(mode == PadMode::Replicate || (std::max(top, bottom) <= limit_h && std::max(left, right) <= limit_w),
           "pad2d: pads (top ", top, ", bottom ", bottom, ", left ", left, ", right ", right, ") of a ", h, "x", w,
           " image, expected at most ", limit_h, " rows and ", limit_w, " columns for ",
           mode == PadMode::Reflect ? "reflect" : "symmetric", " padding");
  Shape shape = x.shape();
  shape[shape.size() - 2] = checked_add(checked_add(h, top, "pad2d"), bottom, "pad2d");
  shape[shape.size() - 1] = checked_add(checked_add(w, left, "pad2d"), right, "pad2d");
  PadCropArgs a{x, output_like(x, shape), top, left, mode};
  dispatch(a, x);
  return a.out;
}

Tensor index_select0(const Tensor& x, const std::vector<int64_t>& indices) {
  check_operand("index_select0", "x", x, x);
  for (int64_t i : indices)
    VR_CHECK(i >= 0 && i < x.size(0), "index_select0: index ", i, " out of range for shape ", x.shape_str());
  VR_CHECK(!indices.empty(), "index_select0: no indices for x ", x.shape_str());
  Shape shape = x.shape();
  shape[0] = static_cast<int64_t>(indices.size());
  IndexSelect0Args a{x, indices, output_like(x, shape)};
  dispatch(a, x);
  return a.out;
}

void copy_rows0_(Tensor& dst, const std::vector<int64_t>& rows, const Tensor& src) {
  check_operand("copy_rows0", "dst", dst, dst);
  check_operand("copy_rows0", "src", src, dst);
  Shape expected = dst.shape();
  expected[0] = static_cast<int64_t>(rows.size());
  check_shape("copy_rows0", "src", src, expected);
  for (int64_t r : rows)
    VR_CHECK(r >= 0 && r < dst.size(0), "copy_rows0: row ", r, " out of range for dst ", dst.shape_str());
  dispatch(CopyRows0Args{dst, src, rows}, dst);
}

Tensor to_dtype(const Tensor& x, DType dtype) {
  VR_CHECK(x.defined(), "cast: x is an empty tensor");
  VR_CHECK(dtype == DType::F32 || dtype == DType::F16, "cast: dtype ", static_cast<int>(dtype),
           " is neither DType::F32 nor DType::F16");
  if (x.dtype() == dtype) return x;
  CastArgs a{x, Tensor::empty(x.shape(), dtype, x.device())};
  dispatch(a, x);
  return a.out;
}

double sum_abs(const Tensor& x, double start) {
  check_operand("sum_abs", "x", x, x);
  double result = start;
  dispatch(SumAbsArgs{x, &result}, x);
  return result;
}

Tensor affine_channels(const Tensor& x, const std::vector<float>& shift, const std::vector<float>& scale, bool divide) {
  check_operand("affine_channels", "x", x, x);
  check_rank("affine_channels", "x", x, 4);
  VR_CHECK(static_cast<int64_t>(shift.size()) == x.size(1) && static_cast<int64_t>(scale.size()) == x.size(1),
           "affine_channels: got ", shift.size(), " shifts and ", scale.size(), " scales, expected ", x.size(1),
           " (the channels of x ", x.shape_str(), ")");
  ChannelAffineArgs a{x, shift, scale, divide, output_like(x, x.shape())};
  dispatch(a, x);
  return a.out;
}

}  // namespace vrestore::ops
