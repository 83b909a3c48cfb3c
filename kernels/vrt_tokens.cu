// Launchers and entries of VRT's per-token ops.
#include "vrt_tokens.cuh"

#include "launch_grid.h"

namespace vrestore::kernels {

namespace {

constexpr int kThreads = 256;
constexpr int kMaxGridYZ = 65535;
constexpr int64_t kMaxGridX = 1 << 20;  // plenty of blocks; the kernels stride beyond
constexpr int kLayerNormRowsPerBlock = 8;  // block (32, 8): one warp per row

template <class T>
cudaError_t launch_transpose(const TransposeParams<T>& p, cudaStream_t stream) {
  if (p.batch == 0 || p.rows == 0 || p.cols == 0) return cudaSuccess;
  const int64_t col_tiles = blocks_for(p.cols, kTransposeTile);
  const int64_t row_tiles = blocks_for(p.rows, kTransposeTile);
  const dim3 grid(unsigned(col_tiles), clamp_grid(row_tiles, kMaxGridYZ), clamp_grid(p.batch, kMaxGridYZ));
  KLAUNCH(transpose_kernel<T>, grid, dim3(kTransposeTile, kTransposeRowsPerPass), 0, stream, p);
  return cudaGetLastError();
}

template <class T>
cudaError_t launch_linear(const LinearParams<T>& p, const GemmContext& ctx) {
  if (p.rows == 0 || p.out_features == 0) return cudaSuccess;
  // weight (out, in) -> weightᵀ (in, out): the seam multiplies row-major operands without transposes.
  const TransposeParams<T> wt{p.weight, p.workspace, 1, p.out_features, p.in_features};
  if (cudaError_t e = launch_transpose(wt, ctx.stream); e != cudaSuccess) return e;
  // The bias goes into the output first and the product is accumulated onto it, so an f16 output
  // is rounded once (as cuBLAS's fused epilogue would), not once after the product and again after
  // the bias.
  if (p.bias) {
    const dim3 grid(unsigned(blocks_for(p.out_features, kThreads)), clamp_grid(p.rows, kMaxGridYZ));
    KLAUNCH(bias_rows_kernel<T>, grid, dim3(kThreads), 0, ctx.stream, p.out, p.bias, p.rows, p.out_features);
    if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
  }
  return gemm(ctx, p.rows, p.out_features, p.in_features, p.x, p.in_features, p.workspace, p.out_features, p.out,
              p.out_features, /*accumulate=*/p.bias != nullptr);
}

template <class T>
cudaError_t launch_layer_norm(const LayerNormParams<T>& p, cudaStream_t stream) {
  if (p.rows == 0) return cudaSuccess;
  const int64_t blocks = (int64_t(p.rows) + kLayerNormRowsPerBlock - 1) / kLayerNormRowsPerBlock;
  KLAUNCH(layer_norm_kernel<T>, dim3(unsigned(blocks)), dim3(32, kLayerNormRowsPerBlock), 0, stream, p);
  return cudaGetLastError();
}

template <class T>
cudaError_t launch_gelu(const GeluParams<T>& p, cudaStream_t stream) {
  if (p.count == 0) return cudaSuccess;
  KLAUNCH(gelu_kernel<T>, dim3(clamp_grid(blocks_for(p.count, kThreads), kMaxGridX)), dim3(kThreads), 0,
          stream, p);
  return cudaGetLastError();
}

template <class T>
cudaError_t launch_add_broadcast(const AddBroadcastParams<T>& p, cudaStream_t stream) {
  if (p.outer == 0 || p.inner == 0) return cudaSuccess;
  const dim3 grid(unsigned(blocks_for(p.inner, kThreads)), clamp_grid(p.outer, kMaxGridYZ));
  KLAUNCH(add_broadcast_kernel<T>, grid, dim3(kThreads), 0, stream, p);
  return cudaGetLastError();
}

template <class T>
cudaError_t launch_window_partition(const WindowPartitionParams<T>& p, cudaStream_t stream) {
  const int64_t windows = int64_t(p.g.batch) * p.g.windows_per_image();
  if (windows == 0 || p.channels == 0) return cudaSuccess;
  const int threads = p.channels >= 128 ? 128 : (p.channels + 31) / 32 * 32;
  const dim3 grid(clamp_grid(windows, kMaxGridX), clamp_grid(p.g.tokens(), kMaxGridYZ));
  KLAUNCH(window_partition_kernel<T>, grid, dim3(threads), 0, stream, p);
  return cudaGetLastError();
}

}  // namespace

cudaError_t linear(const LinearParams<float>& p, const GemmContext& gemm) { return launch_linear(p, gemm); }
cudaError_t linear(const LinearParams<__half>& p, const GemmContext& gemm) { return launch_linear(p, gemm); }
cudaError_t layer_norm(const LayerNormParams<float>& p, cudaStream_t s) { return launch_layer_norm(p, s); }
cudaError_t layer_norm(const LayerNormParams<__half>& p, cudaStream_t s) { return launch_layer_norm(p, s); }
cudaError_t gelu(const GeluParams<float>& p, cudaStream_t s) { return launch_gelu(p, s); }
cudaError_t gelu(const GeluParams<__half>& p, cudaStream_t s) { return launch_gelu(p, s); }
cudaError_t add_broadcast(const AddBroadcastParams<float>& p, cudaStream_t s) { return launch_add_broadcast(p, s); }
cudaError_t add_broadcast(const AddBroadcastParams<__half>& p, cudaStream_t s) { return launch_add_broadcast(p, s); }
cudaError_t transpose(const TransposeParams<float>& p, cudaStream_t s) { return launch_transpose(p, s); }
cudaError_t transpose(const TransposeParams<__half>& p, cudaStream_t s) { return launch_transpose(p, s); }
cudaError_t window_partition(const WindowPartitionParams<float>& p, cudaStream_t s) {
  return launch_window_partition(p, s);
}
cudaError_t window_partition(const WindowPartitionParams<__half>& p, cudaStream_t s) {
  return launch_window_partition(p, s);
}

}  // namespace vrestore::kernels
