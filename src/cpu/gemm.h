// The matrix product behind conv2d and deform_conv2d (CPU):
//   out (M, cols) = W (M, K) · B (K, cols) + bias, then the fused activation,
// where W is the weight viewed as (Cout, Cin*kh*kw) and B is a tile of im2col columns, a
// zero-bordered input tile read in place (Indirect kernels, conv2d.cpp), or the transformed input
// tiles of a Winograd convolution (W then is one transformed (Cout, Cin) matrix; conv_winograd.cpp).
//
// Why not Eigen's GEMM: at the convolution shapes of these networks (M = 64, K = 576, cols in the
// tens of thousands) Eigen 3.4 reaches ~90 GFLOP/s on 2 AVX-512 cores, below oneDNN's ~140; this
// register-blocked kernel reaches ~170-200 because the im2col producer writes B directly in the
// panel layout the kernel streams (no second packing pass) and the epilogue runs while the tile is
// hot. It is written with GCC/Clang vector extensions, so it also builds for AVX2 and SSE2.
//
// Layouts
//   PackedWeights: rows in blocks of kRowBlock; block b holds W[b*kRowBlock + r, k] at
//                  [k * kRowBlock + r] (zero rows pad the last block). Broadcast operand.
//   ColumnPanels:  B in panels of kPanelWidth consecutive columns; panel q, row k, column j lives at
//                  data[q * panel_stride + k * row_stride + j]. Vector operand. All kPanelWidth
//                  columns of every panel must be readable (im2col pads the last panel with zeros).
//                  Indirect kernels instead take row k of a panel at b + offsets[k].
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>

#include "core/check.h"
#include "core/ops.h"
#include "cpu/isa.h"  // last: the kernels below are compiled for the translation unit's ISA level

namespace vrestore::cpu::VRESTORE_ISA_NS {

// Register blocking: kRowBlock x kPanelVecs accumulators must fit the vector register file with room
// for the kPanelVecs B vectors and one broadcast (24 + 4 of 32 zmm; 12 + 4 of 16 ymm/xmm).
#if VRESTORE_ISA_AVX512
constexpr int kVecLanes = 16;
constexpr int kRowBlock = 8;
#elif VRESTORE_ISA_AVX2
constexpr int kVecLanes = 8;
constexpr int kRowBlock = 4;
#else
constexpr int kVecLanes = 4;
constexpr int kRowBlock = 4;
#endif
constexpr int kPanelVecs = 3;
constexpr int kPanelWidth = kPanelVecs * kVecLanes;  // columns per panel

// GCC/Clang vector of kVecLanes floats; alignment lowered to that of float so that loads and stores
// through it may be unaligned (output rows and direct input rows have arbitrary offsets).
typedef float Vec __attribute__((vector_size(kVecLanes * sizeof(float)), aligned(alignof(float))));

// 64-byte aligned float storage (panel rows are 3 cache lines, so aligned panels never split one).
class AlignedFloats {
 public:
  AlignedFloats() = default;
  explicit AlignedFloats(size_t n) { resize(n); }
  void resize(size_t n) {
    if (n <= size_) return;
    size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    float* p = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!p) fail("cpu: out of memory allocating ", bytes, " bytes of scratch");
    data_.reset(p);
    size_ = n;
  }
  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float[], Free> data_;
  size_t size_ = 0;
};

struct PackedWeights {
  int64_t rows = 0;   // M = Cout
  int64_t depth = 0;  // K = Cin*kh*kw
  AlignedFloats data;
  const float* block(int64_t b) const { return data.data() + b * depth * kRowBlock; }
  // Where W[row, k] lives.
  float& at(int64_t row, int64_t k) { return data.data()[(row / kRowBlock * depth + k) * kRowBlock + row % kRowBlock]; }
};

// Zero-filled storage for a rows x depth matrix (the padding rows of the last block stay zero).
inline PackedWeights allocate_packed(int64_t rows, int64_t depth) {
  PackedWeights w;
  w.rows = rows;
  w.depth = depth;
  const int64_t floats = std::max<int64_t>((rows + kRowBlock - 1) / kRowBlock * depth * kRowBlock, 1);
  w.data.resize(static_cast<size_t>(floats));
  std::fill(w.data.data(), w.data.data() + floats, 0.0f);
  return w;
}

inline size_t prepared_bytes(const PackedWeights& w) {
  return static_cast<size_t>((w.rows + kRowBlock - 1) / kRowBlock * w.depth * kRowBlock) * sizeof(float);
}

// weight (rows, depth) row-major, i.e. a PyTorch (Cout, Cin, kh, kw) tensor as it is stored.
inline PackedWeights pack_weights(const float* weight, int64_t rows, int64_t depth) {
  PackedWeights w;
  w.rows = rows;
  w.depth = depth;
  const int64_t blocks = (rows + kRowBlock - 1) / kRowBlock;
  w.data.resize(static_cast<size_t>(std::max<int64_t>(blocks * depth * kRowBlock, 1)));
  for (int64_t b = 0; b < blocks; ++b) {
    float* dst = w.data.data() + b * depth * kRowBlock;
    for (int64_t k = 0; k < depth; ++k)
      for (int r = 0; r < kRowBlock; ++r) {
        const int64_t row = b * kRowBlock + r;
        dst[k * kRowBlock + r] = row < rows ? weight[row * depth + k] : 0.0f;
      }
  }
  return w;
}

struct ColumnPanels {
  const float* data = nullptr;
  int64_t row_stride = 0;
  int64_t panel_stride = 0;
  int64_t cols = 0;  // valid columns; the rest of the last panel is padding
};

// Same results as ops::activate_ (NaN passes through both).
inline Vec activate(Vec v, ops::Activation act) {
  switch (act) {
    case ops::Activation::None: return v;
    case ops::Activation::ReLU: return v < 0.0f ? Vec{} : v;
    case ops::Activation::LeakyReLU: return v >= 0.0f ? v : v * ops::kLeakySlope;
    case ops::Activation::Sigmoid:
      for (int i = 0; i < kVecLanes; ++i) v[i] = 1.0f / (1.0f + std::exp(-v[i]));
      return v;
  }
  return v;
}

// out[r, 0:cols) for r < Rows = a-block · one panel of B (Vecs vectors wide), + bias, activated.
// Each output is one sequential fused multiply-add chain over k. Row k of the panel starts at
// b + k * b_row_stride, or with Indirect at b + b_row_offsets[k] (a convolution reading its padded
// input in place: row k is the input shifted by tap k, so the offsets depend on k only).
//
// The chain may be cut into parts over k ranges [k_begin, k_end) (gemm_bias_activation keeps a
// slice of B in L1 that way): a part that does not start at k = 0 resumes from the partial sums in
// `partial` (Rows x kWidth floats, row stride kWidth), a part that does not end at depth stores
// them there instead of finishing. Storing and reloading an fp32 sum is exact, so the result is
// bit for bit that of one uncut chain.
//
// Indirect panels are read straight from a large input, dozens of rows (channels x kernel rows)
// at a time: more streams than the hardware prefetchers follow. So with AVX-512 the kernel
// prefetches the same rows two panels ahead, two cache lines per k (a row serves kw consecutive k).
// Not on the AVX2 and baseline levels: there the loop has only 12 FMAs per k (16 registers), and the
// prefetches and their address arithmetic made it dispatch-bound. On Zen 3 dropping them made the
// AVX2 7x7 and dilated 3x3 convs 1.3-1.4x faster (alternating runs of conv2d_shape, 1 thread).
// (Always inlined into panel_kernel_part and panel_kernel, so that the whole-chain callers get a
// kernel without the resume/store code.)
constexpr bool kPrefetchIndirectRows = VRESTORE_ISA_AVX512;
template <int Rows, int Vecs, bool Indirect>
[[gnu::always_inline]] inline void panel_kernel_body(const float* __restrict a, const float* __restrict b,
                                                     const int64_t* __restrict b_row_offsets, int64_t b_row_stride,
                                                     int64_t k_begin, int64_t k_end, int64_t depth,
                                                     float* __restrict partial, const float* bias, ops::Activation act,
                                                     float* __restrict out, int64_t out_row_stride, int64_t cols) {
  constexpr int kWidth = Vecs * kVecLanes;
  Vec acc[Rows][Vecs];  // not "= {}": GCC would clear a stack copy with rep stos on every call
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r)
#pragma GCC unroll 8
    for (int i = 0; i < Vecs; ++i)
      acc[r][i] = k_begin > 0 ? *reinterpret_cast<const Vec*>(partial + r * kWidth + i * kVecLanes) : Vec{};
  // Unrolled twice where the register file has room (32 zmm); with 16 ymm, GCC then hoists the
  // second step's broadcasts and spills an accumulator to the stack, a store and a reload on the
  // FMA chain every step (measured on Zen 3: ~55 % of peak instead of ~80 %).
#if VRESTORE_ISA_AVX512
#pragma GCC unroll 2
#else
#pragma GCC unroll 1
#endif
  for (int64_t k = k_begin; k < k_end; ++k) {
    const float* bk = Indirect ? b + b_row_offsets[k] : b + k * b_row_stride;
    if constexpr (Indirect && kPrefetchIndirectRows) {
      constexpr int kLineFloats = 64 / sizeof(float);
      constexpr int kAheadLines = (kWidth + kLineFloats - 1) / kLineFloats + 1;  // lines of an unaligned row
      const int line = static_cast<int>(static_cast<uint64_t>(2 * k) % kAheadLines);
      __builtin_prefetch(bk + 2 * kWidth + line * kLineFloats);
      __builtin_prefetch(bk + 2 * kWidth + ((line + 1) % kAheadLines) * kLineFloats);
    }
    Vec bv[Vecs];
#pragma GCC unroll 8
    for (int i = 0; i < Vecs; ++i) bv[i] = *reinterpret_cast<const Vec*>(bk + i * kVecLanes);
#pragma GCC unroll 8
    for (int r = 0; r < Rows; ++r) {
      const float ar = a[k * kRowBlock + r];
#pragma GCC unroll 8
      for (int i = 0; i < Vecs; ++i) acc[r][i] += bv[i] * ar;
    }
  }
  if (k_end < depth) {
#pragma GCC unroll 8
    for (int r = 0; r < Rows; ++r)
#pragma GCC unroll 8
      for (int i = 0; i < Vecs; ++i) *reinterpret_cast<Vec*>(partial + r * kWidth + i * kVecLanes) = acc[r][i];
    return;
  }
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) {
    const float br = bias ? bias[r] : 0.0f;
    float* out_r = out + r * out_row_stride;
    if (cols == kWidth) {
#pragma GCC unroll 8
      for (int i = 0; i < Vecs; ++i)
        *reinterpret_cast<Vec*>(out_r + i * kVecLanes) = activate(acc[r][i] + br, act);
    } else {
      alignas(64) float row[kWidth];
      for (int i = 0; i < Vecs; ++i) *reinterpret_cast<Vec*>(row + i * kVecLanes) = activate(acc[r][i] + br, act);
      std::memcpy(out_r, row, static_cast<size_t>(cols) * sizeof(float));
    }
  }
}

// One part of the chain, k over [k_begin, k_end).
template <int Rows, int Vecs, bool Indirect>
void panel_kernel_part(const float* __restrict a, const float* __restrict b, const int64_t* __restrict b_row_offsets,
                       int64_t b_row_stride, int64_t k_begin, int64_t k_end, int64_t depth, float* __restrict partial,
                       const float* bias, ops::Activation act, float* __restrict out, int64_t out_row_stride,
                       int64_t cols) {
  panel_kernel_body<Rows, Vecs, Indirect>(a, b, b_row_offsets, b_row_stride, k_begin, k_end, depth, partial, bias,
                                          act, out, out_row_stride, cols);
}

// The whole chain (k over [0, depth)) in one part.
template <int Rows, int Vecs, bool Indirect>
void panel_kernel(const float* __restrict a, const float* __restrict b, const int64_t* __restrict b_row_offsets,
                  int64_t b_row_stride, int64_t depth, const float* bias, ops::Activation act, float* __restrict out,
                  int64_t out_row_stride, int64_t cols) {
  panel_kernel_body<Rows, Vecs, Indirect>(a, b, b_row_offsets, b_row_stride, 0, depth, depth, nullptr, bias, act,
                                          out, out_row_stride, cols);
}

using PanelKernel = void (*)(const float*, const float*, const int64_t*, int64_t, int64_t, const float*,
                             ops::Activation, float*, int64_t, int64_t);

// panel_kernel<1, ...> ... panel_kernel<N, ...>, indexed by rows - 1 (for a last, partial row block).
template <int Vecs, bool Indirect, size_t... I>
constexpr std::array<PanelKernel, sizeof...(I)> make_panel_kernels(std::index_sequence<I...>) {
  return {&panel_kernel<static_cast<int>(I) + 1, Vecs, Indirect>...};
}
inline constexpr auto kPanelKernels = make_panel_kernels<kPanelVecs, false>(std::make_index_sequence<kRowBlock>{});
inline constexpr auto kIndirectPanelKernels =
    make_panel_kernels<kPanelVecs, true>(std::make_index_sequence<kRowBlock>{});

using PanelKernelPart = void (*)(const float*, const float*, const int64_t*, int64_t, int64_t, int64_t, int64_t,
                                 float*, const float*, ops::Activation, float*, int64_t, int64_t);
template <int Vecs, bool Indirect, size_t... I>
constexpr std::array<PanelKernelPart, sizeof...(I)> make_panel_kernel_parts(std::index_sequence<I...>) {
  return {&panel_kernel_part<static_cast<int>(I) + 1, Vecs, Indirect>...};
}
inline constexpr auto kPanelKernelParts = make_panel_kernel_parts<kPanelVecs, false>(std::make_index_sequence<kRowBlock>{});

// Few output rows leave registers for wider panels: twice the columns for at most kNarrowRows
// rows (Rows * Vecs accumulators + Vecs B vectors + a broadcast must fit the register file).
#if VRESTORE_ISA_AVX512
constexpr int kNarrowRows = 4;
constexpr int kWideVecs = 2 * kPanelVecs;
#else
constexpr int kNarrowRows = 2;
constexpr int kWideVecs = kPanelVecs;
#endif
inline constexpr auto kWideIndirectPanelKernels =
    make_panel_kernels<kWideVecs, true>(std::make_index_sequence<kNarrowRows>{});

// Cache blocking of gemm_bias_activation (measured on Zen 4: 32 KB L1d, 1 MB L2 per core).
// kDepthSlice rows of a panel (kDepthSlice x kPanelWidth floats, 24 KB with AVX-512) stay in L1
// while every row block of the weights passes over them; kWeightFloats bounds the rows of W whose
// slices are cycled through that way (they stay in L2: 384 KB).
constexpr int64_t kDepthSlice = 128;
constexpr int64_t kWeightFloats = 96 * 1024;

// Row blocks of W per group (see gemm_bias_activation).
inline int64_t row_blocks_per_group(const PackedWeights& w) {
  const int64_t blocks = (w.rows + kRowBlock - 1) / kRowBlock;
  return std::clamp<int64_t>(kWeightFloats / (std::max<int64_t>(w.depth, 1) * kRowBlock), 1, std::max<int64_t>(blocks, 1));
}

// The k range of slice i when depth is cut into `slices` near-equal parts, multiples of 4.
inline std::pair<int64_t, int64_t> depth_slice(int64_t depth, int64_t slices, int64_t i) {
  const int64_t step = (depth / slices + 3) / 4 * 4;
  return {std::min(depth, i * step), i + 1 == slices ? depth : std::min(depth, (i + 1) * step)};
}

// out (w.rows, b.cols), rows out_row_stride apart = w · b + bias, activated. Single-threaded: the
// callers parallelise over column tiles. Per group of row blocks (W rows within kWeightFloats, in
// L2), per panel, per depth slice (in L1), every row block of the group: each panel slice is
// loaded from L2 (or memory) once per group and reused from L1, and each output is still one
// fused multiply-add chain over k in order (panel_kernel_part), so the results do not depend on
// the blocking.
inline void gemm_bias_activation(const PackedWeights& w, const ColumnPanels& b, const float* bias,
                                 ops::Activation act, float* out, int64_t out_row_stride) {
  const int64_t panels = (b.cols + kPanelWidth - 1) / kPanelWidth;
  const int64_t depth = w.depth;
  const int64_t slices = std::max<int64_t>(1, (depth + kDepthSlice / 2) / kDepthSlice);
  const int64_t blocks = (w.rows + kRowBlock - 1) / kRowBlock;
  const int64_t group_blocks = row_blocks_per_group(w);
  thread_local AlignedFloats partial_storage;
  if (slices > 1) partial_storage.resize(static_cast<size_t>(group_blocks * kRowBlock * kPanelWidth));
  float* partial = partial_storage.data();
  for (int64_t g0 = 0; g0 < blocks; g0 += group_blocks) {
    const int64_t g1 = std::min(blocks, g0 + group_blocks);
    for (int64_t q = 0; q < panels; ++q) {
      const int64_t cols = std::min<int64_t>(kPanelWidth, b.cols - q * kPanelWidth);
      const float* b_q = b.data + q * b.panel_stride;
      for (int64_t sl = 0; sl < slices; ++sl) {
        const auto [k0, k1] = depth_slice(depth, slices, sl);
        for (int64_t blk = g0; blk < g1; ++blk) {
          const int64_t r0 = blk * kRowBlock;
          const int rows = static_cast<int>(std::min<int64_t>(kRowBlock, w.rows - r0));
          kPanelKernelParts[static_cast<size_t>(rows - 1)](
              w.block(blk), b_q, nullptr, b.row_stride, k0, k1, depth,
              partial + (blk - g0) * kRowBlock * kPanelWidth, bias ? bias + r0 : nullptr, act,
              out + r0 * out_row_stride + q * kPanelWidth, out_row_stride, cols);
        }
      }
    }
  }
}

}  // namespace vrestore::cpu::VRESTORE_ISA_NS
