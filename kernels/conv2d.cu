// Launcher and entries of the chunked im2col + GEMM convolution.
#include "bias_activation.h"
#include "conv2d.cuh"

namespace vrestore::kernels {

namespace {

constexpr int kThreads = 256;
constexpr int kMaxGridYZ = 65535;

template <class T>
cudaError_t run_conv2d(const Conv2dParams<T>& p, const GemmContext& ctx) {
  const int64_t out_plane = int64_t(p.out_height) * p.out_width;
  if (p.batch == 0 || out_plane == 0 || p.out_channels == 0) return cudaSuccess;
  const int taps = p.kernel_h * p.kernel_w;
  const int channel_slices = (p.in_channels + kConvChannelsPerThread - 1) / kConvChannelsPerThread;
  if (out_plane > INT32_MAX || taps > kMaxGridYZ || channel_slices > kMaxGridYZ) return cudaErrorInvalidValue;
  const int64_t chunk_pixels = conv2d_chunk_pixels(p);
  if (chunk_pixels <= 0) return cudaErrorInvalidValue;  // one pixel's column exceeds the workspace limit
  const int64_t reduction = int64_t(p.in_channels) * taps;
  const bool pointwise = conv2d_is_pointwise(p);
  const int64_t in_plane = int64_t(p.height) * p.width;

  for (int n = 0; n < p.batch; ++n) {
    T* image_out = p.output + int64_t(n) * p.out_channels * out_plane;
    const T* image_in = p.input + int64_t(n) * p.in_channels * in_plane;
    for (int64_t begin = 0; begin < out_plane; begin += chunk_pixels) {
      const int count = int(out_plane - begin < chunk_pixels ? out_plane - begin : chunk_pixels);
      // The GEMM's right operand: the input plane itself (row stride H*W = Ho*Wo) for a pointwise
      // conv, otherwise the freshly written tile (row stride count).
      const T* columns = image_in + begin;
      int64_t columns_ld = in_plane;
      if (!pointwise) {
        const ConvChunk chunk{n, int(begin), count};
        const dim3 grid(unsigned((count + kThreads - 1) / kThreads), unsigned(taps), unsigned(channel_slices));
        KLAUNCH(conv2d_im2col_kernel<T>, grid, dim3(kThreads), 0, ctx.stream, p, chunk);
        if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
        columns = p.workspace;
        columns_ld = count;
      }
      // output[n][:, begin:begin+count] (Cout, count; row stride Ho*Wo) = weight · columns
      if (cudaError_t e = gemm(ctx, p.out_channels, count, reduction, p.weight, reduction, columns, columns_ld,
                               image_out + begin, out_plane);
          e != cudaSuccess)
        return e;
      const T* residual = p.residual ? p.residual + (image_out - p.output) + begin : nullptr;
      if (cudaError_t e = chunk_epilogue(image_out + begin, p.bias, residual, p.out_channels, count, out_plane,
                                         p.activation, p.leaky_slope, ctx.stream);
          e != cudaSuccess)
        return e;
    }
  }
  return cudaSuccess;
}

}  // namespace

cudaError_t conv2d(const Conv2dParams<float>& p, const GemmContext& gemm) { return run_conv2d(p, gemm); }
cudaError_t conv2d(const Conv2dParams<__half>& p, const GemmContext& gemm) { return run_conv2d(p, gemm); }

}  // namespace vrestore::kernels
