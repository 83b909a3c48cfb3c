// What a video output is encoded as and what it carries over: the pixel format rule (RGB kept by
// lossless codecs, yuv420p for lossy ones at even sizes, 4:4:4 at odd sizes), each container's
// default codec (.webm: VP9), the display matrix (rotation) and the input's timestamps.
#include <catch2/catch.hpp>

#include <filesystem>

#include "io/media_io.h"
#include "media_test_util.h"

extern "C" {
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>
}

namespace fs = std::filesystem;
using namespace vrestore::io;
using namespace media_test;

namespace {

const char* const kTreeAvi = "/usr/share/doc/opencv-doc/examples/data/tree.avi";

// The pixel format name and codec name of the first video stream, as libavformat reads them.
std::pair<std::string, std::string> video_format_of(const std::string& path) {
  AVFormatContext* fmt = nullptr;
  REQUIRE(avformat_open_input(&fmt, path.c_str(), nullptr, nullptr) == 0);
  REQUIRE(avformat_find_stream_info(fmt, nullptr) >= 0);
  std::pair<std::string, std::string> result;
  for (unsigned i = 0; i < fmt->nb_streams; ++i) {
    const AVCodecParameters* par = fmt->streams[i]->codecpar;
    if (par->codec_type != AVMEDIA_TYPE_VIDEO) continue;
    const char* pix = av_get_pix_fmt_name(static_cast<AVPixelFormat>(par->format));
    result = {pix ? pix : "none", avcodec_get_name(par->codec_id)};
    break;
  }
  avformat_close_input(&fmt);
  return result;
}

// Writes the frames through a writer with `options` and reads them back as RGB8.
std::vector<std::vector<uint8_t>> round_trip(const std::string& path, const WriterOptions& options,
                                             const std::vector<std::vector<uint8_t>>& frames) {
  auto writer = open_writer(path, options);
  for (const auto& f : frames) writer->write_rgb8(f.data());
  writer->close();
  auto reader = open_reader(path);
  REQUIRE(reader->width() == options.width);
  REQUIRE(reader->height() == options.height);
  std::vector<std::vector<uint8_t>> back;
  std::vector<uint8_t> rgb;
  while (reader->read_rgb8(rgb)) back.push_back(rgb);
  return back;
}

WriterOptions sized(int width, int height, const std::string& codec = "") {
  WriterOptions wo;
  wo.width = width;
  wo.height = height;
  wo.codec = codec;
  return wo;
}

}  // namespace

TEST_CASE("lossless codecs keep RGB exactly: ffv1 in Matroska, png in MOV, at odd sizes too") {
  const std::string dir = scratch("lossless_rgb");
  std::vector<std::vector<uint8_t>> frames;
  for (uint32_t t = 0; t < 3; ++t) frames.push_back(random_rgb8(33, 17, 100 + t));
  for (const auto& [codec, file] : {std::pair{"ffv1", "/ffv1.mkv"}, std::pair{"png", "/png.mov"}}) {
    INFO(codec);
    const auto back = round_trip(dir + file, sized(33, 17, codec), frames);
    CHECK(back == frames);  // every sample, no chroma subsampling
    const auto [pix, name] = video_format_of(dir + file);
    CHECK(name == codec);
    CHECK((av_pix_fmt_desc_get(av_get_pix_fmt(pix.c_str()))->flags & AV_PIX_FMT_FLAG_RGB) != 0);
  }
}

TEST_CASE("16-bit frames stay 16-bit in ffv1") {
  const std::string path = scratch("lossless_16") + "/deep.mkv";
  WriterOptions wo = sized(8, 6, "ffv1");
  wo.png_bit_depth = 16;
  const auto frame = random_rgb16(8, 6, 7);
  {
    auto writer = open_writer(path, wo);
    writer->write_rgb16(frame.data());
    writer->close();
  }
  auto reader = open_reader(path);
  CHECK(reader->bit_depth() == 16);
  std::vector<uint16_t> back;
  REQUIRE(reader->read_rgb16(back));
  CHECK(back == frame);
}

TEST_CASE("lossy codecs: yuv420p at even sizes, 4:4:4 at odd ones (never padded)") {
  const std::string dir = scratch("lossy_formats");
  std::vector<std::vector<uint8_t>> even, odd;
  for (int t = 0; t < 4; ++t) even.push_back(smooth_frame(64, 48, t));
  for (int t = 0; t < 4; ++t) odd.push_back(smooth_frame(33, 31, t));
  const auto back_even = round_trip(dir + "/even.mp4", sized(64, 48), even);
  CHECK(video_format_of(dir + "/even.mp4").first == "yuv420p");
  const auto back_odd = round_trip(dir + "/odd.mp4", sized(33, 31), odd);
  CHECK(video_format_of(dir + "/odd.mp4") == std::pair<std::string, std::string>{"yuv444p", "h264"});
  REQUIRE(back_odd.size() == 4);
  for (size_t t = 0; t < 4; ++t) {
    INFO("frame " << t);
    CHECK(psnr(back_even[t], even[t]) > 35.0);
    CHECK(psnr(back_odd[t], odd[t]) > 35.0);
  }
}

TEST_CASE("gif gets its closest RGB form (rgb8); .gif and .webm get their own default codec") {
  const std::string dir = scratch("container_defaults");
  CHECK(default_video_codec(dir + "/a.mp4") == "libx264");
  CHECK(default_video_codec(dir + "/a.mkv") == "libx264");
  CHECK(default_video_codec(dir + "/a.webm") == "libvpx-vp9");
  CHECK(default_video_codec(dir + "/a.gif") == "gif");
  CHECK(default_video_codec(dir + "/a.nosuchext").empty());

  std::vector<std::vector<uint8_t>> frames;
  for (int t = 0; t < 3; ++t) frames.push_back(smooth_frame(32, 24, t));
  const auto webm = round_trip(dir + "/clip.webm", sized(32, 24), frames);
  CHECK(video_format_of(dir + "/clip.webm") == std::pair<std::string, std::string>{"yuv420p", "vp9"});
  REQUIRE(webm.size() == 3);
  for (size_t t = 0; t < 3; ++t) CHECK(psnr(webm[t], frames[t]) > 35.0);

  const auto gif = round_trip(dir + "/clip.gif", sized(32, 24), frames);
  CHECK(gif.size() == 3);
  CHECK(video_format_of(dir + "/clip.gif").second == "gif");
  // 3-3-2 bits per pixel: coarse, but the picture.
  for (size_t t = 0; t < gif.size(); ++t) CHECK(psnr(gif[t], frames[t]) > 20.0);
}

TEST_CASE("the display matrix (rotation) is carried into MP4 and read back; Matroska drops it with a warning") {
  const std::string dir = scratch("rotation");
  WriterOptions wo = sized(32, 24);
  wo.display_matrix.resize(9);
  av_display_rotation_set(wo.display_matrix.data(), 90);
  std::vector<std::string> warnings;
  wo.on_warning = [&warnings](const std::string& w) { warnings.push_back(w); };
  const std::vector<std::vector<uint8_t>> frames{smooth_frame(32, 24, 0)};
  round_trip(dir + "/rot.mp4", wo, frames);
  CHECK(warnings.empty());
  auto reader = open_reader(dir + "/rot.mp4");
  REQUIRE(reader->display_matrix().size() == 9);
  CHECK(reader->display_matrix() == wo.display_matrix);
  CHECK(av_display_rotation_get(reader->display_matrix().data()) == Approx(-90.0));  // get: counterclockwise
  CHECK(reader->width() == 32);  // frames stay as stored

  round_trip(dir + "/rot.mkv", wo, frames);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0] == "video '" + dir + "/rot.mkv': container 'matroska' stores no rotation; the display matrix of "
                       "the input is dropped (use .mp4 or .mov to keep it)");
  CHECK(open_reader(dir + "/rot.mkv")->display_matrix().empty());
  // An unrotated stream has none.
  CHECK(open_reader(dir + "/rot.mkv")->display_matrix().empty());
}

TEST_CASE("timestamps: a reader reports the stream's, a writer given them keeps them") {
  const std::string dir = scratch("timestamps");
  SECTION("written with gaps, read back in seconds") {
    for (const char* file : {"/sparse.mkv", "/sparse.mp4", "/sparse.avi"}) {
      INFO(file);
      WriterOptions wo = sized(32, 24);
      wo.frame_rate = {25, 1};
      wo.time_base = {1, 25};
      if (std::string(file) == "/sparse.avi") wo.codec = "mpeg4";
      const int64_t ticks[] = {0, 3, 6, 7, 20};
      {
        auto writer = open_writer(dir + file, wo);
        for (int64_t t : ticks) {
          writer->set_timestamp(t);
          writer->write_rgb8(smooth_frame(32, 24, static_cast<int>(t)).data());
        }
        writer->close();
      }
      auto reader = open_reader(dir + file);
      std::vector<uint8_t> rgb;
      std::vector<double> seconds;
      while (reader->read_rgb8(rgb))
        seconds.push_back(static_cast<double>(reader->timestamp()) * reader->time_base().num / reader->time_base().den);
      REQUIRE(seconds.size() == 5);
      for (size_t i = 0; i < 5; ++i) CHECK(seconds[i] == Approx(ticks[i] / 25.0).margin(1e-3));
    }
  }
  SECTION("a timestamp not after the previous one is refused") {
    WriterOptions wo = sized(32, 24);
    wo.time_base = {1, 1000};
    auto writer = open_writer(dir + "/bad.mkv", wo);
    writer->set_timestamp(40);
    writer->write_rgb8(smooth_frame(32, 24, 0).data());
    writer->set_timestamp(40);
    CHECK_THROWS_WITH(writer->write_rgb8(smooth_frame(32, 24, 1).data()),
                      Catch::Contains("bad.mkv") && Catch::Contains("frame 1 has timestamp 40, not after the previous 40"));
  }
  SECTION("a PNG folder counts frames at its rate") {
    WriterOptions wo = sized(4, 4);
    {
      auto w = open_writer(dir + "/png/", wo);
      for (int t = 0; t < 3; ++t) w->write_rgb8(smooth_frame(4, 4, t).data());
      w->close();
    }
    ReaderOptions ro;
    ro.png_frame_rate = {30, 1};
    auto reader = open_reader(dir + "/png/", ro);
    CHECK(reader->time_base().num == 1);
    CHECK(reader->time_base().den == 30);
    std::vector<uint8_t> rgb;
    for (int64_t i = 0; reader->read_rgb8(rgb); ++i) CHECK(reader->timestamp() == i);
  }
}

TEST_CASE("tree.avi's skipped ticks show in its timestamps") {
  if (!fs::exists(kTreeAvi)) {
    WARN("skipped: " << kTreeAvi << " is missing (scripts/install_deps.sh installs opencv-doc)");
    return;
  }
  auto reader = open_reader(kTreeAvi);
  CHECK(reader->time_base().num == 66667);
  CHECK(reader->time_base().den == 1000000);
  std::vector<uint8_t> rgb;
  std::vector<int64_t> ticks;
  while (reader->read_rgb8(rgb)) ticks.push_back(reader->timestamp());
  REQUIRE(ticks.size() == 68);
  // As ffprobe lists them: 0, 11, 17, 24, 31, ...
  CHECK(std::vector<int64_t>(ticks.begin(), ticks.begin() + 5) == std::vector<int64_t>{0, 11, 17, 24, 31});
  CHECK(std::is_sorted(ticks.begin(), ticks.end()));
}
