// Writer lifecycle: audio stream copy (kept or dropped with a warning), temporary file and rename,
// finish_partial() after an interruption, abort() and destruction without close(); a PNG-folder
// output must be new or empty.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "io/media_io.h"
#include "media_test_util.h"

namespace fs = std::filesystem;
using namespace vrestore::io;
using namespace media_test;

namespace {

std::vector<std::string> listing(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Copies every frame of `input` to `output` through a reader and a writer (what the CLI does).
int64_t transcode(const std::string& input, const std::string& output, std::vector<std::string>* warnings,
                  int64_t max_frames = -1, bool partial = false) {
  auto reader = open_reader(input);
  WriterOptions wo;
  wo.width = reader->width();
  wo.height = reader->height();
  wo.frame_rate = reader->frame_rate();
  wo.audio_from = input;
  wo.on_warning = [warnings](const std::string& w) { warnings->push_back(w); };
  auto writer = open_writer(output, wo);
  std::vector<uint8_t> rgb;
  while ((max_frames < 0 || writer->frames_written() < max_frames) && reader->read_rgb8(rgb))
    writer->write_rgb8(rgb.data());
  if (partial) writer->finish_partial();
  else writer->close();
  return writer->frames_written();
}

}  // namespace

TEST_CASE("audio is stream-copied with its duration when the container takes the codec") {
  if (!have_ffmpeg()) {
    WARN("skipped: the ffmpeg program is missing (scripts/install_deps.sh installs it)");
    return;
  }
  const std::string dir = scratch("audio_keep");
  const std::string input = dir + "/in.mp4";
  // 2 s of video at 25 fps starting at t = 0, 2 s of AAC.
  REQUIRE(run_ffmpeg("-f lavfi -i testsrc2=size=96x64:rate=25:duration=2 -f lavfi -i sine=frequency=440:duration=2 "
                     "-c:v libx264 -pix_fmt yuv420p -c:a aac -shortest '" + input + "'"));
  const auto in_audio = probe_streams(input, "audio");
  REQUIRE(in_audio.size() == 1);

  for (const char* ext : {".mp4", ".mkv"}) {
    SECTION(ext) {
      const std::string output = dir + "/out" + ext;
      std::vector<std::string> warnings;
      CHECK(transcode(input, output, &warnings) == 50);
      CHECK(warnings.empty());
      const auto audio = probe_streams(output, "audio");
      REQUIRE(audio.size() == 1);
      CHECK(audio[0].codec == "aac");
      CHECK(audio[0].packets == in_audio[0].packets);
      CHECK(audio[0].duration_s == Approx(in_audio[0].duration_s).margin(0.03));  // one AAC packet: 23 ms
      const auto video = probe_streams(output, "video");
      REQUIRE(video.size() == 1);
      CHECK(video[0].packets == 50);
      CHECK(video[0].duration_s == Approx(2.0).margin(0.001));
    }
  }
}

TEST_CASE("audio the container cannot take is re-encoded (AAC, Opus), with a warning naming both") {
  if (!have_ffmpeg()) {
    WARN("skipped: the ffmpeg program is missing (scripts/install_deps.sh installs it)");
    return;
  }
  const std::string dir = scratch("audio_drop");
  const std::string input = dir + "/in.avi";
  REQUIRE(run_ffmpeg("-f lavfi -i testsrc2=size=64x48:rate=10:duration=1 -f lavfi -i sine=duration=1 "
                     "-c:v mpeg4 -c:a pcm_s16le -shortest '" + input + "'"));
  const auto in_audio = probe_streams(input, "audio");
  REQUIRE(in_audio.size() == 1);
  std::vector<std::string> warnings;
  CHECK(transcode(input, dir + "/out.mp4", &warnings) == 10);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0] == "video '" + dir + "/out.mp4': container 'mp4' does not take the pcm_s16le audio of '" + input +
                           "'; audio re-encoded as aac");
  auto audio = probe_streams(dir + "/out.mp4", "audio");
  REQUIRE(audio.size() == 1);
  CHECK(audio[0].codec == "aac");
  // The whole second (AAC frames are 1024 samples: 23 ms at 44.1 kHz; one of priming).
  CHECK(audio[0].duration_s == Approx(in_audio[0].duration_s).margin(0.05));
  // WebM takes neither PCM nor AAC: Opus (libvpx-vp9 for the video, WebM's own codec).
  warnings.clear();
  CHECK(transcode(input, dir + "/out.webm", &warnings) == 10);
  REQUIRE(warnings.size() == 1);
  CHECK_THAT(warnings[0], Catch::EndsWith("audio re-encoded as libopus"));
  audio = probe_streams(dir + "/out.webm", "audio");
  REQUIRE(audio.size() == 1);
  CHECK(audio[0].codec == "opus");
  CHECK(audio[0].duration_s == Approx(in_audio[0].duration_s).margin(0.05));
  // The same audio fits Matroska as it is.
  warnings.clear();
  CHECK(transcode(input, dir + "/out.mkv", &warnings) == 10);
  CHECK(warnings.empty());
  CHECK(probe_streams(dir + "/out.mkv", "audio").at(0).codec == "pcm_s16le");
  // GIF takes no audio at all: dropped, with one warning.
  warnings.clear();
  CHECK(transcode(input, dir + "/out.gif", &warnings) == 10);
  REQUIRE(warnings.size() == 1);
  CHECK_THAT(warnings[0], Catch::Contains("container 'gif' does not take the pcm_s16le audio") &&
                              Catch::EndsWith("nor any of AAC, Opus and Vorbis; audio dropped"));
  CHECK(probe_streams(dir + "/out.gif", "audio").empty());
}

TEST_CASE("re-encoded audio is cut with the video by finish_partial") {
  if (!have_ffmpeg()) {
    WARN("skipped: the ffmpeg program is missing (scripts/install_deps.sh installs it)");
    return;
  }
  const std::string dir = scratch("audio_transcode_partial");
  const std::string input = dir + "/in.mkv";
  REQUIRE(run_ffmpeg("-f lavfi -i testsrc2=size=64x48:rate=20:duration=3 -f lavfi -i sine=duration=3 "
                     "-c:v libx264 -pix_fmt yuv420p -c:a pcm_s16le -shortest '" + input + "'"));
  std::vector<std::string> warnings;
  CHECK(transcode(input, dir + "/out.mp4", &warnings, 17, /*partial=*/true) == 17);
  const auto audio = probe_streams(dir + "/out.mp4", "audio");
  REQUIRE(audio.size() == 1);
  CHECK(audio[0].codec == "aac");
  CHECK(audio[0].duration_s < 17 / 20.0 + 0.05);  // cut at the last frame (plus a packet or two)
  CHECK(audio[0].duration_s > 17 / 20.0 - 0.05);
}

TEST_CASE("finish_partial leaves a playable file of the frames done, audio cut to them") {
  if (!have_ffmpeg()) {
    WARN("skipped: the ffmpeg program is missing (scripts/install_deps.sh installs it)");
    return;
  }
  const std::string dir = scratch("partial");
  const std::string input = dir + "/in.mkv";
  REQUIRE(run_ffmpeg("-f lavfi -i testsrc2=size=64x48:rate=20:duration=3 -f lavfi -i sine=duration=3 "
                     "-c:v libx264 -pix_fmt yuv420p -c:a libvorbis -shortest '" + input + "'"));
  std::vector<std::string> warnings;
  CHECK(transcode(input, dir + "/out.mp4", &warnings, 17, /*partial=*/true) == 17);
  auto reader = open_reader(dir + "/out.mp4");
  std::vector<uint8_t> rgb;
  int64_t n = 0;
  while (reader->read_rgb8(rgb)) ++n;
  CHECK(n == 17);
  const auto audio = probe_streams(dir + "/out.mp4", "audio");
  REQUIRE(audio.size() == 1);
  CHECK(audio[0].duration_s < 17 / 20.0 + 0.03);  // cut at the last frame (plus one packet)
  CHECK(audio[0].duration_s > 17 / 20.0 - 0.03);
}

TEST_CASE("the output name appears only when complete, abort and destruction leave nothing") {
  const std::string dir = scratch("lifecycle");
  const std::string path = dir + "/out.mkv";
  WriterOptions wo;
  wo.width = 32;
  wo.height = 32;
  const auto frame = smooth_frame(32, 32, 0);
  SECTION("close renames the temporary file over the output") {
    auto writer = open_writer(path, wo);
    writer->write_rgb8(frame.data());
    CHECK_FALSE(fs::exists(path));
    REQUIRE(listing(dir).size() == 1);
    CHECK(listing(dir)[0].front() == '.');  // hidden temporary file next to the output
    writer->close();
    CHECK(listing(dir) == std::vector<std::string>{"out.mkv"});
    CHECK_THROWS_WITH(writer->write_rgb8(frame.data()), Catch::Contains("after close"));
  }
  SECTION("abort removes the temporary file") {
    auto writer = open_writer(path, wo);
    writer->write_rgb8(frame.data());
    writer->abort();
    CHECK(listing(dir).empty());
  }
  SECTION("destruction without close removes the temporary file") {
    {
      auto writer = open_writer(path, wo);
      writer->write_rgb8(frame.data());
    }
    CHECK(listing(dir).empty());
  }
  SECTION("finish_partial with no frame written leaves nothing and says so") {
    auto writer = open_writer(path, wo);
    CHECK_THROWS_WITH(writer->finish_partial(), Catch::Contains("out.mkv") && Catch::Contains("no frame"));
    CHECK(listing(dir).empty());
  }
  SECTION("an existing output is replaced only at close") {
    { auto w = open_writer(path, wo); w->write_rgb8(frame.data()); w->close(); }
    const auto size_one = fs::file_size(path);
    auto writer = open_writer(path, wo);
    for (int i = 0; i < 20; ++i) writer->write_rgb8(frame.data());
    CHECK(fs::file_size(path) == size_one);
    writer->close();
    CHECK(fs::file_size(path) > size_one);
  }
}

TEST_CASE("audio_from a source without audio writes video only, silently") {
  const std::string dir = scratch("no_audio");
  WriterOptions wo;
  wo.width = 32;
  wo.height = 32;
  { auto w = open_writer(dir + "/silent.mp4", wo); w->write_rgb8(smooth_frame(32, 32, 0).data()); w->close(); }
  std::vector<std::string> warnings;
  CHECK(transcode(dir + "/silent.mp4", dir + "/out.mp4", &warnings) == 1);
  CHECK(warnings.empty());
  CHECK(probe_streams(dir + "/out.mp4", "audio").empty());
}

TEST_CASE("a PNG-folder output must be new or empty, so no stale frame of an earlier run mixes in") {
  const std::string dir = scratch("png_nonempty");
  WriterOptions wo;
  wo.width = 8;
  wo.height = 8;
  const auto frame = smooth_frame(8, 8, 0);
  SECTION("a folder that holds a frame is refused and left as it was") {
    const std::string out = dir + "/old";
    fs::create_directory(out);
    write_raw_png(out + "/000003.png", 8, 8, 8, 2, std::vector<uint8_t>(8 * 8 * 3, 200));
    const auto size_before = fs::file_size(out + "/000003.png");
    CHECK_THROWS_WITH(open_writer(out + "/", wo),
                      Catch::Equals("output folder '" + out + "/' is not empty; choose a new or empty folder"));
    CHECK(listing(out) == std::vector<std::string>{"000003.png"});
    CHECK(fs::file_size(out + "/000003.png") == size_before);
  }
  SECTION("a hidden file counts too") {
    const std::string out = dir + "/hidden";
    fs::create_directory(out);
    std::ofstream(out + "/.keep") << "x";
    CHECK_THROWS_WITH(open_writer(out, wo), Catch::Contains("is not empty"));
  }
  SECTION("a new folder and an existing empty one are written") {
    for (const std::string out : {dir + "/new/", dir + "/empty"}) {
      if (out.back() != '/') fs::create_directory(out);
      auto writer = open_writer(out, wo);
      writer->write_rgb8(frame.data());
      writer->close();
      CHECK(listing(out) == std::vector<std::string>{"000000.png"});
    }
  }
}

TEST_CASE("temp_path names the video's hidden temporary file until it is renamed") {
  const std::string dir = scratch("temp_path");
  WriterOptions wo;
  wo.width = 32;
  wo.height = 32;
  const auto frame = smooth_frame(32, 32, 0);
  auto writer = open_writer(dir + "/out.mkv", wo);
  writer->write_rgb8(frame.data());
  REQUIRE(listing(dir).size() == 1);
  CHECK(fs::equivalent(writer->temp_path(), dir + "/" + listing(dir)[0]));
  writer->close();
  CHECK(writer->temp_path().empty());
  CHECK(open_writer(scratch("temp_path_png"), wo)->temp_path().empty());
}
