// The CUDA backend's entry seam: non-CUDA code includes only this header, never CUDA headers.
#pragma once

#include <string>

namespace vrestore::cuda {

struct DeviceStatus {
  bool available = false;
  std::string reason;  // why not, when unavailable; the device name otherwise
  int count = 0;       // CUDA devices present
};

// Whether a usable CUDA device is present. Implemented by device.cpp (CUDA builds) or
// no_cuda.cpp (CPU-only builds).
DeviceStatus query_device();

}  // namespace vrestore::cuda
