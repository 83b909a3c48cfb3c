// Round trips and real-file reads of vrestore_io: PNG folders (exact), mp4/libx264 and mpeg4 (PSNR
// on a smooth pattern), opencv-doc's tree.avi, audio stream copy, partial finish and abort.
#include <catch2/catch.hpp>
#include <png.h>

#include <filesystem>

#include "io/io_internal.h"
#include "io/media_io.h"
#include "media_test_util.h"

namespace fs = std::filesystem;
using namespace vrestore::io;
using namespace media_test;

namespace {

const char* const kTreeAvi = "/usr/share/doc/opencv-doc/examples/data/tree.avi";

std::vector<std::string> listing(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Writes `n` smooth frames through a video writer and returns them.
std::vector<std::vector<uint8_t>> write_smooth_clip(const std::string& path, WriterOptions options, int n) {
  std::vector<std::vector<uint8_t>> frames;
  auto writer = open_writer(path, options);
  for (int t = 0; t < n; ++t) {
    frames.push_back(smooth_frame(options.width, options.height, t));
    writer->write_rgb8(frames.back().data());
  }
  writer->close();
  return frames;
}

}  // namespace

TEST_CASE("detect_media_kind: existing folders and a trailing '/' are PNG folders, the rest video") {
  const std::string dir = scratch("kind");
  CHECK(detect_media_kind(dir) == MediaKind::kPngFolder);
  CHECK(detect_media_kind(dir + "/not_yet/") == MediaKind::kPngFolder);
  CHECK(detect_media_kind(dir + "/clip.mp4") == MediaKind::kVideoFile);
  CHECK(detect_media_kind(dir + "/frames") == MediaKind::kVideoFile);  // absent, no '/': a video name
}

TEST_CASE("natural_less orders digit runs by value") {
  CHECK(natural_less("2.png", "10.png"));
  CHECK_FALSE(natural_less("10.png", "2.png"));
  CHECK(natural_less("frame_9.png", "frame_10.png"));
  CHECK(natural_less("a1b2.png", "a1b10.png"));
  CHECK(natural_less("a.png", "b.png"));
  CHECK_FALSE(natural_less("7.png", "7.png"));
  CHECK(natural_less("99999999999999999999998.png", "99999999999999999999999.png"));  // beyond 64 bits
}

TEST_CASE("PNG folder round trip, 8-bit: exact samples, count, size, natural order") {
  const std::string dir = scratch("png8") + "/out/";
  WriterOptions wo;
  wo.width = 37;  // odd sizes are fine for PNG
  wo.height = 21;
  std::vector<std::vector<uint8_t>> frames;
  {
    auto writer = open_writer(dir, wo);
    for (uint32_t t = 0; t < 12; ++t) {
      frames.push_back(random_rgb8(wo.width, wo.height, t));
      writer->write_rgb8(frames.back().data());
    }
    writer->close();
  }
  CHECK(listing(dir).front() == "000000.png");
  CHECK(listing(dir).size() == 12);  // no temporary files left
  ReaderOptions ro;
  ro.png_frame_rate = {24000, 1001};
  auto reader = open_reader(dir, ro);
  CHECK(reader->num_frames() == 12);
  CHECK(reader->num_frames_exact());
  CHECK(reader->width() == 37);
  CHECK(reader->height() == 21);
  CHECK(reader->bit_depth() == 8);
  CHECK(reader->frame_rate().num == 24000);
  CHECK(reader->frame_rate().den == 1001);
  std::vector<uint8_t> rgb;
  for (size_t t = 0; t < frames.size(); ++t) {
    REQUIRE(reader->read_rgb8(rgb));
    CHECK(rgb == frames[t]);
  }
  CHECK_FALSE(reader->read_rgb8(rgb));

  // Renamed so that only natural order gives 0, 1, ..., 11 (plain string order puts 10 before 2).
  for (int t = 0; t < 12; ++t) {
    char name[16];
    std::snprintf(name, sizeof name, "%06d.png", t);
    fs::rename(dir + name, dir + "f" + std::to_string(t) + ".png");
  }
  auto renamed = open_reader(dir);
  for (size_t t = 0; t < frames.size(); ++t) {
    REQUIRE(renamed->read_rgb8(rgb));
    CHECK(rgb == frames[t]);
  }
}

TEST_CASE("PNG folder round trip, 16-bit: exact samples, float frames quantised by rounding") {
  const std::string dir = scratch("png16");
  WriterOptions wo;
  wo.width = 16;
  wo.height = 9;
  wo.png_bit_depth = 16;
  const auto a = random_rgb16(16, 9, 1), b = random_rgb16(16, 9, 2);
  vrestore::Tensor f = vrestore::Tensor::empty({3, 9, 16});
  for (int64_t i = 0; i < f.numel(); ++i) f.data()[i] = static_cast<float>(i % 97) / 96.0f * 1.2f - 0.1f;
  {
    auto writer = open_writer(dir + "/", wo);
    writer->write_rgb16(a.data());
    writer->write_rgb16(b.data());
    writer->write(f);
    writer->close();
    CHECK(writer->frames_written() == 3);
  }
  auto reader = open_reader(dir);
  CHECK(reader->bit_depth() == 16);
  std::vector<uint16_t> rgb;
  REQUIRE(reader->read_rgb16(rgb));
  CHECK(rgb == a);
  REQUIRE(reader->read_rgb16(rgb));
  CHECK(rgb == b);
  vrestore::Tensor back;
  REQUIRE(reader->read(back));
  REQUIRE(back.shape() == vrestore::Shape{3, 9, 16});
  for (int64_t i = 0; i < f.numel(); ++i) {
    const float want = std::round(std::clamp(f.data()[i], 0.0f, 1.0f) * 65535.0f) / 65535.0f;
    REQUIRE(back.data()[i] == Approx(want).margin(1e-7));
  }
}

TEST_CASE("PNG colour types follow the stated rule: grey replicated, alpha dropped, palette expanded") {
  const std::string root = scratch("png_types");
  const int w = 3, h = 2;
  struct Case {
    const char* name;
    int depth, type;
    std::vector<uint8_t> samples, palette;
    std::vector<uint16_t> want;  // interleaved RGB at the reader's depth
    int want_depth;
  };
  std::vector<Case> cases = {
      {"grey8", 8, PNG_COLOR_TYPE_GRAY, {0, 100, 255, 1, 2, 3}, {}, {0,0,0, 100,100,100, 255,255,255, 1,1,1, 2,2,2, 3,3,3}, 8},
      {"grey_alpha8", 8, PNG_COLOR_TYPE_GRAY_ALPHA, {10, 0, 20, 128, 30, 255, 40, 7, 50, 8, 60, 9}, {},
       {10,10,10, 20,20,20, 30,30,30, 40,40,40, 50,50,50, 60,60,60}, 8},
      {"rgba8", 8, PNG_COLOR_TYPE_RGB_ALPHA,
       {1,2,3,0, 4,5,6,50, 7,8,9,255, 10,11,12,0, 13,14,15,1, 16,17,18,2}, {},
       {1,2,3, 4,5,6, 7,8,9, 10,11,12, 13,14,15, 16,17,18}, 8},
      {"palette", 8, PNG_COLOR_TYPE_PALETTE, {0, 1, 2, 2, 1, 0}, {255,0,0, 0,255,0, 0,0,255},
       {255,0,0, 0,255,0, 0,0,255, 0,0,255, 0,255,0, 255,0,0}, 8},
      // 1-bit grey: 0 -> 0, 1 -> 255 (rows are padded to whole bytes: 3 pixels in the top bits).
      {"grey1", 1, PNG_COLOR_TYPE_GRAY, {0b10100000, 0b01000000}, {},
       {255,255,255, 0,0,0, 255,255,255, 0,0,0, 255,255,255, 0,0,0}, 8},
      // 16-bit grey, big-endian samples 0x0102, 0xfffe, ...
      {"grey16", 16, PNG_COLOR_TYPE_GRAY, {1, 2, 0xff, 0xfe, 0, 0, 0x80, 0, 0x12, 0x34, 0xab, 0xcd}, {},
       {0x0102,0x0102,0x0102, 0xfffe,0xfffe,0xfffe, 0,0,0, 0x8000,0x8000,0x8000, 0x1234,0x1234,0x1234, 0xabcd,0xabcd,0xabcd}, 16},
  };
  for (const Case& c : cases) {
    SECTION(c.name) {
      const std::string dir = root + "/" + c.name;
      fs::create_directories(dir);
      write_raw_png(dir + "/0.png", w, h, c.depth, c.type, c.samples, c.palette);
      auto reader = open_reader(dir);
      CHECK(reader->bit_depth() == c.want_depth);
      std::vector<uint16_t> got;
      if (c.want_depth == 16) {
        REQUIRE(reader->read_rgb16(got));
      } else {
        std::vector<uint8_t> got8;
        REQUIRE(reader->read_rgb8(got8));
        got.assign(got8.begin(), got8.end());
      }
      CHECK(got == c.want);
    }
  }
}

TEST_CASE("PNG folder of mixed 8- and 16-bit frames reads at 16 bits without loss") {
  const std::string dir = scratch("png_mixed_depth");
  write_raw_png(dir + "/1.png", 1, 1, 8, PNG_COLOR_TYPE_RGB, {10, 20, 30});
  write_raw_png(dir + "/2.png", 1, 1, 16, PNG_COLOR_TYPE_RGB, {0, 1, 0, 2, 0, 3});
  auto reader = open_reader(dir);
  CHECK(reader->bit_depth() == 16);
  std::vector<uint16_t> rgb;
  REQUIRE(reader->read_rgb16(rgb));
  CHECK(rgb == std::vector<uint16_t>{10 * 257, 20 * 257, 30 * 257});
  REQUIRE(reader->read_rgb16(rgb));
  CHECK(rgb == std::vector<uint16_t>{1, 2, 3});
}

TEST_CASE("mp4 round trip with the default codec (libx264, CRF 18): count, size, rate, PSNR > 35 dB") {
  const std::string path = scratch("mp4") + "/clip.mp4";
  REQUIRE(default_video_codec(path) == "libx264");  // Debian's libavcodec has it; mpeg4 is the fallback
  WriterOptions wo;
  wo.width = 160;
  wo.height = 90;
  wo.frame_rate = {30000, 1001};
  wo.sample_aspect_ratio = {4, 3};  // anamorphic: the display shape must survive
  const auto frames = write_smooth_clip(path, wo, 30);
  CHECK(listing(fs::path(path).parent_path().string()).size() == 1);  // the temporary file was renamed, not left

  auto reader = open_reader(path);
  CHECK(reader->width() == 160);
  CHECK(reader->height() == 90);
  CHECK(reader->frame_rate().num == 30000);
  CHECK(reader->frame_rate().den == 1001);
  CHECK(reader->num_frames() == 30);
  CHECK_FALSE(reader->num_frames_exact());
  CHECK(reader->sample_aspect_ratio().num == 4);
  CHECK(reader->sample_aspect_ratio().den == 3);
  std::vector<uint8_t> rgb;
  for (size_t t = 0; t < frames.size(); ++t) {
    REQUIRE(reader->read_rgb8(rgb));
    INFO("frame " << t);
    CHECK(psnr(rgb, frames[t]) > 35.0);
  }
  CHECK_FALSE(reader->read_rgb8(rgb));
  CHECK(reader->frames_read() == 30);
  CHECK(probe_streams(path, "video").at(0).codec == "h264");
}

TEST_CASE("mpeg4 (the fallback codec, qscale 3) round trip in AVI: PSNR > 35 dB") {
  const std::string path = scratch("mpeg4") + "/clip.avi";
  WriterOptions wo;
  wo.width = 96;
  wo.height = 64;
  wo.frame_rate = {25, 1};
  wo.codec = "mpeg4";
  const auto frames = write_smooth_clip(path, wo, 10);
  auto reader = open_reader(path);
  CHECK(reader->frame_rate().num == 25);
  CHECK(reader->frame_rate().den == 1);
  std::vector<uint8_t> rgb;
  for (size_t t = 0; t < frames.size(); ++t) {
    REQUIRE(reader->read_rgb8(rgb));
    INFO("frame " << t);
    CHECK(psnr(rgb, frames[t]) > 35.0);
  }
  CHECK_FALSE(reader->read_rgb8(rgb));
}

TEST_CASE("tree.avi (opencv-doc, cinepak): 68 frames of 320x240 at 1000000/66667 fps") {
  if (!fs::exists(kTreeAvi)) {
    WARN("skipped: " << kTreeAvi << " is missing (scripts/install_deps.sh installs opencv-doc)");
    return;
  }
  auto reader = open_reader(kTreeAvi);
  CHECK(reader->width() == 320);
  CHECK(reader->height() == 240);
  CHECK(reader->frame_rate().num == 1000000);
  CHECK(reader->frame_rate().den == 66667);
  CHECK(reader->sample_aspect_ratio().num == 1);
  CHECK(reader->sample_aspect_ratio().den == 1);
  // The AVI header counts 444 ticks (the clip skips ticks); the index lists the 68 frames.
  CHECK(reader->num_frames() == 68);
  vrestore::Tensor frame;
  int64_t n = 0;
  double sum = 0;
  while (reader->read(frame)) {
    REQUIRE(frame.shape() == vrestore::Shape{3, 240, 320});
    for (int64_t i = 0; i < frame.numel(); ++i) sum += frame.data()[i];
    ++n;
  }
  CHECK(n == 68);
  const double mean = sum / (68.0 * 3 * 240 * 320);
  CHECK(mean > 0.1);  // real picture content, not black frames
  CHECK(mean < 0.9);
}
