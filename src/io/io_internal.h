// Internal to vrestore_io: the concrete readers/writers behind open_reader / open_writer, and the
// path helpers they share.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "io/media_io.h"

namespace vrestore::io {

std::unique_ptr<FrameReader> open_video_reader(const std::string& path);
std::unique_ptr<FrameReader> open_png_folder_reader(const std::string& path, const ReaderOptions& options);
std::unique_ptr<FrameWriter> open_video_writer(const std::string& path, const WriterOptions& options);
std::unique_ptr<FrameWriter> open_png_folder_writer(const std::string& path, const WriterOptions& options);

// True when a's name sorts before b's with digit runs compared as numbers ("f2" < "f10").
bool natural_less(const std::string& a, const std::string& b);

// Throws "<what> 'path': folder 'dir' does not exist / is not a folder / is not writable" unless
// `dir` is an existing folder we can create files in (checked by creating and removing a probe).
void check_writable_folder(const std::string& what, const std::string& path, const std::string& dir);

// The folder a file path lives in ("." for a bare name).
std::string parent_folder(const std::string& path);

// Default warning sink: "vrestore: warning: <message>" on stderr.
void warn(const WriterOptions& options, const std::string& message);

}  // namespace vrestore::io
