// The emulator's CUDA runtime: one device, memory (plain and stream-ordered, with memory pools),
// copies, streams and events. Host and "device" memory share one address space and all work runs
// synchronously on the calling thread, so streams and events only keep the bookkeeping a real
// runtime would check: handles that exist, memory that belongs to an allocation, pool accounting.
//
// Every allocation is an exact-size malloc (ASan reports a one-element overrun) filled with 0xFF
// bytes, which read as NaN in f32 and f16: an output element no kernel wrote shows up.
//
// Threads: the registries below are shared by all host threads behind one mutex, so memory
// allocated on one thread may be freed on another and API calls may come from any thread, also
// concurrently. The current device and the last error are per host thread, as in CUDA.
#include "cuda_emulator.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <string>

// The runtime's opaque handle types, completed here.
struct CUmemPoolHandle_st {
  bool is_default = false;
  bool destroyed = false;  // by cudaMemPoolDestroy; released when its last allocation is freed
  uint64_t release_threshold = 0;
  int reuse[3] = {1, 1, 1};  // cudaMemPoolReuse* attributes 1..3, CUDA's defaults
  uint64_t used = 0;         // bytes of live allocations
  uint64_t used_high = 0;
  uint64_t live = 0;         // number of live allocations
};
struct CUstream_st {
  unsigned flags = 0;
};
struct CUevent_st {
  unsigned flags = 0;
  bool recorded = false;
  std::chrono::steady_clock::time_point when{};
};

namespace {

using cuemu::detail::set_error;

// Published H200 (SXM, sm_90) figures, so code that sizes work from the properties sees a real GPU.
constexpr size_t kH200MemoryBytes = 141ull * 1000 * 1000 * 1000;

// Total device memory: VRESTORE_EMU_DEVICE_MEMORY bytes when set (to test out-of-memory paths).
size_t device_memory_bytes() {
  static const size_t bytes = [] {
    const char* s = std::getenv("VRESTORE_EMU_DEVICE_MEMORY");
    return s ? size_t(std::strtoull(s, nullptr, 10)) : kH200MemoryBytes;
  }();
  return bytes;
}

struct Allocation {
  size_t bytes;
  CUmemPoolHandle_st* pool;  // nullptr for cudaMalloc
};

struct Runtime {
  std::mutex mutex;
  std::map<uintptr_t, Allocation> allocations;  // by start address
  uint64_t used = 0;
  CUmemPoolHandle_st default_pool;
  CUmemPoolHandle_st* current_pool = &default_pool;
  std::set<CUmemPoolHandle_st*> pools;  // created, not yet released
  std::set<CUstream_st*> streams;
  std::set<CUevent_st*> events;
  Runtime() { default_pool.is_default = true; }
};

Runtime& runtime() {
  static Runtime* r = new Runtime;  // never destroyed: deleters may free device memory at exit
  return *r;
}

thread_local int t_current_device = 0;

bool builtin_stream(cudaStream_t s) { return s == nullptr || s == cudaStreamLegacy || s == cudaStreamPerThread; }

// Called with the mutex held.
bool live_stream(Runtime& r, cudaStream_t s) { return builtin_stream(s) || r.streams.count(s); }
bool live_pool(Runtime& r, cudaMemPool_t p) { return p == &r.default_pool || (r.pools.count(p) && !p->destroyed); }

// Whether [p, p + bytes) lies inside one live allocation. Called with the mutex held.
bool device_range(Runtime& r, const void* p, size_t bytes) {
  const auto address = reinterpret_cast<uintptr_t>(p);
  auto it = r.allocations.upper_bound(address);
  if (it == r.allocations.begin()) return false;
  --it;
  return address - it->first + bytes <= it->second.bytes;
}

cudaError_t allocate(void** ptr, size_t size, CUmemPoolHandle_st* pool) {
  if (!ptr) return set_error(cudaErrorInvalidValue);
  *ptr = nullptr;
  if (size == 0) return cudaSuccess;
  Runtime& r = runtime();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (size > device_memory_bytes() - r.used) return set_error(cudaErrorMemoryAllocation);
  void* p = std::malloc(size);
  if (!p) return set_error(cudaErrorMemoryAllocation);
  std::memset(p, 0xFF, size);
  r.allocations[reinterpret_cast<uintptr_t>(p)] = Allocation{size, pool};
  r.used += size;
  if (pool) {
    pool->used += size;
    pool->used_high = std::max(pool->used_high, pool->used);
    ++pool->live;
  }
  *ptr = p;
  return cudaSuccess;
}

cudaError_t release(void* ptr) {
  if (!ptr) return cudaSuccess;
  Runtime& r = runtime();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.allocations.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == r.allocations.end()) return set_error(cudaErrorInvalidValue);  // not a device allocation, or freed twice
  r.used -= it->second.bytes;
  if (CUmemPoolHandle_st* pool = it->second.pool) {
    pool->used -= it->second.bytes;
    if (--pool->live == 0 && pool->destroyed) {
      r.pools.erase(pool);
      delete pool;
    }
  }
  r.allocations.erase(it);
  std::free(ptr);
  return cudaSuccess;
}

// The device side of a copy or memset must lie inside one allocation: a host pointer passed as a
// device pointer, or a copy past the end, is cudaErrorInvalidValue (a GPU would fault or corrupt).
cudaError_t check_copy(void* dst, const void* src, size_t count, cudaMemcpyKind kind, cudaStream_t stream) {
  Runtime& r = runtime();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (!live_stream(r, stream)) return set_error(cudaErrorInvalidResourceHandle);
  if (count == 0) return cudaSuccess;
  const bool device_dst = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool device_src = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  // cudaMemcpyDefault (unified addressing): either side may be anywhere, nothing to check.
  if (kind != cudaMemcpyDefault && kind != cudaMemcpyHostToHost && !device_dst && !device_src)
    return set_error(cudaErrorInvalidValue);  // not a cudaMemcpyKind
  if ((device_dst && !device_range(r, dst, count)) || (device_src && !device_range(r, src, count)))
    return set_error(cudaErrorInvalidValue);
  return cudaSuccess;
}

}  // namespace

namespace cuemu::detail {
bool valid_stream(cudaStream_t stream) {
  if (builtin_stream(stream)) return true;
  Runtime& r = runtime();
  std::lock_guard<std::mutex> lock(r.mutex);
  return r.streams.count(stream) != 0;
}
}  // namespace cuemu::detail

extern "C" {

// ---- device --------------------------------------------------------------------------------------
cudaError_t cudaGetDeviceCount(int* count) {
  if (!count) return set_error(cudaErrorInvalidValue);
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  if (device != 0) return set_error(cudaErrorInvalidDevice);
  t_current_device = device;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  if (!device) return set_error(cudaErrorInvalidValue);
  *device = t_current_device;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (!prop) return set_error(cudaErrorInvalidValue);
  if (device != 0) return set_error(cudaErrorInvalidDevice);
  *prop = cudaDeviceProp{};
  std::snprintf(prop->name, sizeof prop->name, "vrestore CUDA emulator");
  prop->totalGlobalMem = device_memory_bytes();
  prop->sharedMemPerBlock = 48 * 1024;  // without the opt-in; the emulator enforces this limit
  prop->sharedMemPerBlockOptin = 227 * 1024;
  prop->sharedMemPerMultiprocessor = 228 * 1024;
  prop->reservedSharedMemPerBlock = 1024;
  prop->regsPerBlock = 65536;
  prop->regsPerMultiprocessor = 65536;
  prop->warpSize = warpSize;
  prop->memPitch = 2147483647;
  prop->maxThreadsPerBlock = 1024;
  prop->maxThreadsDim[0] = 1024;
  prop->maxThreadsDim[1] = 1024;
  prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 2147483647;
  prop->maxGridSize[1] = 65535;
  prop->maxGridSize[2] = 65535;
  prop->totalConstMem = 64 * 1024;
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = 132;
  prop->maxThreadsPerMultiProcessor = 2048;
  prop->maxBlocksPerMultiProcessor = 32;
  prop->l2CacheSize = 50 * 1024 * 1024;
  prop->memoryBusWidth = 6144;
  prop->concurrentKernels = 1;
  prop->asyncEngineCount = 3;
  prop->unifiedAddressing = 1;
  prop->managedMemory = 1;
  prop->memoryPoolsSupported = 1;
  prop->streamPrioritiesSupported = 1;
  prop->computePreemptionSupported = 1;
  prop->cooperativeLaunch = 1;
  prop->clusterLaunch = 1;
  return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  if (!free_bytes || !total_bytes) return set_error(cudaErrorInvalidValue);
  Runtime& r = runtime();
  std::lock_guard<std::mutex> lock(r.mutex);
  *total_bytes = device_memory_bytes();
  *free_bytes = device_memory_bytes() - r.used;
  return cudaSuccess;
}
// Work runs synchronously: the only thing left to report is a failed launch (not a failed API call).
cudaError_t cudaDeviceSynchronize(void) { return cuemu::detail::launch_error(); }

// ---- memory --------------------------------------------------------------------------------------
cudaError_t cudaMalloc(void** ptr, size_t size) { return allocate(ptr, size, nullptr); }
cudaError_t cudaFree(void* ptr) { return release(ptr); }

cudaError_t cudaMallocAsync(void** ptr, size_t size, cudaStream_t stream) {
  CUmemPoolHandle_st* pool;
  {
    Runtime& r = runtime();
    std::lock_guard<std::mutex> lock(r.mutex);
    if (!live_stream(r, stream)) return set_error(cudaErrorInvalidResourceHandle);
    pool = r.current_pool;
  }
  return allocate(ptr, size, pool);
}
cudaError_t cudaMallocFromPoolAsync(void** ptr, size_t size, cudaMemPool_t pool, cudaStream_t stream) {
  {
    Runtime& r = runtime();
    std::lock_guard<std::mutex> lock(r.mutex);
    if (!live_stream(r, stream)) return set_error(cudaErrorInvalidResourceHandle);
    if (!live_pool(r, pool)) return set_error(cudaErrorInvalidValue);
  }
  return allocate(ptr, size, pool);
}
cudaError_t cudaFreeAsync(void* ptr, cudaStream_t stream) {
  if (!cuemu::detail::valid_stream(stream)) return set_error(cudaErrorInvalidResourceHandle);
  return release(ptr);
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind kind) {
  if (cudaError_t err = check_copy(dst, src, count, kind, nullptr)) return err;
  if (count) std::memmove(dst, src, count);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind, cudaStream_t stream) {
  if (cudaError_t err = check_copy(dst, src, count, kind, stream)) return err;
  if (count) std::memmove(dst, src, count);
  return cudaSuccess;
}
// Rows of `width` bytes, `height` of them; each side's span is checked as one range.
cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                              cudaMemcpyKind kind, cudaStream_t stream) {
  if (width > dpitch || width > spitch) return set_error(cudaErrorInvalidPitchValue);
  if (cudaError_t err = check_copy(dst, src, 0, kind, stream)) return err;  // the stream
  if (width == 0 || height == 0) return cudaSuccess;
  const bool device_dst = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool device_src = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (device_dst)
    if (cudaError_t err = check_copy(dst, nullptr, dpitch * (height - 1) + width, cudaMemcpyHostToDevice, stream))
      return err;
  if (device_src)
    if (cudaError_t err = check_copy(nullptr, src, spitch * (height - 1) + width, cudaMemcpyDeviceToHost, stream))
      return err;
  for (size_t y = 0; y < height; ++y)
    std::memmove(static_cast<char*>(dst) + y * dpitch, static_cast<const char*>(src) + y * spitch, width);
  return cudaSuccess;
}
cudaError_t cudaMemcpy2D(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                         cudaMemcpyKind kind) {
  return cudaMemcpy2DAsync(dst, dpitch, src, spitch, width, height, kind, nullptr);
}
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t count, cudaStream_t stream) {
  if (cudaError_t err = check_copy(ptr, nullptr, count, cudaMemcpyHostToDevice, stream)) return err;
  if (count) std::memset(ptr, value, count);
  return cudaSuccess;
}
cudaError_t cudaMemset(void* ptr, int value, size_t count) { return cudaMemsetAsync(ptr, value, count, nullptr); }

// ---- memory pools ----------------------------------------------------------------------------------
cudaError_t cudaDeviceGetDefaultMemPool(cudaMemPool_t* pool, int device) {
  if (!pool) return set_error(cudaErrorInvalidValue);
  if (device != 0) return set_error(cudaErrorInvalidDevice);
  *pool = &runtime().default_pool;
  return cudaSuccess;
}
cudaError_t cudaDeviceGetMemPool(cudaMemPool_t* pool, int device) {
  if (!pool) return set_error(cudaErrorInvalidValue);
  if (device != 0) return set_error(cudaErrorInvalidDevice);
  Runtime& r = runtime();
  std::lock_guard<std::mutex> lock(r.mutex);
  *pool = r.current_pool;
  return cudaSuccess;
}
cudaError_t cudaDeviceSetMemPool(int device, cudaMemPool_t pool) {
  if (device != 0) return set_error(cudaErrorInvalidDevice);
  Runtime& r = runtime();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (!live_pool(r, pool)) return set_error(cudaErrorInvalidValue);
  r.current_pool = pool;
  return cudaSuccess;
}
cudaError_t cudaMemPoolCreate(cudaMemPool_t* pool, const cudaMemPoolProps* props) {
  if (!pool || !props) return set_error(cudaErrorInvalidValue);
  if (props->allocType != cudaMemAllocationTypePinned || props->location.type != cudaMemLocationTypeDevice ||
      props->location.id != 0)
    return set_error(cudaErrorInvalidValue);
  Runtime& r = runtime();
  std::lock_guard<std::mutex> lock(r.mutex);
  *pool = new CUmemPoolHandle_st;
  r.pools.insert(*pool);
  return cudaSuccess;
}
// As in CUDA: allocations still live keep the pool until they are freed.
cudaError_t cudaMemPoolDestroy(cudaMemPool_t pool) {
  Runtime& r = runtime();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (pool == &r.default_pool || !live_pool(r, pool)) return set_error(cudaErrorInvalidValue);
  if (r.current_pool == pool) r.current_pool = &r.default_pool;
  pool->destroyed = true;
  if (pool->live == 0) {
    r.pools.erase(pool);
    delete pool;
  }
  return cudaSuccess;
}
// Nothing is cached (every free returns its memory), so reserved memory always equals used memory.
cudaError_t cudaMemPoolTrimTo(cudaMemPool_t pool, size_t) {
  Runtime& r = runtime();
  std::lock_guard<std::mutex> lock(r.mutex);
  return live_pool(r, pool) ? cudaSuccess : set_error(cudaErrorInvalidValue);
}
cudaError_t cudaMemPoolSetAttribute(cudaMemPool_t pool, cudaMemPoolAttr attr, void* value) {
  Runtime& r = runtime();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (!live_pool(r, pool) || !value) return set_error(cudaErrorInvalidValue);
  const int i = int(attr);
  if (i >= 1 && i <= 3) {
    pool->reuse[i - 1] = *static_cast<int*>(value);
  } else if (attr == cudaMemPoolAttrReleaseThreshold) {
    pool->release_threshold = *static_cast<uint64_t*>(value);
  } else if (attr == cudaMemPoolAttrReservedMemHigh || attr == cudaMemPoolAttrUsedMemHigh) {
    if (*static_cast<uint64_t*>(value) != 0) return set_error(cudaErrorInvalidValue);  // only a reset to 0
    pool->used_high = pool->used;
  } else {
    return set_error(cudaErrorInvalidValue);  // the current values are read-only
  }
  return cudaSuccess;
}
cudaError_t cudaMemPoolGetAttribute(cudaMemPool_t pool, cudaMemPoolAttr attr, void* value) {
  Runtime& r = runtime();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (!live_pool(r, pool) || !value) return set_error(cudaErrorInvalidValue);
  const int i = int(attr);
  if (i >= 1 && i <= 3) *static_cast<int*>(value) = pool->reuse[i - 1];
  else if (attr == cudaMemPoolAttrReleaseThreshold) *static_cast<uint64_t*>(value) = pool->release_threshold;
  else if (attr == cudaMemPoolAttrReservedMemCurrent || attr == cudaMemPoolAttrUsedMemCurrent)
    *static_cast<uint64_t*>(value) = pool->used;
  else if (attr == cudaMemPoolAttrReservedMemHigh || attr == cudaMemPoolAttrUsedMemHigh)
    *static_cast<uint64_t*>(value) = pool->used_high;
  else return set_error(cudaErrorInvalidValue);
  return cudaSuccess;
}

// ---- streams -------------------------------------------------------------------------------------
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags) {
  if (!stream || flags > cudaStreamNonBlocking) return set_error(cudaErrorInvalidValue);
  Runtime& r = runtime();
  std::lock_guard<std::mutex> lock(r.mutex);
  *stream = new CUstream_st{flags};
  r.streams.insert(*stream);
  return cudaSuccess;
}
cudaError_t cudaStreamCreate(cudaStream_t* stream) { return cudaStreamCreateWithFlags(stream, cudaStreamDefault); }
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  Runtime& r = runtime();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (!r.streams.erase(stream)) return set_error(cudaErrorInvalidResourceHandle);
  delete stream;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  if (!cuemu::detail::valid_stream(stream)) return set_error(cudaErrorInvalidResourceHandle);
  return cuemu::detail::launch_error();
}
cudaError_t cudaStreamQuery(cudaStream_t stream) {
  return cuemu::detail::valid_stream(stream) ? cudaSuccess : set_error(cudaErrorInvalidResourceHandle);
}
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int) {
  Runtime& r = runtime();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (!live_stream(r, stream) || !r.events.count(event)) return set_error(cudaErrorInvalidResourceHandle);
  return cudaSuccess;
}

// ---- events (host time: the emulator runs the work when it is launched) ----------------------------
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int flags) {
  if (!event) return set_error(cudaErrorInvalidValue);
  Runtime& r = runtime();
  std::lock_guard<std::mutex> lock(r.mutex);
  *event = new CUevent_st{flags};
  r.events.insert(*event);
  return cudaSuccess;
}
cudaError_t cudaEventCreate(cudaEvent_t* event) { return cudaEventCreateWithFlags(event, cudaEventDefault); }
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  Runtime& r = runtime();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (!r.events.erase(event)) return set_error(cudaErrorInvalidResourceHandle);
  delete event;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  Runtime& r = runtime();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (!r.events.count(event) || !live_stream(r, stream)) return set_error(cudaErrorInvalidResourceHandle);
  event->recorded = true;
  event->when = std::chrono::steady_clock::now();
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  Runtime& r = runtime();
  std::lock_guard<std::mutex> lock(r.mutex);
  return r.events.count(event) ? cudaSuccess : set_error(cudaErrorInvalidResourceHandle);
}
cudaError_t cudaEventQuery(cudaEvent_t event) { return cudaEventSynchronize(event); }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (!ms) return set_error(cudaErrorInvalidValue);
  Runtime& r = runtime();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (!r.events.count(start) || !r.events.count(end)) return set_error(cudaErrorInvalidResourceHandle);
  if ((start->flags | end->flags) & cudaEventDisableTiming) return set_error(cudaErrorInvalidResourceHandle);
  if (!start->recorded || !end->recorded) return set_error(cudaErrorInvalidResourceHandle);
  *ms = std::chrono::duration<float, std::milli>(end->when - start->when).count();
  return cudaSuccess;
}

}  // extern "C"
