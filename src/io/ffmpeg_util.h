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

// Lowers FFmpeg's process-wide log level to fatal messages, the first time it is called.
void quiet_ffmpeg_log();

// Opens `path` and reads its stream info; throws "<what> 'path': cannot open: <reason>" (missing
// file, unreadable, not a media file). Calls quiet_ffmpeg_log().
InputContextPtr open_input(const std::string& what, const std::string& path);

// The sws coefficient table for an AVColorSpace, falling back by frame height when unspecified
// (BT.709 from 720 lines up, else BT.601), as players do.
const int* yuv_coefficients(AVColorSpace space, int height);

}  // namespace vrestore::io
