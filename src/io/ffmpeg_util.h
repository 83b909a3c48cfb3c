// Small RAII and error helpers over FFmpeg's C API, shared by the video reader and writer.
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libswscale/swscale.h>
}

#include <memory>
#include <string>

namespace vrestore::io {

// FFmpeg's text for an AVERROR code, e.g. "Invalid data found when processing input".
inline std::string av_error_text(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(code, buf, sizeof buf);
  return buf;
}

struct InputContextDeleter {
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
struct CodecContextDeleter {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameDeleter {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketDeleter {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwsDeleter {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};

using InputContextPtr = std::unique_ptr<AVFormatContext, InputContextDeleter>;
using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextDeleter>;
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;
using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;
using SwsPtr = std::unique_ptr<SwsContext, SwsDeleter>;

// Lowers FFmpeg's process-wide log level to fatal messages, the first time it is called, and from
// then on records the last message FFmpeg logs at error level (shown or not) for failure_text.
void quiet_ffmpeg_log();

// Forgets the recorded FFmpeg message: call it before an FFmpeg call whose failure is reported
// with failure_text, so that an older message is not taken for its reason.
void forget_ffmpeg_message();
// FFmpeg's text for `code` plus its own reason when it logged one since forget_ffmpeg_message(),
// e.g. "Invalid argument (MPEG-1/2 does not support 10/1 fps)": FFmpeg often says why only in its
// log, which the CLI keeps quiet.
std::string failure_text(int code);

// Opens `path` and reads its stream info; throws "<what> 'path': cannot open: <reason>" (missing
// file, unreadable, not a media file). Calls quiet_ffmpeg_log().
InputContextPtr open_input(const std::string& what, const std::string& path);

// Whether the muxer `format` takes codec `id`: 1 yes, 0 no, < 0 unknown, as avformat_query_codec
// says, except for MPEG-TS: it keeps no codec list, so the query answers "unknown" for every codec,
// although its muxer gives these codecs their stream types: H.264, HEVC, MPEG-1/2 video, AAC,
// AC-3, E-AC-3, MP2, MP3 and Opus (libavformat/mpegtsenc.c). Those are 1 here.
int container_takes(const AVOutputFormat* format, AVCodecID id);

// The sws coefficient table for an AVColorSpace, falling back by frame height when unspecified
// (BT.709 from 720 lines up, else BT.601), as players do.
const int* yuv_coefficients(AVColorSpace space, int height);

}  // namespace vrestore::io
