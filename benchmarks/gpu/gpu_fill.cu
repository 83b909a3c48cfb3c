// Device-side input generators of gpu_fill.h (compiled by nvcc; CUDA builds only).
#include "gpu_fill.h"

namespace vrestore::gpu_bench {
namespace {

constexpr int kThreads = 256;

int blocks_for(int64_t count) {
  const int64_t blocks = (count + kThreads - 1) / kThreads;
  return static_cast<int>(blocks < 65535 * 16 ? blocks : 65535 * 16);  // grid-stride beyond that
}

__device__ float hash_uniform(uint64_t i, uint32_t seed) {
  // splitmix64 of (i, seed): good enough to look random, and the same on every launch.
  uint64_t z = i * 0x9E3779B97F4A7C15ull + (uint64_t(seed) << 32 | seed);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return float(z >> 40) * (1.0f / 16777216.0f);
}

template <class T>
__global__ void uniform_kernel(T* data, int64_t count, float lo, float hi, uint32_t seed) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x)
    data[i] = T(lo + (hi - lo) * hash_uniform(uint64_t(i), seed));
}

__global__ void flow_kernel(float* flow, int batch, int height, int width, bool interleaved) {
  const int64_t plane = int64_t(height) * width, count = plane * batch;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / plane, p = i % plane;
    const float x = float(p % width), y = float(p / width);
    const float dx = 2.5f * sinf(0.021f * x + 0.013f * y) + 0.5f;
    const float dy = 1.5f * cosf(0.017f * x - 0.029f * y) - 0.25f;
    if (interleaved) {
      flow[2 * i] = dx;
      flow[2 * i + 1] = dy;
    } else {
      flow[(2 * n) * plane + p] = dx;
      flow[(2 * n + 1) * plane + p] = dy;
    }
  }
}

__global__ void dcn_kernel(float* offset, float* mask, int batch, int groups_taps, int height, int width) {
  const int64_t plane = int64_t(height) * width, count = plane * groups_taps * batch;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t p = i % plane, nj = i / plane, j = nj % groups_taps, n = nj / groups_taps;
    const float x = float(p % width), y = float(p / width), fj = float(j);
    const int64_t off = (n * 2 * groups_taps + 2 * j) * plane + p;
    offset[off] = 3.0f * sinf(0.7f * fj + 0.3f) + 0.5f * sinf(0.05f * x + 0.03f * y);
    offset[off + plane] = 3.0f * cosf(0.9f * fj + 0.1f) + 0.5f * cosf(0.04f * x - 0.02f * y);
    mask[i] = 0.5f + 0.5f * sinf(0.01f * x + 0.02f * y + fj);
  }
}

}  // namespace

cudaError_t fill_uniform(float* data, int64_t count, float lo, float hi, uint32_t seed, cudaStream_t stream) {
  if (count <= 0) return cudaSuccess;
  uniform_kernel<<<blocks_for(count), kThreads, 0, stream>>>(data, count, lo, hi, seed);
  return cudaGetLastError();
}

cudaError_t fill_uniform(__half* data, int64_t count, float lo, float hi, uint32_t seed, cudaStream_t stream) {
  if (count <= 0) return cudaSuccess;
  uniform_kernel<<<blocks_for(count), kThreads, 0, stream>>>(data, count, lo, hi, seed);
  return cudaGetLastError();
}

cudaError_t fill_flow(float* flow, int batch, int height, int width, bool interleaved, cudaStream_t stream) {
  const int64_t count = int64_t(batch) * height * width;
  if (count <= 0) return cudaSuccess;
  flow_kernel<<<blocks_for(count), kThreads, 0, stream>>>(flow, batch, height, width, interleaved);
  return cudaGetLastError();
}

cudaError_t fill_dcn_offsets(float* offset, float* mask, int batch, int groups_taps, int height, int width,
                             cudaStream_t stream) {
  const int64_t count = int64_t(batch) * groups_taps * height * width;
  if (count <= 0) return cudaSuccess;
  dcn_kernel<<<blocks_for(count), kThreads, 0, stream>>>(offset, mask, batch, groups_taps, height, width);
  return cudaGetLastError();
}

}  // namespace vrestore::gpu_bench
