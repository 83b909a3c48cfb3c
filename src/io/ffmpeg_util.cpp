#include "io/ffmpeg_util.h"

#include <mutex>

#include "core/check.h"
#include "io/media_io.h"

namespace vrestore::io {

void quiet_ffmpeg_log() {
  // FFmpeg prints encoder banners at "info" and damage details at "error", line by line, into
  // the CLI's progress output; our own errors carry what the user needs. Once, so that a program
  // that wants FFmpeg's log can raise the level again after opening.
  // Only ever lowers it: silence_ffmpeg_log() may have gone further already.
  static std::once_flag quiet;
  std::call_once(quiet, [] {
    if (av_log_get_level() > AV_LOG_FATAL) av_log_set_level(AV_LOG_FATAL);
  });
}

void silence_ffmpeg_log() {
  quiet_ffmpeg_log();  // first, so that its one-time call cannot raise the level again
  av_log_set_level(AV_LOG_QUIET);
}

InputContextPtr open_input(const std::string& what, const std::string& path) {
  quiet_ffmpeg_log();
  AVFormatContext* raw = nullptr;
  int rc = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
  if (rc < 0) fail(what, " '", path, "': cannot open: ", av_error_text(rc));
  InputContextPtr ctx(raw);
  rc = avformat_find_stream_info(ctx.get(), nullptr);
  if (rc < 0) fail(what, " '", path, "': cannot read stream info: ", av_error_text(rc));
  return ctx;
}

const int* yuv_coefficients(AVColorSpace space, int height) {
  int sws_space;
  switch (space) {
    case AVCOL_SPC_BT709: sws_space = SWS_CS_ITU709; break;
    case AVCOL_SPC_FCC: sws_space = SWS_CS_FCC; break;
    case AVCOL_SPC_BT470BG:
    case AVCOL_SPC_SMPTE170M: sws_space = SWS_CS_ITU601; break;
    case AVCOL_SPC_SMPTE240M: sws_space = SWS_CS_SMPTE240M; break;
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL: sws_space = SWS_CS_BT2020; break;
    default: sws_space = height >= 720 ? SWS_CS_ITU709 : SWS_CS_ITU601; break;
  }
  return sws_getCoefficients(sws_space);
}

}  // namespace vrestore::io
