// Linked when vrestore is built without CUDA: the device query says "no CUDA" with the reason, and
// every op of core/op_list.h gets a cuda::run that throws "<op>: built without CUDA". The op layer
// never dispatches to them (no tensor lives on a CUDA device in such a build); they exist so that
// both builds link the same op list.
#include "core/check.h"
#include "core/op_list.h"
#include "cuda/device.h"
#include "cuda/memory.h"

namespace vrestore::cuda {

DeviceStatus query_device() { return {false, "vrestore was built without CUDA (VRESTORE_CUDA=OFF or no nvcc)"}; }

std::shared_ptr<void> allocate(size_t bytes) {
  fail("tensor: cannot allocate ", bytes, " bytes on cuda: vrestore was built without CUDA");
}

void copy(void*, Device, const void*, Device, size_t bytes) {
  fail("tensor: cannot copy ", bytes, " bytes to or from cuda: vrestore was built without CUDA");
}

#define VRESTORE_NO_CUDA_RUN(Args, name)                                                        \
  void run(const ops::Args&) {                                                                  \
    fail(name, ": built without CUDA (vrestore was configured with VRESTORE_CUDA=OFF or found no nvcc)"); \
  }
VRESTORE_OP_LIST(VRESTORE_NO_CUDA_RUN)
#undef VRESTORE_NO_CUDA_RUN

}  // namespace vrestore::cuda
