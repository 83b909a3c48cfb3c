#include "cli/streaming_source.h"

#include <algorithm>
#include <vector>

#include "core/check.h"

namespace vrestore::cli {

StreamingSource::StreamingSource(std::string path, io::ReaderOptions options, int64_t num_frames, int64_t capacity)
    : path_(std::move(path)), options_(options), num_frames_(num_frames), capacity_(std::max<int64_t>(capacity, 1)) {}

void StreamingSource::open() {
  reader_ = io::open_reader(path_, options_);
  ring_.clear();
  ring_begin_ = 0;
  ++opens_;
}

void StreamingSource::ended_early() const {
  fail("input '", path_, "': ends at frame ", reader_->frames_read(), ", but ", num_frames_,
       " frames were counted before (did it change while being read?)");
}

Tensor StreamingSource::decode_next() {
  Tensor frame;
  if (!reader_->read(frame)) ended_early();
  return frame;
}

Tensor StreamingSource::frame(int64_t index) {
  VR_CHECK(index >= 0 && index < num_frames_, "input '", path_, "': frame ", index, " requested of ", num_frames_);
  if (!reader_ || index < ring_begin_) open();
  const int64_t ring_end = ring_begin_ + static_cast<int64_t>(ring_.size());
  if (index < ring_end) return ring_[static_cast<size_t>(index - ring_begin_)];
  // Frames between the ring and `index` are decoded; only the last `capacity` of them are kept.
  for (int64_t next = ring_end; next <= index; ++next) {
    if (index - next >= capacity_) {  // would leave the ring before it is asked for: skip it
      if (!reader_->read_rgb8(skipped_)) ended_early();
      ring_.clear();
      ring_begin_ = next + 1;
      continue;
    }
    ring_.push_back(decode_next());
    if (static_cast<int64_t>(ring_.size()) > capacity_) {
      ring_.pop_front();
      ++ring_begin_;
    }
    peak_held_ = std::max(peak_held_, static_cast<int64_t>(ring_.size()));
  }
  return ring_.back();
}

FrameSource StreamingSource::source() {
  return FrameSource{num_frames_, [this](int64_t i) { return frame(i); }};
}

int64_t count_frames(io::FrameReader& reader, const std::function<bool()>& should_stop,
                     std::vector<int64_t>* timestamps) {
  if (reader.num_frames_exact()) return reader.num_frames();
  std::vector<uint8_t> scratch;
  while (reader.read_rgb8(scratch)) {
    if (timestamps) timestamps->push_back(reader.timestamp());
    if (should_stop && should_stop()) fail("cancelled while counting the frames of '", reader.path(), "'");
  }
  return reader.frames_read();
}

}  // namespace vrestore::cli
