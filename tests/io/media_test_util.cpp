#include "media_test_util.h"

#include <png.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>

extern "C" {
#include <libavformat/avformat.h>
}

namespace fs = std::filesystem;

namespace media_test {

std::string scratch(const std::string& name) {
  const fs::path dir = fs::path(VRESTORE_IO_SCRATCH) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

std::vector<uint8_t> smooth_frame(int width, int height, int t) {
  std::vector<uint8_t> rgb(static_cast<size_t>(width) * height * 3);
  const double pi = 3.14159265358979323846;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const double u = static_cast<double>(x) / width, v = static_cast<double>(y) / height;
      const double r = 0.5 + 0.4 * std::sin(2 * pi * (u + 0.05 * t));
      const double g = 0.5 + 0.4 * std::cos(2 * pi * (v - 0.03 * t));
      const double b = 0.1 + 0.8 * (u + v) / 2;
      uint8_t* p = &rgb[(static_cast<size_t>(y) * width + x) * 3];
      p[0] = static_cast<uint8_t>(std::lround(255 * r));
      p[1] = static_cast<uint8_t>(std::lround(255 * g));
      p[2] = static_cast<uint8_t>(std::lround(255 * b));
    }
  return rgb;
}

std::vector<uint8_t> random_rgb8(int width, int height, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(static_cast<size_t>(width) * height * 3);
  for (auto& x : v) x = static_cast<uint8_t>(rng() & 0xff);
  return v;
}

std::vector<uint16_t> random_rgb16(int width, int height, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint16_t> v(static_cast<size_t>(width) * height * 3);
  for (auto& x : v) x = static_cast<uint16_t>(rng() & 0xffff);
  return v;
}

double psnr(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  if (a.size() != b.size() || a.empty()) throw std::runtime_error("psnr: size mismatch");
  double se = 0;
  for (size_t i = 0; i < a.size(); ++i) se += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  const double mse = se / a.size();
  return mse == 0 ? 100.0 : 10 * std::log10(255.0 * 255.0 / mse);
}

void write_raw_png(const std::string& path, int width, int height, int bit_depth, int color_type,
                   const std::vector<uint8_t>& samples, const std::vector<uint8_t>& palette) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot create " + path);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    std::fclose(f);
    throw std::runtime_error("libpng failed writing " + path);
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, width, height, bit_depth, color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (color_type == PNG_COLOR_TYPE_PALETTE) {
    std::vector<png_color> colors(palette.size() / 3);
    for (size_t i = 0; i < colors.size(); ++i) colors[i] = {palette[3 * i], palette[3 * i + 1], palette[3 * i + 2]};
    png_set_PLTE(png, info, colors.data(), static_cast<int>(colors.size()));
  }
  png_write_info(png, info);
  const size_t row_bytes = samples.size() / height;
  for (int y = 0; y < height; ++y) png_write_row(png, const_cast<png_bytep>(&samples[y * row_bytes]));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  std::fclose(f);
}

std::vector<StreamInfo> probe_streams(const std::string& path, const std::string& type) {
  AVFormatContext* fmt = nullptr;
  if (avformat_open_input(&fmt, path.c_str(), nullptr, nullptr) < 0) throw std::runtime_error("cannot open " + path);
  avformat_find_stream_info(fmt, nullptr);
  const AVMediaType want = type == "audio" ? AVMEDIA_TYPE_AUDIO : AVMEDIA_TYPE_VIDEO;
  std::vector<int> index_of(fmt->nb_streams, -1);
  std::vector<StreamInfo> out;
  std::vector<double> first, last;
  for (unsigned i = 0; i < fmt->nb_streams; ++i)
    if (fmt->streams[i]->codecpar->codec_type == want) {
      index_of[i] = static_cast<int>(out.size());
      out.push_back({avcodec_get_name(fmt->streams[i]->codecpar->codec_id), 0, 0});
      first.push_back(1e300);
      last.push_back(-1e300);
    }
  AVPacket* pkt = av_packet_alloc();
  while (av_read_frame(fmt, pkt) >= 0) {
    const int k = index_of[pkt->stream_index];
    if (k >= 0 && pkt->pts != AV_NOPTS_VALUE) {
      const double tb = av_q2d(fmt->streams[pkt->stream_index]->time_base);
      first[k] = std::min(first[k], pkt->pts * tb);
      last[k] = std::max(last[k], (pkt->pts + pkt->duration) * tb);
      ++out[k].packets;
    }
    av_packet_unref(pkt);
  }
  av_packet_free(&pkt);
  avformat_close_input(&fmt);
  for (size_t k = 0; k < out.size(); ++k) out[k].duration_s = out[k].packets ? last[k] - first[k] : 0;
  return out;
}

bool have_ffmpeg() { return std::system("ffmpeg -version > /dev/null 2>&1") == 0; }

bool run_ffmpeg(const std::string& args) {
  return std::system(("ffmpeg -nostdin -v error -y " + args).c_str()) == 0;
}

void truncate_file(const std::string& path, double keep_fraction) {
  const auto size = fs::file_size(path);
  fs::resize_file(path, static_cast<uintmax_t>(size * keep_fraction));
}

void damage_file(const std::string& path, double at_fraction, int bytes, uint32_t seed) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(fs::file_size(path) * at_fraction));
  std::mt19937 rng(seed);
  for (int i = 0; i < bytes; ++i) f.put(static_cast<char>(rng() & 0xff));
  if (!f) throw std::runtime_error("cannot damage " + path);
}

}  // namespace media_test
