#include "gpu_bench_support.h"

#include <cublas_v2.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "vrestore/vrestore.h"

namespace vrestore::gpu_bench {

void check_cuda(cudaError_t err, const char* what) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string(what) + ": " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")");
}

std::vector<RooflineEntry>& roofline_entries() {
  static std::vector<RooflineEntry> entries;
  return entries;
}

void print_roofline_markdown() {
  std::printf("Limits: HBM %.1f TB/s, fp16 tensor %.0f TFLOP/s, fp32 %.0f TFLOP/s (H200 SXM datasheet).\n\n",
              kHbmBytesPerSecond / 1e12, kF16TensorFlops / 1e12, kF32Flops / 1e12);
  std::printf("| case | MB moved | GFLOP | memory ms | compute ms | limit ms | bound |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---|\n");
  for (const RooflineEntry& e : roofline_entries()) {
    const Cost& c = e.cost;
    std::printf("| `%s` | %.1f | %.3g | %.4f | %.4f | %.4f | %s |\n", e.name.c_str(), c.bytes / 1e6, c.flops / 1e9,
                c.memory_ms(), c.compute_ms(), c.limit_ms(),
                c.memory_ms() >= c.compute_ms() ? "memory" : (c.tensor_cores ? "fp16 tensor" : "fp32"));
  }
}

bool gpu_present(std::string* reason) {
  // Asked once: the answer does not change while the process runs.
  static std::string why;
  static const bool present = vrestore::cuda_available(&why);
  if (reason) *reason = why;
  return present;
}

void GpuContext::flush_l2() const {
  if (flush) check_cuda(cudaMemsetAsync(flush, 0, flush_bytes, stream), "L2 flush");
}

GpuContext& gpu_context() {
  static GpuContext* ctx = [] {
    std::string reason;
    if (!gpu_present(&reason)) throw std::runtime_error("skipped: no CUDA device (" + reason + ")");
    auto* c = new GpuContext;  // lives until exit: destroying CUDA objects after main is unsafe
    int device = 0;
    check_cuda(cudaGetDevice(&device), "cudaGetDevice");
    cudaDeviceProp prop{};
    check_cuda(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
    c->device_name = prop.name;
    check_cuda(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    check_cuda(cudaEventCreate(&c->start), "cudaEventCreate");
    check_cuda(cudaEventCreate(&c->stop), "cudaEventCreate");
    cublasHandle_t handle = nullptr;
    if (cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) throw std::runtime_error("cublasCreate failed");
    // Stated rather than assumed: fp32 GEMMs in full fp32, as the library's own handles.
    if (cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH) != CUBLAS_STATUS_SUCCESS)
      throw std::runtime_error("cublasSetMathMode failed");
    c->blas = handle;
    c->flush_bytes = std::max<size_t>(size_t(2) * size_t(prop.l2CacheSize), size_t(128) << 20);
    check_cuda(cudaMalloc(&c->flush, c->flush_bytes), "cudaMalloc (L2 flush buffer)");
    return c;
  }();
  return *ctx;
}

void report_cost(benchmark::State& state, const Cost& cost) {
  using benchmark::Counter;
  state.SetBytesProcessed(static_cast<int64_t>(cost.bytes) * state.iterations());
  state.counters["FLOPs"] = Counter(cost.flops, Counter::kIsIterationInvariantRate);
  state.counters["roofline_ms"] = cost.limit_ms();
}

Flags take_flags(int* argc, char** argv) {
  Flags flags;
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    if (std::strcmp(argv[i], "--roofline") == 0) {
      flags.roofline = true;
    } else if (std::strcmp(argv[i], "--smoke") == 0) {
      flags.smoke = true;
    } else if (std::strcmp(argv[i], "--write-weights") == 0 && i + 1 < *argc) {
      flags.write_weights = argv[++i];
    } else {
      argv[out++] = argv[i];
    }
  }
  *argc = out;
  return flags;
}

int run_main(int argc, char** argv, const Flags& flags) {
  bool list_only = false;  // --benchmark_list_tests needs no device
  for (int i = 1; i < argc; ++i) list_only |= std::strncmp(argv[i], "--benchmark_list_tests", 22) == 0;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (list_only) {
    benchmark::RunSpecifiedBenchmarks();
    return 0;
  }
  std::string reason;
  if (!gpu_present(&reason)) {
    std::printf("skipped: no CUDA device (%s)\n", reason.c_str());
    return 0;
  }
  try {
    GpuContext& ctx = gpu_context();
    benchmark::AddCustomContext("gpu", ctx.device_name);
  } catch (const std::exception& e) {
    std::printf("skipped: %s\n", e.what());
    return 0;
  }
  benchmark::AddCustomContext("l2_flushed_before_each_call", "yes");
  benchmark::AddCustomContext("smoke", flags.smoke ? "yes (1 iteration per case)" : "no");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace vrestore::gpu_bench
