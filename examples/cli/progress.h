// Progress of a restoration on stderr: frames done / total, frames per second and the time left.
// On a terminal one line is redrawn in place; in a log (stderr not a terminal) a line is printed
// every `log_every_frames` frames or `log_every_seconds`, whichever comes first, plus the last.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace vrestore::cli {

class ProgressBar {
 public:
  // quiet: print nothing at all. `what` starts each line, e.g. "restore".
  ProgressBar(std::string what, int64_t total, bool quiet, std::FILE* out = stderr);
  ~ProgressBar();

  // `done` frames of `total` are finished.
  void update(int64_t done);
  // Ends the redrawn line (a terminal) so later messages start on a new line. Idempotent.
  void finish();
  double elapsed_seconds() const;

  int64_t log_every_frames = 10;
  double log_every_seconds = 5.0;

 private:
  void draw(int64_t done);

  std::string what_;
  int64_t total_;
  bool quiet_, terminal_, line_open_ = false;
  std::FILE* out_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  int64_t last_logged_ = 0;
};

// "1:05" / "1:02:03" for a number of seconds (rounded down; "?" when not finite).
std::string format_duration(double seconds);

}  // namespace vrestore::cli
