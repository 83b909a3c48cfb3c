// Launcher and entries of the bias + activation epilogue.
#include "bias_activation.cuh"

namespace vrestore::kernels {

namespace {
constexpr int kThreads = 256;
constexpr int64_t kMaxGridX = 65535;  // more than enough blocks; the kernel strides beyond
constexpr int kMaxGridYZ = 65535;

template <class T>
cudaError_t launch_bias_activation(const BiasActivationParams<T>& p, cudaStream_t stream) {
  if (p.batch == 0 || p.channels == 0 || p.plane == 0) return cudaSuccess;
  if (p.channels > kMaxGridYZ || p.batch > kMaxGridYZ) return cudaErrorInvalidValue;
  const int64_t blocks = (p.plane + kThreads - 1) / kThreads;
  const dim3 grid(unsigned(blocks < kMaxGridX ? blocks : kMaxGridX), unsigned(p.channels), unsigned(p.batch));
  KLAUNCH(bias_activation_kernel<T>, grid, dim3(kThreads), 0, stream, p);
  return cudaGetLastError();
}
}  // namespace

cudaError_t bias_activation(const BiasActivationParams<float>& p, cudaStream_t stream) {
  return launch_bias_activation(p, stream);
}
cudaError_t bias_activation(const BiasActivationParams<__half>& p, cudaStream_t stream) {
  return launch_bias_activation(p, stream);
}

}  // namespace vrestore::kernels
