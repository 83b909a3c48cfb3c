// Every bad input and output gives one clear line naming the path: missing or unreadable files,
// no video stream, truncated videos, empty or inconsistent PNG folders, unwritable outputs, bad
// writer options, and an output that would overwrite the input.
#include <catch2/catch.hpp>
#include <png.h>

#include <filesystem>
#include <fstream>

#include "io/media_io.h"
#include "media_test_util.h"

namespace fs = std::filesystem;
using namespace vrestore::io;
using namespace media_test;
using Catch::Contains;
using Catch::Equals;

namespace {

const char* const kTreeAvi = "/usr/share/doc/opencv-doc/examples/data/tree.avi";

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

bool one_line(const std::string& message) { return message.find('\n') == std::string::npos; }

// Reads until the end or an error; returns the frames delivered and the error message ("" if none).
std::pair<int64_t, std::string> read_all(const std::string& path) {
  auto reader = open_reader(path);
  std::vector<uint8_t> rgb;
  try {
    while (reader->read_rgb8(rgb)) {
    }
  } catch (const vrestore::Error& e) {
    return {reader->frames_read(), e.what()};
  }
  return {reader->frames_read(), ""};
}

WriterOptions small() {
  WriterOptions wo;
  wo.width = 32;
  wo.height = 32;
  return wo;
}

}  // namespace

TEST_CASE("a missing input names the path") {
  const std::string dir = scratch("err_missing");
  CHECK_THROWS_WITH(open_reader(dir + "/nope.mp4"), Contains(dir + "/nope.mp4") && Contains("cannot open"));
  CHECK_THROWS_WITH(open_reader(dir + "/nope/"), Contains(dir + "/nope/") && Contains("does not exist"));
}

TEST_CASE("a file that is not a video names the path and the reason") {
  const std::string dir = scratch("err_garbage");
  write_text(dir + "/notes.mp4", "this is not a video\n");
  try {
    open_reader(dir + "/notes.mp4");
    FAIL("no error");
  } catch (const vrestore::Error& e) {
    CHECK_THAT(e.what(), Contains(dir + "/notes.mp4") && Contains("Invalid data"));
    CHECK(one_line(e.what()));
  }
}

TEST_CASE("a media file without a video stream says so") {
  if (!have_ffmpeg()) {
    WARN("skipped: the ffmpeg program is missing (scripts/install_deps.sh installs it)");
    return;
  }
  const std::string path = scratch("err_audio_only") + "/tone.wav";
  REQUIRE(run_ffmpeg("-f lavfi -i sine=duration=0.2 '" + path + "'"));
  CHECK_THROWS_WITH(open_reader(path), Contains(path) && Contains("no video stream"));
}

TEST_CASE("a truncated video delivers the frames before the damage, then an error with the frame index") {
  const std::string dir = scratch("err_truncated");
  SECTION("AVI written by us (mpeg4), cut at 60%") {
    WriterOptions wo = small();
    wo.codec = "mpeg4";
    {
      auto w = open_writer(dir + "/clip.avi", wo);
      for (int t = 0; t < 40; ++t) w->write_rgb8(random_rgb8(32, 32, t).data());  // incompressible: even sizes
      w->close();
    }
    CHECK(read_all(dir + "/clip.avi") == std::pair<int64_t, std::string>{40, ""});
    truncate_file(dir + "/clip.avi", 0.6);
    const auto [frames, error] = read_all(dir + "/clip.avi");
    CHECK(frames > 10);
    CHECK(frames < 40);
    CHECK_THAT(error, Contains(dir + "/clip.avi") && Contains("frame " + std::to_string(frames)));
    CHECK(one_line(error));
  }
  SECTION("opencv-doc's tree.avi (cinepak) cut at 50%") {
    if (!fs::exists(kTreeAvi)) {
      WARN("skipped: " << kTreeAvi << " is missing (scripts/install_deps.sh installs opencv-doc)");
      return;
    }
    fs::copy_file(kTreeAvi, dir + "/tree.avi");
    truncate_file(dir + "/tree.avi", 0.5);
    const auto [frames, error] = read_all(dir + "/tree.avi");
    CHECK(frames > 20);
    CHECK(frames < 68);
    CHECK_THAT(error, Contains(dir + "/tree.avi") && Contains("frame " + std::to_string(frames)));
  }
  SECTION("bytes overwritten mid-stream: the frames before, then an error (concealed damage included)") {
    for (const char* codec : {"mpeg4", "libx264"}) {
      const std::string path = dir + "/" + codec + (std::string(codec) == "mpeg4" ? ".avi" : ".mp4");
      WriterOptions wo = small();
      wo.width = 96;
      wo.height = 64;
      wo.codec = codec;
      {
        auto w = open_writer(path, wo);
        for (int t = 0; t < 60; ++t) w->write_rgb8(random_rgb8(96, 64, t).data());  // equal-sized frames
        w->close();
      }
      damage_file(path, 0.45, 200, 1);
      const auto [frames, error] = read_all(path);
      INFO(codec << ": " << error);
      CHECK(frames > 5);
      CHECK(frames < 60);
      CHECK_THAT(error, Contains(path) && Contains("damaged") && Contains("frame " + std::to_string(frames)));
    }
  }
  SECTION("MP4 with its index at the end, cut before the index: cannot be opened") {
    {
      auto w = open_writer(dir + "/clip.mp4", small());
      for (int t = 0; t < 10; ++t) w->write_rgb8(random_rgb8(32, 32, t).data());
      w->close();
    }
    truncate_file(dir + "/clip.mp4", 0.7);
    CHECK_THROWS_WITH(open_reader(dir + "/clip.mp4"), Contains(dir + "/clip.mp4") && Contains("cannot open"));
  }
  SECTION("MP4 cut inside its index: no usable stream, and the message says why that may be") {
    {
      auto w = open_writer(dir + "/tiny.mp4", small());
      for (int t = 0; t < 10; ++t) w->write_rgb8(smooth_frame(32, 32, t).data());
      w->close();
    }
    truncate_file(dir + "/tiny.mp4", 0.7);  // ~1.5 kB of 2.2: the cut lands in the moov box
    CHECK_THROWS_WITH(open_reader(dir + "/tiny.mp4"), Contains(dir + "/tiny.mp4") && Contains("truncated or damaged"));
  }
}

TEST_CASE("PNG folders: empty, mixed sizes and damaged files name the folder or file") {
  const std::string dir = scratch("err_png");
  fs::create_directories(dir + "/empty");
  write_text(dir + "/empty/readme.txt", "no frames here");
  CHECK_THROWS_WITH(open_reader(dir + "/empty"), Contains(dir + "/empty") && Contains("no .png files"));

  fs::create_directories(dir + "/mixed");
  write_raw_png(dir + "/mixed/1.png", 4, 2, 8, PNG_COLOR_TYPE_GRAY, std::vector<uint8_t>(8, 1));
  write_raw_png(dir + "/mixed/2.png", 4, 2, 8, PNG_COLOR_TYPE_GRAY, std::vector<uint8_t>(8, 2));
  write_raw_png(dir + "/mixed/10.png", 2, 4, 8, PNG_COLOR_TYPE_GRAY, std::vector<uint8_t>(8, 3));
  CHECK_THROWS_WITH(open_reader(dir + "/mixed"),
                    Contains(dir + "/mixed/10.png") && Contains("2x4") && Contains("expected 4x2"));

  fs::create_directories(dir + "/fake");
  write_text(dir + "/fake/0.png", "not a png");
  CHECK_THROWS_WITH(open_reader(dir + "/fake"), Contains(dir + "/fake/0.png") && Contains("not a PNG"));

  fs::create_directories(dir + "/cut");
  write_raw_png(dir + "/cut/0.png", 64, 64, 8, PNG_COLOR_TYPE_RGB, random_rgb8(64, 64, 7));
  truncate_file(dir + "/cut/0.png", 0.5);
  auto reader = open_reader(dir + "/cut");  // the header is intact
  std::vector<uint8_t> rgb;
  CHECK_THROWS_WITH(reader->read_rgb8(rgb), Contains(dir + "/cut/0.png"));
}

TEST_CASE("unwritable outputs fail at open with the path") {
  const std::string dir = scratch("err_unwritable");
  write_text(dir + "/file", "x");  // a file where a folder is needed (fails for root too)
  CHECK_THROWS_WITH(open_writer(dir + "/file/out.mp4", small()),
                    Contains(dir + "/file/out.mp4") && Contains("is not a folder"));
  CHECK_THROWS_WITH(open_writer(dir + "/file/frames/", small()),
                    Contains(dir + "/file/frames/") && Contains("is not a folder"));
  CHECK_THROWS_WITH(open_writer(dir + "/file/", small()), Contains(dir + "/file/") && Contains("not a folder"));
  CHECK_THROWS_WITH(open_writer(dir + "/missing/out.mp4", small()),
                    Contains(dir + "/missing/out.mp4") && Contains("does not exist"));
  // /proc refuses new files even to root.
  CHECK_THROWS_WITH(open_writer("/proc/vrestore_out.mp4", small()), Contains("/proc/vrestore_out.mp4"));
  CHECK(fs::is_empty(dir + "/file") == false);  // nothing changed
}

TEST_CASE("bad writer options are refused with the reason") {
  const std::string dir = scratch("err_options");
  WriterOptions odd = small();
  odd.width = 33;
  odd.pixel_format = "yuv420p";  // asked for explicitly: not replaced by a format that fits
  CHECK_THROWS_WITH(open_writer(dir + "/odd.mp4", odd),
                    Contains("pixel format 'yuv420p' needs a width divisible by 2") && Contains("33x32"));
  odd.pixel_format.clear();
  CHECK_NOTHROW(open_writer(dir + "/odd/", odd)->close());  // PNG takes any size
  // mpeg4 takes only yuv420p, which an odd size does not fit: say so, and what would.
  WriterOptions odd_mpeg4 = odd;
  odd_mpeg4.codec = "mpeg4";
  CHECK_THROWS_WITH(open_writer(dir + "/odd.avi", odd_mpeg4),
                    Equals("video '" + dir + "/odd.avi': encoder 'mpeg4' has no pixel format for 33x32 frames that "
                           "libswscale can make (it takes yuv420p; 4:2:0 needs an even width and height); choose "
                           "another --codec, e.g. libx264 (4:4:4 at odd sizes) or ffv1"));
  WriterOptions wrong_format = small();
  wrong_format.pixel_format = "yuv420p";
  wrong_format.codec = "ffv1";
  CHECK_NOTHROW(open_writer(dir + "/ffv1_420.mkv", wrong_format)->abort());  // ffv1 takes yuv420p when asked
  wrong_format.codec = "png";
  CHECK_THROWS_WITH(open_writer(dir + "/png_420.mov", wrong_format),
                    Contains("encoder 'png' does not take pixel format 'yuv420p'; it takes rgb24"));

  WriterOptions webm = small();
  webm.codec = "libx264";
  CHECK_THROWS_WITH(open_writer(dir + "/out.webm", webm), Contains("webm") && Contains("libx264"));
  WriterOptions unknown = small();
  unknown.codec = "no_such_codec";
  CHECK_THROWS_WITH(open_writer(dir + "/out.mp4", unknown), Contains("no_such_codec"));
  WriterOptions crf = small();
  crf.codec = "mpeg4";
  crf.crf = 20;
  CHECK_THROWS_WITH(open_writer(dir + "/out.avi", crf), Contains("mpeg4") && Contains("CRF"));
  CHECK_THROWS_WITH(open_writer(dir + "/out.xyz", small()), Contains(dir + "/out.xyz") && Contains("container"));
  CHECK_THROWS_WITH(open_writer(dir + "/out.png", small()), Contains("not a video container"));
  WriterOptions deep = small();
  deep.png_bit_depth = 12;
  CHECK_THROWS_WITH(open_writer(dir + "/deep/", deep), Contains("bit depth 12"));
  CHECK(fs::is_empty(dir) == false);  // only the PNG folder of the odd size
  auto writer = open_writer(dir + "/shape.mkv", small());
  CHECK_THROWS_WITH(writer->write(vrestore::Tensor::zeros({3, 16, 32})),
                    Contains("(3, 16, 32)") && Contains("expected (3, 32, 32)"));
}

TEST_CASE("an output that would overwrite the input is refused") {
  const std::string dir = scratch("err_same");
  write_text(dir + "/in.mp4", "x");
  fs::create_directories(dir + "/frames");
  CHECK_THROWS_WITH(check_output_is_not_input(dir + "/in.mp4", dir + "/./in.mp4"), Contains("overwrite"));
  CHECK_THROWS_WITH(check_output_is_not_input(dir + "/frames", dir + "/frames/"), Contains("overwrite"));
  fs::create_symlink(dir + "/in.mp4", dir + "/link.mp4");
  CHECK_THROWS_WITH(check_output_is_not_input(dir + "/link.mp4", dir + "/in.mp4"), Contains("overwrite"));
  CHECK_NOTHROW(check_output_is_not_input(dir + "/in.mp4", dir + "/out.mp4"));
  CHECK_NOTHROW(check_output_is_not_input(dir + "/frames", dir + "/frames_out/"));
}
