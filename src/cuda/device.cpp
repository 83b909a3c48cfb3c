// CUDA builds: ask the runtime. Any non-success from cudaGetDeviceCount means "no device"
// (on machines without a driver it returns cudaErrorInsufficientDriver or similar).
#include "cuda/device.h"

#include <cuda_runtime_api.h>

#include <string>

namespace vrestore::cuda {

DeviceStatus query_device() {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so later queries start clean
    return {false, std::string("no CUDA device: ") + cudaGetErrorString(err)};
  }
  if (count == 0) return {false, "no CUDA device: the driver reports 0 devices"};
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return {false, "no CUDA device: cannot query device 0"};
  return {true, prop.name, count};
}

}  // namespace vrestore::cuda
