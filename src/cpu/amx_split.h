// Writing the B operand of the AMX bf16x3 products (amx_bf16.h) from fp32 vectors: one 64-byte
// tile row of hi and one of lo hold the (k, k + 1) pairs of kTileCols columns, so the vectors of
// rows k and k + 1 (k even, one lane per column) make exactly one row of each, k in the low and
// k + 1 in the high 16 bits of each 32-bit lane.
//
// A kernel header like gemm.h: include it after cpu/isa.h. AVX-512 builds only (a CPU with
// AMX-BF16 has AVX512-BF16, whose VCVTNE2PS2BF16 rounds to nearest even and keeps NaNs; callers
// reach this only after amx::available()).
#pragma once

#include <utility>

#include "cpu/amx_bf16.h"
#include "cpu/gemm.h"

#if VRESTORE_ISA_AVX512
namespace vrestore::cpu::VRESTORE_ISA_NS {

static_assert(kVecLanes == amx::kTileCols, "one vector is one column tile");

namespace amx_split_detail {
typedef uint32_t Bits __attribute__((vector_size(sizeof(Vec)), aligned(alignof(float))));
typedef uint16_t Halves __attribute__((vector_size(sizeof(Vec))));

// 16 bf16 of one row then 16 of the next -> the 16 pairs, one per 32-bit lane.
[[gnu::target("avx512bf16")]] inline Bits pairs(__m512bh packed) {
  const Halves h = reinterpret_cast<Halves>(packed);
  return reinterpret_cast<Bits>(__builtin_shufflevector(h, h, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
                                                        8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31));
}
}  // namespace amx_split_detail

// The hi and lo parts of the pairs (even[t], odd[t]), one per 32-bit lane t, even's in the low half.
struct SplitPairs {
  amx_split_detail::Bits hi, lo;
};
[[gnu::target("avx512bf16")]] inline SplitPairs split_pairs(Vec even, Vec odd) {
  using amx_split_detail::Bits;
  using amx_split_detail::pairs;
  const Bits h = pairs(_mm512_cvtne2ps_pbh(reinterpret_cast<__m512>(odd), reinterpret_cast<__m512>(even)));
  // hi as fp32: even's in the low 16 bits of each lane, odd's in the high ones.
  const Vec lo_even = even - reinterpret_cast<Vec>(h << 16), lo_odd = odd - reinterpret_cast<Vec>(h & 0xffff0000u);
  return {h, pairs(_mm512_cvtne2ps_pbh(reinterpret_cast<__m512>(lo_odd), reinterpret_cast<__m512>(lo_even)))};
}

// hi/lo point at the tile row of pair (k, k + 1) (amx::split_panel_offset(k, tile)).
[[gnu::target("avx512bf16")]] inline void store_split_pair(Vec even, Vec odd, uint16_t* hi, uint16_t* lo) {
  const SplitPairs p = split_pairs(even, odd);
  *reinterpret_cast<amx_split_detail::Bits*>(hi) = p.hi;
  *reinterpret_cast<amx_split_detail::Bits*>(lo) = p.lo;
}

namespace amx_split_detail {
// One step of transpose16: for the rows i and j = i + b, swaps the lanes with bit b set in row i
// with the lanes without it in row j.
template <int b, size_t... L>
inline void exchange_lanes(Vec& i, Vec& j, std::index_sequence<L...>) {
  const Vec low = __builtin_shufflevector(i, j, ((L & b) ? 16 + L - b : L)...);
  const Vec high = __builtin_shufflevector(i, j, ((L & b) ? 16 + L : L + b)...);
  i = low;
  j = high;
}
template <int b>
inline void exchange_rows(Vec* v) {
  for (int i = 0; i < 16; ++i)
    if (!(i & b)) exchange_lanes<b>(v[i], v[i + b], std::make_index_sequence<16>{});
}
}  // namespace amx_split_detail

// Transposes the 16 x 16 matrix of 32-bit lanes v[row][lane] in place: each of the four steps
// exchanges one bit of the row index with the same bit of the lane index.
inline void transpose16(Vec* v) {
  amx_split_detail::exchange_rows<8>(v);
  amx_split_detail::exchange_rows<4>(v);
  amx_split_detail::exchange_rows<2>(v);
  amx_split_detail::exchange_rows<1>(v);
}

}  // namespace vrestore::cpu::VRESTORE_ISA_NS
#endif
