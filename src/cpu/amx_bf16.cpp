// The AMX-BF16 bf16x3 products (see amx_bf16.h). Compiled with the baseline flags like the rest of
// the library; the functions below the target pragma use the tile instructions and are called only
// after available() said yes.
#include "cpu/amx_bf16.h"

#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "core/checked_math.h"
#include "core/half.h"

namespace vrestore::cpu::amx {
namespace {

// Linux's arch_prctl request for permission to use a dynamically enabled XSAVE feature, and the
// feature number of the tile data (asm/prctl.h, not shipped by every libc).
constexpr int kArchReqXcompPerm = 0x1023;
constexpr int kXfeatureXtileData = 18;

bool cpu_and_os_support() {
#if defined(__x86_64__)
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  const bool amx_bf16 = (edx >> 22) & 1, amx_tile = (edx >> 24) & 1;
  if (!amx_bf16 || !amx_tile) return false;
  if (!__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) || !((eax >> 5) & 1)) return false;  // AVX512-BF16
  if (!__builtin_cpu_supports("avx512bw") || !__builtin_cpu_supports("avx512vl")) return false;
  // The OS must enable the tile state in XCR0 (bits 17 and 18)...
  unsigned xcr0_lo, xcr0_hi;
  __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  if (((xcr0_lo >> 17) & 3) != 3) return false;
  // ... and grant this process the tile data (Linux 5.16 and later; process-wide, once).
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtileData) == 0;
#else
  return false;
#endif
}

// Tile configuration (palette 1): every tile kTileRows rows of 64 bytes.
struct alignas(64) TileConfig {
  uint8_t palette_id = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

}  // namespace

bool available() {
  static const bool yes = cpu_and_os_support();
  return yes;
}

template <SplitLayout kLayout>
Split<kLayout> allocate_split(int64_t rows, int64_t depth) {
  static_assert(kTileRows == kTileCols, "either layout pads the rows to one tile");
  Split<kLayout> a;
  a.rows = rows;
  a.depth = depth;
  a.padded_rows = round_up(std::max<int64_t>(rows, 1), kTileRows, "amx::allocate_split");
  a.padded_depth = round_up(std::max<int64_t>(depth, 1), kTileDepth, "amx::allocate_split");
  a.hi.assign(static_cast<size_t>(a.padded_rows * a.padded_depth), 0);
  a.lo.assign(a.hi.size(), 0);
  return a;
}
template SplitRows allocate_split<SplitLayout::Rows>(int64_t, int64_t);
template SplitColumns allocate_split<SplitLayout::Columns>(int64_t, int64_t);

namespace {
// x (exact: weights are prepared in double) as hi + lo, both bf16 bits.
void split_into(double x, uint16_t& hi, uint16_t& lo) {
  hi = float_to_bf16_bits(static_cast<float>(x));
  lo = float_to_bf16_bits(static_cast<float>(x - static_cast<double>(bf16_bits_to_float(hi))));
}

constexpr int64_t kTileElements = kTileRows * kTileDepth;  // bf16 in one tile
}  // namespace

void set(SplitRows& a, int64_t row, int64_t k, double x) {
  const size_t at = static_cast<size_t>(row * a.padded_depth + k);
  split_into(x, a.hi[at], a.lo[at]);
}

void set(SplitColumns& b, int64_t row, int64_t k, double x) {
  const int64_t tile = row / kTileCols * (b.padded_depth / kTileDepth) + k / kTileDepth;
  const size_t at = static_cast<size_t>(tile * kTileElements + k % kTileDepth / 2 * 2 * kTileCols + row % kTileCols * 2 +
                                        k % 2);
  split_into(x, b.hi[at], b.lo[at]);
}

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("amx-tile,amx-bf16")

namespace {

void configure_tiles() {
  TileConfig config;
  for (int t = 0; t < 8; ++t) {
    config.rows[t] = kTileRows;
    config.colsb[t] = 64;
  }
  // Not _tile_loadconfig: GCC 12's builtin does not tell the optimiser that it reads the
  // configuration, which then drops the stores above (a tile instruction faults with SIGILL).
  __asm__ volatile("ldtilecfg %0" : : "m"(config));
}

void release_tiles() { _tile_release(); }

// Where one depth step's operand tiles lie. One operand comes whole (tiles 3 and 4: hi, lo), the
// other in three tiles (5-7, loaded from hi, then from lo); rows `stride` bytes apart, tile n of the
// three `step` bytes after tile 0.
struct StepTiles {
  const void *single_hi, *single_lo;
  int64_t single_stride;
  const void *triple_hi, *triple_lo;
  int64_t triple_stride, triple_step;
};

// Accumulators 0-2 = the sum over `steps` depth steps (tiles(s) -> StepTiles) of the bf16x3 products
// of the single operand with each of the three: hi * hi, lo * hi, then hi * lo (consecutive products
// go to different accumulators, so that none waits for the previous one's result). kTripleIsA: the
// three tiles are the A operand (rows of C), else B. Then accumulator n is stored at
// out + n * out_step floats, rows out_stride bytes apart.
template <bool kTripleIsA, class Tiles>
void accumulate_three(int64_t steps, Tiles&& tiles, float* out, int64_t out_stride, int64_t out_step) {
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  for (int64_t s = 0; s < steps; ++s) {
    const StepTiles t = tiles(s);
    _tile_loadd(3, t.single_hi, t.single_stride);
    _tile_loadd(4, t.single_lo, t.single_stride);
    // (Macros: the tile numbers must be literals in the instructions.)
#define VRESTORE_LOAD_THREE(from)                                                   \
  _tile_loadd(5, from, t.triple_stride);                                             \
  _tile_loadd(6, static_cast<const char*>(from) + t.triple_step, t.triple_stride);   \
  _tile_loadd(7, static_cast<const char*>(from) + 2 * t.triple_step, t.triple_stride)
#define VRESTORE_TIMES_THREE(single) \
  if constexpr (kTripleIsA) {        \
    _tile_dpbf16ps(0, 5, single);    \
    _tile_dpbf16ps(1, 6, single);    \
    _tile_dpbf16ps(2, 7, single);    \
  } else {                           \
    _tile_dpbf16ps(0, single, 5);    \
    _tile_dpbf16ps(1, single, 6);    \
    _tile_dpbf16ps(2, single, 7);    \
  }
    VRESTORE_LOAD_THREE(t.triple_hi);
    VRESTORE_TIMES_THREE(3)
    VRESTORE_TIMES_THREE(4)
    VRESTORE_LOAD_THREE(t.triple_lo);
    VRESTORE_TIMES_THREE(3)
#undef VRESTORE_LOAD_THREE
#undef VRESTORE_TIMES_THREE
  }
  _tile_stored(0, out, out_stride);
  _tile_stored(1, out + out_step, out_stride);
  _tile_stored(2, out + 2 * out_step, out_stride);
}

constexpr int64_t kBf16 = sizeof(uint16_t);

}  // namespace

void gemm_panel(const SplitRows& a, int64_t r0, const uint16_t* b_hi, const uint16_t* b_lo, float* out,
                int64_t out_row_stride) {
  const uint16_t* a_hi = a.hi.data() + r0 * a.padded_depth;
  const uint16_t* a_lo = a.lo.data() + r0 * a.padded_depth;
  const auto tiles = [&](int64_t s) {
    const int64_t k = s * kTileDepth, at = s * 3 * kTileElements;
    return StepTiles{a_hi + k, a_lo + k, a.padded_depth * kBf16, b_hi + at, b_lo + at, 64, kTileElements * kBf16};
  };
  accumulate_three<false>(a.padded_depth / kTileDepth, tiles, out, out_row_stride * sizeof(float), kTileCols);
}

void gemm_positions(const SplitColumns& b, int64_t r0, const uint16_t* a_hi, const uint16_t* a_lo,
                    const int64_t* step_offsets, int64_t a_stride, float* out) {
  const int64_t steps = b.padded_depth / kTileDepth;
  const uint16_t* b_hi = b.hi.data() + r0 / kTileCols * steps * kTileElements;
  const uint16_t* b_lo = b.lo.data() + r0 / kTileCols * steps * kTileElements;
  const auto tiles = [&](int64_t s) {
    const int64_t at = s * kTileElements;
    // The three position tiles: 16 positions each, a_stride elements per position.
    return StepTiles{b_hi + at, b_lo + at, 64, a_hi + step_offsets[s], a_lo + step_offsets[s], a_stride * kBf16,
                     kTileRows * a_stride * kBf16};
  };
  accumulate_three<true>(steps, tiles, out, kTileCols * sizeof(float), kTileRows * kTileCols);
}

#pragma GCC pop_options

TileScope::TileScope() { configure_tiles(); }
TileScope::~TileScope() { release_tiles(); }
#else
void gemm_panel(const SplitRows&, int64_t, const uint16_t*, const uint16_t*, float*, int64_t) {}
void gemm_positions(const SplitColumns&, int64_t, const uint16_t*, const uint16_t*, const int64_t*, int64_t, float*) {}
TileScope::TileScope() {}
TileScope::~TileScope() {}
#endif

}  // namespace vrestore::cpu::amx
