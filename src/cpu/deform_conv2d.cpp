// deform_conv2d (CPU): modulated deformable convolution (DCNv2, torchvision semantics) as a
// deformable im2col into GEMM panels followed by the same panel GEMM as conv2d (conv_impl.h).
//
// The im2col avoids gathers (on the development Xeon a gathered float costs ~1.4 ns even from L1,
// more than the GEMM spends per im2col element): each deformable group of x is first copied channel-last with a zero border,
// so one sample point's 4 neighbours x 8 channels are 4 contiguous 8-float loads; the bilinear
// weights (mask folded in) are computed once per (group, tap, pixel) and shared by the group's
// channels; blocks of 8 pixels x 8 channels are transposed in registers into the panel rows.
//
// Compiled once per ISA level into vrestore::cpu::VRESTORE_ISA_NS (isa.h); ops::deform_conv2d
// (dispatch.cpp) calls the level in use.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "core/check.h"
#include "core/ops.h"
#include "cpu/weight_cache.h"
#include "cpu/isa.h"  // after every header above, before the kernel headers below
#include "cpu/conv_impl.h"
#include "cpu/isa_kernels.h"

#define VRESTORE_DEFORM_AVX2 VRESTORE_ISA_AVX2

namespace vrestore::cpu::VRESTORE_ISA_NS {
namespace {

struct DeformShape : cpu::ConvGeometry {
  int64_t groups;  // deformable groups G
};

// Channels are handled in blocks of 8 (one 8x8 transpose); groups are padded with zero channels.
constexpr int64_t kChannelBlock = 8;

// x regrouped per deformable group, channel-last, with a one-pixel zero border:
// (N, G, H+2, W+2, Cg8), Cg8 = Cin/G rounded up to 8. The border makes every neighbour of an
// accepted sample point (-1 < y < H, -1 < x < W) addressable, reading 0 outside the image, which is
// torchvision's per-neighbour rule without per-neighbour tests.
struct GroupedInput {
  const float* data;
  int64_t channels;     // Cg8: floats per pixel
  int64_t row;          // (W + 2) * Cg8
  int64_t group_size;   // (H + 2) * (W + 2) * Cg8
};

#if VRESTORE_DEFORM_AVX2
// r[i][j] -> r[j][i] for an 8x8 block of floats held in 8 registers.
inline void transpose8x8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}
#endif

// One image row y of group g: grouped[(y+1), 1 + x, c] = x[g*Cg + c, y, x] (zero for c >= Cg).
void regroup_row(const float* x_g, int64_t group_channels, int64_t height, int64_t width, int64_t y,
                 const GroupedInput& gi, float* grouped_g) {
  float* dst = grouped_g + (y + 1) * gi.row + gi.channels;  // pixel (y+1, 1)
  const int64_t plane = height * width;
  int64_t x0 = 0;
#if VRESTORE_DEFORM_AVX2
  for (; x0 + 8 <= width; x0 += 8) {
    for (int64_t c0 = 0; c0 < gi.channels; c0 += kChannelBlock) {
      __m256 r[8];
      for (int64_t c = 0; c < 8; ++c)
        r[c] = c0 + c < group_channels ? _mm256_loadu_ps(x_g + (c0 + c) * plane + y * width + x0) : _mm256_setzero_ps();
      transpose8x8(r);
      for (int64_t i = 0; i < 8; ++i) _mm256_storeu_ps(dst + (x0 + i) * gi.channels + c0, r[i]);
    }
  }
#endif
  for (; x0 < width; ++x0)
    for (int64_t c = 0; c < gi.channels; ++c)
      dst[x0 * gi.channels + c] = c < group_channels ? x_g[c * plane + y * width + x0] : 0.0f;
}

GroupedInput regroup_input(const Tensor& x, const DeformShape& s) {
  const int64_t group_channels = s.in_channels / s.groups;
  GroupedInput gi{};
  gi.channels = (group_channels + kChannelBlock - 1) / kChannelBlock * kChannelBlock;
  gi.row = (s.width + 2) * gi.channels;
  gi.group_size = (s.height + 2) * gi.row;
  // Kept per calling thread: a fresh allocation of this size would page-fault on every call.
  thread_local cpu::AlignedFloats storage;
  const int64_t groups = s.batch * s.groups;
  storage.resize(static_cast<size_t>(groups * gi.group_size));
  float* grouped = storage.data();
  const float* src = x.data();
  const int64_t rows = s.height + 2;
#pragma omp parallel for schedule(static)
  for (int64_t gr = 0; gr < groups * rows; ++gr) {
    const int64_t ng = gr / rows, y = gr % rows - 1;  // y = -1 and H are the zero border rows
    float* grouped_g = grouped + ng * gi.group_size;
    if (y < 0 || y == s.height) {
      std::fill(grouped_g + (y + 1) * gi.row, grouped_g + (y + 2) * gi.row, 0.0f);
      continue;
    }
    std::fill(grouped_g + (y + 1) * gi.row, grouped_g + (y + 1) * gi.row + gi.channels, 0.0f);
    std::fill(grouped_g + (y + 2) * gi.row - gi.channels, grouped_g + (y + 2) * gi.row, 0.0f);
    const float* x_g = src + ng * group_channels * s.height * s.width;  // (n, g) -> channels g*Cg.. of image n
    regroup_row(x_g, group_channels, s.height, s.width, y, gi, grouped_g);
  }
  gi.data = grouped;
  return gi;
}

// Bilinear taps of one (group, kernel tap) for a chunk of columns: column j reads pixels
// base[j] + {0, 1, W+2, W+3} of the padded group plane (top-left, top-right, bottom-left,
// bottom-right) with weights w[0..3][j]. The mask is folded into the weights (torchvision
// multiplies the interpolated value by it; the difference is rounding). Rejected samples and
// padding columns have weights 0 and base 0.
struct BilinearTaps {
  int32_t* base;
  float* w[4];
};

// Per-thread storage for the taps of one (group, kernel tap) over a chunk of columns, and the
// output coordinates of those columns.
struct ChunkTables {
  std::vector<int32_t> base, out_y, out_x;
  cpu::AlignedFloats weights;
  BilinearTaps taps{};
  void reserve(int64_t columns) {
    if (base.size() < static_cast<size_t>(columns)) base.resize(columns), out_y.resize(columns), out_x.resize(columns);
    weights.resize(static_cast<size_t>(4 * columns));
    float* w = weights.data();
    taps = {base.data(), {w, w + columns, w + 2 * columns, w + 3 * columns}};
  }
};

// torchvision's rule: a sample point at or beyond one pixel outside the image reads 0.
void compute_bilinear_taps(const DeformShape& s, int64_t padded_width, const float* dy, const float* dx,
                           const float* mask, const int32_t* out_y, const int32_t* out_x, int64_t tap_y,
                           int64_t tap_x, int64_t cols, int64_t padded_cols, const BilinearTaps& t) {
  const float fh = static_cast<float>(s.height), fw = static_cast<float>(s.width);
  const int32_t base_y = static_cast<int32_t>(tap_y * s.dilation - s.pad_h);
  const int32_t base_x = static_cast<int32_t>(tap_x * s.dilation - s.pad_w);
  const int32_t stride = static_cast<int32_t>(s.stride), pw = static_cast<int32_t>(padded_width);
  const int32_t last_y = static_cast<int32_t>(s.height) - 1, last_x = static_cast<int32_t>(s.width) - 1;
  int32_t* __restrict base = t.base;
  float* __restrict w00 = t.w[0];
  float* __restrict w01 = t.w[1];
  float* __restrict w10 = t.w[2];
  float* __restrict w11 = t.w[3];
  // Branch- and select-free so that it vectorises (GCC leaves selects on these float conditions as
  // branches): a rejected sample keeps finite bilinear factors and gets mask 0.
#pragma omp simd
  for (int64_t j = 0; j < cols; ++j) {
    // Same evaluation as torchvision: integer base position, then + offset in fp32.
    const float y = static_cast<float>(out_y[j] * stride + base_y) + dy[j];
    const float x = static_cast<float>(out_x[j] * stride + base_x) + dx[j];
    const int32_t inside = (y > -1.0f) & (y < fh) & (x > -1.0f) & (x < fw);  // int: vectorises, bool does not
    // floor() by truncation of a copy clamped to [-1, size] (NaN -> -1): std::floor does not
    // vectorise under trapping math, and the clamp keeps the int conversion defined.
    const float ys = std::min(fh, std::max(-1.0f, y)), xs = std::min(fw, std::max(-1.0f, x));
    const int32_t yt = static_cast<int32_t>(ys), xt = static_cast<int32_t>(xs);
    const int32_t y0 = yt - (ys < static_cast<float>(yt)), x0 = xt - (xs < static_cast<float>(xt));
    const float ly = ys - static_cast<float>(y0), lx = xs - static_cast<float>(x0), hy = 1.0f - ly, hx = 1.0f - lx;
    // Rejected: mask 0, like torchvision's mask * 0 (so a NaN mask still gives NaN there).
    const float m = mask[j] * static_cast<float>(inside);
    // Accepted samples have y0 <= H-1, x0 <= W-1; the min keeps rejected ones inside the plane too.
    base[j] = (std::min(y0, last_y) + 1) * pw + (std::min(x0, last_x) + 1);
    w00[j] = hy * hx * m;
    w01[j] = hy * lx * m;
    w10[j] = ly * hx * m;
    w11[j] = ly * lx * m;
  }
  for (int64_t j = cols; j < padded_cols; ++j) {
    base[j] = 0;
    w00[j] = w01[j] = w10[j] = w11[j] = 0.0f;
  }
}

// Im2col rows (c*K + k) of the group's channels c for tap k, columns [0, padded_cols) of the chunk:
// row[j] = sum_q w[q][j] * grouped[base[j] + neighbour q, c], in torchvision's summation order.
void sample_group_tap(const GroupedInput& gi, const float* grouped_g, const BilinearTaps& t, int64_t padded_cols,
                      int64_t first_channel, int64_t group_channels, int64_t taps, int64_t k, int64_t depth,
                      float* chunk_panels) {
  const int64_t right = gi.channels, down = gi.row;
  auto row_of = [&](int64_t c) { return (first_channel + c) * taps + k; };  // c within the group
#if VRESTORE_DEFORM_AVX2
  static_assert(kPanelWidth % 8 == 0, "8-column blocks must not straddle panels");
  for (int64_t j0 = 0; j0 < padded_cols; j0 += 8) {
    float* block = chunk_panels + (j0 / kPanelWidth) * depth * kPanelWidth + j0 % kPanelWidth;
    for (int64_t c0 = 0; c0 < group_channels; c0 += kChannelBlock) {
      __m256 v[8];  // v[i] = channels c0..c0+7 at column j0+i
      for (int64_t i = 0; i < 8; ++i) {
        const int64_t j = j0 + i;
        const float* p = grouped_g + static_cast<int64_t>(t.base[j]) * gi.channels + c0;
        __m256 acc = _mm256_mul_ps(_mm256_set1_ps(t.w[0][j]), _mm256_loadu_ps(p));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(t.w[1][j]), _mm256_loadu_ps(p + right), acc);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(t.w[2][j]), _mm256_loadu_ps(p + down), acc);
        v[i] = _mm256_fmadd_ps(_mm256_set1_ps(t.w[3][j]), _mm256_loadu_ps(p + down + right), acc);
      }
      transpose8x8(v);  // v[c] = channel c0+c at columns j0..j0+7
      for (int64_t c = 0; c < std::min(kChannelBlock, group_channels - c0); ++c)
        _mm256_storeu_ps(block + row_of(c0 + c) * kPanelWidth, v[c]);
    }
  }
#else
  for (int64_t j = 0; j < padded_cols; ++j) {
    float* column = chunk_panels + (j / kPanelWidth) * depth * kPanelWidth + j % kPanelWidth;
    const float* p = grouped_g + static_cast<int64_t>(t.base[j]) * gi.channels;
    for (int64_t c = 0; c < group_channels; ++c)
      column[row_of(c) * kPanelWidth] = t.w[0][j] * p[c] + t.w[1][j] * p[c + right] + t.w[2][j] * p[c + down] +
                                        t.w[3][j] * p[c + down + right];
  }
#endif
}

// Columns per pass of the deformable im2col: the unit of the offset/mask prefetch below.
constexpr int64_t kChunkColumns = 2 * kPanelWidth;

// Columns [p0, p0+cols) of the modulated deformable im2col matrix of image n, in panel layout;
// row c*K + k (K = kh*kw taps) like the weight's (Cout, Cin, kh, kw) layout.
void deformable_im2col_tile(const DeformShape& s, const GroupedInput& gi, int64_t n, const float* offset_n,
                            const float* mask_n, int64_t p0, int64_t cols, float* panels) {
  thread_local ChunkTables tables;
  const int64_t taps = s.taps(), pixels = s.out_h * s.out_w, depth = s.depth();
  const int64_t group_channels = s.in_channels / s.groups;
  tables.reserve(kChunkColumns);
  static_assert(kChunkColumns % kPanelWidth == 0);
  for (int64_t c0 = 0; c0 < cols; c0 += kChunkColumns) {
    const int64_t chunk = std::min(kChunkColumns, cols - c0);
    const int64_t padded_chunk = (chunk + kPanelWidth - 1) / kPanelWidth * kPanelWidth;
    float* chunk_panels = panels + (c0 / kPanelWidth) * depth * kPanelWidth;
    for (int64_t j = 0; j < chunk; ++j) {
      tables.out_y[j] = static_cast<int32_t>((p0 + c0 + j) / s.out_w);
      tables.out_x[j] = static_cast<int32_t>((p0 + c0 + j) % s.out_w);
    }
    for (int64_t g = 0; g < s.groups; ++g) {
      const float* grouped_g = gi.data + (n * s.groups + g) * gi.group_size;
      for (int64_t k = 0; k < taps; ++k) {
        const float* dy = offset_n + (2 * (g * taps + k)) * pixels + p0 + c0;  // channel 2(gK+k) = dy
        const float* dx = dy + pixels;                                          // 2(gK+k)+1 = dx
        const float* m = mask_n + (g * taps + k) * pixels + p0 + c0;
        // The offset and mask planes are read as 3*G*K short runs per chunk, too many streams for
        // the hardware prefetcher: fetch the next chunk's runs into L2 while this one is processed.
        for (const float* plane : {dy, dx, m})
          for (int64_t j = kChunkColumns; j < 2 * kChunkColumns && c0 + j < cols; j += 16)
            __builtin_prefetch(plane + j, 0, 2);
        compute_bilinear_taps(s, s.width + 2, dy, dx, m, tables.out_y.data(), tables.out_x.data(), k / s.kernel_w,
                              k % s.kernel_w, chunk, padded_chunk, tables.taps);
        sample_group_tap(gi, grouped_g, tables.taps, padded_chunk, g * group_channels, group_channels, taps, k, depth,
                         chunk_panels);
      }
    }
  }
}

}  // namespace

void deform_conv2d(const ops::DeformConv2dArgs& a) {
  DeformShape s;
  static_cast<cpu::ConvGeometry&>(s) = a.g;
  s.groups = a.groups;
  const Tensor &x = a.x, &offset = a.offset, &mask = a.mask, &weight = a.weight;
  const Tensor* bias = a.bias.defined() ? &a.bias : nullptr;
  Tensor out = a.out;  // (N, Cout, Ho, Wo)
  const std::shared_ptr<const cpu::PackedWeights> packed = cpu::cached_weights<cpu::PackedWeights>(
      weight.data(), {s.out_channels, s.in_channels, s.kernel_h, s.kernel_w}, cpu::WeightPrep::Packed,
      [&] { return cpu::pack_weights(weight.data(), s.out_channels, s.depth()); });
  const cpu::PackedWeights& w = *packed;
  const int64_t pixels = s.out_h * s.out_w;
  const int64_t offset_size = 2 * s.groups * s.taps() * pixels, mask_size = s.groups * s.taps() * pixels;
  const GroupedInput gi = regroup_input(x, s);

  cpu::lowered_convolution(s.batch, pixels, w, bias ? bias->data() : nullptr, a.activation, out.data(),
                           [&](int64_t n, int64_t p0, int64_t cols, float* storage) {
                             deformable_im2col_tile(s, gi, n, offset.data() + n * offset_size,
                                                    mask.data() + n * mask_size, p0, cols, storage);
                             return cpu::ColumnPanels{storage, kPanelWidth, s.depth() * kPanelWidth, cols};
                           });
}

}  // namespace vrestore::cpu::VRESTORE_ISA_NS
