// Writing the B operand of the AMX bf16x3 products (amx_bf16.h) from fp32 vectors: one 64-byte
// tile row of hi and one of lo hold the (k, k + 1) pairs of kTileCols columns, so the vectors of
// rows k and k + 1 (k even, one lane per column) make exactly one row of each, k in the low and
// k + 1 in the high 16 bits of each 32-bit lane.
//
// A kernel header like gemm.h: include it after cpu/isa.h. AVX-512 builds only (a CPU with
// AMX-BF16 has AVX512-BF16, whose VCVTNE2PS2BF16 rounds to nearest even and keeps NaNs; callers
// reach this only after amx::available()).
#pragma once

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

// hi/lo point at the tile row of pair (k, k + 1) (amx::split_panel_offset(k, tile)).
[[gnu::target("avx512bf16")]] inline void store_split_pair(Vec even, Vec odd, uint16_t* hi, uint16_t* lo) {
  using amx_split_detail::Bits;
  using amx_split_detail::pairs;
  const Bits h = pairs(_mm512_cvtne2ps_pbh(reinterpret_cast<__m512>(odd), reinterpret_cast<__m512>(even)));
  // hi as fp32: even's in the low 16 bits of each lane, odd's in the high ones.
  const Vec lo_even = even - reinterpret_cast<Vec>(h << 16), lo_odd = odd - reinterpret_cast<Vec>(h & 0xffff0000u);
  const Bits l = pairs(_mm512_cvtne2ps_pbh(reinterpret_cast<__m512>(lo_odd), reinterpret_cast<__m512>(lo_even)));
  *reinterpret_cast<Bits*>(hi) = h;
  *reinterpret_cast<Bits*>(lo) = l;
}

}  // namespace vrestore::cpu::VRESTORE_ISA_NS
#endif
