// fp32 matrix products on the AMX-BF16 tile unit at near-fp32 accuracy ("bf16x3"), used only where
// vrestore::set_float32_matmul_precision(MatmulPrecision::High) allows it (core/matmul_precision.h):
// today the convolutions with more than 4 output channels: the Winograd 3x3 ones
// (conv_winograd.cpp) and the lowered paths (conv2d.cpp: strided, 1x1), which write their B operand
// panel by panel (gemm_panel, amx_split.h), and the direct path (conv2d.cpp: SpyNet's 7x7, dilated
// and narrow 3x3), whose input rows are read in place as the A operand (gemm_positions).
//
// Each fp32 operand x is split into hi = bf16(x) and lo = bf16(x - hi), both rounded to nearest
// even, so that x = hi + lo up to 2^-18 |x|; a product is then a·b ~ ah·bh + al·bh + ah·bl (the
// dropped al·bl is below 2^-18 |a·b|), three TDPBF16PS passes accumulating in fp32. A product is
// thus off by up to ~1e-5 of its size instead of fp32's 6e-8. In the Winograd convolution the
// transforms (coefficients up to 8) amplify that: outputs land within ~5e-5 of their largest
// magnitude (tests/test_ops.cpp; the untransformed paths ~3e-6; with input channels of very
// different sizes, 2^-6 to 2^6, up to 1.4e-4, as a double-precision model of exact bf16x3 Winograd
// with the same transforms also gives), and EDVR, BasicVSR and
// RealBasicVSR within 1.1e-5 of upstream (their tolerance is 1e-4; SpyNet's flows within
// 8.7e-5 px, tolerance 5e-4). That is the precision PyTorch's set_float32_matmul_precision("high")
// describes ("each float32 number as the sum of two bfloat16 numbers").
//
// What the unit does not keep: bf16 inputs below 2^-126 are read as zero (a lo part below ~1e-33,
// harmless next to its hi), and an infinite x gives lo = inf - inf = NaN, so infinities come out as
// NaN (both are non-finite, which the models report).
//
// Shapes are fixed by the tiles: the weights in blocks of 16 output channels, the positions in
// panels of kPanelCols (three tiles), depth in steps of kTileDepth (zero-padded).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vrestore::cpu::amx {

constexpr int kTileRows = 16;   // rows of A and C in one tile
constexpr int kTileDepth = 32;  // bf16 values of depth in one tile row of A (pairs in B)
constexpr int kTileCols = 16;   // fp32 columns of C in one tile
constexpr int kPanelCols = 3 * kTileCols;

// Whether this CPU has AMX-TILE, AMX-BF16 and AVX512-BF16 and the kernel lets this process use the
// tile registers (asked once, on the first call).
bool available();

// A weight matrix (rows = output channels, depth) split into hi and lo bf16 bits, zero beyond
// (rows, depth), laid out for one of the two products below: SplitRows row-major, each
// (padded_rows, padded_depth), the A operand of gemm_panel; SplitColumns in the B tiles of
// gemm_positions: per 16 rows, per depth step, kTileDepth / 2 rows of (k, k + 1) pairs for the
// 16 rows, 1 KiB each.
enum class SplitLayout { Rows, Columns };
template <SplitLayout kLayout>
struct Split {
  int64_t rows = 0, depth = 0, padded_rows = 0, padded_depth = 0;
  std::vector<uint16_t> hi, lo;
};
using SplitRows = Split<SplitLayout::Rows>;
using SplitColumns = Split<SplitLayout::Columns>;

// A zero matrix of that shape (fill with set()).
template <SplitLayout kLayout>
Split<kLayout> allocate_split(int64_t rows, int64_t depth);
// Splits the exact value x (the weights are prepared in double) into element (row, k).
void set(SplitRows& a, int64_t row, int64_t k, double x);
void set(SplitColumns& b, int64_t row, int64_t k, double x);
template <SplitLayout kLayout>
size_t prepared_bytes(const Split<kLayout>& a) {
  return (a.hi.size() + a.lo.size()) * sizeof(uint16_t);
}

// The B operand for one panel (depth rows of kPanelCols columns), hi and lo each in the order the
// tiles load it: per depth step of kTileDepth, per column tile, kTileDepth / 2 rows of kTileCols
// (k, k + 1) pairs, 64 bytes each. Elements per hi or lo buffer, for a depth padded to kTileDepth:
inline size_t split_panel_elements(int64_t padded_depth) { return static_cast<size_t>(padded_depth * kPanelCols); }
// The element of row k, column 0 of column tile n; column j of that tile is 2 j elements further.
inline size_t split_panel_offset(int64_t k, int n) {
  return static_cast<size_t>(((k / kTileDepth * 3 + n) * (kTileDepth / 2) + k % kTileDepth / 2) * 2 * kTileCols + k % 2);
}

// out (kTileRows x kPanelCols, rows out_row_stride floats apart) = A rows [r0, r0 + kTileRows) · B,
// where r0 is a multiple of kTileRows and B is a split panel of depth a.padded_depth.
// Needs the thread's tiles configured (TileScope).
void gemm_panel(const SplitRows& a, int64_t r0, const uint16_t* b_hi, const uint16_t* b_lo, float* out,
                int64_t out_row_stride);

// The other way round, for convolutions whose input is laid out position by position ("NHWC"):
// B is the weights (SplitColumns), C is (positions, output channels).
// out (kPanelCols positions x 16 output channels from r0, rows of 16 floats) = A · B, where A's
// depth step s for positions [16 t, 16 t + 16) of the panel is the tile whose row m (the position's
// kTileDepth values, hi or lo) starts at a_hi (a_lo) + step_offsets[s] + (16 t + m) * a_stride
// bf16 elements, read in place. r0 is a multiple of kTileCols. Needs the thread's tiles configured.
void gemm_positions(const SplitColumns& b, int64_t r0, const uint16_t* a_hi, const uint16_t* a_lo,
                    const int64_t* step_offsets, int64_t a_stride, float* out);

// Configures this thread's tile registers for gemm_panel and gemm_positions while alive, releases
// them after (so that the thread's context switches stop saving 8 KiB of tile state).
class TileScope {
 public:
  TileScope();
  ~TileScope();
  TileScope(const TileScope&) = delete;
  TileScope& operator=(const TileScope&) = delete;
};

}  // namespace vrestore::cpu::amx
