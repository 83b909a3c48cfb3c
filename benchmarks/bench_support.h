// Inputs and weights for the benchmarks: deterministic random tensors, an EDVR model that needs no
// real checkpoint, and the analytic cost of an EDVR forward pass.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "models/edvr.h"

namespace vrestore::bench {

// Uniform values in [lo, hi), reproducible for a given seed.
Tensor random_uniform(const Shape& shape, float lo, float hi, uint32_t seed);

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
};
BenchEdvr load_bench_edvr();

// Multiply-adds of one EDVR forward (one output frame) on h x w input frames, counting convs and
// DCNs as in the spec's cost anchors (486.8 GMACs for EDVR-M at 180x320). Predeblur models: 0.
double edvr_macs(const EdvrConfig& cfg, int64_t h, int64_t w);

}  // namespace vrestore::bench
