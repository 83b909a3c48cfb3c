// One PNG file in and out through libpng, with the colour rule of media_io.h (grey replicated,
// alpha dropped, palette expanded). Errors name the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vrestore::io {

struct PngHeader {
  int width = 0;
  int height = 0;
  int bit_depth = 0;   // as stored: 1, 2, 4, 8 or 16
  int color_type = 0;  // PNG colour type: 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA
  // Depth of the samples read_png_rgb delivers: 16 for 16-bit files, else 8.
  int rgb_depth() const { return bit_depth == 16 ? 16 : 8; }
};

// Parses only the signature and IHDR chunk (a few bytes); throws "PNG 'path': ..." when the file
// cannot be opened or is not a PNG.
PngHeader read_png_header(const std::string& path);

// Decodes the whole image as interleaved RGB into rgb8 (8-bit files) or rgb16 (16-bit files,
// native endian). Throws "PNG 'path': <libpng's reason>" on a damaged file.
PngHeader read_png_rgb(const std::string& path, std::vector<uint8_t>& rgb8, std::vector<uint16_t>& rgb16);

// Writes interleaved RGB of `bit_depth` 8 (uint8_t samples) or 16 (native-endian uint16_t) to
// `path` (created or truncated). Throws "PNG 'path': ..." on failure (e.g. disk full); the caller
// removes the partial file.
void write_png_rgb(const std::string& path, int width, int height, int bit_depth, const void* rgb);

}  // namespace vrestore::io
