// --stats of `vrestore run` and `vrestore restore`: what a run cost, printed on stdout after it
// (stdout carries nothing else, so a script can read it; --quiet does not silence it).
#pragma once

#include <cstddef>
#include <cstdint>

#include "vrestore/vrestore.h"

namespace vrestore::cli {

// The process's peak resident set size so far, in bytes (getrusage's ru_maxrss); 0 if unknown.
size_t peak_host_rss_bytes();

// One line: "stats: frames N, wall S s, F fps, peak host RSS B bytes (M MiB)", plus for a CUDA
// model ", peak device memory B bytes (M MiB), weights B bytes (M MiB)" from
// Model::device_memory(). `wall_seconds`: the restoration (or forward) alone, model loading
// excluded.
void print_stats(int64_t frames, double wall_seconds, const Model& model);

}  // namespace vrestore::cli
