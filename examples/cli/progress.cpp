#include "cli/progress.h"

#include <unistd.h>

#include <cmath>
#include <string>

namespace vrestore::cli {

ProgressBar::ProgressBar(std::string what, int64_t total, bool quiet, std::FILE* out)
    : what_(std::move(what)), total_(total), quiet_(quiet), terminal_(isatty(fileno(out)) != 0), out_(out),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

ProgressBar::~ProgressBar() { finish(); }

double ProgressBar::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long long s = static_cast<long long>(seconds);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
  return buf;
}

void ProgressBar::update(int64_t done) {
  if (quiet_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since_draw = std::chrono::duration<double>(now - last_draw_).count();
  const bool last = done >= total_;
  if (terminal_) {
    // At most ~10 redraws a second: a fast small model must not spend its time on the terminal.
    if (!last && since_draw < 0.1 && done != 1) return;
  } else if (!last && done - last_logged_ < log_every_frames && since_draw < log_every_seconds) {
    return;
  }
  last_draw_ = now;
  last_logged_ = done;
  draw(done);
}

void ProgressBar::draw(int64_t done) {
  const double elapsed = elapsed_seconds();
  const double fps = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  const double eta = fps > 0 ? static_cast<double>(total_ - done) / fps : NAN;
  const int percent = total_ > 0 ? static_cast<int>(100 * done / total_) : 0;
  char stats[160];
  std::snprintf(stats, sizeof stats, "%lld/%lld frames (%d%%)  %.2f fps  elapsed %s  ETA %s",
                static_cast<long long>(done), static_cast<long long>(total_), percent, fps,
                format_duration(elapsed).c_str(), done >= total_ ? "0:00" : format_duration(eta).c_str());
  if (terminal_) {
    constexpr int kWidth = 24;
    std::string bar(kWidth, ' ');
    for (int k = 0; k < kWidth * percent / 100; ++k) bar[static_cast<size_t>(k)] = '#';
    // \033[K clears what a longer previous line left on the right.
    std::fprintf(out_, "\r%s [%s] %s\033[K", what_.c_str(), bar.c_str(), stats);
    line_open_ = true;
  } else {
    std::fprintf(out_, "%s: %s\n", what_.c_str(), stats);
  }
  std::fflush(out_);
}

void ProgressBar::finish() {
  if (line_open_) std::fputc('\n', out_);
  line_open_ = false;
  std::fflush(out_);
}

}  // namespace vrestore::cli
