// Launcher and entry of the modulated deformable convolution.
#include "deform_conv2d.cuh"

namespace vrestore::kernels {

namespace {

constexpr int kThreads = 256;
constexpr int kMaxGridY = 65535;

cudaError_t launch_deform_im2col(const DeformConv2dParams& p, int n, cudaStream_t stream) {
  const int out_plane = p.out_height * p.out_width;
  if (p.in_channels > kMaxGridY) return cudaErrorInvalidValue;
  const dim3 grid(unsigned((out_plane + kThreads - 1) / kThreads), unsigned(p.in_channels));
  KLAUNCH(deform_im2col_kernel, grid, dim3(kThreads), 0, stream, p, n);
  return cudaGetLastError();
}

}  // namespace

cudaError_t deform_conv2d(const DeformConv2dParams& p, const GemmContext& gemm) {
  const int64_t out_plane = int64_t(p.out_height) * p.out_width;
  if (p.batch == 0 || out_plane == 0 || p.out_channels == 0) return cudaSuccess;
  const int64_t reduction = int64_t(p.in_channels) * p.kernel_h * p.kernel_w;
  for (int n = 0; n < p.batch; ++n) {
    if (cudaError_t e = launch_deform_im2col(p, n, gemm.stream); e != cudaSuccess) return e;
    // output[n] (Cout, Ho*Wo) = weight (Cout, Cin*K) · columns (Cin*K, Ho*Wo)
    float* out = p.output + int64_t(n) * p.out_channels * out_plane;
    if (cudaError_t e = gemm_f32(gemm, p.out_channels, out_plane, reduction, p.weight, p.columns, out); e != cudaSuccess)
      return e;
  }
  if (!p.bias && p.activation == Activation::None) return cudaSuccess;
  BiasActivationParams epilogue;
  epilogue.data = p.output;
  epilogue.bias = p.bias;
  epilogue.batch = p.batch;
  epilogue.channels = p.out_channels;
  epilogue.plane = out_plane;
  epilogue.activation = p.activation;
  epilogue.leaky_slope = p.leaky_slope;
  return bias_activation(epilogue, gemm.stream);
}

}  // namespace vrestore::kernels
