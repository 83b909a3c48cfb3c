// Helpers of the vrestore_io tests: scratch folders, synthetic frames, PSNR, odd PNGs, probing
// outputs with libavformat, and running the `ffmpeg` program for inputs with audio.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace media_test {

// A fresh empty folder <build>/test_scratch/io/<name>.
std::string scratch(const std::string& name);

// A smooth moving colour pattern, interleaved RGB8 in [26, 230] (no clipping in limited-range YUV).
std::vector<uint8_t> smooth_frame(int width, int height, int t);
// Pseudo-random interleaved RGB samples in [0, top] (PNG round trips must be exact on any value).
std::vector<uint8_t> random_rgb8(int width, int height, uint32_t seed);
std::vector<uint16_t> random_rgb16(int width, int height, uint32_t seed);

double psnr(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b);

// Writes a PNG with libpng as given: color_type/bit_depth as PNG defines them; `samples` holds rows
// of packed samples (16-bit big-endian, as PNG stores them); `palette` is RGB triples.
void write_raw_png(const std::string& path, int width, int height, int bit_depth, int color_type,
                   const std::vector<uint8_t>& samples, const std::vector<uint8_t>& palette = {});

struct StreamInfo {
  std::string codec;      // e.g. "aac"
  double duration_s = 0;  // from the stream's packets (last end - first start)
  int64_t packets = 0;
};
// The streams of `type` ("video" or "audio") in a media file, read packet by packet.
std::vector<StreamInfo> probe_streams(const std::string& path, const std::string& type);

// True when the `ffmpeg` program is on PATH (tests that need it skip with this reason otherwise).
bool have_ffmpeg();
// Runs `ffmpeg -v error -y <args>`; true on success.
bool run_ffmpeg(const std::string& args);

void truncate_file(const std::string& path, double keep_fraction);
// Overwrites `bytes` bytes at `at_fraction` of the file with pseudo-random ones.
void damage_file(const std::string& path, double at_fraction, int bytes, uint32_t seed);

}  // namespace media_test
