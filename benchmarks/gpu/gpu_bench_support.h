// Shared machinery of the GPU benchmarks: device buffers, one stream + cuBLAS handle, CUDA-event
// timing with a cold L2 before every timed call, and each case's cost (bytes moved, FLOPs) with
// its roofline time on the H200. Compiled by the host compiler against the CUDA runtime API.
#pragma once

#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace vrestore::gpu_bench {

// The card's limits the roofline uses (NVIDIA's H200 SXM datasheet): HBM3e bandwidth, dense fp16
// tensor-core rate, plain fp32 rate. gpu_anchors.md measured 4.3 TB/s (copy) and ~790 TFLOP/s
// (bf16 GEMM on random data) on the card: the attainable ceilings are ~10-20% lower.
constexpr double kHbmBytesPerSecond = 4.8e12;
constexpr double kF16TensorFlops = 990e12;
constexpr double kF32Flops = 67e12;

// Throws std::runtime_error naming the call and CUDA's message.
void check_cuda(cudaError_t err, const char* what);

// Bytes and FLOPs of one call at one shape, and the time they need at the card's limits.
struct Cost {
  double bytes = 0;           // minimum HBM traffic: every input read once, every output written once
  double flops = 0;
  bool tensor_cores = false;  // FLOPs in an f16 GEMM (tensor cores); else fp32 SIMT
  double memory_ms() const { return bytes / kHbmBytesPerSecond * 1e3; }
  double compute_ms() const { return flops / (tensor_cores ? kF16TensorFlops : kF32Flops) * 1e3; }
  double limit_ms() const { return memory_ms() > compute_ms() ? memory_ms() : compute_ms(); }
};

// Every registered kernel case, for `--roofline` (printed without touching a GPU).
struct RooflineEntry {
  std::string name;
  Cost cost;
};
std::vector<RooflineEntry>& roofline_entries();
void print_roofline_markdown();

// Device memory of `count` elements of T, freed on destruction.
template <class T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t count) : count_(count) {
    void* p = nullptr;
    if (count) check_cuda(cudaMalloc(&p, count * sizeof(T)), "cudaMalloc (benchmark buffer)");
    data_ = static_cast<T*>(p);
  }
  ~DeviceBuffer() {
    if (data_) cudaFree(data_);
  }
  DeviceBuffer(DeviceBuffer&& other) noexcept : data_(std::exchange(other.data_, nullptr)), count_(other.count_) {}
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(DeviceBuffer&&) = delete;
  T* get() const { return data_; }
  size_t count() const { return count_; }

 private:
  T* data_ = nullptr;
  size_t count_ = 0;
};

// The process's stream, cuBLAS handle (default math mode: no TF32), timing events and an
// L2-flush buffer. Created on first use; throws when no CUDA device is usable.
struct GpuContext {
  cudaStream_t stream = nullptr;
  void* blas = nullptr;  // cublasHandle_t
  cudaEvent_t start = nullptr, stop = nullptr;
  void* flush = nullptr;
  size_t flush_bytes = 0;
  std::string device_name;

  // Evicts the inputs from L2 (writes a buffer twice the L2's size), outside the timed region, so
  // every call reads from HBM as the roofline assumes; torch_gpu_bench.py does the same.
  void flush_l2() const;
};
GpuContext& gpu_context();

// Whether a CUDA device is usable (vrestore::cuda_available); `reason` says why not.
bool gpu_present(std::string* reason);

// One warm-up call, then per iteration: flush L2, record an event, launch, record, wait, and report
// the elapsed device time (UseManualTime). A failed launch ends the case with SkipWithError.
template <class Launch>
void time_launches(benchmark::State& state, Launch&& launch) {
  GpuContext& ctx = gpu_context();
  check_cuda(launch(), "warm-up launch");
  check_cuda(cudaStreamSynchronize(ctx.stream), "warm-up");
  for (auto _ : state) {
    ctx.flush_l2();
    check_cuda(cudaEventRecord(ctx.start, ctx.stream), "cudaEventRecord");
    const cudaError_t err = launch();
    check_cuda(cudaEventRecord(ctx.stop, ctx.stream), "cudaEventRecord");
    check_cuda(cudaEventSynchronize(ctx.stop), "cudaEventSynchronize");
    check_cuda(err, "launch");
    float ms = 0;
    check_cuda(cudaEventElapsedTime(&ms, ctx.start, ctx.stop), "cudaEventElapsedTime");
    state.SetIterationTime(ms * 1e-3);
  }
}

// Per iteration: flush L2 when asked, record an event, run `call` (its result, e.g. a Tensor, is
// released after the stop event is recorded), record, wait, and report the elapsed device time
// (UseManualTime). For calls through the public API (ops, models), after the caller's warm-up.
template <class Call>
void time_calls(benchmark::State& state, Call&& call, bool flush_l2) {
  GpuContext& ctx = gpu_context();
  for (auto _ : state) {
    if (flush_l2) ctx.flush_l2();
    check_cuda(cudaEventRecord(ctx.start, ctx.stream), "cudaEventRecord");
    {
      auto result = call();
      check_cuda(cudaEventRecord(ctx.stop, ctx.stream), "cudaEventRecord");
    }
    check_cuda(cudaEventSynchronize(ctx.stop), "cudaEventSynchronize");
    float ms = 0;
    check_cuda(cudaEventElapsedTime(&ms, ctx.start, ctx.stop), "cudaEventElapsedTime");
    state.SetIterationTime(ms * 1e-3);
  }
}

// GB/s, FLOP/s and the roofline time as counters of a finished case.
void report_cost(benchmark::State& state, const Cost& cost);

// Runs `body(state)`, turning an exception (no device, out of memory, a failed launch) into a
// skipped case that names it.
template <class Body>
auto guarded(Body body) {
  return [body](benchmark::State& state) {
    std::string reason;
    if (!gpu_present(&reason)) {
      state.SkipWithError(("skipped: no CUDA device (" + reason + ")").c_str());
      return;
    }
    try {
      body(state);
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
    }
  };
}

// Parses this program's own flags out of argv before Google Benchmark sees it:
//   --roofline         print the roofline table of every case (markdown) and exit; needs no GPU
//   --smoke            one iteration per case (for compute-sanitizer)
//   --write-weights D  (model benchmark) write the random official-config weights files into D and exit
struct Flags {
  bool roofline = false;
  bool smoke = false;
  std::string write_weights;
};
Flags take_flags(int* argc, char** argv);

// Google Benchmark's main: registers nothing itself. Exits 0 with "skipped: no CUDA device" when
// none is usable (unless only --roofline / --write-weights work is asked for).
int run_main(int argc, char** argv, const Flags& flags);

}  // namespace vrestore::gpu_bench
