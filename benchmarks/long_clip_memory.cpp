// Restores a synthetic clip of any length through the public API and prints the peak resident
// memory (getrusage ru_maxrss) and the time per frame. The frames (a textured pattern panning by a
// fraction of a pixel per frame) are generated on demand by the FrameSource and the outputs are
// discarded by the sink, so neither clip is ever in memory: what remains is the model's own
// working set. benchmarks/long_clip_memory.sh compares 100 and 1000 frames.
//
//   vrestore_long_clip --frames N (--weights W.safetensors | --random-official)
//                      [--size HxW] [--chunk-frames K] [--lookahead-frames L]
//                      [--independent-chunks 0|1] [--threads T]
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>

#include "bench_support.h"
#include "vrestore/vrestore.h"

namespace {

using vrestore::Tensor;

const char* kUsage =
    "usage: vrestore_long_clip --frames N (--weights W.safetensors | --random-official)\n"
    "                          [--size HxW] [--chunk-frames K] [--lookahead-frames L]\n"
    "                          [--independent-chunks 0|1] [--threads T]\n"
    "  --random-official: BasicVSR num_feat 64, num_block 30 with random weights (written to a temp file)\n";

// Resident set now (VmRSS) in MiB, from /proc/self/status.
double current_rss_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return -1;
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux: KiB
}

// Frame i of the synthetic clip: two gratings and a blob texture moving at different speeds, per
// channel phases, values in [0, 1].
Tensor synthetic_frame(int64_t i, int64_t h, int64_t w) {
  Tensor f = Tensor::empty({3, h, w});
  const double t = static_cast<double>(i);
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        const double u = static_cast<double>(x) - 0.7 * t, v = static_cast<double>(y) - 0.3 * t;
        double value = 0.5 + 0.2 * std::sin(0.31 * u + 0.17 * v + 1.1 * static_cast<double>(c)) +
                       0.15 * std::sin(0.05 * static_cast<double>(x) - 0.21 * static_cast<double>(y) + 0.4 * t) +
                       0.1 * std::sin(0.9 * u) * std::cos(0.7 * v + static_cast<double>(c));
        f.data()[(c * h + y) * w + x] = static_cast<float>(std::fmin(1.0, std::fmax(0.0, value)));
      }
  return f;
}

int64_t to_int(const std::string& key, const std::string& text) {
  size_t used = 0;
  const long long v = std::stoll(text, &used);
  if (used != text.size()) throw std::invalid_argument("--" + key + " expects an integer, got '" + text + "'");
  return v;
}

int run(int argc, char** argv) {
  std::map<std::string, std::string> opts;
  bool random_official = false;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (key == "--random-official") {
      random_official = true;
    } else if (key.rfind("--", 0) == 0 && i + 1 < argc) {
      opts[key.substr(2)] = argv[++i];
    } else {
      throw std::invalid_argument("unexpected argument '" + key + "'");
    }
  }
  if (!opts.count("frames") || opts.count("weights") == static_cast<size_t>(random_official))
    throw std::invalid_argument("need --frames and exactly one of --weights / --random-official");
  const int64_t frames = to_int("frames", opts["frames"]);
  int64_t h = 64, w = 64;
  if (opts.count("size")) {
    const std::string& s = opts["size"];
    const size_t x = s.find('x');
    if (x == std::string::npos) throw std::invalid_argument("--size expects HxW");
    h = to_int("size", s.substr(0, x));
    w = to_int("size", s.substr(x + 1));
  }
  vrestore::RestoreOptions options;
  if (opts.count("chunk-frames")) options.chunk_frames = to_int("chunk-frames", opts["chunk-frames"]);
  if (opts.count("lookahead-frames")) options.lookahead_frames = to_int("lookahead-frames", opts["lookahead-frames"]);
  if (opts.count("independent-chunks"))
    options.independent_chunks = to_int("independent-chunks", opts["independent-chunks"]) != 0;
  if (opts.count("threads")) vrestore::set_num_threads(static_cast<int>(to_int("threads", opts["threads"])));

  std::string weights = opts.count("weights") ? opts["weights"] : std::string();
  std::filesystem::path temp;
  if (weights.empty()) {
    temp = std::filesystem::temp_directory_path() /
           ("vrestore_long_clip_" + std::to_string(getpid()) + ".safetensors");
    vrestore::bench::write_random_basicvsr_weights(temp.string(), {}, /*seed=*/2025);
    weights = temp.string();
  }
  vrestore::Model model = vrestore::Model::load(weights);
  if (!temp.empty()) std::filesystem::remove(temp);  // the mapping stays valid
  const double rss_loaded = current_rss_mib();

  vrestore::FrameSource source;
  source.num_frames = frames;
  source.frame = [&](int64_t i) { return synthetic_frame(i, h, w); };
  double checksum = 0;
  int64_t emitted = 0;
  const auto t0 = std::chrono::steady_clock::now();
  model.restore(
      source,
      [&](int64_t index, const Tensor& frame) {
        if (index != emitted++) throw std::runtime_error("frames out of order");
        checksum += frame.data()[frame.numel() / 2];
      },
      options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::printf("model %s (%s)\n", model.info().arch.c_str(), temp.empty() ? weights.c_str() : "random official config");
  std::printf("clip %lld frames of %lldx%lld; chunk_frames %lld, lookahead_frames %lld, independent_chunks %d\n",
              static_cast<long long>(frames), static_cast<long long>(h), static_cast<long long>(w),
              static_cast<long long>(options.chunk_frames), static_cast<long long>(options.lookahead_frames),
              options.independent_chunks ? 1 : 0);
  std::printf("rss after load %.1f MiB, peak rss %.1f MiB, %.3f s total, %.4f s/frame (checksum %.6g)\n", rss_loaded,
              peak_rss_mib(), seconds, seconds / static_cast<double>(frames), checksum);
  const vrestore::HostMemoryStats host = model.host_memory();
  std::printf("host pool: peak tensors %.1f MiB, peak with kept blocks %.1f MiB, kept after the call %.1f MiB\n",
              static_cast<double>(host.peak_bytes) / 1048576.0,
              static_cast<double>(host.peak_reserved_bytes) / 1048576.0, static_cast<double>(host.pool_bytes) / 1048576.0);
  // One machine-readable line for long_clip_memory.sh.
  std::printf("RESULT frames=%lld peak_rss_mib=%.1f rss_after_load_mib=%.1f sec_per_frame=%.5f\n",
              static_cast<long long>(frames), peak_rss_mib(), rss_loaded, seconds / static_cast<double>(frames));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "vrestore_long_clip: %s\n%s", e.what(), kUsage);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vrestore_long_clip: error: %s\n", e.what());
    return 1;
  }
}
