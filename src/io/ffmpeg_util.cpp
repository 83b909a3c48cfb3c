#include "io/ffmpeg_util.h"

#include <algorithm>
#include <cstdarg>
#include <cstring>
#include <iterator>
#include <mutex>

#include "core/check.h"
#include "io/media_io.h"

namespace vrestore::io {

namespace {

std::mutex g_message_mutex;
std::string g_last_message;  // guarded by g_message_mutex

// Records error-level messages, then lets FFmpeg's own callback print what the level allows.
void record_and_log(void* avcl, int level, const char* fmt, va_list args) {
  if (level <= AV_LOG_ERROR) {
    va_list copy;
    va_copy(copy, args);
    char line[512];
    int print_prefix = 0;  // the message alone, without "[encoder @ 0x...]"
    av_log_format_line2(avcl, level, fmt, copy, line, sizeof line, &print_prefix);
    va_end(copy);
    std::string text(line);
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    if (!text.empty()) {
      const std::lock_guard lock(g_message_mutex);
      g_last_message = std::move(text);
    }
  }
  av_log_default_callback(avcl, level, fmt, args);
}

}  // namespace

void forget_ffmpeg_message() {
  const std::lock_guard lock(g_message_mutex);
  g_last_message.clear();
}

std::string failure_text(int code) {
  const std::lock_guard lock(g_message_mutex);
  return av_error_text(code) + (g_last_message.empty() ? "" : " (" + g_last_message + ")");
}

void quiet_ffmpeg_log() {
  // FFmpeg prints encoder banners at "info" and damage details at "error", line by line, into
  // the CLI's progress output; our own errors carry what the user needs. Once, so that a program
  // that wants FFmpeg's log can raise the level again after opening.
  // Only ever lowers it: silence_ffmpeg_log() may have gone further already.
  static std::once_flag quiet;
  std::call_once(quiet, [] {
    if (av_log_get_level() > AV_LOG_FATAL) av_log_set_level(AV_LOG_FATAL);
    av_log_set_callback(record_and_log);
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

int container_takes(const AVOutputFormat* format, AVCodecID id) {
  if (std::strcmp(format->name, "mpegts") == 0) {
    static constexpr AVCodecID kMpegTsCodecs[] = {
        AV_CODEC_ID_H264, AV_CODEC_ID_HEVC, AV_CODEC_ID_MPEG1VIDEO, AV_CODEC_ID_MPEG2VIDEO, AV_CODEC_ID_AAC,
        AV_CODEC_ID_AC3,  AV_CODEC_ID_EAC3, AV_CODEC_ID_MP2,        AV_CODEC_ID_MP3,        AV_CODEC_ID_OPUS};
    if (std::find(std::begin(kMpegTsCodecs), std::end(kMpegTsCodecs), id) != std::end(kMpegTsCodecs)) return 1;
  }
  return avformat_query_codec(format, id, FF_COMPLIANCE_NORMAL);
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
