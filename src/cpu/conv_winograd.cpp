// Winograd F(4x4, 3x3) convolution (see conv_winograd.h).
//
// Tiles and columns. Output tile (ty, tx) covers output rows 4ty..4ty+3 and columns 4tx..4tx+3 and
// reads the 6x6 input patch at (4ty - pad_h, 4tx - pad_w). Tile rows are padded to a multiple of
// kVecLanes tiles, so one vector = kVecLanes horizontally adjacent tiles of one tile row: the
// transforms work on whole vectors (lane t = tile t), the GEMM column of tile (ty, tx) is
// ty * padded_tiles_x + tx, and a GEMM panel (kPanelWidth columns) is kPanelVecs such vectors.
//
// Work unit = one panel of one image (a "block"), on one thread: input transform of the block into
// V (Cin x 36 x panel), then per chunk of output channels the 36 GEMMs into M (chunk x 36 x panel)
// and the output transform from M into the NCHW output. V stays in L2, the small M in L1/L2.
//
// Moving between pixels and tiles needs stride-4 de-interleaving of an input row (lane t of tap k is
// row[4t + k]) and the inverse interleave on output; both are two levels of two-source shuffles.
//
// At float32 matmul precision High on a CPU with AMX-BF16 (AVX-512 level only), the GEMMs run on
// the tile unit as bf16x3 products (amx_bf16.h): the weights are split once into bf16 hi/lo, the
// input transform writes V split too (SplitPanel; no fp32 V), and one chunk of 16 output channels
// of one block is one row of three C tiles.
//
// Compiled once per ISA level into vrestore::cpu::VRESTORE_ISA_NS (isa.h); cpu::winograd_conv3x3
// (dispatch.cpp) calls the level in use.
#include "cpu/conv_winograd.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "core/matmul_precision.h"
#include "cpu/amx_bf16.h"
#include "cpu/weight_cache.h"
#include "cpu/isa.h"  // after every header above, before the kernel headers below
#include "cpu/gemm.h"
#include "cpu/amx_split.h"
#include "cpu/isa_kernels.h"

namespace vrestore::cpu::VRESTORE_ISA_NS {
namespace {

constexpr int L = kVecLanes;
constexpr int kTile = 4;        // output tile side
constexpr int kAlpha = 6;       // input tile side
constexpr int kPositions = 36;  // kAlpha^2 transformed points = GEMMs
constexpr int64_t kChunkRows = 16;  // output channels per M buffer (multiple of kRowBlock; 16 measured
                                    // 3-7% faster than 32 or 64)
static_assert(kChunkRows % kRowBlock == 0);
constexpr int64_t kStreamOutputBytes = int64_t{8} << 20;

inline Vec load(const float* p) { return *reinterpret_cast<const Vec*>(p); }
inline void store(float* p, Vec v) { *reinterpret_cast<Vec*>(p) = v; }
inline Vec splat(float f) { return Vec{} + f; }
inline void stream(float* p, Vec v) {
#if VRESTORE_ISA_AVX512
  _mm512_stream_ps(p, reinterpret_cast<__m512>(v));
#elif VRESTORE_ISA_AVX2
  _mm256_stream_ps(p, reinterpret_cast<__m256>(v));
#else
  store(p, v);
#endif
}
// Orders the streamed stores (weakly ordered) before whatever this thread does next.
inline void stream_fence() {
#if VRESTORE_ISA_AVX2
  _mm_sfence();
#endif
}

// ---- shuffles ------------------------------------------------------------------------------------
// Index i of a two-source shuffle selects element i of a (i < L) or element i - L of b.

// De-interleave, first level: lanes [0, L/2) take element 4t + p, lanes [L/2, L) element 4t + p + 1.
constexpr int deint_pair(int i, int p) { return i < L / 2 ? 4 * i + p : 4 * (i - L / 2) + p + 1; }
// Second level: low halves of a and b, or high halves.
constexpr int take_halves(int i, int high) { return (i < L / 2 ? i : i - L / 2 + L) + high * (L / 2); }
// Interleave, first level: (a[t], b[t]) pairs for t in [h*L/2, h*L/2 + L/2).
constexpr int zip_pairs(int i, int h) { return (i % 2 ? L : 0) + h * (L / 2) + i / 2; }
// Second level: (a[2t], a[2t+1], b[2t], b[2t+1]) for t in [q*L/4, q*L/4 + L/4).
constexpr int zip_quads(int i, int q) { return ((i / 2) % 2 ? L : 0) + 2 * (q * (L / 4) + i / 4) + i % 2; }
// Shift down one lane, taking b[0] into the top lane.
constexpr int shift_one(int i) { return i + 1; }

template <class Fn, size_t... I>
inline Vec shuffle_seq(Vec a, Vec b, std::index_sequence<I...>) {
  return __builtin_shufflevector(a, b, Fn::at(static_cast<int>(I))...);
}

struct DeintPair0 { static constexpr int at(int i) { return deint_pair(i, 0); } };
struct DeintPair2 { static constexpr int at(int i) { return deint_pair(i, 2); } };
struct HalvesLow { static constexpr int at(int i) { return take_halves(i, 0); } };
struct HalvesHigh { static constexpr int at(int i) { return take_halves(i, 1); } };
struct ZipLow { static constexpr int at(int i) { return zip_pairs(i, 0); } };
struct ZipHigh { static constexpr int at(int i) { return zip_pairs(i, 1); } };
template <int Q>
struct Quads { static constexpr int at(int i) { return zip_quads(i, Q); } };
struct ShiftOne { static constexpr int at(int i) { return shift_one(i); } };

template <class Fn>
inline Vec shuffle(Vec a, Vec b) {
  return shuffle_seq<Fn>(a, b, std::make_index_sequence<L>{});
}

// An input row segment [x0, x0 + 4L + 2): four vectors and the two floats after them, zero where
// the segment leaves the row [0, width).
struct RowSegment {
  Vec a[4];
  float e4, e5;
};

// Loads the segment at columns [x0, x0 + 4L + 2) of any row; what is inside [0, width) depends
// only on x0, so it is worked out once per vector of tiles.
class SegmentLoader {
 public:
  SegmentLoader() = default;
  SegmentLoader(int64_t x0, int64_t width) : x0_(x0) {
    inside_ = x0 >= 0 && x0 + 4 * L + 2 <= width;
    for (int k = 0; k < 5; ++k) {
      lo_[k] = static_cast<int>(std::clamp<int64_t>(-(x0 + k * L), 0, L));
      hi_[k] = static_cast<int>(std::clamp<int64_t>(width - (x0 + k * L), 0, L));
#if VRESTORE_ISA_AVX512
      mask_[k] = hi_[k] > lo_[k] ? static_cast<__mmask16>(((1u << hi_[k]) - 1) & ~((1u << lo_[k]) - 1)) : 0;
#elif VRESTORE_ISA_AVX2
      for (int i = 0; i < L; ++i) lane_mask_[k][i] = i >= lo_[k] && i < hi_[k] ? -1 : 0;
#endif
    }
  }

  RowSegment load(const float* row) const {
    RowSegment r;
    if (inside_) {
      for (int k = 0; k < 4; ++k) r.a[k] = VRESTORE_ISA_NS::load(row + x0_ + k * L);
      r.e4 = row[x0_ + 4 * L];
      r.e5 = row[x0_ + 4 * L + 1];
      return r;
    }
#if VRESTORE_ISA_AVX512
    // Masked-off lanes are not accessed, so the addresses may lie outside the row.
    const uintptr_t base = reinterpret_cast<uintptr_t>(row) + x0_ * static_cast<int64_t>(sizeof(float));
    for (int k = 0; k < 4; ++k)
      r.a[k] = reinterpret_cast<Vec>(_mm512_maskz_loadu_ps(mask_[k], reinterpret_cast<const float*>(base) + k * L));
    const __m512 tail = _mm512_maskz_loadu_ps(mask_[4] & 3, reinterpret_cast<const float*>(base) + 4 * L);
    r.e4 = reinterpret_cast<Vec>(tail)[0];
    r.e5 = reinterpret_cast<Vec>(tail)[1];
#elif VRESTORE_ISA_AVX2
    // As above: lanes whose mask is clear are not accessed. (A scalar loop here became a memcpy call
    // per vector: 5% of a 64-channel conv, as every tile row starts and ends on such a segment.)
    const uintptr_t base = reinterpret_cast<uintptr_t>(row) + x0_ * static_cast<int64_t>(sizeof(float));
    for (int k = 0; k < 5; ++k) {
      const Vec a = reinterpret_cast<Vec>(_mm256_maskload_ps(reinterpret_cast<const float*>(base) + k * L,
                                                             reinterpret_cast<__m256i>(lane_mask_[k])));
      if (k < 4) r.a[k] = a;
      else r.e4 = a[0], r.e5 = a[1];
    }
#else
    for (int k = 0; k < 4; ++k) {
      r.a[k] = Vec{};
      for (int i = lo_[k]; i < hi_[k]; ++i) r.a[k][i] = row[x0_ + k * L + i];
    }
    r.e4 = lo_[4] <= 0 && hi_[4] > 0 ? row[x0_ + 4 * L] : 0.0f;
    r.e5 = lo_[4] <= 1 && hi_[4] > 1 ? row[x0_ + 4 * L + 1] : 0.0f;
#endif
    return r;
  }

 private:
  int64_t x0_ = 0;
  bool inside_ = false;
  int lo_[5], hi_[5];  // lanes [lo, hi) of vector k (k = 4: the two extra floats) are inside the row
#if VRESTORE_ISA_AVX512
  __mmask16 mask_[5];
#elif VRESTORE_ISA_AVX2
  typedef int32_t LaneMask __attribute__((vector_size(L * sizeof(int32_t))));
  LaneMask lane_mask_[5];  // all ones in the lanes inside the row
#endif
};

// d[k] lane t = segment[4t + k], k < 6.
inline void deinterleave6(const RowSegment& r, Vec d[6]) {
  const Vec lo01 = shuffle<DeintPair0>(r.a[0], r.a[1]), hi01 = shuffle<DeintPair0>(r.a[2], r.a[3]);
  const Vec lo23 = shuffle<DeintPair2>(r.a[0], r.a[1]), hi23 = shuffle<DeintPair2>(r.a[2], r.a[3]);
  d[0] = shuffle<HalvesLow>(lo01, hi01);
  d[1] = shuffle<HalvesHigh>(lo01, hi01);
  d[2] = shuffle<HalvesLow>(lo23, hi23);
  d[3] = shuffle<HalvesHigh>(lo23, hi23);
  Vec e4{}, e5{};
  e4[0] = r.e4;
  e5[0] = r.e5;
  d[4] = shuffle<ShiftOne>(d[0], e4);
  d[5] = shuffle<ShiftOne>(d[1], e5);
}

// out[4t + c] = o[c] lane t: four vectors of consecutive outputs.
inline void interleave4(const Vec o[4], Vec w[4]) {
  const Vec p01l = shuffle<ZipLow>(o[0], o[1]), p01h = shuffle<ZipHigh>(o[0], o[1]);
  const Vec p23l = shuffle<ZipLow>(o[2], o[3]), p23h = shuffle<ZipHigh>(o[2], o[3]);
  w[0] = shuffle<Quads<0>>(p01l, p23l);
  w[1] = shuffle<Quads<1>>(p01l, p23l);
  w[2] = shuffle<Quads<0>>(p01h, p23h);
  w[3] = shuffle<Quads<1>>(p01h, p23h);
}

// ---- 1-D transforms ------------------------------------------------------------------------------

// Interpolation points 0, 1, -1, 1/2, -2 and infinity. Against the textbook 0, ±1, ±2 they halve the
// rounding error of the transforms (simulated and measured: max |error| ~2.4e-6 instead of ~5e-6
// for 64 input channels of values in [-1, 1]) for three more operations per 1-D transform.

// u = B^T d:
//   [1 -1.5   -2  1.5    1    0]
//   [0   -1  0.5  2.5    1    0]
//   [0    1 -2.5  0.5    1    0]
//   [0   -2   -1    2    1    0]
//   [0  0.5   -1 -0.5    1    0]
//   [0    1 -1.5   -2  1.5    1]
inline void input_1d(const Vec d[6], Vec u[6]) {
  const Vec a = d[3] - d[1], b = d[4] - d[2];
  u[0] = (d[0] - d[2]) + b + 1.5f * a;
  u[1] = (a + b) + 1.5f * (d[2] + d[3]);
  u[2] = (b - a) + 1.5f * (d[3] - d[2]);
  u[3] = b + 2.0f * a;
  u[4] = b - 0.5f * a;
  u[5] = (d[5] - d[3]) - a + 1.5f * b;
}

// y = A^T m:
//   [1  1  1  1      1  0]
//   [0  1 -1  1/2   -2  0]
//   [0  1  1  1/4    4  0]
//   [0  1 -1  1/8   -8  1]
inline void output_1d(const Vec m[6], Vec y[4]) {
  const Vec p1 = m[1] + m[2], n1 = m[1] - m[2];
  y[0] = m[0] + p1 + m[3] + m[4];
  y[1] = n1 + 0.5f * m[3] - 2.0f * m[4];
  y[2] = p1 + 0.25f * m[3] + 4.0f * m[4];
  y[3] = n1 + 0.125f * m[3] - 8.0f * m[4] + m[5];
}

// G, 6x3 (applied in double to the weights).
constexpr double kG[6][3] = {{1, 0, 0},
                             {1.0 / 3, 1.0 / 3, 1.0 / 3},
                             {-1.0 / 3, 1.0 / 3, -1.0 / 3},
                             {-16.0 / 15, -8.0 / 15, -4.0 / 15},
                             {1.0 / 15, -2.0 / 15, 4.0 / 15},
                             {0, 0, 1}};

// ---- geometry ------------------------------------------------------------------------------------

struct Grid {
  int64_t tiles_y, tiles_x, padded_x;  // padded_x: tiles per tile row, a multiple of L
  int64_t columns() const { return tiles_y * padded_x; }
};

Grid make_grid(const WinogradShape& s) {
  Grid g;
  g.tiles_y = (s.out_h + kTile - 1) / kTile;
  g.tiles_x = (s.out_w + kTile - 1) / kTile;
  g.padded_x = (g.tiles_x + L - 1) / L * L;
  return g;
}

// Transformed weights: one (Cout x Cin) matrix per position, packed for the GEMM.
struct WinogradWeights {
  std::vector<PackedWeights> positions;  // kPositions
};

size_t prepared_bytes(const WinogradWeights& w) {
  size_t bytes = 0;
  for (const PackedWeights& p : w.positions) bytes += prepared_bytes(p);
  return bytes;
}

// Calls store(position, o, c, U[position][o][c]) with each transformed weight, exact in double.
template <class Store>
void transform_weights(const float* weight, int64_t cout, int64_t cin, Store&& store) {
#pragma omp parallel for schedule(static) if (cout * cin > 4096)
  for (int64_t o = 0; o < cout; ++o) {
    for (int64_t c = 0; c < cin; ++c) {
      const float* g = weight + (o * cin + c) * 9;
      double t[6][3];  // G g
      for (int a = 0; a < 6; ++a)
        for (int j = 0; j < 3; ++j) t[a][j] = kG[a][0] * g[j] + kG[a][1] * g[3 + j] + kG[a][2] * g[6 + j];
      for (int a = 0; a < 6; ++a)
        for (int b = 0; b < 6; ++b) store(a * 6 + b, o, c, t[a][0] * kG[b][0] + t[a][1] * kG[b][1] + t[a][2] * kG[b][2]);
    }
  }
}

WinogradWeights transform_weights(const float* weight, int64_t cout, int64_t cin) {
  WinogradWeights u;
  u.positions.reserve(kPositions);
  for (int p = 0; p < kPositions; ++p) u.positions.push_back(allocate_packed(cout, cin));
  transform_weights(weight, cout, cin, [&](int p, int64_t o, int64_t c, double x) {
    u.positions[static_cast<size_t>(p)].at(o, c) = static_cast<float>(x);
  });
  return u;
}

#if VRESTORE_ISA_AVX512
// The same, split for the AMX bf16x3 products (amx_bf16.h); one (Cout x Cin) matrix per position.
struct SplitWinogradWeights {
  std::vector<amx::SplitRows> positions;  // kPositions
};

size_t prepared_bytes(const SplitWinogradWeights& w) {
  size_t bytes = 0;
  for (const amx::SplitRows& p : w.positions) bytes += amx::prepared_bytes(p);
  return bytes;
}

SplitWinogradWeights split_transform_weights(const float* weight, int64_t cout, int64_t cin) {
  SplitWinogradWeights u;
  u.positions.reserve(kPositions);
  for (int p = 0; p < kPositions; ++p) u.positions.push_back(amx::allocate_split<amx::SplitLayout::Rows>(cout, cin));
  transform_weights(weight, cout, cin, [&](int p, int64_t o, int64_t c, double x) {
    amx::set(u.positions[static_cast<size_t>(p)], o, c, x);
  });
  return u;
}
#endif

// ---- transforms of one block ---------------------------------------------------------------------

// V[c][pos][j] for the kPanelWidth columns j starting at col0: one channel's 36 transformed points
// are consecutive rows (so the transform writes 36 consecutive vectors), and the GEMM of position
// pos reads rows c kPositions*kPanelWidth apart. Columns past the last tile row are zero.
// Where vector `vec` of the block at col0 lies: tile row ty, first tile column tx0; ty >= tiles_y
// for the padding columns after the last tile row.
struct VecPlace {
  int64_t ty, tx0;
};
inline VecPlace place_of(const Grid& g, int64_t col0, int vec) {
  const int64_t col = col0 + vec * L;
  return {col / g.padded_x, col % g.padded_x};
}

// The places of the block's vectors that hold tiles; returns how many there are. Vectors past the
// last tile row (ty >= tiles_y, zero columns) only come at the block's end.
inline int live_places(const Grid& g, int64_t col0, VecPlace (&at)[kPanelVecs]) {
  int live = 0;
  for (; live < kPanelVecs; ++live) {
    at[live] = place_of(g, col0, live);
    if (at[live].ty >= g.tiles_y) break;
  }
  return live;
}

// Where input_transform puts channel c's transformed points: V above, fp32.
class Fp32Panel {
 public:
  static constexpr int kChannels = 1;  // put() takes one channel's vector
  explicit Fp32Panel(float* v) : v_(v) {}
  // Where the row pass parks channel c's vector vec's 36 points, kPanelWidth apart (in place: V itself).
  float* park(int64_t c, int vec) const { return v_ + c * kPositions * kPanelWidth + vec * L; }
  void put(int64_t c, int vec, int pos, const Vec t[kChannels]) const { store(park(c, vec) + pos * kPanelWidth, t[0]); }

 private:
  float* v_;
};

#if VRESTORE_ISA_AVX512
// The same points split for the tile unit (amx_bf16.h): position pos of the panel at
// hi/lo + pos * elements, in amx::split_panel_offset's layout. A vector of L = kTileCols lanes is
// one column tile, so the vectors of channels c and c + 1 (c even) make one tile row each of hi and
// lo (store_split_pair).
class SplitPanel {
 public:
  static constexpr int kChannels = 2;  // put() takes an even channel's vector and the next one's
  SplitPanel(uint16_t* hi, uint16_t* lo, int64_t padded_depth, float* park)
      : hi_(hi), lo_(lo), padded_depth_(padded_depth), elements_(amx::split_panel_elements(padded_depth)),
        park_(park) {}
  int64_t padded_depth() const { return padded_depth_; }
  float* park(int64_t c, int vec) const { return park_ + (c & 1) * kPositions * kPanelWidth + vec * L; }
  [[gnu::target("avx512bf16")]] void put(int64_t c, int vec, int pos, const Vec t[kChannels]) const {
    const size_t at = pos * elements_ + amx::split_panel_offset(c, vec);
    store_split_pair(t[0], t[1], hi_ + at, lo_ + at);
  }

 private:
  uint16_t* hi_;
  uint16_t* lo_;
  int64_t padded_depth_;
  size_t elements_;
  float* park_;
};
#endif

// The input transform of the block at col0, every input channel, into `panel` (Fp32Panel or
// SplitPanel).
template <class Panel>
[[gnu::always_inline]] inline void input_transform_body(const float* x_n, const WinogradShape& s, const Grid& g,
                                                        int64_t col0, const Panel& panel) {
  const int64_t plane = s.height * s.width;
  // Where each vector of the block reads, the same for every channel: worked out once per block.
  VecPlace at[kPanelVecs];
  const int live = live_places(g, col0, at);
  int64_t y0[kPanelVecs];
  SegmentLoader segment[kPanelVecs];
  for (int vec = 0; vec < live; ++vec) {
    y0[vec] = at[vec].ty * kTile - s.pad_h;
    segment[vec] = SegmentLoader(at[vec].tx0 * kTile - s.pad_w, s.width);
  }
  // Channel by channel (Panel::kChannels at a time), so that the block's rows of one channel
  // (adjacent in memory) are read together. Channels past in_channels in the last group are zero.
  constexpr int kGroup = Panel::kChannels;
  for (int64_t c = 0; c < s.in_channels; c += kGroup) {
    const int group = static_cast<int>(std::min<int64_t>(kGroup, s.in_channels - c));
    for (int vec = 0; vec < live; ++vec) {
      // Rows first: u = row i's x-transformed points, parked at position (i, j). Then columns: column
      // j's six parked rows become positions (a, j). (As fast as a 6x6 array of vectors, which GCC
      // spills to the stack on AVX2 anyway; here the round trip through L1 is explicit and both
      // passes are plain loops.)
      for (int q = 0; q < group; ++q) {
        const float* x_c = x_n + (c + q) * plane;
        float* parked = panel.park(c + q, vec);
        for (int i = 0; i < kAlpha; ++i) {
          const int64_t y = y0[vec] + i;
          Vec u[6] = {};
          if (y >= 0 && y < s.height) {
            Vec d[6];
            deinterleave6(segment[vec].load(x_c + y * s.width), d);
            input_1d(d, u);
          }
          for (int j = 0; j < kAlpha; ++j) store(parked + (i * 6 + j) * kPanelWidth, u[j]);
        }
      }
      for (int j = 0; j < kAlpha; ++j) {
        Vec t[6][kGroup] = {};
        for (int q = 0; q < group; ++q) {
          const float* parked = panel.park(c + q, vec);
          Vec col_j[6], tq[6];
          for (int i = 0; i < kAlpha; ++i) col_j[i] = load(parked + (i * 6 + j) * kPanelWidth);
          input_1d(col_j, tq);
          for (int a = 0; a < kAlpha; ++a) t[a][q] = tq[a];
        }
        for (int a = 0; a < kAlpha; ++a) panel.put(c, vec, a * 6 + j, t[a]);
      }
    }
    const Vec zeros[kGroup] = {};
    for (int vec = live; vec < kPanelVecs; ++vec)
      for (int p = 0; p < kPositions; ++p) panel.put(c, vec, p, zeros);
  }
}

void input_transform(const float* x_n, const WinogradShape& s, const Grid& g, int64_t col0, const Fp32Panel& panel) {
  input_transform_body(x_n, s, g, col0, panel);
}
#if VRESTORE_ISA_AVX512
[[gnu::target("avx512bf16")]] void input_transform(const float* x_n, const WinogradShape& s, const Grid& g,
                                                   int64_t col0, const SplitPanel& panel) {
  input_transform_body(x_n, s, g, col0, panel);
  // The depth is padded to whole tiles with zero channels.
  const Vec zeros[SplitPanel::kChannels] = {};
  for (int64_t c = (s.in_channels + 1) / 2 * 2; c < panel.padded_depth(); c += 2)
    for (int vec = 0; vec < kPanelVecs; ++vec)
      for (int p = 0; p < kPositions; ++p) panel.put(c, vec, p, zeros);
}
#endif

// Output channels [r0, r0 + rows) of the block at col0 from M[r][pos][j] (the layout of V), + bias,
// activated, + the residual (laid out as the output) if not null; whole aligned vectors of output by
// streaming stores if stream_out.
void output_transform(const float* m, int64_t rows, int64_t r0, const WinogradShape& s, const Grid& g, int64_t col0,
                      const float* bias, ops::Activation act, const float* residual_n, float* out_n,
                      bool stream_out) {
  const int64_t out_plane = s.out_h * s.out_w;
  alignas(64) float tail[4 * L];
  // Where each vector of the block writes, the same for every output channel: its tile rows' first
  // output pixel and how much of the 4 x 4L pixels lies inside the output (valid_x 0: nothing).
  struct VecOutput {
    int64_t offset, valid_x, valid_y;
  };
  VecPlace at[kPanelVecs];
  const int live = live_places(g, col0, at);
  VecOutput where[kPanelVecs];
  for (int vec = 0; vec < live; ++vec) {
    const int64_t oy0 = at[vec].ty * kTile, ox0 = at[vec].tx0 * kTile;
    where[vec] = {oy0 * s.out_w + ox0, std::max<int64_t>(0, std::min<int64_t>(4 * L, s.out_w - ox0)),
                  std::min<int64_t>(kTile, s.out_h - oy0)};
  }
  for (int64_t r = 0; r < rows; ++r) {
    const Vec b = splat(bias ? bias[r0 + r] : 0.0f);
    for (int vec = 0; vec < live; ++vec) {
      const int64_t valid_x = where[vec].valid_x, valid_y = where[vec].valid_y;
      if (valid_x == 0) continue;
      const float* m_r = m + r * kPositions * kPanelWidth + vec * L;
      Vec z[6][4];  // z[a][c]: point a, output column c
      for (int a = 0; a < kAlpha; ++a) {
        Vec row_a[6];
        for (int k = 0; k < kAlpha; ++k) row_a[k] = load(m_r + (a * 6 + k) * kPanelWidth);
        output_1d(row_a, z[a]);
      }
      const int64_t offset = (r0 + r) * out_plane + where[vec].offset;
      float* out_r = out_n + offset;
      const float* res_r = residual_n ? residual_n + offset : nullptr;
      for (int c = 0; c < kTile; ++c) {
        // Column c of the tile: the 4 output rows.
        const Vec col_c[6] = {z[0][c], z[1][c], z[2][c], z[3][c], z[4][c], z[5][c]};
        Vec y[4];
        output_1d(col_c, y);
        for (int i = 0; i < kTile; ++i) z[i][c] = y[i];  // reuse z[0..3] as the output tile
      }
      for (int i = 0; i < valid_y; ++i) {
        Vec o[4], w[4];
        for (int c = 0; c < kTile; ++c) o[c] = activate(z[i][c] + b, act);
        interleave4(o, w);
        float* dst = out_r + i * s.out_w;
        if (valid_x == 4 * L) {
          if (res_r)
            for (int k = 0; k < 4; ++k) w[k] += load(res_r + i * s.out_w + k * L);
          if (stream_out && (reinterpret_cast<uintptr_t>(dst) & (sizeof(Vec) - 1)) == 0)
            for (int k = 0; k < 4; ++k) stream(dst + k * L, w[k]);
          else
            for (int k = 0; k < 4; ++k) store(dst + k * L, w[k]);
        } else {
          for (int k = 0; k < 4; ++k) store(tail + k * L, w[k]);
          if (res_r)
            for (int64_t j = 0; j < valid_x; ++j) tail[j] += res_r[i * s.out_w + j];
          std::copy(tail, tail + valid_x, dst);
        }
      }
    }
  }
}

}  // namespace

bool winograd_worthwhile(const WinogradShape& s) {
  // Measured against the direct convolution on one core: Winograd is 1.3-2.5x faster from 8 input
  // and output channels up (3 -> 64 gains only ~10%), as long as there are enough tiles and not
  // mostly padding ones (tile rows are padded to a multiple of kVecLanes tiles): 64 -> 64 at 24x24
  // (36 tiles in 96 columns) still gains 1.3x, at 16x16 (16 tiles in 64 columns) it loses 1.5x.
  const Grid g = make_grid(s);
  const int64_t tiles = s.batch * g.tiles_y * g.tiles_x, columns = s.batch * g.columns();
  return s.in_channels >= 8 && s.out_channels >= 8 && tiles >= 32 && 3 * tiles >= columns;
}

namespace {

// The 36 GEMMs of one block for output channels [r0, r0 + rows): M = U . V.
void position_gemms(const WinogradWeights& u, const float* v, int64_t in_channels, int64_t r0, int64_t rows, float* m) {
  for (int p = 0; p < kPositions; ++p) {
    const PackedWeights& w = u.positions[static_cast<size_t>(p)];
    const float* v_p = v + p * kPanelWidth;
    float* m_p = m + p * kPanelWidth;
    for (int64_t rb = 0; rb < rows; rb += kRowBlock) {
      const int nr = static_cast<int>(std::min<int64_t>(kRowBlock, rows - rb));
      kPanelKernels[static_cast<size_t>(nr - 1)](w.block((r0 + rb) / kRowBlock), v_p, nullptr,
                                                 kPositions * kPanelWidth, in_channels, nullptr,
                                                 ops::Activation::None, m_p + rb * kPositions * kPanelWidth,
                                                 kPositions * kPanelWidth, kPanelWidth);
    }
  }
}

#if VRESTORE_ISA_AVX512
static_assert(kChunkRows == amx::kTileRows && kPanelWidth == amx::kPanelCols,
              "one chunk of one block is one row of AMX tiles");

// The same on the AMX tile unit (bf16x3): v_hi / v_lo hold each position's panel as SplitPanel
// wrote it, split_elements apart. Writes kChunkRows rows of M (zero past Cout).
void split_position_gemms(const SplitWinogradWeights& u, const uint16_t* v_hi, const uint16_t* v_lo,
                          size_t split_elements, int64_t r0, float* m) {
  for (int p = 0; p < kPositions; ++p)
    amx::gemm_panel(u.positions[static_cast<size_t>(p)], r0, v_hi + p * split_elements, v_lo + p * split_elements,
                    m + p * kPanelWidth, kPositions * kPanelWidth);
}
#endif

}  // namespace

void winograd_conv3x3(const float* x, const float* weight, const float* bias, ops::Activation act,
                      const float* residual, const WinogradShape& s, float* out) {
  const Grid g = make_grid(s);
  const WeightShape shape{s.out_channels, s.in_channels, 3, 3};
#if VRESTORE_ISA_AVX512
  std::shared_ptr<const SplitWinogradWeights> split;
  if (effective_matmul_precision() == MatmulPrecision::High && amx::available())
    split = cached_weights<SplitWinogradWeights>(
        weight, shape, WeightPrep::Winograd4x4Bf16x3,
        [&] { return split_transform_weights(weight, s.out_channels, s.in_channels); });
  const size_t split_elements = split ? amx::split_panel_elements(split->positions[0].padded_depth) : 0;
#else
  constexpr bool split = false;
#endif
  std::shared_ptr<const WinogradWeights> u;
  if (!split)
    u = cached_weights<WinogradWeights>(weight, shape, WeightPrep::Winograd4x4,
                                        [&] { return transform_weights(weight, s.out_channels, s.in_channels); });
  const int64_t blocks = (g.columns() + kPanelWidth - 1) / kPanelWidth;
  const int64_t units = s.batch * blocks;
  const int64_t in_image = s.in_channels * s.height * s.width, out_image = s.out_channels * s.out_h * s.out_w;
  // An output far larger than the caches is written with streaming stores: its lines go to memory
  // anyway, and this way they are not read in first (read-for-ownership). Smaller outputs stay in
  // the caches for the op that reads them next. On Zen 3 (2 threads, 1x64x180x320, 14 MiB out):
  // BasicVSR 1.02-1.08x faster at 180x320 (alternating runs), unchanged at 64x64.
  const bool stream_out = s.batch * out_image * static_cast<int64_t>(sizeof(float)) >= kStreamOutputBytes;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t unit = 0; unit < units; ++unit) {
    const int64_t n = unit / blocks, col0 = (unit % blocks) * kPanelWidth;
    thread_local AlignedFloats v_storage, m_storage;
    // (Split for the tile unit, V is only the row pass's parking place: two channels' points.)
    v_storage.resize(static_cast<size_t>(kPositions * (split ? 2 : s.in_channels) * kPanelWidth));
    m_storage.resize(static_cast<size_t>(kPositions * kChunkRows * kPanelWidth));
    float* v = v_storage.data();
    float* m = m_storage.data();
#if VRESTORE_ISA_AVX512
    // On the tile unit the transform writes each position's panel split (amx_bf16.h); the chunks of
    // output channels below all read it.
    thread_local AlignedFloats split_storage;  // hi, then lo (bf16 bits, two per float)
    std::optional<amx::TileScope> tiles;
    uint16_t *v_hi = nullptr, *v_lo = nullptr;
    if (split) {
      split_storage.resize(kPositions * split_elements);
      v_hi = reinterpret_cast<uint16_t*>(split_storage.data());
      v_lo = v_hi + kPositions * split_elements;
      input_transform(x + n * in_image, s, g, col0, SplitPanel(v_hi, v_lo, split->positions[0].padded_depth, v));
      tiles.emplace();
    } else
#endif
      input_transform(x + n * in_image, s, g, col0, Fp32Panel(v));
    // Output channels in chunks, so that M (36 x chunk x panel) stays in L1/L2 between the GEMMs
    // that write it and the output transform that reads it.
    for (int64_t r0 = 0; r0 < s.out_channels; r0 += kChunkRows) {
      const int64_t rows = std::min(kChunkRows, s.out_channels - r0);
#if VRESTORE_ISA_AVX512
      if (split)
        split_position_gemms(*split, v_hi, v_lo, split_elements, r0, m);
      else
#endif
        position_gemms(*u, v, s.in_channels, r0, rows, m);
      output_transform(m, rows, r0, s, g, col0, bias, act, residual ? residual + n * out_image : nullptr,
                       out + n * out_image, stream_out);
    }
    if (stream_out) stream_fence();
  }
}

}  // namespace vrestore::cpu::VRESTORE_ISA_NS
