// restore of a video file or PNG folder: frames stream from the reader through the model into
// the writer; memory is bounded by the model's window (or chunk + look-ahead), not the clip.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <system_error>

#include "cli/commands.h"
#include "cli/interrupt.h"
#include "cli/progress.h"
#include "cli/run_stats.h"
#include "cli/streaming_source.h"
#include "core/check.h"
#include "core/checked_math.h"
#include "io/media_io.h"

namespace vrestore::cli {
namespace {
namespace fs = std::filesystem;

// Frames the streaming source keeps so that restore()'s re-requests are served without decoding
// again: a sliding-window model (EDVR) revisits at most two windows' worth near the clip's ends; a
// recurrent model (BasicVSR) walks a chunk plus its look-ahead backwards. A tiled clip model (VRT)
// reads each frame once and holds its clip itself: a ring of its clip's length would add that much
// to the memory budget for nothing (48 frames of 720p: 530 MB).
int64_t ring_capacity(const ModelInfo& info, const RestoreOptions& options, int64_t total) {
  if (restores_in_tiles(info)) return std::min<int64_t>(2, total);
  if (info.num_frames > 0) return std::min<int64_t>(2 * int64_t{info.num_frames} + 1, total);
  const int64_t lookahead = options.independent_chunks ? 0 : options.lookahead_frames;
  const int64_t span = options.chunk_frames > std::numeric_limits<int64_t>::max() - lookahead
                           ? std::numeric_limits<int64_t>::max()
                           : options.chunk_frames + lookahead;
  return std::min(span, total);
}

// The rule of `restore`: a video input whose frames are evenly spaced at its frame rate (within
// half an interval) is written at that constant rate; one with gaps or uneven spacing (opencv's
// tree.avi: 68 frames over 444 ticks) keeps each frame's timestamp. PNG folders have none.
bool evenly_spaced(const std::vector<int64_t>& timestamps, io::Rational time_base, io::Rational rate) {
  const double tick_s = static_cast<double>(time_base.num) / time_base.den;
  const double interval_s = 1.0 / rate.value();
  for (size_t i = 0; i < timestamps.size(); ++i)
    if (std::abs(static_cast<double>(timestamps[i]) * tick_s - static_cast<double>(i) * interval_s) > 0.5 * interval_s)
      return false;
  return true;
}

// The display matrix for frames `scale` times larger: its translation (pixels, 16.16) scales too.
io::DisplayMatrix scaled_display_matrix(io::DisplayMatrix m, int scale) {
  if (m.size() == 9)
    for (int i : {6, 7})
      m[i] = static_cast<int32_t>(std::clamp<int64_t>(int64_t{m[i]} * scale, std::numeric_limits<int32_t>::min(),
                                                      std::numeric_limits<int32_t>::max()));
  return m;
}

std::string rate_text(io::Rational r) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g fps", r.value());
  return buf;
}

// The PNG writer refuses a non-empty folder (stale frames would mix in); checked here too so
// that the refusal comes before the model is loaded, with the writer's message.
void check_png_output_is_new_or_empty(const std::string& output) {
  std::error_code ec;
  if (fs::is_directory(output, ec) && !fs::is_empty(output, ec) && !ec)
    fail("output folder '", output, "' is not empty; choose a new or empty folder");
}

// A PNG-folder output that this run created and left empty is removed again, so that a failed
// run leaves nothing behind.
void remove_if_new_and_empty(const std::string& path, bool existed_before) {
  std::error_code ec;
  if (!existed_before && fs::is_directory(path, ec) && fs::is_empty(path, ec)) fs::remove(path, ec);
}

int finish_interrupted(io::FrameWriter& writer, int64_t total, const std::string& output, bool existed_before) {
  if (writer.frames_written() == 0) {
    writer.abort();
    remove_if_new_and_empty(output, existed_before);
    std::fprintf(stderr, "vrestore: interrupted before the first frame was restored; nothing was written to '%s'\n",
                 output.c_str());
  } else {
    writer.finish_partial();  // a playable file of the frames done (never a half-written one)
    std::fprintf(stderr, "vrestore: interrupted; '%s' holds the first %lld of %lld frames\n", output.c_str(),
                 static_cast<long long>(writer.frames_written()), static_cast<long long>(total));
  }
  return kInterruptedExitCode;
}

// A stream that stops well before the duration its container states was probably cut off (a
// truncated download). Containers with a frame count are checked by the reader, which refuses
// them; with only a duration this is a warning, since the duration may be the audio's, and audio
// can outlast the video. "Well before": more than a second and more than a tenth short.
void warn_if_far_short(const std::string& input, int64_t estimated, int64_t total, io::Rational rate) {
  const int64_t margin = std::max<int64_t>(std::llround(rate.value()), estimated / 10);
  if (estimated <= 0 || total >= estimated - margin) return;
  std::fprintf(stderr,
               "vrestore: warning: input '%s': its container's duration suggests about %lld frames, the video "
               "stream ends after %lld (a truncated file?); restoring the %lld it has\n",
               input.c_str(), static_cast<long long>(estimated), static_cast<long long>(total),
               static_cast<long long>(total));
}

}  // namespace

bool media_io_available() { return true; }

int restore_media(const RestoreRequest& r, const Options& opts) {
  // The input is read more than once (its frames are counted first, a recurrent model's chunk may
  // be decoded again, the audio is read apart), which a pipe cannot do.
  std::error_code ec;
  const fs::file_status input_status = fs::status(r.input, ec);
  ec.clear();
  if (fs::exists(input_status) && !fs::is_regular_file(input_status) && !fs::is_directory(input_status))
    throw Error(concat("input '", r.input, "' is not a file or folder: vrestore reads its input more than once, ",
                       "so pipes and devices do not work; save the stream to a file first"));
  if (r.input == "-")
    throw Error("input '-': vrestore reads its input more than once, so standard input does not work; save the "
                "stream to a file first");
  const bool video_in = io::detect_media_kind(r.input) == io::MediaKind::kVideoFile;
  const bool video_out = io::detect_media_kind(r.output) == io::MediaKind::kVideoFile;
  if (!video_out && (opts.has("crf") || opts.has("codec")))
    throw UsageError("--crf and --codec apply to video outputs, not to the PNG folder '" + r.output + "'");
  const int crf = static_cast<int>(opts.integer("crf", -1, 0, 63));
  io::check_output_is_not_input(r.input, r.output);
  io::check_output_is_not_input(r.weights, r.output);
  if (!video_out) check_png_output_is_new_or_empty(r.output);
  if (r.quiet) io::silence_ffmpeg_log();
  Model model = load_model_for(r);
  const ModelInfo& info = model.info();
  check_noise_level(r, info);  // before the input is read and counted

  const io::ReaderOptions reader_options;
  std::unique_ptr<io::FrameReader> reader = io::open_reader(r.input, reader_options);

  io::WriterOptions wo;
  const int64_t out_w = checked_mul(int64_t{reader->width()}, int64_t{info.scale}, "output width");
  const int64_t out_h = checked_mul(int64_t{reader->height()}, int64_t{info.scale}, "output height");
  VR_CHECK(out_w <= std::numeric_limits<int>::max() && out_h <= std::numeric_limits<int>::max(), "input '", r.input,
           "': ", reader->width(), "x", reader->height(), " at scale ", info.scale, " is too large an output");
  wo.width = static_cast<int>(out_w);
  wo.height = static_cast<int>(out_h);
  wo.frame_rate = reader->frame_rate();
  wo.sample_aspect_ratio = reader->sample_aspect_ratio();
  wo.codec = opts.get("codec", "");
  wo.crf = crf;
  wo.audio_from = video_in ? r.input : "";
  wo.png_bit_depth = reader->bit_depth() == 16 ? 16 : 8;
  wo.display_matrix = scaled_display_matrix(reader->display_matrix(), info.scale);
  wo.quiet = r.quiet;
  const io::Rational input_time_base = reader->time_base();

  const bool output_existed = fs::exists(r.output, ec);
  // Opened before the frames are counted, so that an unwritable output fails at once.
  std::unique_ptr<io::FrameWriter> writer = io::open_writer(r.output, wo);
  // A second Ctrl-C exits from the signal handler, past abort(): it unlinks this file itself.
  set_interrupt_cleanup_path(writer->temp_path());
  int64_t total = 0;
  std::vector<int64_t> timestamps;
  // A container that states no frame count (MKV, WebM) gives an estimate from its duration.
  const int64_t estimated = reader->num_frames_exact() ? -1 : reader->num_frames();
  try {
    total = count_frames(*reader, interrupted, &timestamps);
    VR_CHECK(total > 0, "input '", r.input, "': holds no frames");
  } catch (const Error&) {
    writer->abort();
    remove_if_new_and_empty(r.output, output_existed);
    if (interrupted()) return finish_interrupted(*writer, 0, r.output, output_existed);
    throw;
  }
  warn_if_far_short(r.input, estimated, total, wo.frame_rate);
  reader.reset();  // the streaming source opens its own
  // The timing is known only now; the encoder's time base is fixed when it opens, so a writer for
  // uneven timestamps replaces the constant-rate one (nothing was written to it yet).
  const bool keep_timestamps = video_out && !timestamps.empty() && static_cast<int64_t>(timestamps.size()) == total &&
                               !evenly_spaced(timestamps, input_time_base, wo.frame_rate);
  if (keep_timestamps) {
    set_interrupt_cleanup_path("");
    writer->abort();
    wo.time_base = input_time_base;
    writer = io::open_writer(r.output, wo);
    set_interrupt_cleanup_path(writer->temp_path());
  } else {
    timestamps.clear();
  }

  if (!r.quiet)
    std::fprintf(stderr, "vrestore: %s x%d%s ('%s') on %s; '%s' %dx%d, %lld frames at %s -> '%s' %dx%d%s\n",
                 info.arch.c_str(), info.scale, r.default_model ? ", the default model" : "", r.weights.c_str(),
                 describe(r.model_options).c_str(), r.input.c_str(), wo.width / info.scale,
                 wo.height / info.scale, static_cast<long long>(total),
                 (rate_text(wo.frame_rate) + (keep_timestamps ? ", uneven timestamps kept" : "")).c_str(),
                 r.output.c_str(), wo.width, wo.height,
                 video_out ? (", " + (wo.codec.empty() ? io::default_video_codec(r.output) : wo.codec)).c_str()
                           : concat(", PNG ", wo.png_bit_depth, "-bit").c_str());

  StreamingSource source(r.input, reader_options, total, ring_capacity(info, r.options, total));
  ProgressBar bar("restore", total, r.quiet);
  RestoreOptions options = r.options;
  options.progress = [&](int64_t done, int64_t) {
    bar.update(done);
    return !interrupted();
  };
  try {
    model.restore(
        with_noise_level(r, source.source()),
        [&](int64_t index, const Tensor& frame) {
          if (keep_timestamps) writer->set_timestamp(timestamps[static_cast<size_t>(index)]);
          const DeferSecondInterrupt complete_the_frame;  // a PNG frame is never left half-written
          writer->write(frame);
        },
        options);
  } catch (const Error&) {
    bar.finish();
    if (interrupted()) return finish_interrupted(*writer, total, r.output, output_existed);
    writer->abort();
    remove_if_new_and_empty(r.output, output_existed);
    throw;
  }
  bar.finish();
  writer->close();
  set_interrupt_cleanup_path("");
  if (!r.quiet) {
    std::fprintf(stderr, "vrestore: wrote %lld frames of %dx%d to '%s' in %s (%.2f fps)", static_cast<long long>(total),
                 wo.width, wo.height, r.output.c_str(), format_duration(bar.elapsed_seconds()).c_str(),
                 static_cast<double>(total) / std::max(bar.elapsed_seconds(), 1e-9));
    if (source.reopens() > 0) std::fprintf(stderr, "; the input was decoded %lld extra time(s)",
                                           static_cast<long long>(source.reopens()));
    std::fputc('\n', stderr);
  }
  if (r.stats) print_stats(total, bar.elapsed_seconds(), model);
  return 0;
}

}  // namespace vrestore::cli
