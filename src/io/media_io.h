// vrestore_io — frame-by-frame media input and output for the CLI: video files through FFmpeg's
// libavformat/libavcodec/libswscale, and folders of PNG frames through libpng.
//
// Not part of the core library (embedders bring their own decoders) and not installed. Nothing
// here holds more than a frame or two (plus the encoder's own look-ahead): a clip streams through.
// Every failure throws vrestore::Error with a one-line message that names the file or folder.
// Opening a video lowers FFmpeg's process-wide log level to fatal messages (once), so that its
// own lines do not interleave with the CLI's; call av_log_set_level afterwards to see them.
// silence_ffmpeg_log() drops even those (the CLI's --quiet).
//
// Which path is which: a path that is an existing directory, or ends with '/', is a PNG folder;
// anything else is a video file whose container is chosen by libavformat (reading: by probing the
// contents; writing: by the extension, e.g. .mp4, .mkv, .avi, .mov).
//
// Pixel values: RGB, channel-first float (3, H, W) in [0, 1] (8-bit value v -> v / 255, 16-bit
// v -> v / 65535), or interleaved RGB8 / RGB16 (H * W * 3 values, row-major, native-endian
// uint16). Values are taken as they are coded (sRGB); no gamma or colour management is applied.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "vrestore/error.h"
#include "vrestore/tensor.h"

namespace vrestore::io {

// A frame rate num / den frames per second, e.g. {30000, 1001}.
struct Rational {
  int num = 0;
  int den = 1;
  double value() const { return den != 0 ? static_cast<double>(num) / den : 0.0; }
};

enum class MediaKind { kVideoFile, kPngFolder };

// The detection rule above. Never throws.
MediaKind detect_media_kind(const std::string& path);

// Throws "output 'o' would overwrite the input 'i'" when both name the same file or folder
// (after resolving '.', '..' and symlinks; hard links count as the same file). Paths need not
// exist.
void check_output_is_not_input(const std::string& input, const std::string& output);

// Sets FFmpeg's process-wide log level to quiet: not even fatal messages (our own errors carry
// what a user needs). Later openings do not raise it again.
void silence_ffmpeg_log();

// FFmpeg's display matrix (3x3 int32, row-major, 16.16 fixed point except the last column, 2.30):
// how a player rotates or flips the stored frames, e.g. a phone video shot upright. Empty: none.
using DisplayMatrix = std::vector<int32_t>;

// ---- reading -----------------------------------------------------------------------------------

// PNG folder rule: every *.png / *.PNG file directly in the folder (hidden files skipped), in
// natural order of names (digit runs compare as numbers: 2.png < 10.png). All must have the first
// frame's size, else an error naming the odd file. Colour types are converted as follows:
//   grey          -> R = G = B = grey
//   grey + alpha  -> R = G = B = grey, alpha dropped (not composited)
//   RGB           -> as is
//   RGBA          -> alpha dropped (not composited)
//   palette       -> expanded to its RGB entries (palette transparency dropped)
//   1/2/4-bit grey is scaled to 8 bits; 16-bit samples are kept at 16 bits.
// gAMA/iCCP/sRGB chunks are ignored.
//
// Video rule: the best video stream (libavformat's choice); any pixel format FFmpeg decodes is
// converted by libswscale to RGB24 (sources of <= 8 bits per component) or RGB48 (deeper), using
// the stream's YUV matrix and range (untagged streams: BT.709 from 720 lines up, else BT.601).
// A stream that ends before the frame count its container header states, a packet marked corrupt,
// or a decoder error is reported as an error naming the file and the frame index: the frames
// decoded before the damage are delivered first, the next read throws.
struct ReaderOptions {
  // PNG frames carry no timing; this is the rate a PNG folder reports (and a video written from it
  // keeps).
  Rational png_frame_rate{25, 1};
};

class FrameReader {
 public:
  virtual ~FrameReader() = default;

  // The path it was opened with.
  const std::string& path() const { return path_; }
  int width() const { return width_; }
  int height() const { return height_; }
  Rational frame_rate() const { return frame_rate_; }
  // 8 or 16: the depth of the raw samples (a video decoded to RGB48 or a 16-bit PNG: 16).
  int bit_depth() const { return bit_depth_; }
  // Pixel shape (width / height of one pixel on screen): {1, 1} except for anamorphic video
  // (e.g. {32, 27} for 720x576 DVD). Frames are delivered as stored, not resampled.
  Rational sample_aspect_ratio() const { return sample_aspect_ratio_; }
  // The video stream's display matrix (rotation metadata), empty when it has none (and for PNG).
  // Frames are delivered as stored, not rotated.
  const DisplayMatrix& display_matrix() const { return display_matrix_; }

  // Timing of the frames: the time base (seconds per tick) of timestamp(). Video: the stream's
  // time base. PNG folder: 1 / png_frame_rate.
  Rational time_base() const { return time_base_; }
  // The presentation time of the frame the last read delivered, in time_base() ticks, counted from
  // the first frame (which is 0). Video: the decoder's best-effort timestamp, so a stream with
  // skipped ticks (opencv's tree.avi: 68 frames over 444 ticks) reports them; a frame without a
  // timestamp, or one not after its predecessor, gets the previous one plus one frame interval
  // (at least one tick), so timestamps always increase. PNG folder: the frame's index.
  int64_t timestamp() const { return timestamp_; }

  // Number of frames. PNG folder: exact. Video: an estimate from the container header (its frame
  // count, else duration x rate), or -1 when the container gives neither; the true count is known
  // when a read returns false. num_frames_exact() says which.
  virtual int64_t num_frames() const = 0;
  virtual bool num_frames_exact() const = 0;
  // Frames delivered so far (the index of the next frame).
  int64_t frames_read() const { return frames_read_; }

  // Next frame as a new float tensor (3, H, W) in [0, 1]. Returns false at the end of the input.
  bool read(Tensor& frame);
  // Same into caller memory of 3 * H * W floats (channel-first), e.g. one slot of a clip tensor.
  bool read(float* chw);
  // Next frame as interleaved RGB8 (H * W * 3 bytes; 16-bit sources rounded to 8 bits).
  bool read_rgb8(std::vector<uint8_t>& rgb);
  // Next frame as interleaved RGB16 (H * W * 3 values; 8-bit sources scaled by 257).
  bool read_rgb16(std::vector<uint16_t>& rgb);

 protected:
  // One decoded frame in the reader's own depth: rgb8 (bit_depth 8) or rgb16 (bit_depth 16) holds
  // H * W * 3 interleaved samples. Returns false at the end; throws on damage.
  virtual bool decode_next(std::vector<uint8_t>& rgb8, std::vector<uint16_t>& rgb16) = 0;

  std::string path_;
  int width_ = 0, height_ = 0, bit_depth_ = 8;
  Rational frame_rate_;
  Rational sample_aspect_ratio_{1, 1};
  DisplayMatrix display_matrix_;
  Rational time_base_{1, 25};
  int64_t timestamp_ = -1;

 private:
  bool next_raw();
  std::vector<uint8_t> raw8_;
  std::vector<uint16_t> raw16_;
  int64_t frames_read_ = 0;
};

// Opens a video file or PNG folder (detect_media_kind). Reads the header / first frame's header
// only. Throws when the path does not exist or cannot be read, is not a video ("no video stream"),
// the decoder is missing, or the folder holds no PNG files.
std::unique_ptr<FrameReader> open_reader(const std::string& path, const ReaderOptions& options = {});

// ---- writing -----------------------------------------------------------------------------------

struct WriterOptions {
  // Frame size of what will be written; every frame must have it.
  int width = 0;
  int height = 0;
  // The video output's nominal frame rate (stored in the stream). Ignored for PNG.
  Rational frame_rate{25, 1};
  // Timing rule of a video output. {0, 1} (the default): constant frame rate, frame i at time
  // i / frame_rate. Else each frame's time is the timestamp given with FrameWriter::set_timestamp,
  // in ticks of this time base (e.g. the reader's time_base() and timestamp(), so that a variable
  // or sparse input keeps its timing); the encoder works in this time base.
  Rational time_base{0, 1};

  // -- video only --
  // Stored in the stream so anamorphic input keeps its display shape (pass the reader's).
  Rational sample_aspect_ratio{1, 1};
  // Encoder name as FFmpeg spells it ("libx264", "libx265", "mpeg4", "libvpx-vp9", "ffv1", ...).
  // Empty: default_video_codec(path).
  std::string codec;
  // Constant-rate-factor for encoders with a "crf" option (libx264, libx265, libvpx...).
  // -1: 18 for those; for mpeg4 and other encoders without crf a fixed quantiser qscale 3 (of
  // 2..31, lower is better) is used instead. Setting crf for an encoder without it is an error.
  int crf = -1;
  // x264/x265 preset; ignored by encoders without one.
  std::string preset = "medium";
  // Output pixel format (FFmpeg name). Empty (the default) chooses among the encoder's formats
  // that libswscale can write and that fit the frame size (4:2:0 needs an even width and height,
  // 4:2:2 an even width; hardware and deprecated yuvj formats are skipped):
  //   - a lossy codec (libx264, libx265, libvpx, mpeg4, ...) that takes yuv420p, at an even size:
  //     yuv420p, which every player decodes;
  //   - otherwise (lossless codecs such as ffv1 and png, RGB-only encoders, odd frame sizes) the
  //     one closest to the RGB frames (avcodec_find_best_pix_fmt_of_list): e.g. ffv1 and png keep
  //     RGB, libx264 at an odd size gets yuv444p, gif gets rgb8 (3-3-2 bits: gif's palette form,
  //     pal8, is not made).
  //   No format fits (e.g. mpeg4, which takes only yuv420p, at an odd size): an error naming the
  //   size and the formats. Frames are never padded or cropped.
  std::string pixel_format;
  // The display matrix (rotation metadata) stored with the video stream, e.g. the reader's, with
  // its translation scaled like the frames. Stored by containers that carry one (MP4, MOV);
  // others drop it with a warning.
  DisplayMatrix display_matrix;
  // A media file (normally the input video) whose best audio stream goes into the output,
  // interleaved with the video (time 0 of the output is the source's first video frame):
  //   - stream-copied when the container takes its codec;
  //   - else transcoded to the first of AAC, Opus and Vorbis that this FFmpeg can encode and the
  //     container takes (e.g. PCM into MP4: AAC; AAC into WebM: Opus), with a warning saying so;
  //   - else dropped, with a warning.
  // Empty: no audio. A source without audio is fine.
  std::string audio_from;
  // Also silences the encoder's own log (libx265 prints through its own channel; by default only
  // its errors are shown).
  bool quiet = false;

  // -- PNG only --
  // 8 or 16 bits per sample.
  int png_bit_depth = 8;

  // Where warnings go (e.g. dropped audio). Default: "vrestore: warning: ..." on stderr.
  std::function<void(const std::string&)> on_warning;
};

// A writer puts frames in a temporary place and makes them visible only when complete:
//   video: everything goes to a hidden temporary file next to the output, renamed over the output
//          by close() or finish_partial(); abort() or destruction without either removes it, so a
//          failed or killed run never leaves a half-written video under the output name.
//   PNG:   frames 000000.png, 000001.png, ... each written to a temporary file and renamed, so
//          every visible frame is complete. The folder is created if missing (its parent must
//          exist); an existing folder must be empty (else Error "output folder '...' is not empty;
//          choose a new or empty folder"), so no stale frame of an earlier run mixes in.
// Not thread-safe; call from one thread (never from a signal handler: set a flag there and call
// finish_partial() from the loop).
class FrameWriter {
 public:
  virtual ~FrameWriter() = default;

  const std::string& path() const { return path_; }
  int width() const { return width_; }
  int height() const { return height_; }
  int64_t frames_written() const { return frames_written_; }
  // The hidden temporary file a video is written to until close() / finish_partial() renames it
  // (empty for PNG, whose per-frame temporaries are short-lived, and once renamed or aborted). For a
  // last-resort cleanup that cannot call abort(), e.g. unlink() from a signal handler.
  virtual std::string temp_path() const { return {}; }

  // The time of the next frame written, in WriterOptions::time_base ticks (video with a time base
  // only; ignored otherwise). Each must be later than the previous frame's; without a call, the
  // next frame is one frame interval after the previous one.
  void set_timestamp(int64_t ticks) { next_timestamp_ = ticks; has_timestamp_ = true; }

  // Frame (3, H, W) or (1, 3, H, W) float; values are clamped to [0, 1] and rounded.
  void write(const Tensor& frame);
  // Same from 3 * H * W channel-first floats.
  void write(const float* chw);
  // Interleaved RGB8 / RGB16 (H * W * 3 values).
  void write_rgb8(const uint8_t* rgb);
  void write_rgb16(const uint16_t* rgb);

  // Completes the output (video: flushes the encoder, copies the rest of the audio, writes the
  // trailer, renames into place). Further writes are an error.
  virtual void close() = 0;
  // For an interrupted run: completes a playable output of the frames written so far (video: audio
  // cut at the last frame's end). The same as close() for PNG. For video it throws if no frame
  // was written (after removing the temporary file), since an empty video is not playable.
  virtual void finish_partial() = 0;
  // Discards the output in progress (video: removes the temporary file; PNG: removes the frame
  // being written, finished frames stay). Never throws.
  virtual void abort() noexcept = 0;

 protected:
  // The depth the implementation wants its samples in (8 or 16).
  virtual int preferred_depth() const = 0;
  virtual void write_raw8(const uint8_t* rgb) = 0;
  virtual void write_raw16(const uint16_t* rgb) = 0;

  // The timestamp set for the frame being written, if any; cleared by the write.
  bool take_timestamp(int64_t& ticks) {
    const bool had = has_timestamp_;
    ticks = next_timestamp_;
    has_timestamp_ = false;
    return had;
  }

  std::string path_;
  int width_ = 0, height_ = 0;
  int64_t frames_written_ = 0;

 private:
  int64_t next_timestamp_ = 0;
  bool has_timestamp_ = false;
  std::vector<uint8_t> buf8_;
  std::vector<uint16_t> buf16_;
};

// Opens a writer for a video file or PNG folder (detect_media_kind). Throws when the output's
// folder does not exist or is not writable, the container cannot be guessed from the extension,
// the codec is unknown or not accepted by the container, or no pixel format fits (see
// pixel_format; e.g. an odd width with an explicit yuv420p).
std::unique_ptr<FrameWriter> open_writer(const std::string& path, const WriterOptions& options);

// The encoder an empty `codec` option resolves to for a video file `path` (its container from the
// extension): libx264 when this FFmpeg has it and the container takes H.264; else the container's
// own default codec's first software encoder (e.g. .webm: libvpx-vp9, or libvpx for VP8; .gif:
// gif); else mpeg4 if the container takes it. Empty when none fits (or the container is unknown):
// open_writer then says so, naming --codec.
std::string default_video_codec(const std::string& path);

}  // namespace vrestore::io
