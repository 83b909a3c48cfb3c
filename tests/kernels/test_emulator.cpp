// Self-tests of the CUDA emulator: correct kernels pass under every schedule, and each class of bug
// the emulator exists to catch is caught (missing __syncthreads, warp-synchronous code without
// __syncwarp, grid off by one, barrier divergence, bad warp masks, launch limits).
#include <chrono>
#include <cstdio>
#include <numeric>

#include "cuda_compat.h"
#include "device_buffer.h"

using namespace vrestore::kernel_test;

namespace {

constexpr cuemu::Schedule kAllSchedules[] = {cuemu::Schedule::Forward, cuemu::Schedule::Reverse,
                                             cuemu::Schedule::Random};

// Restores the schedule chosen by the environment when a test that sets its own ends.
struct ScheduleGuard {
  cuemu::Schedule saved = cuemu::schedule();
  ~ScheduleGuard() { cuemu::set_schedule(saved); }
};

// ---- kernels under test ----------------------------------------------------------------------------
constexpr int kTile = 128;

// Reverses each block-sized tile through shared memory.
__global__ void reverse_tiles(const float* in, float* out) {
  __shared__ float tile[kTile];
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  tile[threadIdx.x] = in[i];
  __syncthreads();
  out[i] = tile[blockDim.x - 1 - threadIdx.x];
}

__global__ void reverse_tiles_without_barrier(const float* in, float* out) {
  __shared__ float tile[kTile];
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  tile[threadIdx.x] = in[i];
  out[i] = tile[blockDim.x - 1 - threadIdx.x];  // bug: other threads may not have written yet
}

// Sums each block of 64 values; the last 32 partial sums are folded inside one warp.
template <bool kWithSyncwarp>
__global__ void block_sum(const float* in, float* out) {
  DYN_SHARED(float, partial);
  const int t = threadIdx.x;
  partial[t] = in[blockIdx.x * blockDim.x + t];
  __syncthreads();
  if (t < 32) {
    partial[t] += partial[t + 32];
    if (kWithSyncwarp) __syncwarp();
    for (int stride = 16; stride > 0; stride /= 2) {
      if (kWithSyncwarp) {
        const float v = partial[t] + partial[t + stride];
        __syncwarp();
        partial[t] = v;
        __syncwarp();
      } else {
        partial[t] += partial[t + stride];  // bug: relies on lock-step lanes
      }
    }
    if (t == 0) out[blockIdx.x] = partial[0];
  }
}

__global__ void warp_sum_by_shuffle(const float* in, float* out) {
  float v = in[blockIdx.x * blockDim.x + threadIdx.x];
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  if (threadIdx.x % 32 == 0) out[(blockIdx.x * blockDim.x + threadIdx.x) / 32] = v;
}

__global__ void warp_votes(const int* in, unsigned* ballots, int* any, int* all, float* xor_pairs, float* up16) {
  const int lane = threadIdx.x;
  const int pred = in[lane];
  const unsigned b = __ballot_sync(0xffffffffu, pred);
  const int a = __any_sync(0xffffffffu, pred);
  const int l = __all_sync(0xffffffffu, pred);
  if (lane == 0) {
    *ballots = b;
    *any = a;
    *all = l;
  }
  xor_pairs[lane] = __shfl_xor_sync(0xffffffffu, float(lane), 1);
  up16[lane] = __shfl_up_sync(0xffffffffu, float(lane), 3, 16);
}

__global__ void fill_index(float* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = float(i);
}

__global__ void diverging_barriers(float* out) {
  if (threadIdx.x < 16) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1.0f;
}

__global__ void early_exit_before_barrier(float* out, int n) {
  const int i = threadIdx.x;
  if (i >= n) return;  // bug: the other threads wait at the barrier below forever
  __syncthreads();
  out[i] = 1.0f;
}

__global__ void shuffle_with_mask(float* out, unsigned mask) {
  out[threadIdx.x] = __shfl_sync(mask, float(threadIdx.x), 0);
}

__global__ void half_warp_waits_at_barrier(float* out) {
  if (threadIdx.x < 16) __syncwarp();  // bug: lanes 16..31 never reach a __syncwarp
  else __syncthreads();
  out[threadIdx.x] = 0.0f;
}

__global__ void read_dynamic_shared(float* out) {
  DYN_SHARED(float, scratch);
  out[threadIdx.x] = scratch[threadIdx.x];
}

__global__ void noop(float*) {}

// ---- helpers ---------------------------------------------------------------------------------------
std::vector<float> run_reverse(bool with_barrier, int blocks) {
  std::vector<float> host(size_t(blocks) * kTile);
  std::iota(host.begin(), host.end(), 1.0f);
  DeviceBuffer<float> in(host), out(host.size());
  out.fill_nan();
  if (with_barrier) KLAUNCH(reverse_tiles, dim3(blocks), dim3(kTile), 0, nullptr, in.get(), out.get());
  else KLAUNCH(reverse_tiles_without_barrier, dim3(blocks), dim3(kTile), 0, nullptr, in.get(), out.get());
  CUDA_REQUIRE(cudaGetLastError());
  return out.download();
}

std::vector<float> expected_reverse(int blocks) {
  std::vector<float> want(size_t(blocks) * kTile);
  for (int b = 0; b < blocks; ++b)
    for (int t = 0; t < kTile; ++t) want[size_t(b) * kTile + t] = float(b * kTile + (kTile - 1 - t) + 1);
  return want;
}

template <bool kWithSyncwarp>
std::vector<float> run_block_sum(const std::vector<float>& host) {
  DeviceBuffer<float> in(host), out(host.size() / 64);
  out.fill_nan();
  KLAUNCH(block_sum<kWithSyncwarp>, dim3(unsigned(host.size() / 64)), dim3(64), 64 * sizeof(float), nullptr,
          in.get(), out.get());
  CUDA_REQUIRE(cudaGetLastError());
  return out.download();
}

bool equal(const std::vector<float>& a, const std::vector<float>& b) { return compare("", a, b, 0, 0).failures == 0; }

}  // namespace

TEST_CASE("emulator: shared memory with __syncthreads is correct under every schedule", "[emulator]") {
  ScheduleGuard guard;
  for (cuemu::Schedule s : kAllSchedules) {
    cuemu::set_schedule(s);
    INFO("schedule " << cuemu::schedule_name(s));
    REQUIRE(equal(run_reverse(true, 3), expected_reverse(3)));
  }
}

TEST_CASE("emulator: a missing __syncthreads gives wrong results", "[emulator]") {
  ScheduleGuard guard;
  int wrong = 0;
  for (cuemu::Schedule s : kAllSchedules) {
    cuemu::set_schedule(s);
    wrong += !equal(run_reverse(false, 3), expected_reverse(3));
  }
  REQUIRE(wrong == 3);
}

TEST_CASE("emulator: warp-synchronous code needs __syncwarp", "[emulator]") {
  ScheduleGuard guard;
  const std::vector<float> host = random_vector(64 * 5, -1, 1, 7);
  std::vector<float> want(5, 0.0f);
  for (size_t i = 0; i < host.size(); ++i) want[i / 64] += host[i];
  int unsynced_wrong = 0;
  for (cuemu::Schedule s : kAllSchedules) {
    cuemu::set_schedule(s);
    INFO("schedule " << cuemu::schedule_name(s));
    REQUIRE_CLOSE(compare("block_sum", run_block_sum<true>(host), want));
    unsynced_wrong += compare("block_sum", run_block_sum<false>(host), want).failures > 0;
  }
  REQUIRE(unsynced_wrong > 0);
}

TEST_CASE("emulator: warp shuffles, votes and widths", "[emulator]") {
  const std::vector<float> host = random_vector(128, -1, 1, 3);
  DeviceBuffer<float> in(host), sums(4);
  KLAUNCH(warp_sum_by_shuffle, dim3(2), dim3(64), 0, nullptr, in.get(), sums.get());
  CUDA_REQUIRE(cudaGetLastError());
  std::vector<float> want(4, 0.0f);
  for (size_t i = 0; i < host.size(); ++i) want[i / 32] += host[i];
  REQUIRE_CLOSE(compare("warp_sum", sums.download(), want));

  std::vector<int> preds(32, 0);
  preds[3] = preds[17] = 1;
  DeviceBuffer<int> pred(preds), any(1), all(1);
  DeviceBuffer<unsigned> ballot(1);
  DeviceBuffer<float> xors(32), ups(32);
  KLAUNCH(warp_votes, dim3(1), dim3(32), 0, nullptr, pred.get(), ballot.get(), any.get(), all.get(), xors.get(), ups.get());
  CUDA_REQUIRE(cudaGetLastError());
  REQUIRE(ballot.download()[0] == ((1u << 3) | (1u << 17)));
  REQUIRE(any.download()[0] == 1);
  REQUIRE(all.download()[0] == 0);
  const std::vector<float> x = xors.download(), u = ups.download();
  for (int lane = 0; lane < 32; ++lane) {
    REQUIRE(x[lane] == float(lane ^ 1));
    const int segment_lane = lane % 16;  // width 16: lanes below 3 in each half keep their own value
    REQUIRE(u[lane] == float(segment_lane >= 3 ? lane - 3 : lane));
  }
}

TEST_CASE("emulator: a grid off by one leaves the NaN sentinel", "[emulator]") {
  const int n = 1000, threads = 256;
  DeviceBuffer<float> out(n);
  out.fill_nan();
  KLAUNCH(fill_index, dim3(n / threads), dim3(threads), 0, nullptr, out.get(), n);  // bug: floor, not ceil
  CUDA_REQUIRE(cudaGetLastError());
  const std::vector<float> got = out.download();
  REQUIRE(std::isnan(got[n - 1]));
  REQUIRE(got[767] == 767.0f);

  out.fill_nan();
  KLAUNCH(fill_index, dim3((n + threads - 1) / threads), dim3(threads), 0, nullptr, out.get(), n);
  CUDA_REQUIRE(cudaGetLastError());
  for (float v : out.download()) REQUIRE(!std::isnan(v));
}

TEST_CASE("emulator: barrier divergence is reported", "[emulator]") {
  DeviceBuffer<float> out(32);
  KLAUNCH(diverging_barriers, dim3(1), dim3(32), 0, nullptr, out.get());
  REQUIRE(cudaGetLastError() == cudaErrorLaunchFailure);
  REQUIRE_THAT(cuemu::last_error_message(), Catch::Contains("barrier divergence") && Catch::Contains("diverging_barriers"));

  KLAUNCH(early_exit_before_barrier, dim3(1), dim3(32), 0, nullptr, out.get(), 20);
  REQUIRE(cudaGetLastError() == cudaErrorLaunchFailure);
  REQUIRE_THAT(cuemu::last_error_message(), Catch::Contains("has exited"));

  KLAUNCH(half_warp_waits_at_barrier, dim3(1), dim3(32), 0, nullptr, out.get());
  REQUIRE(cudaGetLastError() == cudaErrorLaunchFailure);
  REQUIRE_THAT(cuemu::last_error_message(), Catch::Contains("deadlock"));
}

TEST_CASE("emulator: bad warp masks are reported", "[emulator]") {
  DeviceBuffer<float> out(64);
  // A block of 48 threads: the second warp has only 16 lanes.
  KLAUNCH(shuffle_with_mask, dim3(1), dim3(48), 0, nullptr, out.get(), 0xffffffffu);
  REQUIRE(cudaGetLastError() == cudaErrorLaunchFailure);
  REQUIRE_THAT(cuemu::last_error_message(), Catch::Contains("does not exist"));

  KLAUNCH(shuffle_with_mask, dim3(1), dim3(32), 0, nullptr, out.get(), 0x0000fffeu);
  REQUIRE(cudaGetLastError() == cudaErrorLaunchFailure);
  REQUIRE_THAT(cuemu::last_error_message(), Catch::Contains("excludes its own lane"));

  KLAUNCH(shuffle_with_mask, dim3(1), dim3(64), 0, nullptr, out.get(), 0xffffffffu);
  CUDA_REQUIRE(cudaGetLastError());
  const std::vector<float> got = out.download();
  REQUIRE(got[5] == 0.0f);
  REQUIRE(got[40] == 32.0f);
}

TEST_CASE("emulator: launch limits are launch errors", "[emulator]") {
  DeviceBuffer<float> out(1);
  KLAUNCH(noop, dim3(1), dim3(1025), 0, nullptr, out.get());
  REQUIRE(cudaGetLastError() == cudaErrorInvalidConfiguration);
  REQUIRE_THAT(cuemu::last_error_message(), Catch::Contains("1025 threads"));
  KLAUNCH(noop, dim3(32, 32, 2), dim3(32, 32, 2), 0, nullptr, out.get());
  REQUIRE(cudaGetLastError() == cudaErrorInvalidConfiguration);
  KLAUNCH(noop, dim3(0), dim3(32), 0, nullptr, out.get());
  REQUIRE(cudaGetLastError() == cudaErrorInvalidConfiguration);
  KLAUNCH(noop, dim3(1), dim3(32), 48 * 1024 + 1, nullptr, out.get());
  REQUIRE(cudaGetLastError() == cudaErrorInvalidValue);

  KLAUNCH(noop, dim3(1), dim3(1024), 48 * 1024, nullptr, out.get());
  REQUIRE(cudaGetLastError() == cudaSuccess);
  REQUIRE(cudaGetLastError() == cudaSuccess);  // reading the error resets it
}

TEST_CASE("emulator: dynamic shared memory starts as NaN", "[emulator]") {
  DeviceBuffer<float> out(64);
  KLAUNCH(read_dynamic_shared, dim3(2), dim3(64), 64 * sizeof(float), nullptr, out.get());
  CUDA_REQUIRE(cudaGetLastError());
  for (float v : out.download()) REQUIRE(std::isnan(v));
}

TEST_CASE("emulator: throughput", "[emulator]") {
  const int n = 1 << 20, threads = 256;
  DeviceBuffer<float> out(n);
  const cuemu::Stats before = cuemu::stats();
  const auto start = std::chrono::steady_clock::now();
  KLAUNCH(fill_index, dim3(n / threads), dim3(threads), 0, nullptr, out.get(), n);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CUDA_REQUIRE(cudaGetLastError());
  REQUIRE(cuemu::stats().threads - before.threads == uint64_t(n));
  std::printf("emulator throughput: %d threads in %.3f s = %.1f M threads/s (schedule %s)\n", n, seconds,
              n / seconds / 1e6, cuemu::schedule_name(cuemu::schedule()));
}
