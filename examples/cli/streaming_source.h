// A vrestore::FrameSource that decodes a video file or PNG folder on demand, so that a clip
// streams through restore() without ever being held whole in memory.
//
// restore() asks for each frame a bounded number of times and mostly in order, but not strictly:
// EDVR revisits the frames of its window near the clip's ends, and BasicVSR's backward branch
// walks each chunk (plus its look-ahead) from its end back to its start. The most recent
// `capacity` decoded frames are therefore kept in a ring; a frame behind the ring is reached by
// reopening the input and decoding forward again (counted in reopens()), never by failing.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <functional>
#include <string>
#include <vector>

#include "io/media_io.h"
#include "vrestore/vrestore.h"

namespace vrestore::cli {

class StreamingSource {
 public:
  // `num_frames`: the input's frame count, counted before (count_frames); `capacity` >= 1.
  StreamingSource(std::string path, io::ReaderOptions options, int64_t num_frames, int64_t capacity);

  // Frame i as (3, H, W) float in [0, 1]. Throws when the input now ends before frame i.
  Tensor frame(int64_t index);
  // The FrameSource for Model::restore; `this` must outlive the restoration.
  FrameSource source();

  int64_t num_frames() const { return num_frames_; }
  // How many times the input was opened again to reach a frame behind the ring.
  int64_t reopens() const { return opens_ > 0 ? opens_ - 1 : 0; }
  // Largest number of frames held at once (at most capacity).
  int64_t peak_held() const { return peak_held_; }

 private:
  void open();
  Tensor decode_next();
  [[noreturn]] void ended_early() const;

  std::string path_;
  io::ReaderOptions options_;
  int64_t num_frames_, capacity_;
  std::unique_ptr<io::FrameReader> reader_;
  std::deque<Tensor> ring_;   // frames [ring_begin_, ring_begin_ + ring_.size()), in order
  std::vector<uint8_t> skipped_;  // scratch for frames decoded only to get past them
  int64_t ring_begin_ = 0;
  int64_t opens_ = 0, peak_held_ = 0;
};

// The exact number of frames of a video file or PNG folder. A PNG folder knows it; a video is
// decoded once to the end (container headers may state no count or a wrong one), which also
// finds a truncated or damaged stream before any restoration work. `should_stop` is polled per
// frame: when it returns true, counting throws "cancelled". `timestamps`, when given, receives each
// frame's FrameReader::timestamp() (a video's; left empty for a PNG folder, which is not decoded):
// 8 bytes a frame.
int64_t count_frames(io::FrameReader& reader, const std::function<bool()>& should_stop,
                     std::vector<int64_t>* timestamps = nullptr);

}  // namespace vrestore::cli
