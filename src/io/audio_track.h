// Internal to vrestore_io: the audio of a video output, taken from a source media file's best
// audio stream (WriterOptions::audio_from has the rules): stream-copied when the output container
// takes its codec, else transcoded to AAC, Opus or Vorbis, else dropped with a warning.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "io/ffmpeg_util.h"
#include "io/media_io.h"

namespace vrestore::io {

class AudioTrack {
 public:
  // Hands a finished packet (output stream index and time base set) to the muxer.
  using Mux = std::function<void(AVPacket*)>;

  // Adds the output stream to `out` (before its header is written). nullptr when the source has
  // no audio stream or the audio is dropped (warned through options.on_warning). Throws when the
  // source cannot be opened.
  static std::unique_ptr<AudioTrack> open(AVFormatContext* out, const std::string& output_path,
                                          const WriterOptions& options);
  virtual ~AudioTrack() = default;

  // Muxes the source audio that starts before `until_s` seconds of output time (the output's
  // time 0 is the source's first video frame). A read error of the source ends the audio there,
  // with a warning.
  virtual void write_until(double until_s, const Mux& mux) = 0;
  // At the end of the output: writes what the encoder still holds (transcoding only).
  virtual void flush(const Mux& mux) = 0;
};

}  // namespace vrestore::io
