// A folder of PNG frames as a FrameReader and a FrameWriter (rules in media_io.h).
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "core/check.h"
#include "io/io_internal.h"
#include "io/png_file.h"

namespace fs = std::filesystem;

namespace vrestore::io {
namespace {

bool has_png_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".png";
}

class PngFolderReader final : public FrameReader {
 public:
  PngFolderReader(const std::string& path, const ReaderOptions& options) {
    path_ = path;
    frame_rate_ = options.png_frame_rate;
    time_base_ = Rational{options.png_frame_rate.den, options.png_frame_rate.num};
    std::error_code ec;
    if (!fs::exists(path, ec)) fail("PNG folder '", path, "': does not exist");
    if (!fs::is_directory(path, ec)) fail("PNG folder '", path, "': is not a folder");
    fs::directory_iterator it(path, ec);
    if (ec) fail("PNG folder '", path, "': cannot list: ", ec.message());
    for (const fs::directory_entry& e : it) {
      const std::string name = e.path().filename().string();
      if (name.empty() || name[0] == '.' || !has_png_extension(e.path())) continue;
      if (!e.is_regular_file(ec)) continue;
      files_.push_back(e.path().string());
    }
    if (files_.empty()) fail("PNG folder '", path, "': no .png files");
    std::sort(files_.begin(), files_.end(), [](const std::string& a, const std::string& b) {
      return natural_less(fs::path(a).filename().string(), fs::path(b).filename().string());
    });
    // Headers only (a few bytes each): a size mismatch is reported before any work is done.
    const PngHeader first = read_png_header(files_[0]);
    width_ = first.width;
    height_ = first.height;
    bit_depth_ = 8;
    for (const std::string& f : files_) {
      const PngHeader h = read_png_header(f);
      if (h.width != width_ || h.height != height_)
        fail("PNG folder '", path, "': frame '", f, "' is ", h.width, "x", h.height, ", expected ", width_, "x",
             height_, " like '", files_[0], "'");
      // Mixed depths read at 16 bits: 8-bit frames are scaled up, nothing is lost.
      if (h.rgb_depth() == 16) bit_depth_ = 16;
    }
  }

  int64_t num_frames() const override { return static_cast<int64_t>(files_.size()); }
  bool num_frames_exact() const override { return true; }

 protected:
  bool decode_next(std::vector<uint8_t>& rgb8, std::vector<uint16_t>& rgb16) override {
    if (next_ >= files_.size()) return false;
    timestamp_ = static_cast<int64_t>(next_);
    const std::string& file = files_[next_];
    const PngHeader h = read_png_rgb(file, rgb8, rgb16);
    // The folder may change while we read it.
    if (h.width != width_ || h.height != height_)
      fail("PNG folder '", path_, "': frame '", file, "' is ", h.width, "x", h.height, ", expected ", width_, "x",
           height_);
    if (h.rgb_depth() != bit_depth_) {
      rgb16.resize(rgb8.size());
      for (size_t i = 0; i < rgb8.size(); ++i) rgb16[i] = static_cast<uint16_t>(rgb8[i] * 257u);
    }
    ++next_;
    return true;
  }

 private:
  std::vector<std::string> files_;
  size_t next_ = 0;
};

class PngFolderWriter final : public FrameWriter {
 public:
  PngFolderWriter(const std::string& path, const WriterOptions& options) : depth_(options.png_bit_depth) {
    path_ = path;
    width_ = options.width;
    height_ = options.height;
    VR_CHECK(depth_ == 8 || depth_ == 16, "PNG folder '", path, "': bit depth ", depth_, ", expected 8 or 16");
    std::string dir = path;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    std::error_code ec;
    if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) fail("PNG folder '", path, "': exists and is not a folder");
    if (!fs::exists(dir, ec)) {
      check_writable_folder("PNG folder", path, parent_folder(dir));
      if (!fs::create_directory(dir, ec) && ec) fail("PNG folder '", path, "': cannot create: ", ec.message());
    } else {
      // Old frames (say 000003.png of a longer earlier run) would sit next to the new ones and be
      // read back as part of the result, so only an empty folder is written into.
      const bool empty = fs::is_empty(dir, ec);
      if (ec) fail("PNG folder '", path, "': cannot list: ", ec.message());
      if (!empty) fail("output folder '", path, "' is not empty; choose a new or empty folder");
    }
    check_writable_folder("PNG folder", path, dir);
    dir_ = dir;
  }

  ~PngFolderWriter() override { abort(); }

  void close() override { closed_ = true; }
  void finish_partial() override { closed_ = true; }
  void abort() noexcept override {
    if (!tmp_.empty()) {
      std::error_code ec;
      fs::remove(tmp_, ec);
      tmp_.clear();
    }
  }

 protected:
  int preferred_depth() const override { return depth_; }
  void write_raw8(const uint8_t* rgb) override { write_file(rgb); }
  void write_raw16(const uint16_t* rgb) override { write_file(rgb); }

 private:
  void write_file(const void* rgb) {
    VR_CHECK(!closed_, "PNG folder '", path_, "': write after close");
    char name[32];
    std::snprintf(name, sizeof name, "%06lld.png", static_cast<long long>(frames_written_));
    const std::string final_path = (fs::path(dir_) / name).string();
    tmp_ = (fs::path(dir_) / (std::string(".") + name + ".tmp")).string();
    try {
      write_png_rgb(tmp_, width_, height_, depth_, rgb);
    } catch (...) {
      abort();
      throw;
    }
    std::error_code ec;
    fs::rename(tmp_, final_path, ec);
    if (ec) {
      abort();
      fail("PNG folder '", path_, "': cannot rename to '", final_path, "': ", ec.message());
    }
    tmp_.clear();
  }

  int depth_;
  std::string dir_;
  std::string tmp_;  // the frame file being written, removed by abort()
  bool closed_ = false;
};

}  // namespace

std::unique_ptr<FrameReader> open_png_folder_reader(const std::string& path, const ReaderOptions& options) {
  return std::make_unique<PngFolderReader>(path, options);
}

std::unique_ptr<FrameWriter> open_png_folder_writer(const std::string& path, const WriterOptions& options) {
  return std::make_unique<PngFolderWriter>(path, options);
}

}  // namespace vrestore::io
