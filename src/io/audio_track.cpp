// The audio of a video output: source packets are read in step with the video, shifted so that
// the source's first video frame is time 0, and either copied as they are or decoded, resampled
// and encoded again for a container that does not take the source's codec.
#include "io/audio_track.h"

#include <algorithm>

#include "core/check.h"
#include "io/io_internal.h"

extern "C" {
#include <libavutil/audio_fifo.h>
#include <libswresample/swresample.h>
}

namespace vrestore::io {
namespace {

struct SwrDeleter {
  void operator()(SwrContext* s) const { swr_free(&s); }
};
struct FifoDeleter {
  void operator()(AVAudioFifo* f) const { av_audio_fifo_free(f); }
};

// The encoders tried, in order, when the container does not take the source's codec.
constexpr const char* kTranscodeEncoders[] = {"aac", "libopus", "libvorbis"};

// Reads the source's audio packets in order, each due at (timestamp - offset) seconds.
class AudioTrackBase : public AudioTrack {
 public:
  void write_until(double until_s, const Mux& mux) override {
    if (done_) return;
    AVPacket* p = pending_.get();
    for (;;) {
      if (!has_pending_) {
        const int rc = av_read_frame(input_.get(), p);
        if (rc < 0) {
          if (rc != AVERROR_EOF)
            warn(options_, concat("video '", output_path_, "': audio source '", options_.audio_from, "' read error (",
                                  av_error_text(rc), "); audio ends here"));
          done_ = true;
          source_ended(mux);
          return;
        }
        if (p->stream_index != in_->index) {
          av_packet_unref(p);
          continue;
        }
        has_pending_ = true;
      }
      const int64_t ts = p->pts != AV_NOPTS_VALUE ? p->pts : p->dts;
      if (ts != AV_NOPTS_VALUE && (ts - offset_) * av_q2d(in_->time_base) >= until_s) return;
      if (p->pts != AV_NOPTS_VALUE) p->pts -= offset_;
      if (p->dts != AV_NOPTS_VALUE) p->dts -= offset_;
      has_pending_ = false;
      handle(p, mux);
      av_packet_unref(p);
    }
  }

 protected:
  // `p`: a source packet with time stamps shifted to output time, in the source's time base.
  virtual void handle(AVPacket* p, const Mux& mux) = 0;
  // The source has no more packets.
  virtual void source_ended(const Mux&) {}

  std::string output_path_;
  WriterOptions options_;
  InputContextPtr input_;
  AVStream* in_ = nullptr;
  AVStream* out_ = nullptr;
  int64_t offset_ = 0;  // the source video's start, in `in_` time base
  PacketPtr pending_;   // read but not yet due
  bool has_pending_ = false;
  bool done_ = false;

  friend std::unique_ptr<AudioTrack> AudioTrack::open(AVFormatContext*, const std::string&, const WriterOptions&);
};

class CopiedAudio final : public AudioTrackBase {
 protected:
  void handle(AVPacket* p, const Mux& mux) override {
    av_packet_rescale_ts(p, in_->time_base, out_->time_base);
    p->stream_index = out_->index;
    p->pos = -1;
    mux(p);
  }

 public:
  void flush(const Mux&) override {}
};

// Decode -> resample to the encoder's format, layout and rate -> a FIFO cut into the encoder's
// frame size -> encode. The first sample is placed at its source time (samples before the
// output's time 0 are dropped), later ones follow without gaps.
class TranscodedAudio final : public AudioTrackBase {
 public:
  void setup(const AVCodec* encoder, AVFormatContext* out) {
    const AVCodec* decoder = avcodec_find_decoder(in_->codecpar->codec_id);
    if (!decoder) fail("video '", output_path_, "': no decoder for the ", avcodec_get_name(in_->codecpar->codec_id),
                       " audio of '", options_.audio_from, "'");
    dec_.reset(avcodec_alloc_context3(decoder));
    enc_.reset(avcodec_alloc_context3(encoder));
    VR_CHECK(dec_ && enc_, "video '", output_path_, "': out of memory");
    int rc = avcodec_parameters_to_context(dec_.get(), in_->codecpar);
    dec_->pkt_timebase = in_->time_base;
    if (rc >= 0) rc = avcodec_open2(dec_.get(), decoder, nullptr);
    if (rc < 0) fail("video '", output_path_, "': cannot decode the audio of '", options_.audio_from, "': ",
                     av_error_text(rc));
    if (dec_->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
      av_channel_layout_default(&dec_->ch_layout, dec_->ch_layout.nb_channels);

    AVCodecContext* e = enc_.get();
    e->sample_fmt = encoder->sample_fmts ? encoder->sample_fmts[0] : dec_->sample_fmt;
    e->sample_rate = pick_sample_rate(encoder, dec_->sample_rate);
    // Opus and Vorbis here take at most 2 channels without a mapping family: downmix beyond.
    const int channels = std::min(dec_->ch_layout.nb_channels, encoder->id == AV_CODEC_ID_AAC ? 8 : 2);
    if (channels == dec_->ch_layout.nb_channels) av_channel_layout_copy(&e->ch_layout, &dec_->ch_layout);
    else av_channel_layout_default(&e->ch_layout, channels);
    e->bit_rate = 64000 * std::max(2, channels);
    e->time_base = AVRational{1, e->sample_rate};
    if (out->oformat->flags & AVFMT_GLOBALHEADER) e->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    forget_ffmpeg_message();
    rc = avcodec_open2(e, encoder, nullptr);
    if (rc < 0) fail("video '", output_path_, "': cannot open the ", encoder->name, " audio encoder: ", failure_text(rc));
    rc = avcodec_parameters_from_context(out_->codecpar, e);
    if (rc < 0) fail("video '", output_path_, "': ", av_error_text(rc));
    out_->time_base = e->time_base;

    SwrContext* swr = nullptr;
    rc = swr_alloc_set_opts2(&swr, &e->ch_layout, e->sample_fmt, e->sample_rate, &dec_->ch_layout, dec_->sample_fmt,
                             dec_->sample_rate, 0, nullptr);
    swr_.reset(swr);
    if (rc >= 0) rc = swr_init(swr);
    if (rc < 0) fail("video '", output_path_, "': cannot resample the audio: ", av_error_text(rc));
    fifo_.reset(av_audio_fifo_alloc(e->sample_fmt, e->ch_layout.nb_channels, 4096));
    decoded_.reset(av_frame_alloc());
    converted_.reset(av_frame_alloc());
    packet_.reset(av_packet_alloc());
    VR_CHECK(fifo_ && decoded_ && converted_ && packet_, "video '", output_path_, "': out of memory");
  }

  void flush(const Mux& mux) override {
    if (flushed_) return;
    flushed_ = true;
    if (broken_) return;
    // Also when cut short (an interrupted run): what the decoder was given is still written.
    if (!decoder_drained_) decode(nullptr, mux);
    decoder_drained_ = true;
    resample(nullptr, mux);  // what swresample still holds
    encode_fifo(mux, /*final=*/true);
    send(nullptr, mux);
  }

 protected:
  void handle(AVPacket* p, const Mux& mux) override {
    // Decoder time base: the source stream's.
    decode(p, mux);
  }
  void source_ended(const Mux& mux) override {
    decode(nullptr, mux);
    decoder_drained_ = true;
  }
  // A warning was given and the audio ends where it broke.
  void stop_broken(int rc) {
    warn(options_, concat("video '", output_path_, "': the audio of '", options_.audio_from, "' does not decode (",
                          av_error_text(rc), "); audio ends here"));
    broken_ = done_ = true;
  }

 private:
  static int pick_sample_rate(const AVCodec* encoder, int source_rate) {
    if (!encoder->supported_samplerates) return source_rate;
    int best = 0;
    for (const int* r = encoder->supported_samplerates; *r; ++r) {
      if (*r == source_rate) return source_rate;
      // The smallest rate above the source's, else the largest below.
      if (best == 0 || (*r > source_rate && (best < source_rate || *r < best)) ||
          (best < source_rate && *r > best))
        best = *r;
    }
    return best > 0 ? best : source_rate;
  }

  // A packet the decoder finds damaged is skipped, as FFmpeg's own tools do (Megamind.avi's first
  // AC-3 packet is one). Once the audio has begun, the packet's duration is filled with silence,
  // through the resampler like decoded audio, so that what follows stays in sync with the video.
  void skip_damaged(const AVPacket* p, const Mux& mux) {
    if (damaged_packets_++ == 0)
      warn(options_, concat("video '", output_path_, "': the audio of '", options_.audio_from, "' has a damaged ",
                            "packet at ", p->pts == AV_NOPTS_VALUE ? 0.0 : p->pts * av_q2d(in_->time_base),
                            " s of the video's time; it is skipped (and any later one)"));
    if (!started_ || p->duration <= 0) return;
    const int64_t samples = av_rescale_q(p->duration, in_->time_base, AVRational{1, dec_->sample_rate});
    if (samples <= 0 || samples > dec_->sample_rate) return;  // no sane duration: leave the gap
    AVFrame* silence = decoded_.get();
    av_frame_unref(silence);
    silence->nb_samples = static_cast<int>(samples);
    silence->format = dec_->sample_fmt;
    silence->sample_rate = dec_->sample_rate;
    int rc = av_channel_layout_copy(&silence->ch_layout, &dec_->ch_layout);
    if (rc >= 0) rc = av_frame_get_buffer(silence, 0);
    if (rc < 0) fail("video '", output_path_, "': out of memory filling a damaged audio packet");
    av_samples_set_silence(silence->extended_data, 0, silence->nb_samples, dec_->ch_layout.nb_channels,
                           dec_->sample_fmt);
    resample(silence, mux);
    av_frame_unref(silence);
  }

  void decode(const AVPacket* p, const Mux& mux) {
    if (broken_) return;
    int rc = avcodec_send_packet(dec_.get(), p);
    if (rc == AVERROR_INVALIDDATA && p) return skip_damaged(p, mux);
    if (rc < 0 && rc != AVERROR_EOF) return stop_broken(rc);
    for (;;) {
      rc = avcodec_receive_frame(dec_.get(), decoded_.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      if (rc < 0) return stop_broken(rc);
      if (!started_) {
        started_ = true;
        const int64_t ts = decoded_->best_effort_timestamp;
        // Where the first sample belongs in output time; negative: that many samples come before
        // the video's first frame and are dropped.
        skip_samples_ = ts == AV_NOPTS_VALUE ? 0
                                             : -av_rescale_q(ts, in_->time_base, AVRational{1, enc_->sample_rate});
        next_pts_ = std::max<int64_t>(0, -skip_samples_);
        skip_samples_ = std::max<int64_t>(0, skip_samples_);
      }
      resample(decoded_.get(), mux);
      av_frame_unref(decoded_.get());
    }
  }

  void resample(const AVFrame* in, const Mux& mux) {
    const int max_out = swr_get_out_samples(swr_.get(), in ? in->nb_samples : 0);
    if (max_out <= 0) return;
    uint8_t** planes = nullptr;
    int rc = av_samples_alloc_array_and_samples(&planes, nullptr, enc_->ch_layout.nb_channels, max_out,
                                                enc_->sample_fmt, 0);
    if (rc < 0) fail("video '", output_path_, "': out of memory resampling the audio");
    const int got = swr_convert(swr_.get(), planes, max_out, in ? const_cast<const uint8_t**>(in->extended_data) : nullptr,
                                in ? in->nb_samples : 0);
    if (got > 0) av_audio_fifo_write(fifo_.get(), reinterpret_cast<void**>(planes), got);
    av_freep(&planes[0]);
    av_freep(&planes);
    if (got < 0) fail("video '", output_path_, "': resampling the audio failed: ", av_error_text(got));
    if (skip_samples_ > 0) {
      const int drop = static_cast<int>(std::min<int64_t>(skip_samples_, av_audio_fifo_size(fifo_.get())));
      av_audio_fifo_drain(fifo_.get(), drop);
      skip_samples_ -= drop;
    }
    encode_fifo(mux, /*final=*/false);
  }

  // Encodes whole encoder frames from the FIFO (and, when final, the rest as a short last frame).
  void encode_fifo(const Mux& mux, bool final) {
    const bool any_size = (enc_->codec->capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE) || enc_->frame_size <= 0;
    const int frame_size = any_size ? 1024 : enc_->frame_size;
    while (av_audio_fifo_size(fifo_.get()) >= frame_size || (final && av_audio_fifo_size(fifo_.get()) > 0)) {
      const int n = std::min(frame_size, av_audio_fifo_size(fifo_.get()));
      AVFrame* f = converted_.get();
      av_frame_unref(f);
      f->nb_samples = n;
      f->format = enc_->sample_fmt;
      f->sample_rate = enc_->sample_rate;
      int rc = av_channel_layout_copy(&f->ch_layout, &enc_->ch_layout);
      if (rc >= 0) rc = av_frame_get_buffer(f, 0);
      if (rc < 0) fail("video '", output_path_, "': out of memory encoding the audio");
      av_audio_fifo_read(fifo_.get(), reinterpret_cast<void**>(f->data), n);
      f->pts = next_pts_;
      next_pts_ += n;
      send(f, mux);
    }
  }

  void send(const AVFrame* f, const Mux& mux) {
    int rc = avcodec_send_frame(enc_.get(), f);
    if (rc < 0 && rc != AVERROR_EOF)
      fail("video '", output_path_, "': encoding the audio failed: ", av_error_text(rc));
    for (;;) {
      rc = avcodec_receive_packet(enc_.get(), packet_.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      if (rc < 0) fail("video '", output_path_, "': encoding the audio failed: ", av_error_text(rc));
      av_packet_rescale_ts(packet_.get(), enc_->time_base, out_->time_base);
      packet_->stream_index = out_->index;
      mux(packet_.get());
    }
  }

  CodecContextPtr dec_, enc_;
  std::unique_ptr<SwrContext, SwrDeleter> swr_;
  std::unique_ptr<AVAudioFifo, FifoDeleter> fifo_;
  FramePtr decoded_, converted_;
  PacketPtr packet_;
  bool started_ = false, flushed_ = false, decoder_drained_ = false, broken_ = false;
  int64_t next_pts_ = 0;      // of the next encoded sample, in 1 / sample_rate
  int64_t skip_samples_ = 0;  // resampled samples still to drop (before the video's start)
  int64_t damaged_packets_ = 0;
};

// The first encoder of kTranscodeEncoders that exists and that `format` takes.
const AVCodec* transcode_encoder(const AVOutputFormat* format) {
  for (const char* name : kTranscodeEncoders) {
    const AVCodec* c = avcodec_find_encoder_by_name(name);
    if (c && container_takes(format, c->id) == 1) return c;
  }
  return nullptr;
}

}  // namespace

std::unique_ptr<AudioTrack> AudioTrack::open(AVFormatContext* out, const std::string& output_path,
                                             const WriterOptions& options) {
  const std::string& source = options.audio_from;
  InputContextPtr input = open_input("audio source", source);
  const int index = av_find_best_stream(input.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  if (index < 0) return nullptr;  // no audio: nothing to keep
  AVStream* in = input->streams[index];
  const AVCodecID id = in->codecpar->codec_id;
  const AVOutputFormat* format = out->oformat;

  std::unique_ptr<AudioTrackBase> track;
  const AVCodec* encoder = nullptr;
  if (container_takes(format, id) == 1) {
    track = std::make_unique<CopiedAudio>();
  } else if ((encoder = transcode_encoder(format)) != nullptr) {
    track = std::make_unique<TranscodedAudio>();
  } else {
    warn(options, concat("video '", output_path, "': container '", format->name, "' does not take the ",
                         avcodec_get_name(id), " audio of '", source, "', nor any of AAC, Opus and Vorbis; audio dropped"));
    return nullptr;
  }
  for (unsigned i = 0; i < input->nb_streams; ++i)
    if (static_cast<int>(i) != index) input->streams[i]->discard = AVDISCARD_ALL;
  // Time 0 of the output is the source's first video frame (what the reader delivers first).
  const int video_index = av_find_best_stream(input.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (video_index >= 0 && input->streams[video_index]->start_time != AV_NOPTS_VALUE) {
    const AVStream* v = input->streams[video_index];
    track->offset_ = av_rescale_q(v->start_time, v->time_base, in->time_base);
  } else if (input->start_time != AV_NOPTS_VALUE) {
    track->offset_ = av_rescale_q(input->start_time, AVRational{1, AV_TIME_BASE}, in->time_base);
  }
  track->output_path_ = output_path;
  track->options_ = options;
  track->in_ = in;
  track->input_ = std::move(input);
  track->out_ = avformat_new_stream(out, nullptr);
  track->pending_.reset(av_packet_alloc());
  VR_CHECK(track->out_ && track->pending_, "video '", output_path, "': out of memory");
  if (encoder) {
    static_cast<TranscodedAudio*>(track.get())->setup(encoder, out);
    warn(options, concat("video '", output_path, "': container '", format->name, "' does not take the ",
                         avcodec_get_name(id), " audio of '", source, "'; audio re-encoded as ", encoder->name));
  } else {
    const int rc = avcodec_parameters_copy(track->out_->codecpar, in->codecpar);
    if (rc < 0) fail("video '", output_path, "': cannot copy the audio parameters: ", av_error_text(rc));
    track->out_->codecpar->codec_tag = 0;  // the source container's tag may mean nothing in ours
    track->out_->time_base = in->time_base;
  }
  return track;
}

}  // namespace vrestore::io
