// conv2d (CPU): im2col of one column tile at a time into GEMM panels, then the shared panel GEMM
// with bias and activation fused (conv_impl.h, gemm.h). 1x1 stride-1 convolutions skip im2col:
// the input image already is the (Cin, H*W) column matrix.
#include <algorithm>
#include <vector>

#include "core/check.h"
#include "core/ops.h"
#include "cpu/conv_impl.h"

namespace vrestore::ops {
namespace {

using cpu::kPanelWidth;

struct ConvShape {
  int64_t batch, in_channels, height, width;
  int64_t out_channels, kernel_h, kernel_w;
  int64_t stride, pad_h, pad_w, dilation;
  int64_t out_h, out_w;
  int64_t depth() const { return in_channels * kernel_h * kernel_w; }
};

ConvShape check_conv2d_args(const Tensor& x, const Tensor& weight, const Tensor* bias, const Conv2dParams& p) {
  check_rank("conv2d", "x", x, 4);
  check_rank("conv2d", "weight", weight, 4);
  ConvShape s{};
  s.batch = x.size(0);
  s.in_channels = x.size(1);
  s.height = x.size(2);
  s.width = x.size(3);
  s.out_channels = weight.size(0);
  s.kernel_h = weight.size(2);
  s.kernel_w = weight.size(3);
  VR_CHECK(weight.size(1) == s.in_channels, "conv2d: weight has shape ", weight.shape_str(), " with ",
           weight.size(1), " input channels, expected ", s.in_channels, " (the channels of x ", x.shape_str(), ")");
  VR_CHECK(s.kernel_h >= 1 && s.kernel_w >= 1 && s.out_channels >= 1, "conv2d: weight has shape ",
           weight.shape_str(), ", expected at least one output channel and a kernel of at least 1x1");
  if (bias) check_shape("conv2d", "bias", *bias, {s.out_channels});
  VR_CHECK(p.stride >= 1, "conv2d: stride is ", p.stride, ", expected >= 1");
  VR_CHECK(p.dilation >= 1, "conv2d: dilation is ", p.dilation, ", expected >= 1");
  if (p.padding == -1) {
    VR_CHECK(s.kernel_h % 2 == 1 && s.kernel_w % 2 == 1, "conv2d: padding -1 (\"same\") got a ", s.kernel_h, "x",
             s.kernel_w, " kernel, expected odd kernel sizes");
    s.pad_h = p.dilation * (s.kernel_h - 1) / 2;
    s.pad_w = p.dilation * (s.kernel_w - 1) / 2;
  } else {
    VR_CHECK(p.padding >= 0, "conv2d: padding is ", p.padding, ", expected >= 0 or -1 (\"same\")");
    s.pad_h = s.pad_w = p.padding;
  }
  s.stride = p.stride;
  s.dilation = p.dilation;
  s.out_h = cpu::conv_output_size(s.height, s.kernel_h, s.stride, s.pad_h, s.dilation);
  s.out_w = cpu::conv_output_size(s.width, s.kernel_w, s.stride, s.pad_w, s.dilation);
  VR_CHECK(s.out_h >= 1 && s.out_w >= 1, "conv2d: output would be ", s.out_h, "x", s.out_w, " for x ", x.shape_str(),
           ", kernel ", s.kernel_h, "x", s.kernel_w, ", stride ", s.stride, ", padding ", s.pad_h, "x", s.pad_w,
           ", dilation ", s.dilation, "; expected at least 1x1");
  return s;
}

// A run of consecutive output pixels on one output row that falls inside one panel of the tile.
struct OutputRun {
  int64_t out_y, out_x, length;
  int64_t panel_offset;  // offset of the run's first column in panel storage (row 0)
};

void split_tile_into_runs(const ConvShape& s, int64_t p0, int64_t cols, std::vector<OutputRun>& runs) {
  runs.clear();
  const int64_t depth = s.depth();
  for (int64_t j = 0; j < cols;) {
    const int64_t pixel = p0 + j;
    const int64_t out_y = pixel / s.out_w, out_x = pixel % s.out_w;
    const int64_t panel = j / kPanelWidth, column = j % kPanelWidth;
    const int64_t length = std::min({s.out_w - out_x, kPanelWidth - column, cols - j});
    runs.push_back({out_y, out_x, length, panel * depth * kPanelWidth + column});
    j += length;
  }
}

// dst[t] = row[x0 + t*step] for t < length, zero where the index leaves [0, width). Runs are at most
// a panel wide, so plain loops beat memcpy/fill calls here.
void gather_input_row(const float* row, int64_t width, int64_t x0, int64_t step, int64_t length, float* dst) {
  // t in [first, last) reads inside the row.
  const int64_t first = std::min(length, x0 >= 0 ? 0 : (-x0 + step - 1) / step);
  const int64_t last = std::max(first, std::min(length, x0 >= width ? 0 : (width - 1 - x0) / step + 1));
  for (int64_t t = 0; t < first; ++t) dst[t] = 0.0f;
  if (step == 1) {
    for (int64_t t = first; t < last; ++t) dst[t] = row[x0 + t];
  } else {
    for (int64_t t = first; t < last; ++t) dst[t] = row[x0 + t * step];
  }
  for (int64_t t = last; t < length; ++t) dst[t] = 0.0f;
}

// Columns [p0, p0+cols) of the im2col matrix of image x_n (Cin, H, W): row k = (c*kh + i)*kw + j
// (the weight's own layout), column = output pixel; written in panel layout.
void im2col_tile(const float* x_n, const ConvShape& s, int64_t p0, int64_t cols, float* panels) {
  thread_local std::vector<OutputRun> runs;
  split_tile_into_runs(s, p0, cols, runs);
  const int64_t plane = s.height * s.width;
  int64_t k = 0;
  for (int64_t c = 0; c < s.in_channels; ++c) {
    const float* x_c = x_n + c * plane;
    for (int64_t i = 0; i < s.kernel_h; ++i) {
      for (int64_t j = 0; j < s.kernel_w; ++j, ++k) {
        float* row_k = panels + k * kPanelWidth;
        for (const OutputRun& run : runs) {
          float* dst = row_k + run.panel_offset;
          const int64_t in_y = run.out_y * s.stride - s.pad_h + i * s.dilation;
          if (in_y < 0 || in_y >= s.height) {
            for (int64_t t = 0; t < run.length; ++t) dst[t] = 0.0f;
          } else {
            gather_input_row(x_c + in_y * s.width, s.width, run.out_x * s.stride - s.pad_w + j * s.dilation,
                             s.stride, run.length, dst);
          }
        }
      }
    }
  }
  cpu::zero_panel_padding(panels, s.depth(), cols);
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor* bias, const Conv2dParams& p) {
  const ConvShape s = check_conv2d_args(x, weight, bias, p);
  Tensor out = Tensor::empty({s.batch, s.out_channels, s.out_h, s.out_w});  // (N, Cout, Ho, Wo)
  const cpu::PackedWeights w = cpu::pack_weights(weight.data(), s.out_channels, s.depth());
  const int64_t pixels = s.out_h * s.out_w;
  const bool pointwise = s.kernel_h == 1 && s.kernel_w == 1 && s.stride == 1 && s.pad_h == 0 && s.pad_w == 0;
  const float* x_data = x.data();
  const int64_t image_size = s.in_channels * s.height * s.width;

  cpu::lowered_convolution(
      s.batch, pixels, w, bias ? bias->data() : nullptr, p.activation, out.data(),
      [&](int64_t n, int64_t p0, int64_t cols, float* storage) {
        const float* x_n = x_data + n * image_size;  // (Cin, H, W)
        // A whole-panel tile of a 1x1 conv reads x in place (rows H*W apart); a ragged last tile
        // is copied so that no panel reads past the end of a channel.
        if (pointwise && cols % kPanelWidth == 0) return cpu::ColumnPanels{x_n + p0, pixels, kPanelWidth, cols};
        im2col_tile(x_n, s, p0, cols, storage);
        return cpu::ColumnPanels{storage, kPanelWidth, s.depth() * kPanelWidth, cols};
      });
  return out;
}

}  // namespace vrestore::ops
