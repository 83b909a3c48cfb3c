// Launcher and entries of the fused window attention.
#include "window_attention.cuh"

namespace vrestore::kernels {

namespace {

constexpr int kMaxGridYZ = 65535;
constexpr int kMaxGridX = 1 << 20;  // plenty of blocks; the kernel strides over the windows

template <class T>
cudaError_t launch_window_attention(const WindowAttentionParams<T>& p, cudaStream_t stream) {
  const int64_t windows = int64_t(p.g.batch) * p.g.windows_per_image();
  if (windows == 0) return cudaSuccess;
  if (p.head_dim < 1 || p.head_dim > kWindowAttentionMaxHeadDim || p.heads < 1 || p.heads > kMaxGridYZ)
    return cudaErrorInvalidValue;
  const int tokens = p.g.tokens();
  const int group_size = p.mutual ? tokens / 2 : tokens;
  const int64_t query_blocks = int64_t(p.mutual ? 2 : 1) * ((group_size + kAttentionQueries - 1) / kAttentionQueries);
  if (query_blocks > kMaxGridYZ) return cudaErrorInvalidValue;
  const dim3 grid(unsigned(windows < kMaxGridX ? windows : kMaxGridX), unsigned(query_blocks), unsigned(p.heads));
  // The smaller register array whenever it suffices (VRT's head dims are 16, 20 and 30).
  if (p.head_dim <= 32) KLAUNCH((window_attention_kernel<T, 32>), grid, dim3(kAttentionQueries), 0, stream, p);
  else KLAUNCH((window_attention_kernel<T, 64>), grid, dim3(kAttentionQueries), 0, stream, p);
  return cudaGetLastError();
}

}  // namespace

cudaError_t window_attention(const WindowAttentionParams<float>& p, cudaStream_t stream) {
  return launch_window_attention(p, stream);
}
cudaError_t window_attention(const WindowAttentionParams<__half>& p, cudaStream_t stream) {
  return launch_window_attention(p, stream);
}

}  // namespace vrestore::kernels
