// Internal to vrestore_io: which pixel format a video output is encoded in (the rule is
// WriterOptions::pixel_format's, in media_io.h).
#pragma once

#include <string>

#include "io/ffmpeg_util.h"

namespace vrestore::io {

// `requested`: an FFmpeg pixel format name, or empty for the automatic rule. `source_depth`: 8 or
// 16, the depth of the RGB frames (the automatic rule aims at RGB24 or RGB48). Throws a message
// naming `path`, the size and the encoder's formats when none fits.
AVPixelFormat choose_pixel_format(const AVCodec* encoder, const std::string& requested, int width, int height,
                                  int source_depth, const std::string& path);

}  // namespace vrestore::io
