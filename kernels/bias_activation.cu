// Launcher and entry of the bias + activation epilogue.
#include "bias_activation.cuh"

namespace vrestore::kernels {

namespace {
constexpr int kThreads = 256;
constexpr int64_t kMaxGridX = 65535;  // more than enough blocks; the kernel strides beyond
constexpr int kMaxGridYZ = 65535;
}  // namespace

cudaError_t bias_activation(const BiasActivationParams& p, cudaStream_t stream) {
  if (p.batch == 0 || p.channels == 0 || p.plane == 0) return cudaSuccess;
  if (p.channels > kMaxGridYZ || p.batch > kMaxGridYZ) return cudaErrorInvalidValue;
  const int64_t blocks = (p.plane + kThreads - 1) / kThreads;
  const dim3 grid(unsigned(blocks < kMaxGridX ? blocks : kMaxGridX), unsigned(p.channels), unsigned(p.batch));
  KLAUNCH(bias_activation_kernel, grid, dim3(kThreads), 0, stream, p);
  return cudaGetLastError();
}

}  // namespace vrestore::kernels
