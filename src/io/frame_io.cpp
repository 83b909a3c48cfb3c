// The depth/format conversions shared by every reader and writer, the path rules, and the
// factories that pick an implementation.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <system_error>
#include <unistd.h>

#include "core/check.h"
#include "io/io_internal.h"

namespace fs = std::filesystem;

namespace vrestore::io {

// ---- paths ---------------------------------------------------------------------------------------

MediaKind detect_media_kind(const std::string& path) {
  if (!path.empty() && path.back() == '/') return MediaKind::kPngFolder;
  std::error_code ec;
  return fs::is_directory(path, ec) ? MediaKind::kPngFolder : MediaKind::kVideoFile;
}

void check_output_is_not_input(const std::string& input, const std::string& output) {
  std::error_code ec1, ec2;
  if (fs::equivalent(input, output, ec1)) fail("output '", output, "' would overwrite the input '", input, "'");
  // Trailing '/' and "./x" spellings must compare equal too; weakly_canonical resolves what exists.
  auto normal = [](const std::string& p, std::error_code& ec) {
    fs::path c = fs::weakly_canonical(fs::absolute(p, ec), ec);
    std::string s = c.lexically_normal().string();
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    return s;
  };
  std::string a = normal(input, ec1), b = normal(output, ec2);
  if (!ec1 && !ec2 && a == b) fail("output '", output, "' would overwrite the input '", input, "'");
}

std::string parent_folder(const std::string& path) {
  fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

void check_writable_folder(const std::string& what, const std::string& path, const std::string& dir) {
  std::error_code ec;
  fs::file_status st = fs::status(dir, ec);
  if (!fs::exists(st)) fail(what, " '", path, "': folder '", dir, "' does not exist");
  if (!fs::is_directory(st)) fail(what, " '", path, "': '", dir, "' is not a folder");
  // access() answers for root too (W_OK is true for root on a writable mount).
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    fail(what, " '", path, "': folder '", dir, "' is not writable: ", std::generic_category().message(errno));
}

bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  while (i < a.size() && j < b.size()) {
    if (is_digit(a[i]) && is_digit(b[j])) {
      size_t i0 = i, j0 = j;
      while (i < a.size() && is_digit(a[i])) ++i;
      while (j < b.size() && is_digit(b[j])) ++j;
      // Compare digit runs by value without overflow: strip leading zeros, then by length.
      size_t ia = i0, jb = j0;
      while (ia + 1 < i && a[ia] == '0') ++ia;
      while (jb + 1 < j && b[jb] == '0') ++jb;
      if (i - ia != j - jb) return i - ia < j - jb;
      int c = a.compare(ia, i - ia, b, jb, j - jb);
      if (c != 0) return c < 0;
      if (i - i0 != j - j0) return i - i0 < j - j0;  // "01" after "1": a stable tie-break
    } else {
      if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
      ++i, ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

void warn(const WriterOptions& options, const std::string& message) {
  if (options.on_warning) options.on_warning(message);
  else std::cerr << "vrestore: warning: " << message << "\n";
}

// ---- factories ---------------------------------------------------------------------------------

std::unique_ptr<FrameReader> open_reader(const std::string& path, const ReaderOptions& options) {
  if (detect_media_kind(path) == MediaKind::kPngFolder) return open_png_folder_reader(path, options);
  return open_video_reader(path);
}

std::unique_ptr<FrameWriter> open_writer(const std::string& path, const WriterOptions& options) {
  VR_CHECK(options.width > 0 && options.height > 0, "output '", path, "': frame size ", options.width, "x",
           options.height, " is not positive");
  if (detect_media_kind(path) == MediaKind::kPngFolder) return open_png_folder_writer(path, options);
  return open_video_writer(path, options);
}

// ---- reader conversions --------------------------------------------------------------------------

bool FrameReader::next_raw() {
  if (!decode_next(raw8_, raw16_)) return false;
  ++frames_read_;
  return true;
}

bool FrameReader::read(Tensor& frame) {
  Tensor t = Tensor::empty({3, height_, width_});  // (3, H, W)
  if (!read(t.data())) return false;
  frame = t;
  return true;
}

bool FrameReader::read(float* chw) {
  if (!next_raw()) return false;
  const size_t plane = static_cast<size_t>(width_) * height_;
  if (bit_depth_ == 16) {
    const float scale = 1.0f / 65535.0f;
    for (size_t p = 0; p < plane; ++p)
      for (int c = 0; c < 3; ++c) chw[c * plane + p] = raw16_[p * 3 + c] * scale;
  } else {
    const float scale = 1.0f / 255.0f;
    for (size_t p = 0; p < plane; ++p)
      for (int c = 0; c < 3; ++c) chw[c * plane + p] = raw8_[p * 3 + c] * scale;
  }
  return true;
}

bool FrameReader::read_rgb8(std::vector<uint8_t>& rgb) {
  if (!next_raw()) return false;
  if (bit_depth_ == 8) {
    rgb = raw8_;
  } else {
    rgb.resize(raw16_.size());
    // Exact rounding of v * 255 / 65535.
    for (size_t i = 0; i < raw16_.size(); ++i) rgb[i] = static_cast<uint8_t>((raw16_[i] * 255u + 32767u) / 65535u);
  }
  return true;
}

bool FrameReader::read_rgb16(std::vector<uint16_t>& rgb) {
  if (!next_raw()) return false;
  if (bit_depth_ == 16) {
    rgb = raw16_;
  } else {
    rgb.resize(raw8_.size());
    for (size_t i = 0; i < raw8_.size(); ++i) rgb[i] = static_cast<uint16_t>(raw8_[i] * 257u);
  }
  return true;
}

// ---- writer conversions --------------------------------------------------------------------------

void FrameWriter::write(const Tensor& frame) {
  const Shape want{3, height_, width_};
  Shape got = frame.shape();
  if (got.size() == 4 && got[0] == 1) got.erase(got.begin());  // (1, 3, H, W) is one frame too
  VR_CHECK(got == want, "output '", path_, "': frame ", frames_written_, " has shape ", frame.shape_str(),
           ", expected ", shape_to_string(want));
  write(frame.data());
}

void FrameWriter::write(const float* chw) {
  const size_t plane = static_cast<size_t>(width_) * height_;
  // Clamp, then round half up (NaN becomes 0): the usual tensor-to-image rule.
  auto quantise = [](float v, float top) {
    v = v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f;
    return v * top + 0.5f;
  };
  if (preferred_depth() == 16) {
    buf16_.resize(plane * 3);
    for (size_t p = 0; p < plane; ++p)
      for (int c = 0; c < 3; ++c) buf16_[p * 3 + c] = static_cast<uint16_t>(quantise(chw[c * plane + p], 65535.0f));
    write_rgb16(buf16_.data());
  } else {
    buf8_.resize(plane * 3);
    for (size_t p = 0; p < plane; ++p)
      for (int c = 0; c < 3; ++c) buf8_[p * 3 + c] = static_cast<uint8_t>(quantise(chw[c * plane + p], 255.0f));
    write_rgb8(buf8_.data());
  }
}

void FrameWriter::write_rgb8(const uint8_t* rgb) {
  if (preferred_depth() == 8) {
    write_raw8(rgb);
  } else {
    const size_t n = static_cast<size_t>(width_) * height_ * 3;
    buf16_.resize(n);
    for (size_t i = 0; i < n; ++i) buf16_[i] = static_cast<uint16_t>(rgb[i] * 257u);
    write_raw16(buf16_.data());
  }
  ++frames_written_;
}

void FrameWriter::write_rgb16(const uint16_t* rgb) {
  if (preferred_depth() == 16) {
    write_raw16(rgb);
  } else {
    const size_t n = static_cast<size_t>(width_) * height_ * 3;
    buf8_.resize(n);
    for (size_t i = 0; i < n; ++i) buf8_[i] = static_cast<uint8_t>((rgb[i] * 255u + 32767u) / 65535u);
    write_raw8(buf8_.data());
  }
  ++frames_written_;
}

}  // namespace vrestore::io
