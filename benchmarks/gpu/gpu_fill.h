// Deterministic inputs for the GPU benchmarks, written on the device (a 720p DCN input is 236 MB; a
// host generator would dominate start-up). torch_gpu_bench.py builds the flows, offsets and masks
// from the same closed forms, so both sides gather from the same sample points; features are
// uniform random on both sides (their values do not change the timing).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace vrestore::gpu_bench {

// data[i] = lo + (hi - lo) * u(i, seed), u a hash of (i, seed) uniform in [0, 1).
cudaError_t fill_uniform(float* data, int64_t count, float lo, float hi, uint32_t seed, cudaStream_t stream);
cudaError_t fill_uniform(__half* data, int64_t count, float lo, float hi, uint32_t seed, cudaStream_t stream);

// A smooth flow of a few fractional pixels, the one benchmarks/compare_pytorch.py uses:
//   dx = 2.5 sin(0.021 x + 0.013 y) + 0.5,  dy = 1.5 cos(0.017 x - 0.029 y) - 0.25.
// interleaved: (N, H, W, 2) as upstream passes it; else planar (N, 2, H, W).
cudaError_t fill_flow(float* flow, int batch, int height, int width, bool interleaved, cudaStream_t stream);

// DCN offsets (N, 2*G*K, H, W) and mask (N, G*K, H, W) like a trained model's: per (group, tap)
// j = g*K + k a fractional shift of up to 3 px plus up to 0.5 px varying per pixel, so some
// samples fall outside the image; mask in [0, 1]:
//   dy = 3 sin(0.7 j + 0.3) + 0.5 sin(0.05 x + 0.03 y)
//   dx = 3 cos(0.9 j + 0.1) + 0.5 cos(0.04 x - 0.02 y)
//   m  = 0.5 + 0.5 sin(0.01 x + 0.02 y + j)
cudaError_t fill_dcn_offsets(float* offset, float* mask, int batch, int groups_taps, int height, int width,
                             cudaStream_t stream);

}  // namespace vrestore::gpu_bench
