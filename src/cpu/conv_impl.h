// Convolution lowered to the panel GEMM (gemm.h), shared by conv2d and deform_conv2d: each image's
// output pixels are cut into column tiles; per tile an op-specific filler writes the im2col columns
// (K = Cin*kh*kw rows) into per-thread panel storage and the GEMM writes the (Cout, tile) block of
// the NCHW output with bias and activation applied. Tiles are the unit of OpenMP parallelism.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "core/op_args.h"
#include "cpu/gemm.h"
#include "vrestore/tensor.h"

namespace vrestore::cpu::VRESTORE_ISA_NS {

// Resolved and validated by the op layer (core/ops.cpp).
using ops::ConvGeometry;

// Columns per tile: the tile's panels (depth x columns floats, ~1 MB at most) should stay in L2
// while the GEMM passes over them once per group of weight rows (gemm_bias_activation; one pass
// for the networks' convolutions); and there should be a few tiles per thread so that small
// images still use every core.
inline int64_t choose_tile_columns(int64_t depth, int64_t pixels, int64_t images) {
  constexpr int64_t kL2Floats = 256 * 1024;
  int64_t tile = std::max<int64_t>(1, kL2Floats / (std::max<int64_t>(depth, 1) * kPanelWidth)) * kPanelWidth;
  const int64_t wanted_tiles = 2 * omp_get_max_threads();
  const int64_t tiles_per_image = (wanted_tiles + images - 1) / std::max<int64_t>(images, 1);
  const int64_t balanced = (pixels + tiles_per_image - 1) / tiles_per_image;
  tile = std::min(tile, (balanced + kPanelWidth - 1) / kPanelWidth * kPanelWidth);
  return std::max<int64_t>(tile, kPanelWidth);
}

// Storage for one tile of panels: panels(columns) * depth * kPanelWidth floats, per thread and
// kept between calls (the tile is rebuilt for every tile, so its contents never matter).
inline float* tile_panel_storage(int64_t depth, int64_t columns) {
  thread_local AlignedFloats storage;
  const int64_t panels = (columns + kPanelWidth - 1) / kPanelWidth;
  storage.resize(static_cast<size_t>(std::max<int64_t>(panels * depth * kPanelWidth, 1)));
  return storage.data();
}

// Calls tile_fn(n, p0, cols, storage) for every column tile [p0, p0 + cols) of every image, in
// parallel, with the thread's panel storage for a tile of im2col depth `depth`.
template <class TileFn>
void for_each_column_tile(int64_t images, int64_t pixels, int64_t depth, TileFn&& tile_fn) {
  const int64_t tile = choose_tile_columns(depth, pixels, images);
  const int64_t tiles_per_image = (pixels + tile - 1) / tile;
  const int64_t tiles = images * tiles_per_image;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t n = t / tiles_per_image;
    const int64_t p0 = (t % tiles_per_image) * tile;
    tile_fn(n, p0, std::min(tile, pixels - p0), tile_panel_storage(depth, tile));
  }
}

// out (images, w.rows, pixels) = for each image n: w · B_n + bias, activated, where
// fill_tile(n, p0, cols, storage) -> ColumnPanels provides columns [p0, p0+cols) of B_n, either
// written into `storage` (panel layout, stride depth*kPanelWidth) or as a view of existing memory.
template <class FillTile>
void lowered_convolution(int64_t images, int64_t pixels, const PackedWeights& w, const float* bias,
                         ops::Activation act, float* out, FillTile&& fill_tile) {
  if (images == 0 || pixels == 0 || w.rows == 0) return;
  for_each_column_tile(images, pixels, w.depth, [&](int64_t n, int64_t p0, int64_t cols, float* storage) {
    const ColumnPanels b = fill_tile(n, p0, cols, storage);
    gemm_bias_activation(w, b, bias, act, out + n * w.rows * pixels + p0, pixels);
  });
}

// Columns [p0, p0 + cols) of a row-major (depth, row_stride) matrix, written in panel layout (stride
// depth * kPanelWidth per panel, the last panel zero-padded). A 1x1 convolution's input read in
// place would be a panel whose depth rows lie H*W floats apart: at a stride that is a multiple of
// 4 KB (1024 or 24576 columns) they all fall in the same few L1/L2 sets and evict each other, and
// at any stride every row is a separate stream for the prefetchers. One copy per tile costs far
// less than the misses it avoids (each copied float then feeds Cout multiply-adds).
inline void pack_row_major_tile(const float* src, int64_t row_stride, int64_t depth, int64_t p0, int64_t cols,
                                float* panels) {
  const int64_t full = cols / kPanelWidth, rest = cols % kPanelWidth;
  // The rows are separate short streams (cols floats each, far apart): fetch a few rows ahead.
  constexpr int64_t kAheadRows = 8, kLineFloats = 64 / sizeof(float);
  for (int64_t k = 0; k < depth; ++k) {
    const float* row = src + k * row_stride + p0;
    if (k + kAheadRows < depth)
      for (int64_t j = 0; j < cols + kLineFloats; j += kLineFloats) __builtin_prefetch(row + kAheadRows * row_stride + j);
    float* dst = panels + k * kPanelWidth;
    for (int64_t q = 0; q < full; ++q) {
      float* d = dst + q * depth * kPanelWidth;
      const float* r = row + q * kPanelWidth;
#pragma GCC unroll 8
      for (int i = 0; i < kPanelVecs; ++i)
        *reinterpret_cast<Vec*>(d + i * kVecLanes) = *reinterpret_cast<const Vec*>(r + i * kVecLanes);
    }
    if (rest) {
      float* last = dst + full * depth * kPanelWidth;
      std::memcpy(last, row + full * kPanelWidth, static_cast<size_t>(rest) * sizeof(float));
      std::fill(last + rest, last + kPanelWidth, 0.0f);
    }
  }
}

// Zeroes the padding columns [cols, end of last panel) of every row of a tile in panel layout.
inline void zero_panel_padding(float* panels, int64_t depth, int64_t cols) {
  const int64_t used = cols % kPanelWidth;
  if (used == 0) return;
  float* last = panels + (cols / kPanelWidth) * depth * kPanelWidth;
  for (int64_t k = 0; k < depth; ++k)
    std::fill(last + k * kPanelWidth + used, last + (k + 1) * kPanelWidth, 0.0f);
}

}  // namespace vrestore::cpu::VRESTORE_ISA_NS
