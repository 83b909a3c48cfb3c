// Grid sizes for the launchers (kernels/*.cu): how many blocks cover a count of items, and the
// clamp to a grid limit for kernels that grid-stride over what the grid does not reach.
// Host-only; no CUDA header, so the emulated build compiles it unchanged.
#pragma once

#include <cstdint>

namespace vrestore::kernels {

// Blocks of `threads` threads that cover `items` items: ceil(items / threads); 0 for no items.
inline constexpr int64_t blocks_for(int64_t items, int threads) { return (items + threads - 1) / threads; }

// `blocks` limited to `limit` (a grid dimension's maximum, or a chosen cap): the kernel given the
// clamped grid must stride over the rest.
inline constexpr unsigned clamp_grid(int64_t blocks, int64_t limit) { return unsigned(blocks < limit ? blocks : limit); }

}  // namespace vrestore::kernels
