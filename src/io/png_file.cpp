// libpng reports errors by longjmp. Each function below sets its jump point before any libpng call
// and creates no objects with destructors after it, so the jump skips nothing that needs cleanup;
// the message is copied out of a plain buffer and thrown once back in normal control flow.
#include "io/png_file.h"

#include <png.h>

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>

#include "core/check.h"

namespace vrestore::io {
namespace {

struct PngError {
  char message[256] = "unknown libpng error";
};

void on_png_error(png_structp png, png_const_charp message) {
  auto* error = static_cast<PngError*>(png_get_error_ptr(png));
  std::snprintf(error->message, sizeof error->message, "%s", message);
  png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}  // benign (e.g. unknown chunks): not shown

constexpr bool kLittleEndian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

uint32_t be32(const unsigned char* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

}  // namespace

PngHeader read_png_header(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail("PNG '", path, "': cannot open: ", std::strerror(errno));
  unsigned char head[33];
  const size_t got = std::fread(head, 1, sizeof head, f);
  std::fclose(f);
  static const unsigned char kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (got < 8 || std::memcmp(head, kSignature, 8) != 0) fail("PNG '", path, "': not a PNG file (bad signature)");
  if (got < sizeof head || std::memcmp(head + 12, "IHDR", 4) != 0)
    fail("PNG '", path, "': truncated or damaged header (no IHDR chunk)");
  PngHeader h;
  const uint32_t w = be32(head + 16), hh = be32(head + 20);
  if (w == 0 || hh == 0 || w > 0x7fffffffu || hh > 0x7fffffffu)
    fail("PNG '", path, "': invalid size ", w, "x", hh);
  h.width = static_cast<int>(w);
  h.height = static_cast<int>(hh);
  h.bit_depth = head[24];
  h.color_type = head[25];
  return h;
}

PngHeader read_png_rgb(const std::string& path, std::vector<uint8_t>& rgb8, std::vector<uint16_t>& rgb16) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail("PNG '", path, "': cannot open: ", std::strerror(errno));
  PngError error;
  PngHeader h;
  std::vector<png_bytep> rows;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &error, on_png_error, on_png_warning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    std::fclose(f);
    fail("PNG '", path, "': out of memory creating the decoder");
  }
  volatile bool ok = false;  // read after a longjmp
  if (setjmp(png_jmpbuf(png)) == 0) {
    png_init_io(png, f);
    png_read_info(png, info);
    h.width = static_cast<int>(png_get_image_width(png, info));
    h.height = static_cast<int>(png_get_image_height(png, info));
    h.bit_depth = png_get_bit_depth(png, info);
    h.color_type = png_get_color_type(png, info);
    // The stated colour rule: palette -> RGB, low-depth grey -> 8 bits, grey -> RGB, alpha (and
    // transparency that expansion turned into alpha) stripped.
    if (h.color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (h.color_type == PNG_COLOR_TYPE_GRAY && h.bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (h.color_type == PNG_COLOR_TYPE_GRAY || h.color_type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_strip_alpha(png);
    if (h.bit_depth == 16 && kLittleEndian) png_set_swap(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    const size_t sample_bytes = h.bit_depth == 16 ? 2 : 1;
    const size_t row_bytes = static_cast<size_t>(h.width) * 3 * sample_bytes;
    if (png_get_channels(png, info) == 3 && png_get_rowbytes(png, info) == row_bytes) {
      unsigned char* base;
      if (sample_bytes == 2) {
        rgb16.resize(static_cast<size_t>(h.width) * h.height * 3);
        base = reinterpret_cast<unsigned char*>(rgb16.data());
      } else {
        rgb8.resize(static_cast<size_t>(h.width) * h.height * 3);
        base = rgb8.data();
      }
      rows.resize(h.height);
      for (int y = 0; y < h.height; ++y) rows[y] = base + static_cast<size_t>(y) * row_bytes;
      png_read_image(png, rows.data());
      png_read_end(png, nullptr);
      ok = true;
    } else {
      std::snprintf(error.message, sizeof error.message, "unsupported layout after conversion (%d channels)",
                    static_cast<int>(png_get_channels(png, info)));
    }
  }
  png_destroy_read_struct(&png, &info, nullptr);
  std::fclose(f);
  if (!ok) fail("PNG '", path, "': ", error.message);
  return h;
}

void write_png_rgb(const std::string& path, int width, int height, int bit_depth, const void* rgb) {
  VR_CHECK(bit_depth == 8 || bit_depth == 16, "PNG '", path, "': bit depth ", bit_depth, ", expected 8 or 16");
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) fail("PNG '", path, "': cannot create: ", std::strerror(errno));
  PngError error;
  std::vector<png_bytep> rows(height);
  const size_t row_bytes = static_cast<size_t>(width) * 3 * (bit_depth / 8);
  auto* base = static_cast<unsigned char*>(const_cast<void*>(rgb));
  for (int y = 0; y < height; ++y) rows[y] = base + static_cast<size_t>(y) * row_bytes;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &error, on_png_error, on_png_warning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  volatile bool ok = false;  // read after a longjmp
  if (info && setjmp(png_jmpbuf(png)) == 0) {
    png_init_io(png, f);
    // zlib level 3 instead of libpng's 6: frames are large and written at video rates; the files
    // are ~5% bigger and written several times faster.
    png_set_compression_level(png, 3);
    png_set_IHDR(png, info, width, height, bit_depth, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    if (bit_depth == 16 && kLittleEndian) png_set_swap(png);
    png_write_image(png, rows.data());
    png_write_end(png, nullptr);
    ok = true;
  }
  png_destroy_write_struct(&png, info ? &info : nullptr);
  // A full disk shows up at fflush/fclose, not in libpng.
  const bool flushed = std::fflush(f) == 0;
  const int write_errno = errno;
  const bool closed = std::fclose(f) == 0;
  if (!ok) fail("PNG '", path, "': ", error.message);
  if (!flushed || !closed) fail("PNG '", path, "': write failed: ", std::strerror(write_errno ? write_errno : errno));
}

}  // namespace vrestore::io
