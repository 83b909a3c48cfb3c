#include "cli/run_stats.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>

namespace vrestore::cli {
namespace {

double mib(size_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

}  // namespace

size_t peak_host_rss_bytes() {
  struct rusage usage {};
  if (getrusage(RUSAGE_SELF, &usage) != 0 || usage.ru_maxrss < 0) return 0;
  return static_cast<size_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

void print_stats(int64_t frames, double wall_seconds, const Model& model) {
  const size_t rss = peak_host_rss_bytes();
  std::printf("stats: frames %lld, wall %.3f s, %.3f fps, peak host RSS %zu bytes (%.1f MiB)",
              static_cast<long long>(frames), wall_seconds,
              static_cast<double>(frames) / std::max(wall_seconds, 1e-9), rss, mib(rss));
  if (model.options().device == Device::CUDA) {
    const DeviceMemoryStats mem = model.device_memory();
    std::printf(", peak device memory %zu bytes (%.1f MiB), weights %zu bytes (%.1f MiB)", mem.peak_bytes,
                mib(mem.peak_bytes), mem.weights_bytes, mib(mem.weights_bytes));
  }
  std::printf("\n");
  std::fflush(stdout);
}

}  // namespace vrestore::cli
