#include "io/pixel_format_choice.h"

#include <algorithm>
#include <vector>

#include "core/check.h"

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace vrestore::io {
namespace {

std::string names(const std::vector<AVPixelFormat>& formats) {
  std::string list;
  for (AVPixelFormat p : formats) list += (list.empty() ? "" : ", ") + std::string(av_get_pix_fmt_name(p));
  return list.empty() ? "none" : list;
}

// Chroma subsampling divides the frame size (4:2:0: even width and height; 4:2:2: even width).
bool fits_size(const AVPixFmtDescriptor* d, int width, int height) {
  return width % (1 << d->log2_chroma_w) == 0 && height % (1 << d->log2_chroma_h) == 0;
}

// The encoder's formats, or RGB for an encoder that lists none (rawvideo takes anything).
std::vector<AVPixelFormat> encoder_formats(const AVCodec* encoder, int source_depth) {
  std::vector<AVPixelFormat> all;
  for (const AVPixelFormat* p = encoder->pix_fmts; p && *p != AV_PIX_FMT_NONE; ++p) all.push_back(*p);
  if (all.empty()) all.push_back(source_depth == 16 ? AV_PIX_FMT_RGB48 : AV_PIX_FMT_RGB24);
  return all;
}

}  // namespace

AVPixelFormat choose_pixel_format(const AVCodec* encoder, const std::string& requested, int width, int height,
                                  int source_depth, const std::string& path) {
  const std::vector<AVPixelFormat> all = encoder_formats(encoder, source_depth);
  if (!requested.empty()) {
    const AVPixelFormat pix = av_get_pix_fmt(requested.c_str());
    if (pix == AV_PIX_FMT_NONE) fail("video '", path, "': unknown pixel format '", requested, "'");
    if (std::find(all.begin(), all.end(), pix) == all.end())
      fail("video '", path, "': encoder '", encoder->name, "' does not take pixel format '", requested,
           "'; it takes ", names(all));
    const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(pix);
    if (!fits_size(desc, width, height))
      fail("video '", path, "': pixel format '", requested, "' needs a width divisible by ", 1 << desc->log2_chroma_w,
           " and a height divisible by ", 1 << desc->log2_chroma_h, ", got ", width, "x", height);
    if (!sws_isSupportedOutput(pix))
      fail("video '", path, "': pixel format '", requested, "' cannot be made from RGB by libswscale");
    return pix;
  }
  std::vector<AVPixelFormat> usable;
  for (AVPixelFormat p : all) {
    const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(p);
    const bool deprecated_jpeg_range = std::string(d->name).rfind("yuvj", 0) == 0;
    if (!(d->flags & AV_PIX_FMT_FLAG_HWACCEL) && !deprecated_jpeg_range && sws_isSupportedOutput(p) &&
        fits_size(d, width, height))
      usable.push_back(p);
  }
  if (usable.empty())
    fail("video '", path, "': encoder '", encoder->name, "' has no pixel format for ", width, "x", height,
         " frames that libswscale can make (it takes ", names(all),
         "; 4:2:0 needs an even width and height); choose another --codec, e.g. libx264 (4:4:4 at odd sizes) or ffv1");
  const AVCodecDescriptor* codec = avcodec_descriptor_get(encoder->id);
  const bool lossy = codec && (codec->props & AV_CODEC_PROP_LOSSY);
  if (lossy && std::find(usable.begin(), usable.end(), AV_PIX_FMT_YUV420P) != usable.end()) return AV_PIX_FMT_YUV420P;
  usable.push_back(AV_PIX_FMT_NONE);
  const AVPixelFormat source = source_depth == 16 ? AV_PIX_FMT_RGB48 : AV_PIX_FMT_RGB24;
  return avcodec_find_best_pix_fmt_of_list(usable.data(), source, 0, nullptr);
}

}  // namespace vrestore::io
