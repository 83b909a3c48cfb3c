// How the chunked im2col + GEMM convolutions (conv2d, deform_conv2d) split the output plane:
// one rule for both, so their workspace bound and alignment cannot drift apart.
// A leaf header: included by host adapters (g++) and by kernel code alike.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vrestore::kernels {

// The column tile of one chunk never exceeds this, whatever the image size.
constexpr size_t kColumnWorkspaceLimitBytes = size_t(64) << 20;
// The tile aimed for: a third of the H200's 50 MB L2, so im2col's writes are still there when the
// GEMM reads them.
constexpr size_t kColumnTileTargetBytes = size_t(16) << 20;

// Pixels of a `plane`-pixel output handled per chunk when one pixel's column takes `column_bytes`;
// `requested` > 0 forces a size (tests put chunk borders mid-row). 0 when there is nothing to do or
// a single column already exceeds the limit (the entries then refuse with cudaErrorInvalidValue).
inline int64_t column_chunk_pixels(int64_t plane, int64_t column_bytes, int64_t requested) {
  if (plane <= 0 || column_bytes <= 0 || column_bytes > int64_t(kColumnWorkspaceLimitBytes)) return 0;
  const int64_t most = int64_t(kColumnWorkspaceLimitBytes) / column_bytes;
  int64_t chunk = requested;
  if (chunk <= 0) {
    // Even chunks (no small remainder launch), rounded up to 64 pixels so that every chunk starts
    // 256-byte aligned in the output rows the GEMM writes.
    const int64_t target = int64_t(kColumnTileTargetBytes) / column_bytes;
    const int64_t target_chunk = target > 1 ? target : 1;
    const int64_t chunks = (plane + target_chunk - 1) / target_chunk;
    chunk = ((plane + chunks - 1) / chunks + 63) / 64 * 64;
  }
  if (chunk > most) chunk = most;
  return chunk < plane ? chunk : plane;
}

}  // namespace vrestore::kernels
