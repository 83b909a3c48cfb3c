// Linked when vrestore is built without CUDA: the device query says "no CUDA" with the reason.
#include "cuda/device.h"

namespace vrestore::cuda {

DeviceStatus query_device() { return {false, "vrestore was built without CUDA (VRESTORE_CUDA=OFF or no nvcc)"}; }

}  // namespace vrestore::cuda
