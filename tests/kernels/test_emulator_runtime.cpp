// The emulator's runtime API (tests/kernels/emulator/cuda_runtime.cpp): what src/cuda relies on
// behaves like CUDA's, including the checks a real runtime makes (dead handles, host pointers
// passed as device pointers) and the 0xFF (NaN) fill of new memory. Emulator-only: a real GPU
// has other properties and memory contents.
#include <cmath>
#include <cstring>
#include <thread>
#include <vector>

#include "cuda_compat.h"
#include "device_buffer.h"

namespace {

__global__ void fill_kernel(float* out, int n, float value) {
  const int i = int(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) out[i] = value + float(i);
}

uint64_t pool_attribute(cudaMemPool_t pool, cudaMemPoolAttr attr) {
  uint64_t v = 0;
  CUDA_REQUIRE(cudaMemPoolGetAttribute(pool, attr, &v));
  return v;
}

}  // namespace

TEST_CASE("emulator runtime: one sm_90 device named as the emulator", "[emulator]") {
  int count = 0;
  CUDA_REQUIRE(cudaGetDeviceCount(&count));
  CHECK(count == 1);
  cudaDeviceProp prop{};
  CUDA_REQUIRE(cudaGetDeviceProperties(&prop, 0));
  CHECK(std::string(prop.name) == "vrestore CUDA emulator");
  CHECK(prop.major == 9);
  CHECK(prop.maxThreadsPerBlock == 1024);
  CHECK(prop.warpSize == 32);
  CHECK(prop.memoryPoolsSupported == 1);
  CHECK(cudaGetDeviceProperties(&prop, 1) == cudaErrorInvalidDevice);
  CHECK(cudaSetDevice(1) == cudaErrorInvalidDevice);
  CHECK(cudaGetLastError() == cudaErrorInvalidDevice);
  CUDA_REQUIRE(cudaSetDevice(0));
  int device = -1;
  CUDA_REQUIRE(cudaGetDevice(&device));
  CHECK(device == 0);
}

TEST_CASE("emulator runtime: new memory reads as NaN and is exact-size", "[emulator]") {
  for (int async = 0; async < 2; ++async) {
    float* p = nullptr;
    if (async) CUDA_REQUIRE(cudaMallocAsync(reinterpret_cast<void**>(&p), 5 * sizeof(float), nullptr));
    else CUDA_REQUIRE(cudaMalloc(reinterpret_cast<void**>(&p), 5 * sizeof(float)));
    std::vector<float> host(5, 0.0f);
    CUDA_REQUIRE(cudaMemcpy(host.data(), p, 5 * sizeof(float), cudaMemcpyDeviceToHost));
    for (float v : host) CHECK(std::isnan(v));
    __half h;
    CUDA_REQUIRE(cudaMemcpy(&h, p, sizeof h, cudaMemcpyDeviceToHost));
    CHECK(std::isnan(__half2float(h)));
    // One element past the end is not device memory of this allocation.
    CHECK(cudaMemcpy(host.data(), p, 6 * sizeof(float), cudaMemcpyDeviceToHost) == cudaErrorInvalidValue);
    CHECK(cudaMemset(p + 1, 0, 5 * sizeof(float)) == cudaErrorInvalidValue);
    // A host pointer passed as the device side.
    CHECK(cudaMemcpy(host.data(), host.data() + 1, sizeof(float), cudaMemcpyDeviceToHost) == cudaErrorInvalidValue);
    CHECK(cudaGetLastError() == cudaErrorInvalidValue);
    if (async) CUDA_REQUIRE(cudaFreeAsync(p, nullptr));
    else CUDA_REQUIRE(cudaFree(p));
    CHECK(cudaFree(p) == cudaErrorInvalidValue);  // freed twice
    cudaGetLastError();
  }
}

TEST_CASE("emulator runtime: memory pools count used and peak bytes", "[emulator]") {
  cudaMemPoolProps props{};
  props.allocType = cudaMemAllocationTypePinned;
  props.location.type = cudaMemLocationTypeDevice;
  props.location.id = 0;
  cudaMemPool_t pool = nullptr;
  CUDA_REQUIRE(cudaMemPoolCreate(&pool, &props));
  uint64_t threshold = ~0ull;
  CUDA_REQUIRE(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold));
  CHECK(pool_attribute(pool, cudaMemPoolAttrReleaseThreshold) == threshold);
  cudaStream_t stream = nullptr;
  CUDA_REQUIRE(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));

  void* a = nullptr;
  void* b = nullptr;
  CUDA_REQUIRE(cudaMallocFromPoolAsync(&a, 1000, pool, stream));
  CUDA_REQUIRE(cudaMallocFromPoolAsync(&b, 24, pool, stream));
  CHECK(pool_attribute(pool, cudaMemPoolAttrUsedMemCurrent) == 1024);
  CUDA_REQUIRE(cudaFreeAsync(a, stream));
  CHECK(pool_attribute(pool, cudaMemPoolAttrUsedMemCurrent) == 24);
  CHECK(pool_attribute(pool, cudaMemPoolAttrUsedMemHigh) == 1024);
  CHECK(pool_attribute(pool, cudaMemPoolAttrReservedMemHigh) == 1024);
  uint64_t zero = 0, one = 1;
  CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrUsedMemHigh, &one) == cudaErrorInvalidValue);  // only a reset
  CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrUsedMemCurrent, &zero) == cudaErrorInvalidValue);  // read-only
  CUDA_REQUIRE(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrUsedMemHigh, &zero));
  CHECK(pool_attribute(pool, cudaMemPoolAttrUsedMemHigh) == 24);
  CUDA_REQUIRE(cudaMemPoolTrimTo(pool, 0));

  // Destroying a pool with live allocations is allowed; they stay usable until freed.
  CUDA_REQUIRE(cudaMemPoolDestroy(pool));
  CHECK(cudaMallocFromPoolAsync(&a, 8, pool, stream) == cudaErrorInvalidValue);
  CUDA_REQUIRE(cudaMemsetAsync(b, 0, 24, stream));
  CUDA_REQUIRE(cudaFreeAsync(b, stream));

  cudaMemPool_t default_pool = nullptr;
  CUDA_REQUIRE(cudaDeviceGetDefaultMemPool(&default_pool, 0));
  CHECK(cudaMemPoolDestroy(default_pool) == cudaErrorInvalidValue);
  CUDA_REQUIRE(cudaStreamSynchronize(stream));
  CUDA_REQUIRE(cudaStreamDestroy(stream));
  cudaGetLastError();
}

TEST_CASE("emulator runtime: memory info and out of memory", "[emulator]") {
  size_t free_before = 0, total = 0;
  CUDA_REQUIRE(cudaMemGetInfo(&free_before, &total));
  CHECK(total >= free_before);
  void* p = nullptr;
  CUDA_REQUIRE(cudaMalloc(&p, 4096));
  size_t free_after = 0;
  CUDA_REQUIRE(cudaMemGetInfo(&free_after, &total));
  CHECK(free_before - free_after == 4096);
  void* too_big = nullptr;
  CHECK(cudaMalloc(&too_big, free_after + 1) == cudaErrorMemoryAllocation);
  CHECK(too_big == nullptr);
  CHECK(cudaGetLastError() == cudaErrorMemoryAllocation);
  CUDA_REQUIRE(cudaFree(p));
}

TEST_CASE("emulator runtime: streams and events are checked handles", "[emulator]") {
  cudaStream_t stream = nullptr;
  CUDA_REQUIRE(cudaStreamCreate(&stream));
  cudaEvent_t start = nullptr, end = nullptr, untimed = nullptr;
  CUDA_REQUIRE(cudaEventCreate(&start));
  CUDA_REQUIRE(cudaEventCreate(&end));
  CUDA_REQUIRE(cudaEventCreateWithFlags(&untimed, cudaEventDisableTiming));
  float ms = -1;
  CHECK(cudaEventElapsedTime(&ms, start, end) == cudaErrorInvalidResourceHandle);  // not recorded
  CHECK(cudaGetLastError() == cudaErrorInvalidResourceHandle);
  CUDA_REQUIRE(cudaStreamSynchronize(stream));  // a failed call is not a failed launch
  CUDA_REQUIRE(cudaEventRecord(start, stream));
  vrestore::kernel_test::DeviceBuffer<float> out(300);
  KLAUNCH(fill_kernel, dim3(3), dim3(128), 0, stream, out.get(), 300, 2.0f);
  CUDA_REQUIRE(cudaGetLastError());
  CUDA_REQUIRE(cudaEventRecord(end, stream));
  CUDA_REQUIRE(cudaStreamWaitEvent(nullptr, end, 0));
  CUDA_REQUIRE(cudaEventSynchronize(end));
  CUDA_REQUIRE(cudaEventElapsedTime(&ms, start, end));
  CHECK(ms >= 0);
  CUDA_REQUIRE(cudaEventRecord(untimed, stream));
  CHECK(cudaEventElapsedTime(&ms, start, untimed) == cudaErrorInvalidResourceHandle);
  CHECK(out.download()[299] == 301.0f);

  CUDA_REQUIRE(cudaStreamDestroy(stream));
  // A destroyed stream is refused by launches, copies, allocations and a second destroy.
  KLAUNCH(fill_kernel, dim3(1), dim3(32), 0, stream, out.get(), 300, 0.0f);
  CHECK(cudaGetLastError() == cudaErrorInvalidResourceHandle);
  CHECK(out.download()[0] == 2.0f);
  float x = 0;
  CHECK(cudaMemcpyAsync(out.get(), &x, sizeof x, cudaMemcpyHostToDevice, stream) == cudaErrorInvalidResourceHandle);
  void* p = nullptr;
  CHECK(cudaMallocAsync(&p, 4, stream) == cudaErrorInvalidResourceHandle);
  CHECK(cudaStreamSynchronize(stream) == cudaErrorInvalidResourceHandle);
  CHECK(cudaStreamDestroy(stream) == cudaErrorInvalidResourceHandle);
  for (cudaEvent_t e : {start, end, untimed}) CUDA_REQUIRE(cudaEventDestroy(e));
  CHECK(cudaEventRecord(start, nullptr) == cudaErrorInvalidResourceHandle);
  cudaGetLastError();
}

TEST_CASE("emulator runtime: 2-D copies check both spans", "[emulator]") {
  vrestore::kernel_test::DeviceBuffer<float> src(12), dst(6);
  std::vector<float> host(12);
  for (int i = 0; i < 12; ++i) host[size_t(i)] = float(i);
  src.upload(host);
  // Rows of 2 floats out of rows of 4, three of them, into a dense (3, 2).
  CUDA_REQUIRE(cudaMemcpy2DAsync(dst.get(), 2 * sizeof(float), src.get(), 4 * sizeof(float), 2 * sizeof(float), 3,
                                 cudaMemcpyDeviceToDevice, nullptr));
  CHECK(dst.download() == std::vector<float>{0, 1, 4, 5, 8, 9});
  CHECK(cudaMemcpy2D(dst.get(), 2 * sizeof(float), src.get(), 4 * sizeof(float), 2 * sizeof(float), 4,
                     cudaMemcpyDeviceToDevice) == cudaErrorInvalidValue);  // 4 rows overrun both
  CHECK(cudaMemcpy2D(dst.get(), 1, src.get(), 4, 2, 1, cudaMemcpyDeviceToDevice) == cudaErrorInvalidPitchValue);
  cudaGetLastError();
}

// Models call the emulator from the thread that calls the API, which need not be the thread that
// loaded them: memory allocated on one thread is freed on another, and two threads may launch at
// the same time (each runs its grid on its own fibers).
TEST_CASE("emulator runtime: allocations and launches from several host threads", "[emulator]") {
  float* shared = nullptr;
  std::thread([&] { CUDA_REQUIRE(cudaMalloc(reinterpret_cast<void**>(&shared), 64 * sizeof(float))); }).join();
  std::vector<std::vector<float>> results(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&, t] {
      float* out = nullptr;
      if (cudaMalloc(reinterpret_cast<void**>(&out), 5000 * sizeof(float)) != cudaSuccess) return;
      for (int rep = 0; rep < 20; ++rep) KLAUNCH(fill_kernel, dim3(40), dim3(128), 0, nullptr, out, 5000, float(t));
      if (cudaGetLastError() != cudaSuccess) return;
      results[size_t(t)].resize(5000);
      cudaMemcpy(results[size_t(t)].data(), out, 5000 * sizeof(float), cudaMemcpyDeviceToHost);
      cudaFree(out);
    });
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < 2; ++t) {
    REQUIRE(results[size_t(t)].size() == 5000);
    for (int i = 0; i < 5000; i += 499) CHECK(results[size_t(t)][size_t(i)] == float(t + i));
  }
  CUDA_REQUIRE(cudaFree(shared));  // allocated on another thread
}
