// conv2d (CPU). Every path ends in the shared panel GEMM (gemm.h) with bias and activation fused:
//  * 3x3, stride 1, dilation 1, enough channels and pixels: Winograd F(4x4, 3x3)
//    (conv_winograd.h), a quarter of the multiply-adds;
//  * other stride-1 convolutions: the GEMM reads a zero-bordered copy of each output tile's input
//    region in place ("direct", below), no im2col;
//  * 1x1 stride-1 without padding: the input image already is the (Cin, H*W) column matrix,
//    copied into panels per tile (fill_lowered_tile);
//  * strided convolutions: im2col of one column tile at a time into GEMM panels (conv_impl.h).
// At float32 matmul precision High on a CPU with AMX-BF16, all of them but those with a few output
// channels multiply on the tile unit instead, as bf16x3 products (amx_bf16.h); the direct ones
// then read the tile's input converted once to bf16, position by position (see below).
// Packed (and Winograd-transformed) weights are memoised across calls (weight_cache.h).
// Compiled once per ISA level into vrestore::cpu::VRESTORE_ISA_NS (isa.h); ops::conv2d (dispatch.cpp)
// calls the level in use.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "core/check.h"
#include "core/matmul_precision.h"
#include "core/ops.h"
#include "cpu/amx_bf16.h"
#include "cpu/conv_winograd.h"
#include "cpu/weight_cache.h"
#include "cpu/isa.h"  // after every header above, before the kernel headers below
#include "cpu/conv_impl.h"
#include "cpu/amx_split.h"
#include "cpu/isa_kernels.h"

namespace vrestore::cpu::VRESTORE_ISA_NS {
namespace {

using ops::Activation;

using ConvShape = cpu::ConvGeometry;

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

// Lanes 0, 2, 4, ... of the concatenation a:b.
template <size_t... I>
inline Vec even_lanes(Vec a, Vec b, std::index_sequence<I...>) {
  return __builtin_shufflevector(a, b, static_cast<int>(2 * I)...);
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
  } else if (step == 2) {
    // Stride-2 convolutions (EDVR's pyramid): the even lanes of two vectors, while both lie inside
    // the row.
    int64_t t = first;
    for (; t + kVecLanes <= last && x0 + 2 * (t + kVecLanes) <= width; t += kVecLanes) {
      const float* src = row + x0 + 2 * t;
      *reinterpret_cast<Vec*>(dst + t) = even_lanes(*reinterpret_cast<const Vec*>(src),
                                                    *reinterpret_cast<const Vec*>(src + kVecLanes),
                                                    std::make_index_sequence<kVecLanes>{});
    }
    for (; t < last; ++t) dst[t] = row[x0 + 2 * t];
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

cpu::WeightShape weight_shape(const ConvShape& s) { return {s.out_channels, s.in_channels, s.kernel_h, s.kernel_w}; }

// A 1x1 stride-1 convolution without padding: its input already is the im2col matrix.
bool is_pointwise(const ConvShape& s) {
  return s.kernel_h == 1 && s.kernel_w == 1 && s.stride == 1 && s.pad_h == 0 && s.pad_w == 0;
}

// Columns [p0, p0 + cols) of image n's im2col matrix in panel layout (conv_impl.h). A 1x1 conv
// copies x_n's columns into panels (pack_row_major_tile says why). Reading them in place, rows H*W
// apart, was tried where the GEMM reads each panel only once: on Zen 3 the copy was still 1.2x
// faster on the 1x1 320->64 and 576->64 convs at 180x320 (every row block re-reads the panel from
// L1, where the far-apart rows evict each other).
void fill_lowered_tile(const float* x, const ConvShape& s, int64_t n, int64_t p0, int64_t cols, float* storage) {
  const float* x_n = x + n * s.in_channels * s.height * s.width;  // (Cin, H, W)
  if (is_pointwise(s))
    cpu::pack_row_major_tile(x_n, s.out_h * s.out_w, s.in_channels, p0, cols, storage);
  else
    im2col_tile(x_n, s, p0, cols, storage);
}

// ---- stride-1 convolutions without im2col -------------------------------------------------------
//
// The output is cut into tiles of up to tile_h x tile_w pixels; for each tile the input region it
// reads is copied into a zero-bordered, per-thread buffer of Cin planes, each hp x wp =
// (tile_h + d*(kh-1)) x (tile_w + d*(kw-1)). Output pixel (y, x) of the tile is identified with
// buffer position q = y*wp + x; im2col row k = (c, i, j) at column q is then
// buffer[c*plane + (y + i*d)*wp + x + j*d] = buffer[q + offset[k]], so a panel of consecutive
// positions reads every row k as consecutive floats of the buffer: the GEMM streams the tile in place
// (gemm.h, Indirect kernels). Positions with x >= tile width (d*(kw-1) per buffer row) are computed
// and discarded. Tiles bound the buffer (it stays in L2) and are the unit of parallelism.

struct TileGeometry {
  int64_t tile_h, tile_w;      // output pixels per tile (edge tiles may have fewer)
  int64_t hp, wp, plane;       // buffer plane: (tile_h + halo) x (tile_w + halo)
  int64_t buffer;              // floats per buffer, including the slack the last panel reads
  int64_t tiles_y, tiles_x;
};

// position_floats: floats a tile holds per buffer position (the input channels, plus whatever a
// path derives from the buffer per tile).
TileGeometry tile_geometry(const ConvShape& s, int64_t width, int64_t position_floats, bool split_for_threads) {
  TileGeometry t;
  const int64_t halo_h = s.dilation * (s.kernel_h - 1), halo_w = s.dilation * (s.kernel_w - 1);
  // Columns: whole rows up to four panels wide, else equal parts of at most that.
  const int64_t max_w = std::max<int64_t>(4 * width - halo_w, width);
  t.tiles_x = (s.out_w + max_w - 1) / max_w;
  t.tile_w = (s.out_w + t.tiles_x - 1) / t.tiles_x;
  // Rows: as many as keep the buffer within ~256K floats (1 MB, so it stays in L2)...
  constexpr int64_t kBufferFloats = 256 * 1024;
  const int64_t row_floats = position_floats * (t.tile_w + halo_w);
  t.tile_h = std::clamp<int64_t>(kBufferFloats / std::max<int64_t>(row_floats, 1) - halo_h, 1, s.out_h);
  // ... but a few tiles per thread, so that small images still use every core, as long as a tile
  // keeps at least two panels of positions. Equal heights, so that no tile is a sliver.
  const int64_t threads = omp_get_max_threads();
  if (split_for_threads && threads > 1) {
    const int64_t wanted_y = (3 * threads + s.batch * t.tiles_x - 1) / (s.batch * t.tiles_x);
    const int64_t min_rows = (2 * width + t.tile_w + halo_w - 1) / (t.tile_w + halo_w);
    const int64_t tiles_y = std::max((s.out_h + t.tile_h - 1) / t.tile_h,  // the buffer's bound
                                     std::min(wanted_y, std::max<int64_t>(1, s.out_h / min_rows)));
    t.tile_h = std::min(t.tile_h, (s.out_h + tiles_y - 1) / tiles_y);
  }
  t.hp = t.tile_h + halo_h;
  t.wp = t.tile_w + halo_w;
  t.plane = t.hp * t.wp;
  // The last panel starts before position tile_h*wp and reads `width` floats plus the kernel's
  // reach past it; in the last plane that may run past the end of the buffer.
  const int64_t positions = (t.tile_h - 1) * t.wp + t.tile_w;
  const int64_t panels = (positions + width - 1) / width;
  const int64_t reach = halo_h * t.wp + halo_w;
  t.buffer = s.in_channels * t.plane + std::max<int64_t>(0, panels * width + reach - t.plane);
  t.tiles_y = (s.out_h + t.tile_h - 1) / t.tile_h;
  return t;
}

// Copies the input region of the tile at output (oy, ox) into buf (zero outside the image).
void fill_tile(const float* x_n, const ConvShape& s, const TileGeometry& t, int64_t oy, int64_t ox, float* buf) {
  const int64_t y0 = oy - s.pad_h, x0 = ox - s.pad_w;  // input coordinates of buffer (0, 0)
  const int64_t x_lo = std::clamp<int64_t>(-x0, 0, t.wp), x_hi = std::clamp<int64_t>(s.width - x0, x_lo, t.wp);
  for (int64_t c = 0; c < s.in_channels; ++c) {
    const float* src = x_n + c * s.height * s.width;
    float* dst = buf + c * t.plane;
    for (int64_t r = 0; r < t.hp; ++r, dst += t.wp) {
      const int64_t y = y0 + r;
      if (y < 0 || y >= s.height || x_hi == x_lo) {
        std::fill(dst, dst + t.wp, 0.0f);
        continue;
      }
      std::fill(dst, dst + x_lo, 0.0f);
      std::copy(src + y * s.width + x0 + x_lo, src + y * s.width + x0 + x_hi, dst + x_lo);
      std::fill(dst + x_hi, dst + t.wp, 0.0f);
    }
  }
  std::fill(buf + s.in_channels * t.plane, buf + t.buffer, 0.0f);
}

// A run of consecutive valid positions of one panel: `length` output pixels from `pixel` on, at
// `column` of the panel.
struct PanelRun {
  int64_t column, pixel, length;
};

// Whether a direct convolution is worth threads: multiply-adds, including the discarded positions
// (small convolutions run on the calling thread).
bool direct_parallel(const ConvShape& s, int64_t out_rows) {
  return s.batch * s.out_h * (s.out_w + s.dilation * (s.kernel_w - 1)) * s.depth() * out_rows > (1 << 18);
}

// Fills each tile's buffer (geometry t, from tile_geometry) and calls tile_ready(buf) once (what it
// returns lives while the tile's panels run), then panel(buf, offsets, p0, runs, nruns, n) for
// every panel of `width` positions from p0 on, n the image.
// offsets[k] is im2col row k's offset in the buffer (see above).
template <class TileReady, class Panel>
void for_each_direct_panel(const float* x, const ConvShape& s, const TileGeometry& t, bool parallel, int64_t width,
                           TileReady&& tile_ready, Panel&& panel) {
  std::vector<int64_t> offsets(static_cast<size_t>(s.depth()));
  for (int64_t c = 0, k = 0; c < s.in_channels; ++c)
    for (int64_t i = 0; i < s.kernel_h; ++i)
      for (int64_t j = 0; j < s.kernel_w; ++j, ++k)
        offsets[static_cast<size_t>(k)] = c * t.plane + i * s.dilation * t.wp + j * s.dilation;

  const int64_t image = s.in_channels * s.height * s.width;
  const int64_t tiles = s.batch * t.tiles_y * t.tiles_x;
#pragma omp parallel for schedule(dynamic, 1) if (parallel && tiles > 1)
  for (int64_t tile = 0; tile < tiles; ++tile) {
    const int64_t n = tile / (t.tiles_y * t.tiles_x);
    const int64_t oy = (tile / t.tiles_x) % t.tiles_y * t.tile_h, ox = tile % t.tiles_x * t.tile_w;
    const int64_t rows_here = std::min(t.tile_h, s.out_h - oy), cols_here = std::min(t.tile_w, s.out_w - ox);
    thread_local cpu::AlignedFloats storage;
    storage.resize(static_cast<size_t>(t.buffer));
    float* buf = storage.data();
    fill_tile(x + n * image, s, t, oy, ox, buf);
    [[maybe_unused]] const auto tile_state = tile_ready(static_cast<const float*>(buf));

    PanelRun runs[std::max(cpu::kPanelVecs, cpu::kWideVecs) * cpu::kVecLanes];
    const int64_t positions = (rows_here - 1) * t.wp + cols_here;
    for (int64_t p0 = 0; p0 < positions; p0 += width) {
      const int64_t p1 = std::min(positions, p0 + width);
      // The panel's valid pixels as runs within output rows.
      int nruns = 0;
      for (int64_t p = p0; p < p1;) {
        const int64_t y = p / t.wp, xo = p % t.wp;
        if (xo >= cols_here) {
          p += t.wp - xo;
          continue;
        }
        const int64_t len = std::min(cols_here - xo, p1 - p);
        runs[nruns++] = {p - p0, (oy + y) * s.out_w + ox + xo, len};
        p += len;
      }
      panel(static_cast<const float*>(buf), static_cast<const int64_t*>(offsets.data()), p0,
            static_cast<const PanelRun*>(runs), nruns, n);
    }
  }
}

// Rows [0, rows) of a panel result (`width` floats apart) to their runs in the output image out_n.
void scatter_panel_rows(const float* temp, int64_t width, int rows, const PanelRun* runs, int nruns, int64_t pixels,
                        float* out_n) {
  for (int r = 0; r < rows; ++r)
    for (int i = 0; i < nruns; ++i)
      std::copy(temp + r * width + runs[i].column, temp + r * width + runs[i].column + runs[i].length,
                out_n + r * pixels + runs[i].pixel);
}

void direct_conv2d(const float* x, const ConvShape& s, const cpu::PackedWeights& w, const float* bias,
                   Activation act, float* out) {
  // A convolution with few output channels (conv_last, 64 -> 3) uses wider panels.
  const bool narrow = w.rows <= cpu::kNarrowRows;
  const int64_t width = (narrow ? cpu::kWideVecs : cpu::kPanelVecs) * cpu::kVecLanes;  // positions per panel
  const cpu::PanelKernel* kernels = narrow ? cpu::kWideIndirectPanelKernels.data() : cpu::kIndirectPanelKernels.data();
  const int64_t pixels = s.out_h * s.out_w;
  const bool parallel = direct_parallel(s, w.rows);
  const TileGeometry t = tile_geometry(s, width, s.in_channels, parallel);
  const auto no_preparation = [](const float*) { return 0; };
  for_each_direct_panel(x, s, t, parallel, width, no_preparation, [&](const float* buf, const int64_t* offsets,
                                                                      int64_t p0, const PanelRun* runs, int nruns,
                                                                      int64_t n) {
    float* out_n = out + n * w.rows * pixels;
    constexpr int64_t kMaxWidth = std::max(cpu::kPanelVecs, cpu::kWideVecs) * cpu::kVecLanes;
    alignas(64) float temp[cpu::kRowBlock * kMaxWidth];
    const bool in_place = nruns == 1 && runs[0].column == 0;  // one run from the panel's start
    for (int64_t r0 = 0; r0 < w.rows; r0 += cpu::kRowBlock) {
      const int rows = static_cast<int>(std::min<int64_t>(cpu::kRowBlock, w.rows - r0));
      const cpu::PanelKernel kernel = kernels[rows - 1];
      const float* b = bias ? bias + r0 : nullptr;
      if (in_place) {
        kernel(w.block(r0 / cpu::kRowBlock), buf + p0, offsets, 0, w.depth, b, act,
               out_n + r0 * pixels + runs[0].pixel, pixels, runs[0].length);
        continue;
      }
      kernel(w.block(r0 / cpu::kRowBlock), buf + p0, offsets, 0, w.depth, b, act, temp, width, width);
      scatter_panel_rows(temp, width, rows, runs, nruns, pixels, out_n + r0 * pixels);
    }
  });
}

#if VRESTORE_ISA_AVX512
// The weights (Cout, Cin * kh * kw) as the A operand of the tile unit's bf16x3 products.
amx::SplitRows split_weights(const float* weight, int64_t rows, int64_t depth) {
  amx::SplitRows a = amx::allocate_split<amx::SplitLayout::Rows>(rows, depth);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < depth; ++k) amx::set(a, r, k, weight[r * depth + k]);
  return a;
}

// The B operand of one panel of kPanelCols columns for the tile unit, im2col row k read from
// row(k) (kPanelCols floats; rows from `depth` on are zero), in this thread's storage: hi, then lo
// at hi + amx::split_panel_elements(padded_depth).
template <class Row>
[[gnu::target("avx512bf16")]] const uint16_t* split_panel(int64_t depth, int64_t padded_depth, Row&& row) {
  thread_local cpu::AlignedFloats storage;  // hi, then lo (bf16 bits, two per float)
  const size_t elements = amx::split_panel_elements(padded_depth);
  storage.resize(elements);
  uint16_t* hi = reinterpret_cast<uint16_t*>(storage.data());
  uint16_t* lo = hi + elements;
  for (int64_t k = 0; k < padded_depth; k += 2) {
    const float* even = k < depth ? row(k) : nullptr;
    const float* odd = k + 1 < depth ? row(k + 1) : nullptr;
    for (int tile = 0; tile < amx::kPanelCols / amx::kTileCols; ++tile) {
      const size_t at = amx::split_panel_offset(k, tile);
      const int64_t column = tile * amx::kTileCols;
      store_split_pair(even ? *reinterpret_cast<const Vec*>(even + column) : Vec{},
                       odd ? *reinterpret_cast<const Vec*>(odd + column) : Vec{}, hi + at, lo + at);
    }
  }
  return hi;
}

// a · (the split panel at hi) + bias, activated: emit(r0, rows, block) for each 16 output channels
// from r0 (block: rows x kPanelCols floats).
template <class Emit>
void multiply_split_panel(const amx::SplitRows& a, const uint16_t* hi, const float* bias, Activation act, Emit&& emit) {
  constexpr int64_t width = amx::kPanelCols;
  const uint16_t* lo = hi + amx::split_panel_elements(a.padded_depth);
  amx::TileScope tiles;
  alignas(64) float block[amx::kTileRows * width];
  for (int64_t r0 = 0; r0 < a.rows; r0 += amx::kTileRows) {
    amx::gemm_panel(a, r0, hi, lo, block, width);
    const int rows = static_cast<int>(std::min<int64_t>(amx::kTileRows, a.rows - r0));
    for (int r = 0; r < rows; ++r) {
      const float b = bias ? bias[r0 + r] : 0.0f;
      for (int64_t j = 0; j < width; j += cpu::kVecLanes) {
        Vec* v = reinterpret_cast<Vec*>(block + r * width + j);
        *v = activate(*v + b, act);
      }
    }
    emit(r0, rows, static_cast<const float*>(block));
  }
}

// ---- stride-1 convolutions on the tile unit, the input read in place ----------------------------
//
// The same tiles and buffers as direct_conv2d. Each tile's buffer is converted once into bf16 hi
// and lo arrays laid out position by position: row q holds every "virtual channel" v at buffer
// position q, where v = (e, c) is input channel c moved by tap e of `expanded`:
// value(v, q) = buffer[c * plane + q + shift(e)]. The kernel's other taps (`remaining`) become
// offsets: im2col row (tap r, virtual channel v) at position q is value(v, q + offset(r)). The 16
// positions of a 32-deep step are then 16 rows of 64 bytes, 2 * padded_virtual_channels bytes apart
// and cache-line aligned at any offset, which the tile unit loads in place as its A operand
// (amx::gemm_positions: B is the weights; C comes out position-major and is transposed). A tile
// load of rows that straddle cache lines, as reading the channel planes at an odd tap offset would,
// takes 2.6 times as long. Each input value is split into hi and lo once per tile, not once per tap
// as split_panel does. Moving taps into virtual channels fills the steps when there are few input
// channels: SpyNet's first 7x7 conv (8 channels) takes its kernel columns in (56 virtual channels,
// 64 with padding, per kernel row), a 3-channel 3x3 conv all nine taps; 32 or more channels none.

struct Tap {
  int64_t i, j;
};

struct TapPlan {
  std::vector<Tap> expanded, remaining;
  int64_t virtual_channels = 0;         // expanded.size() * Cin
  int64_t padded_virtual_channels = 0;  // rounded up to a step (amx::kTileDepth)
  int64_t depth() const { return static_cast<int64_t>(remaining.size()) * padded_virtual_channels; }
};

// The fewest taps moved into virtual channels (none, the kernel's columns, or all of them) whose
// steps are within 1/8 of the fewest possible.
TapPlan plan_taps(const ConvShape& s) {
  TapPlan best;
  int64_t best_steps = 0;
  for (int expansion = 0; expansion < 3; ++expansion) {
    TapPlan plan;
    for (int64_t i = 0; i < s.kernel_h; ++i)
      for (int64_t j = 0; j < s.kernel_w; ++j) {
        const bool origin = i == 0 && j == 0;
        if (origin || expansion == 2 || (expansion == 1 && i == 0)) plan.expanded.push_back({i, j});
        if (origin || expansion == 0 || (expansion == 1 && j == 0)) plan.remaining.push_back({i, j});
      }
    plan.virtual_channels = static_cast<int64_t>(plan.expanded.size()) * s.in_channels;
    plan.padded_virtual_channels = (plan.virtual_channels + amx::kTileDepth - 1) / amx::kTileDepth * amx::kTileDepth;
    const int64_t steps = plan.depth() / amx::kTileDepth;
    if (expansion == 0 || steps * 8 < best_steps * 7) {
      best = std::move(plan);
      best_steps = steps;
    }
  }
  return best;
}

// The weights (Cout, Cin, kh, kw) as the B operand in the plan's depth order: remaining tap r, then
// virtual channel v = e * Cin + c (zero for the padding).
amx::SplitColumns split_tap_weights(const float* weight, const ConvShape& s, const TapPlan& plan) {
  amx::SplitColumns b = amx::allocate_split<amx::SplitLayout::Columns>(s.out_channels, plan.depth());
  for (int64_t m = 0; m < s.out_channels; ++m)
    for (size_t r = 0; r < plan.remaining.size(); ++r)
      for (int64_t v = 0; v < plan.virtual_channels; ++v) {
        const Tap e = plan.expanded[static_cast<size_t>(v / s.in_channels)];
        const int64_t c = v % s.in_channels, i = plan.remaining[r].i + e.i, j = plan.remaining[r].j + e.j;
        amx::set(b, m, static_cast<int64_t>(r) * plan.padded_virtual_channels + v,
                 weight[((m * s.in_channels + c) * s.kernel_h + i) * s.kernel_w + j]);
      }
  return b;
}

// Where the plan's values lie for one tile geometry.
struct PositionRows {
  int64_t rows = 0;                    // positions converted: every one a panel's taps read
  std::vector<int64_t> shifts;         // per expanded tap, in the buffer
  std::vector<int64_t> step_offsets;   // per depth step, in bf16 elements: tap offset and channels
  int64_t buffer = 0;                  // floats of buffer the conversion reads
};

PositionRows place_position_rows(const ConvShape& s, const TileGeometry& t, const TapPlan& plan) {
  PositionRows l;
  const auto offset = [&](Tap tap) { return tap.i * s.dilation * t.wp + tap.j * s.dilation; };
  int64_t reach = 0, max_shift = 0;
  for (const Tap& e : plan.expanded) {
    l.shifts.push_back(offset(e));
    max_shift = std::max(max_shift, offset(e));
  }
  for (const Tap& r : plan.remaining) {
    reach = std::max(reach, offset(r));
    for (int64_t v = 0; v < plan.padded_virtual_channels; v += amx::kTileDepth)
      l.step_offsets.push_back(offset(r) * plan.padded_virtual_channels + v);
  }
  const int64_t positions = (t.tile_h - 1) * t.wp + t.tile_w;
  const int64_t panel_end = (positions + amx::kPanelCols - 1) / amx::kPanelCols * amx::kPanelCols;
  l.rows = (panel_end + reach + amx::kTileRows - 1) / amx::kTileRows * amx::kTileRows;
  l.buffer = (s.in_channels - 1) * t.plane + max_shift + l.rows;
  return l;
}

// Converts a tile's buffer into the hi and lo position rows (l.rows rows of padded_virtual_channels
// bf16 each): per 16 positions and 32 virtual channels, the channels' pairs are split (one vector of
// 16 positions per pair), then transposed into one 64-byte row per position.
[[gnu::target("avx512bf16")]] void fill_position_rows(const float* buf, const ConvShape& s, const TileGeometry& t,
                                                      const TapPlan& plan, const PositionRows& l, uint16_t* hi,
                                                      uint16_t* lo) {
  const int64_t channels = plan.padded_virtual_channels;
  thread_local std::vector<const float*> sources;  // per virtual channel; null for the padding
  sources.assign(static_cast<size_t>(channels), nullptr);
  for (int64_t v = 0; v < plan.virtual_channels; ++v)
    sources[static_cast<size_t>(v)] =
        buf + v % s.in_channels * t.plane + l.shifts[static_cast<size_t>(v / s.in_channels)];
  for (int64_t q = 0; q < l.rows; q += amx::kTileRows)
    for (int64_t v0 = 0; v0 < channels; v0 += amx::kTileDepth) {
      Vec h[amx::kTileRows], o[amx::kTileRows];
      for (int p = 0; p < amx::kTileRows; ++p) {
        const float* even = sources[static_cast<size_t>(v0 + 2 * p)];
        const float* odd = sources[static_cast<size_t>(v0 + 2 * p + 1)];
        const SplitPairs pairs = split_pairs(even ? *reinterpret_cast<const Vec*>(even + q) : Vec{},
                                             odd ? *reinterpret_cast<const Vec*>(odd + q) : Vec{});
        h[p] = reinterpret_cast<Vec>(pairs.hi);
        o[p] = reinterpret_cast<Vec>(pairs.lo);
      }
      transpose16(h);
      transpose16(o);
      for (int m = 0; m < amx::kTileRows; ++m) {
        *reinterpret_cast<Vec*>(hi + (q + m) * channels + v0) = h[m];
        *reinterpret_cast<Vec*>(lo + (q + m) * channels + v0) = o[m];
      }
    }
}

// Writes rows[c] (16 consecutive positions from panel column p, channel c) to channel c of the output
// (out + c * pixels) at the pixels the panel's runs give them; positions outside every run are dropped.
void store_positions(const Vec* rows, int out_rows, int64_t p, const PanelRun* runs, int nruns, float* out,
                     int64_t pixels) {
  constexpr int64_t kLanes = amx::kTileRows;
  for (int i = 0; i < nruns; ++i) {
    const PanelRun& run = runs[i];
    const int64_t first = std::max(p, run.column), last = std::min(p + kLanes, run.column + run.length);
    if (first >= last) continue;
    float* at = out + run.pixel + (first - run.column);
    if (last - first == kLanes) {  // the usual case: all 16 in one run
      for (int c = 0; c < out_rows; ++c) *reinterpret_cast<Vec*>(at + c * pixels) = rows[c];
      continue;
    }
    for (int c = 0; c < out_rows; ++c)
      for (int64_t q = first; q < last; ++q) at[c * pixels + (q - first)] = rows[c][q - p];
  }
}

void direct_conv2d_positions(const float* x, const ConvShape& s, const float* weight, const float* bias,
                             Activation act, float* out) {
  static_assert(amx::kPanelCols == cpu::kPanelWidth && amx::kTileRows == cpu::kVecLanes);
  const TapPlan plan = plan_taps(s);
  const std::shared_ptr<const amx::SplitColumns> split = cpu::cached_weights<amx::SplitColumns>(
      weight, weight_shape(s), cpu::WeightPrep::TapsBf16x3,
      [&] { return split_tap_weights(weight, s, plan); });
  const amx::SplitColumns& b = *split;
  const bool parallel = direct_parallel(s, b.padded_rows);
  // Per position a tile holds the buffer's channels and the position rows (hi and lo: two bf16
  // per virtual channel, one float's worth).
  TileGeometry t = tile_geometry(s, amx::kPanelCols, s.in_channels + plan.padded_virtual_channels, parallel);
  const PositionRows l = place_position_rows(s, t, plan);
  t.buffer = std::max(t.buffer, l.buffer);
  const int64_t pixels = s.out_h * s.out_w, channels = plan.padded_virtual_channels;
  const int64_t row_elements = l.rows * channels;  // bf16 per array
  thread_local cpu::AlignedFloats rows;            // hi, then lo (two bf16 per float)
  const auto convert = [&](const float* buf) {
    rows.resize(static_cast<size_t>(row_elements));
    uint16_t* hi = reinterpret_cast<uint16_t*>(rows.data());
    fill_position_rows(buf, s, t, plan, l, hi, hi + row_elements);
    return amx::TileScope();  // configured once for the tile's panels
  };
  for_each_direct_panel(
      x, s, t, parallel, amx::kPanelCols, convert,
      [&](const float*, const int64_t*, int64_t p0, const PanelRun* runs, int nruns, int64_t n) {
        const uint16_t* hi = reinterpret_cast<const uint16_t*>(rows.data()) + p0 * channels;
        alignas(64) float by_position[amx::kPanelCols * amx::kTileCols];
        for (int64_t r0 = 0; r0 < b.rows; r0 += amx::kTileCols) {
          amx::gemm_positions(b, r0, hi, hi + row_elements, l.step_offsets.data(), channels, by_position);
          const int out_rows = static_cast<int>(std::min<int64_t>(amx::kTileCols, b.rows - r0));
          float* out_r = out + (n * b.rows + r0) * pixels;
          for (int64_t p = 0; p < amx::kPanelCols; p += amx::kTileRows) {
            Vec v[amx::kTileRows];  // positions p.., then (transposed) output channels r0..
            for (int m = 0; m < amx::kTileRows; ++m)
              v[m] = *reinterpret_cast<const Vec*>(by_position + (p + m) * amx::kTileCols);
            transpose16(v);
            for (int c = 0; c < out_rows; ++c) v[c] = activate(v[c] + (bias ? bias[r0 + c] : 0.0f), act);
            store_positions(v, out_rows, p, runs, nruns, out_r, pixels);
          }
        }
      });
}

// The lowered convolutions (strided, 1x1) the same way: per column tile the im2col panels as for
// the fp32 GEMM, each panel split and multiplied on the tile unit.
void lowered_conv2d_split(const float* x, const ConvShape& s, const amx::SplitRows& a, const float* bias,
                          Activation act, float* out) {
  const int64_t pixels = s.out_h * s.out_w, depth = s.depth();
  for_each_column_tile(s.batch, pixels, depth, [&](int64_t n, int64_t p0, int64_t cols, float* storage) {
    fill_lowered_tile(x, s, n, p0, cols, storage);
    for (int64_t q0 = 0; q0 < cols; q0 += cpu::kPanelWidth) {
      const float* panel = storage + (q0 / cpu::kPanelWidth) * depth * cpu::kPanelWidth;
      const uint16_t* hi = split_panel(depth, a.padded_depth, [&](int64_t k) { return panel + k * cpu::kPanelWidth; });
      const int64_t valid = std::min<int64_t>(cpu::kPanelWidth, cols - q0);
      float* out_tile = out + n * a.rows * pixels + p0 + q0;
      multiply_split_panel(a, hi, bias, act, [&](int64_t r0, int rows, const float* block) {
        for (int r = 0; r < rows; ++r)
          std::copy(block + r * amx::kPanelCols, block + r * amx::kPanelCols + valid, out_tile + (r0 + r) * pixels);
      });
    }
  });
}
#endif

}  // namespace

bool conv2d(const ops::Conv2dArgs& a) {
  const ConvShape& s = a.g;
  const Tensor& x = a.x;
  const Tensor& weight = a.weight;
  const Tensor* bias = a.bias.defined() ? &a.bias : nullptr;
  const Activation activation = a.activation;
  Tensor out = a.out;  // (N, Cout, Ho, Wo)

  const int64_t pixels = s.out_h * s.out_w;
  const bool pointwise = is_pointwise(s);
  const float* x_data = x.data();
  if (s.stride == 1 && s.dilation == 1 && s.kernel_h == 3 && s.kernel_w == 3) {
    const cpu::WinogradShape ws{s.batch, s.in_channels, s.height, s.width, s.out_channels,
                                s.pad_h, s.pad_w, s.out_h, s.out_w};
    if (VRESTORE_ISA_NS::winograd_worthwhile(ws)) {
      VRESTORE_ISA_NS::winograd_conv3x3(x_data, weight.data(), bias ? bias->data() : nullptr, activation,
                                        a.residual.defined() ? a.residual.data() : nullptr, ws, out.data());
      return a.residual.defined();
    }
  }
#if VRESTORE_ISA_AVX512
  // On the tile unit where the precision allows it; not for a few output channels (conv_last),
  // which would fill a 16-row tile with padding.
  if (s.out_channels > cpu::kNarrowRows && effective_matmul_precision() == MatmulPrecision::High &&
      amx::available()) {
    if (s.stride == 1 && !pointwise) {
      direct_conv2d_positions(x_data, s, weight.data(), bias ? bias->data() : nullptr, activation, out.data());
      return false;
    }
    const std::shared_ptr<const amx::SplitRows> split = cpu::cached_weights<amx::SplitRows>(
        weight.data(), weight_shape(s), cpu::WeightPrep::PackedBf16x3,
        [&] { return split_weights(weight.data(), s.out_channels, s.depth()); });
    lowered_conv2d_split(x_data, s, *split, bias ? bias->data() : nullptr, activation, out.data());
    return false;
  }
#endif
  const std::shared_ptr<const cpu::PackedWeights> packed = cpu::cached_weights<cpu::PackedWeights>(
      weight.data(), weight_shape(s), cpu::WeightPrep::Packed,
      [&] { return cpu::pack_weights(weight.data(), s.out_channels, s.depth()); });
  const cpu::PackedWeights& w = *packed;
  if (s.stride == 1 && !pointwise) {
    direct_conv2d(x_data, s, w, bias ? bias->data() : nullptr, activation, out.data());
    return false;
  }

  cpu::lowered_convolution(s.batch, pixels, w, bias ? bias->data() : nullptr, activation, out.data(),
                           [&](int64_t n, int64_t p0, int64_t cols, float* storage) {
                             fill_lowered_tile(x_data, s, n, p0, cols, storage);
                             return cpu::ColumnPanels{storage, kPanelWidth, s.depth() * kPanelWidth, cols};
                           });
  return false;
}

}  // namespace vrestore::cpu::VRESTORE_ISA_NS
