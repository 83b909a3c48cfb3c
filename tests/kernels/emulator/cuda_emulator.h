// A small CUDA emulator for running unchanged kernel code on the CPU (test infrastructure only,
// never part of the library). Each CUDA thread is a fiber; the blocks of a grid run one after
// another on the calling OS thread. Barriers and warp intrinsics are real rendezvous points, so
// a missing __syncthreads or warp-synchronous code without *_sync shows up as wrong results under
// some schedule (VRESTORE_EMU_SCHEDULE=forward|reverse|random, VRESTORE_EMU_SEED for random).
// Kernel code never includes this file directly: it includes kernels/cuda_compat.h.
#pragma once

#if defined(__CUDACC__)
#error "cuda_emulator.h is for host compilers; nvcc builds use real CUDA"
#endif

// CUDA's keywords become plain C++. The toolkit headers keep definitions that exist when they are
// first seen; the #undefs cover a toolkit header included earlier (e.g. by an entry header).
// One OS thread runs a whole block, so `static thread_local` is per-block storage.
#undef __global__
#undef __device__
#undef __host__
#undef __shared__
#undef __launch_bounds__
#define __global__
#define __device__
#define __host__
#define __shared__ static thread_local
#define __launch_bounds__(...)

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>
#include <vector_functions.h>
#include <vector_types.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <source_location>
#include <string>
#include <tuple>
#include <type_traits>

// Built-in variables; the scheduler sets them whenever it switches to a thread.
// Inline definitions with constant initialisers, not `extern` declarations: code in other
// translation units then reads them straight from the thread's TLS block instead of through a
// TLS wrapper call, which UBSan (GCC 12, -fsanitize=null) misreports as a null member access.
inline thread_local uint3 threadIdx{};
inline thread_local uint3 blockIdx{};
inline thread_local dim3 blockDim{};
inline thread_local dim3 gridDim{};
constexpr int warpSize = 32;

namespace cuemu {

enum class Schedule { Forward, Reverse, Random };
// Order in which runnable threads (and blocks) are resumed. Default from VRESTORE_EMU_SCHEDULE.
Schedule schedule();
void set_schedule(Schedule s);
const char* schedule_name(Schedule s);

// Human-readable detail of the most recent launch or execution error (empty if none).
std::string last_error_message();

// Work done by grids launched from the calling host thread.
struct Stats {
  uint64_t threads = 0;   // CUDA threads run to completion
  uint64_t blocks = 0;
  uint64_t switches = 0;  // fiber context switches
};
Stats stats();

enum class WarpOp { Sync, Shfl, ShflUp, ShflDown, ShflXor, Ballot, Any, All };

namespace detail {
using Body = void (*)(void* call);
void run_grid(const char* kernel_name, dim3 grid, dim3 block, size_t dynamic_smem, cudaStream_t stream, Body body,
              void* call);
// Records a failed API call as the calling host thread's last error; returns `code`.
cudaError_t set_error(cudaError_t code);
// The thread's last error if it came from a launch (what synchronizing reports), else cudaSuccess.
cudaError_t launch_error();
// Whether `stream` is the null/legacy/per-thread stream or a created, not yet destroyed one.
bool valid_stream(cudaStream_t stream);
void syncthreads(const std::source_location& site);
// Blocks until every lane of `mask` has reached a warp operation of the same kind, then returns
// the value this lane receives (the source lane's bits for shuffles, the vote for ballot/any/all).
uint64_t warp_rendezvous(WarpOp op, unsigned mask, uint64_t bits, int arg, int width,
                         const std::source_location& site);
void* dynamic_shared();

template <class T>
uint64_t to_bits(T v) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "shuffle of a value wider than 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  return bits;
}
template <class T>
T from_bits(uint64_t bits) {
  T v;
  std::memcpy(&v, &bits, sizeof(T));
  return v;
}
}  // namespace detail

// Runs kernel<<<grid, block, smem, stream>>>(args...). Like a real launch, the arguments are
// converted to the parameter types once and every thread receives its own copy.
template <class... Params, class... Args>
void launch(const char* kernel_name, void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem,
            cudaStream_t stream /* must exist; work runs synchronously */, Args&&... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "kernel launched with the wrong number of arguments");
  using Tuple = std::tuple<std::decay_t<Params>...>;
  struct Call {
    void (*kernel)(Params...);
    Tuple params;
  } call{kernel, Tuple(std::forward<Args>(args)...)};
  detail::run_grid(kernel_name, grid, block, smem, stream,
                   [](void* c) {
                     auto* self = static_cast<Call*>(c);
                     std::apply(self->kernel, self->params);
                   },
                   &call);
}

}  // namespace cuemu

// ---- device intrinsics ---------------------------------------------------------------------------
inline void __syncthreads(const std::source_location& site = std::source_location::current()) {
  cuemu::detail::syncthreads(site);
}
inline void __syncwarp(unsigned mask = 0xffffffffu,
                       const std::source_location& site = std::source_location::current()) {
  cuemu::detail::warp_rendezvous(cuemu::WarpOp::Sync, mask, 0, 0, warpSize, site);
}
template <class T>
T __shfl_sync(unsigned mask, T v, int src_lane, int width = warpSize,
              const std::source_location& site = std::source_location::current()) {
  using namespace cuemu::detail;
  return from_bits<T>(warp_rendezvous(cuemu::WarpOp::Shfl, mask, to_bits(v), src_lane, width, site));
}
template <class T>
T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = warpSize,
                 const std::source_location& site = std::source_location::current()) {
  using namespace cuemu::detail;
  return from_bits<T>(warp_rendezvous(cuemu::WarpOp::ShflUp, mask, to_bits(v), int(delta), width, site));
}
template <class T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = warpSize,
                   const std::source_location& site = std::source_location::current()) {
  using namespace cuemu::detail;
  return from_bits<T>(warp_rendezvous(cuemu::WarpOp::ShflDown, mask, to_bits(v), int(delta), width, site));
}
template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = warpSize,
                  const std::source_location& site = std::source_location::current()) {
  using namespace cuemu::detail;
  return from_bits<T>(warp_rendezvous(cuemu::WarpOp::ShflXor, mask, to_bits(v), lane_mask, width, site));
}
inline unsigned __ballot_sync(unsigned mask, int predicate,
                              const std::source_location& site = std::source_location::current()) {
  return unsigned(cuemu::detail::warp_rendezvous(cuemu::WarpOp::Ballot, mask, predicate != 0, 0, warpSize, site));
}
inline int __any_sync(unsigned mask, int predicate,
                      const std::source_location& site = std::source_location::current()) {
  return int(cuemu::detail::warp_rendezvous(cuemu::WarpOp::Any, mask, predicate != 0, 0, warpSize, site));
}
inline int __all_sync(unsigned mask, int predicate,
                      const std::source_location& site = std::source_location::current()) {
  return int(cuemu::detail::warp_rendezvous(cuemu::WarpOp::All, mask, predicate != 0, 0, warpSize, site));
}

// Threads never run concurrently and only switch at sync points, so plain read-modify-write is atomic.
inline float atomicAdd(float* p, float v) { float old = *p; *p = old + v; return old; }
inline int atomicAdd(int* p, int v) { int old = *p; *p = old + v; return old; }
inline unsigned atomicAdd(unsigned* p, unsigned v) { unsigned old = *p; *p = old + v; return old; }
inline int atomicMax(int* p, int v) { int old = *p; *p = old > v ? old : v; return old; }

template <class T>
T __ldg(const T* p) { return *p; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
// The fast-math intrinsics are evaluated exactly: the emulator does not model GPU numerics.
inline float __expf(float x) { return std::exp(x); }
inline float __fdividef(float a, float b) { return a / b; }
