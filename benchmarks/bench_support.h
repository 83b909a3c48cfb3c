// Inputs and weights for the benchmarks: deterministic random tensors, EDVR, BasicVSR, SpyNet and
// RealBasicVSR models that need no real checkpoint, and the analytic cost of their forward passes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/host_pool.h"
#include "models/basicvsr.h"
#include "models/edvr.h"
#include "models/spynet.h"

namespace vrestore::bench {

// Uniform values in [lo, hi), reproducible for a given seed.
Tensor random_uniform(const Shape& shape, float lo, float hi, uint32_t seed);

// The pool's last call: its tensors and kept blocks at their most, in MiB, as Model::host_memory()
// reports them (weights not included), not the process's RSS.
inline double peak_host_mib(const HostPool& pool) {
  return static_cast<double>(pool.stats().peak_reserved_bytes) / (1 << 20);
}

// Writes an EDVR weights file (BasicSR key names, vrestore metadata) filled with random values
// scaled like PyTorch's default conv init, so activations stay in a realistic range. The DCN
// offset branches are biased to produce fractional offsets of a few pixels, as trained models do
// (upstream initialises them to zero, which would make every DCN a plain conv).
void write_random_edvr_weights(const std::string& path, const EdvrConfig& cfg, uint32_t seed);

// The model the EDVR benchmarks run: the converted file named by $VRESTORE_BENCH_WEIGHTS if set,
// else EDVR-M (official REDS config) with random weights. `source` describes which.
struct BenchEdvr {
  std::unique_ptr<Edvr> model;
  std::string source;
  // What a vrestore::Model holds: time each call inside a HostPoolCall on it.
  std::shared_ptr<HostPool> host_pool = HostPool::create();
};
BenchEdvr load_bench_edvr();

// Multiply-adds of one EDVR forward (one output frame) on h x w input frames, counting convs and
// DCNs as in the spec's cost anchors (486.8 GMACs for EDVR-M at 180x320). Predeblur models: 0.
double edvr_macs(const EdvrConfig& cfg, int64_t h, int64_t w);

// ---- recurrent family -------------------------------------------------------------------------

// Official configurations: BasicVSR_REDS4 (BasicSR, num_feat 64, num_block 30) and RealBasicVSR
// (mmedit, mid_channels 64, 20 propagation and 20 cleaning blocks, dynamic_refine_thres 255).
struct BasicVsrConfig {
  int64_t num_feat = 64, num_block = 30;
};
struct RealBasicVsrConfig {
  int64_t mid_channels = 64, num_propagation_blocks = 20, num_cleaning_blocks = 20;
  double dynamic_refine_thres = 255;
};

// Weights files with PyTorch's default conv init (uniform +-1/sqrt(fan_in)) and the key layout of
// the converted official files: BasicSR names without the constant spynet.mean/std for BasicVSR
// (arch basicsr.BasicVSR); mmedit names of the generator_ema copy, prefix stripped, for
// RealBasicVSR (arch mmedit.RealBasicVSRNet). Under this init SpyNet yields flows of about
// 0.5 px mean magnitude on textured frames, and the cleaning residue is far below 1, so the
// official threshold gives one cleaning pass, as trained models do.
void write_random_basicvsr_weights(const std::string& path, const BasicVsrConfig& cfg, uint32_t seed);
void write_random_realbasicvsr_weights(const std::string& path, const RealBasicVsrConfig& cfg, uint32_t seed);

// The models the recurrent benchmarks run: the converted file named by
// $VRESTORE_BENCH_BASICVSR_WEIGHTS (basicsr.BasicVSR or mmedit.BasicVSRNet; SpyNet is taken from
// it too) / $VRESTORE_BENCH_REALBASICVSR_WEIGHTS if set, else the official config with random
// weights.
struct BenchBasicVsr {
  std::unique_ptr<BasicVsr> model;
  BasicVsrConfig config;
  std::string source;
  // What a vrestore::Model holds: time each call inside a HostPoolCall on it.
  std::shared_ptr<HostPool> host_pool = HostPool::create();
};
BenchBasicVsr load_bench_basicvsr();

struct BenchSpyNet {
  SpyNet model;
  std::string source;
  // What a vrestore::Model holds: time each call inside a HostPoolCall on it.
  std::shared_ptr<HostPool> host_pool = HostPool::create();
};
BenchSpyNet load_bench_spynet();

struct BenchRealBasicVsr {
  std::unique_ptr<RealBasicVsr> model;
  RealBasicVsrConfig config;
  std::string source;
  // What a vrestore::Model holds: time each call inside a HostPoolCall on it.
  std::shared_ptr<HostPool> host_pool = HostPool::create();
};
BenchRealBasicVsr load_bench_realbasicvsr();

// Multiply-adds (spec section 9: convs only) of one SpyNet flow on h x w frames (computed at the
// size rounded up to multiples of 32): 19.6 GMACs at 180x320.
double spynet_macs(int64_t h, int64_t w);
// Per output frame of a t-frame clip, including the clip's 2 (t - 1) flows spread over its frames:
// 373.1 GMACs for BasicVSR at 1x10x3x180x320 (spec section 9).
double basicvsr_macs_per_frame(const BasicVsrConfig& cfg, int64_t t, int64_t h, int64_t w);
// The same for RealBasicVSR with `passes` cleaning passes (373.3 GMACs with 1 pass at
// 1x10x3x180x320; the spec's table says 355.6, which counts only t - 1 flows).
double realbasicvsr_macs_per_frame(const RealBasicVsrConfig& cfg, int64_t t, int64_t h, int64_t w, int passes);

}  // namespace vrestore::bench
