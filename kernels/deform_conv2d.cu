// Launcher and entries of the chunked modulated deformable convolution.
#include "bias_activation.h"
#include "deform_conv2d.cuh"

namespace vrestore::kernels {

namespace {

constexpr int kThreads = 256;
constexpr int kMaxGridYZ = 65535;

template <class T>
cudaError_t run_deform_conv2d(const DeformConv2dParams<T>& p, const GemmContext& ctx) {
  const int64_t out_plane = int64_t(p.out_height) * p.out_width;
  if (p.batch == 0 || out_plane == 0 || p.out_channels == 0) return cudaSuccess;
  const int taps = p.kernel_h * p.kernel_w;
  if (out_plane > INT32_MAX || taps > kMaxGridYZ || p.deformable_groups > kMaxGridYZ) return cudaErrorInvalidValue;
  const int64_t chunk_pixels = deform_conv2d_chunk_pixels(p);
  if (chunk_pixels <= 0) return cudaErrorInvalidValue;  // one pixel's column exceeds the workspace limit
  const int64_t reduction = int64_t(p.in_channels) * taps;

  for (int n = 0; n < p.batch; ++n) {
    T* image_out = p.output + int64_t(n) * p.out_channels * out_plane;
    for (int64_t begin = 0; begin < out_plane; begin += chunk_pixels) {
      const int count = int(out_plane - begin < chunk_pixels ? out_plane - begin : chunk_pixels);
      const DeformChunk chunk{n, int(begin), count};
      const dim3 grid(unsigned((count + kThreads - 1) / kThreads), unsigned(taps), unsigned(p.deformable_groups));
      KLAUNCH(deform_im2col_kernel<T>, grid, dim3(kThreads), 0, ctx.stream, p, chunk);
      if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
      // output[n][:, begin:begin+count] (Cout, count; row stride Ho*Wo) = weight · tile
      if (cudaError_t e = gemm(ctx, p.out_channels, count, reduction, p.weight, reduction, p.workspace, count,
                               image_out + begin, out_plane);
          e != cudaSuccess)
        return e;
      if (cudaError_t e = chunk_epilogue(image_out + begin, p.bias, static_cast<const T*>(nullptr), p.out_channels,
                                         count, out_plane, p.activation, p.leaky_slope, ctx.stream);
          e != cudaSuccess)
        return e;
    }
  }
  return cudaSuccess;
}

}  // namespace

cudaError_t deform_conv2d(const DeformConv2dParams<float>& p, const GemmContext& gemm) {
  return run_deform_conv2d(p, gemm);
}
cudaError_t deform_conv2d(const DeformConv2dParams<__half>& p, const GemmContext& gemm) {
  return run_deform_conv2d(p, gemm);
}

}  // namespace vrestore::kernels
