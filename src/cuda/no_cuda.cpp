// Linked when vrestore is built without CUDA: the device query says "no CUDA" with the reason, and
// every op of core/op_list.h gets a cuda::run that throws "<op>: built without CUDA". The op layer
// never dispatches to them (no tensor lives on a CUDA device in such a build); they exist so that
// both builds link the same op list.
#include "core/check.h"
#include "core/op_list.h"
#include "cuda/context.h"
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

void fill_zero(void*, size_t bytes) {
  fail("tensor: cannot zero ", bytes, " bytes on cuda: vrestore was built without CUDA");
}

// No Context can exist in this build: create() says why, and the members it would need are never
// reached (they exist for the linker).
std::shared_ptr<Context> Context::create(int device_index, void*) {
  throw Error(concat("device cuda: vrestore was built without CUDA (VRESTORE_CUDA=OFF or no nvcc)",
                     device_index ? concat(" (device_index ", device_index, ")") : ""),
              ErrorCode::Unsupported);
}
Context::~Context() = default;
Execution Context::enter() { return {}; }
std::shared_ptr<void> Context::allocate(size_t bytes) { return cuda::allocate(bytes); }
void Context::synchronize() {}

#define VRESTORE_NO_CUDA_RUN(Args, name)                                                        \
  void run(const ops::Args&) {                                                                  \
    fail(name, ": built without CUDA (vrestore was configured with VRESTORE_CUDA=OFF or found no nvcc)"); \
  }
VRESTORE_OP_LIST(VRESTORE_NO_CUDA_RUN)
#undef VRESTORE_NO_CUDA_RUN

}  // namespace vrestore::cuda
