// A video file as a FrameWriter: libswscale converts packed RGB to the encoder's pixel format,
// libavcodec encodes, libavformat muxes into a temporary file (renamed into place when complete)
// with the audio of `audio_from` alongside (rules in media_io.h).
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <system_error>

#include "core/check.h"
#include "io/audio_track.h"
#include "io/ffmpeg_util.h"
#include "io/io_internal.h"
#include "io/pixel_format_choice.h"

extern "C" {
#include <libavutil/avstring.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

namespace fs = std::filesystem;

namespace vrestore::io {
namespace {

bool encoder_has_option(const AVCodec* encoder, const char* name) {
  if (!encoder->priv_class) return false;
  const AVClass* cls = encoder->priv_class;
  return av_opt_find2(&cls, name, nullptr, 0, AV_OPT_SEARCH_FAKE_OBJ, nullptr) != nullptr;
}

// Containers whose muxer stores a display matrix (the track header's matrix).
bool stores_display_matrix(const AVOutputFormat* format) {
  return av_match_name(format->name, "mov,mp4,ismv,ipod,3gp,3g2,psp,f4v") != 0;
}

bool is_identity(const DisplayMatrix& m) {
  static const int32_t kIdentity[9] = {1 << 16, 0, 0, 0, 1 << 16, 0, 0, 0, 1 << 30};
  return m.size() == 9 && std::equal(m.begin(), m.end(), kIdentity);
}

// "dir/.name.<pid>.partial.ext": hidden, unique per process, same folder (so rename is atomic).
std::string temporary_path(const std::string& path) {
  const fs::path p(path);
  std::string name = ".";
  name.append(p.stem().string()).append(".").append(std::to_string(::getpid()));
  name.append(".partial").append(p.extension().string());
  return (p.parent_path() / name).string();
}

class VideoWriter final : public FrameWriter {
 public:
  VideoWriter(const std::string& path, const WriterOptions& options) : options_(options) {
    path_ = path;
    width_ = options.width;
    height_ = options.height;
    try {
      open();
    } catch (...) {
      abort();
      throw;
    }
  }

  ~VideoWriter() override {
    if (!closed_) abort();
  }

  std::string temp_path() const override { return tmp_; }

  void close() override { finish(std::numeric_limits<double>::infinity()); }

  void finish_partial() override {
    if (frames_written_ == 0) {
      abort();
      fail("video '", path_, "': no frame was written, so no playable file; nothing was left on disk");
    }
    finish(end_of_last_frame_s_);
  }

  void abort() noexcept override {
    audio_.reset();
    if (out_) {
      if (out_->pb) avio_closep(&out_->pb);
      avformat_free_context(out_);
      out_ = nullptr;
    }
    if (!tmp_.empty()) {
      std::error_code ec;
      fs::remove(tmp_, ec);
      tmp_.clear();
    }
    closed_ = true;
  }

 protected:
  int preferred_depth() const override { return depth_; }
  void write_raw8(const uint8_t* rgb) override { encode_rgb(rgb, AV_PIX_FMT_RGB24, width_ * 3); }
  void write_raw16(const uint16_t* rgb) override {
    encode_rgb(reinterpret_cast<const uint8_t*>(rgb), AV_PIX_FMT_RGB48, width_ * 6);
  }

 private:
  void open() {
    quiet_ffmpeg_log();
    if (options_.quiet) silence_ffmpeg_log();
    check_writable_folder("video", path_, parent_folder(path_));
    const AVOutputFormat* format = av_guess_format(nullptr, path_.c_str(), nullptr);
    if (!format)
      fail("video '", path_, "': cannot tell the container from the name; use an extension such as .mp4, .mkv, "
           ".avi or .mov, or end the path with '/' for a PNG folder");
    if ((format->flags & AVFMT_NOFILE) || format->video_codec == AV_CODEC_ID_NONE)
      fail("video '", path_, "': '", format->name, "' is not a video container; a PNG-folder output is a folder "
           "(end the path with '/')");
    VR_CHECK(options_.frame_rate.num > 0 && options_.frame_rate.den > 0, "video '", path_, "': frame rate ",
             options_.frame_rate.num, "/", options_.frame_rate.den, " is not positive");

    const std::string codec_name = options_.codec.empty() ? default_video_codec(path_) : options_.codec;
    if (codec_name.empty())
      fail("video '", path_, "': this FFmpeg build has no encoder for container '", format->name,
           "' by default (its codec: ", avcodec_get_name(format->video_codec), "); choose one that it takes with "
           "--codec NAME (`ffmpeg -encoders` lists them)");
    const AVCodec* encoder = avcodec_find_encoder_by_name(codec_name.c_str());
    if (!encoder || encoder->type != AVMEDIA_TYPE_VIDEO)
      fail("video '", path_, "': no video encoder '", codec_name, "' in this FFmpeg build");
    if (container_takes(format, encoder->id) == 0)
      fail("video '", path_, "': container '", format->name, "' does not accept codec '", codec_name, "'");

    const AVPixelFormat pix =
        choose_pixel_format(encoder, options_.pixel_format, width_, height_, options_.png_bit_depth, path_);
    const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(pix);
    int depth = 0;
    for (int c = 0; c < desc->nb_components; ++c) depth = std::max(depth, desc->comp[c].depth);
    depth_ = depth > 8 ? 16 : 8;
    const bool yuv = !(desc->flags & AV_PIX_FMT_FLAG_RGB) && desc->nb_components >= 3;

    tmp_ = temporary_path(path_);
    int rc = avformat_alloc_output_context2(&out_, format, nullptr, tmp_.c_str());
    if (rc < 0) fail("video '", path_, "': cannot create the muxer: ", av_error_text(rc));
    video_ = avformat_new_stream(out_, nullptr);
    codec_.reset(avcodec_alloc_context3(encoder));
    VR_CHECK(video_ && codec_, "video '", path_, "': out of memory");
    const AVRational rate{options_.frame_rate.num, options_.frame_rate.den};
    AVCodecContext* c = codec_.get();
    c->width = width_;
    c->height = height_;
    c->pix_fmt = pix;
    c->time_base = encoder_time_base(encoder, rate);
    frame_ticks_ = std::max<int64_t>(1, av_rescale_q(1, av_inv_q(rate), c->time_base));
    c->framerate = rate;
    const Rational sar = options_.sample_aspect_ratio;
    c->sample_aspect_ratio = sar.num > 0 && sar.den > 0 ? AVRational{sar.num, sar.den} : AVRational{1, 1};
    if (yuv) {
      // The matrix players assume for untagged video of this height (BT.709 from 720 lines up,
      // else BT.601), and tagged as such: MPEG-4 part 2 in AVI, for one, loses the tag, and the
      // colours must still come back right. Our RGB is sRGB (BT.709 primaries).
      c->colorspace = height_ >= 720 ? AVCOL_SPC_BT709 : AVCOL_SPC_SMPTE170M;
      c->color_primaries = AVCOL_PRI_BT709;
      c->color_trc = AVCOL_TRC_IEC61966_2_1;
      c->color_range = AVCOL_RANGE_MPEG;
    }
    if (out_->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;

    AVDictionary* opts = encoder_options(encoder, codec_name);
    forget_ffmpeg_message();
    rc = avcodec_open2(c, encoder, &opts);
    av_dict_free(&opts);
    if (rc < 0) fail("video '", path_, "': cannot open the ", codec_name, " encoder: ", failure_text(rc));
    rc = avcodec_parameters_from_context(video_->codecpar, c);
    if (rc < 0) fail("video '", path_, "': ", av_error_text(rc));
    video_->time_base = c->time_base;
    video_->sample_aspect_ratio = c->sample_aspect_ratio;
    video_->avg_frame_rate = rate;
    video_->r_frame_rate = rate;
    add_display_matrix(format);

    if (!options_.audio_from.empty()) audio_ = AudioTrack::open(out_, path_, options_);

    rc = avio_open(&out_->pb, tmp_.c_str(), AVIO_FLAG_WRITE);
    if (rc < 0) fail("video '", path_, "': cannot create '", tmp_, "': ", av_error_text(rc));
    forget_ffmpeg_message();
    rc = avformat_write_header(out_, nullptr);
    if (rc < 0) fail("video '", path_, "': cannot write the header: ", failure_text(rc));

    frame_.reset(av_frame_alloc());
    packet_.reset(av_packet_alloc());
    VR_CHECK(frame_ && packet_, "video '", path_, "': out of memory");
    frame_->format = pix;
    frame_->width = width_;
    frame_->height = height_;
    rc = av_frame_get_buffer(frame_.get(), 0);
    if (rc < 0) fail("video '", path_, "': cannot allocate a frame: ", av_error_text(rc));
  }

  // Constant rate: one tick per frame. Given timestamps: their time base, unless the encoder
  // cannot take it (MPEG-4 part 2 allows denominators up to 65535; such timestamps are rounded
  // to the nearest tick of 1/65535 s).
  AVRational encoder_time_base(const AVCodec* encoder, AVRational rate) {
    if (options_.time_base.num <= 0 || options_.time_base.den <= 0) return av_inv_q(rate);
    timestamps_tb_ = AVRational{options_.time_base.num, options_.time_base.den};
    timed_ = true;
    AVRational tb = timestamps_tb_;
    av_reduce(&tb.num, &tb.den, tb.num, tb.den, std::numeric_limits<int>::max());
    if (encoder->id == AV_CODEC_ID_MPEG4 && tb.den > 65535) tb = AVRational{1, 65535};
    return tb;
  }

  AVDictionary* encoder_options(const AVCodec* encoder, const std::string& codec_name) {
    AVDictionary* opts = nullptr;
    AVCodecContext* c = codec_.get();
    if (encoder_has_option(encoder, "crf")) {
      c->bit_rate = 0;  // libvpx: crf with a bit rate would be "constrained quality"
      av_dict_set_int(&opts, "crf", options_.crf < 0 ? 18 : options_.crf, 0);
    } else if (options_.crf >= 0) {
      fail("video '", path_, "': encoder '", codec_name, "' has no CRF option; leave crf unset (it then uses a "
           "fixed quantiser)");
    } else if (!(avcodec_descriptor_get(encoder->id)->props & AV_CODEC_PROP_LOSSY)) {
      // Lossless-only codecs (ffv1, png, gif) need no quality setting.
    } else {
      // mpeg4 and friends: fixed quantiser 3 (2..31, lower is better), visually close to x264 CRF 18.
      c->flags |= AV_CODEC_FLAG_QSCALE;
      c->global_quality = FF_QP2LAMBDA * 3;
    }
    if (encoder_has_option(encoder, "preset") && !options_.preset.empty())
      av_dict_set(&opts, "preset", options_.preset.c_str(), 0);
    // libvpx's default (cpu-used 1, one thread per row off) is an order of magnitude slower than
    // libx264's medium preset; 4 with row threading is its usual speed/quality balance.
    if (encoder_has_option(encoder, "cpu-used")) av_dict_set_int(&opts, "cpu-used", 4, 0);
    if (encoder_has_option(encoder, "row-mt")) av_dict_set_int(&opts, "row-mt", 1, 0);
    // libx265 logs through its own channel, not av_log: only errors, none with quiet.
    if (encoder_has_option(encoder, "x265-params"))
      av_dict_set(&opts, "x265-params", options_.quiet ? "log-level=none" : "log-level=error", 0);
    return opts;
  }

  void add_display_matrix(const AVOutputFormat* format) {
    const DisplayMatrix& m = options_.display_matrix;
    if (m.empty() || is_identity(m)) return;
    VR_CHECK(m.size() == 9, "video '", path_, "': a display matrix has 9 values, got ", m.size());
    if (!stores_display_matrix(format)) {
      warn(options_, concat("video '", path_, "': container '", format->name, "' stores no rotation; the display "
                            "matrix of the input is dropped (use .mp4 or .mov to keep it)"));
      return;
    }
    uint8_t* side = av_stream_new_side_data(video_, AV_PKT_DATA_DISPLAYMATRIX, 9 * sizeof(int32_t));
    VR_CHECK(side, "video '", path_, "': out of memory");
    std::memcpy(side, m.data(), 9 * sizeof(int32_t));
  }

  void encode_rgb(const uint8_t* rgb, AVPixelFormat src, int stride) {
    VR_CHECK(!closed_, "video '", path_, "': write after close");
    int64_t given = 0;
    const bool has_given = take_timestamp(given);
    try {
      SwsContext* previous = sws_.get();
      sws_.reset(sws_getCachedContext(sws_.release(), width_, height_, src, width_, height_, codec_->pix_fmt,
                                      SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INP, nullptr, nullptr,
                                      nullptr));
      if (!sws_) fail("video '", path_, "': cannot convert RGB to ", av_get_pix_fmt_name(codec_->pix_fmt));
      if (sws_.get() != previous && codec_->colorspace != AVCOL_SPC_UNSPECIFIED)
        sws_setColorspaceDetails(sws_.get(), sws_getCoefficients(SWS_CS_DEFAULT), 1,
                                 yuv_coefficients(codec_->colorspace, height_), 0, 0, 1 << 16, 1 << 16);
      // The encoder may still hold the previous frame's buffer.
      int rc = av_frame_make_writable(frame_.get());
      if (rc < 0) fail("video '", path_, "': ", av_error_text(rc));
      const uint8_t* in[4] = {rgb, nullptr, nullptr, nullptr};
      const int in_stride[4] = {stride, 0, 0, 0};
      sws_scale(sws_.get(), in, in_stride, 0, height_, frame_->data, frame_->linesize);
      frame_->pts = next_pts(has_given, given);
      rc = avcodec_send_frame(codec_.get(), frame_.get());
      if (rc < 0) fail("video '", path_, "': encoding frame ", frames_written_, " failed: ", av_error_text(rc));
      drain_packets();
      end_of_last_frame_s_ = static_cast<double>(frame_->pts + frame_ticks_) * av_q2d(codec_->time_base);
      if (audio_) audio_->write_until(end_of_last_frame_s_, mux_fn());
    } catch (...) {
      abort();
      throw;
    }
  }

  // The encoder pts of the frame being written: the given timestamp (timed mode) in the
  // encoder's time base, else one frame interval after the previous frame.
  int64_t next_pts(bool has_given, int64_t given) {
    int64_t pts = last_pts_ == AV_NOPTS_VALUE ? 0 : last_pts_ + frame_ticks_;
    if (timed_ && has_given) {
      if (last_given_ != AV_NOPTS_VALUE && given <= last_given_)
        fail("video '", path_, "': frame ", frames_written_, " has timestamp ", given, ", not after the previous ",
             last_given_);
      last_given_ = given;
      pts = av_rescale_q(given, timestamps_tb_, codec_->time_base);
      // Rounding into a coarser encoder time base must not make two frames collide.
      if (last_pts_ != AV_NOPTS_VALUE && pts <= last_pts_) pts = last_pts_ + 1;
    }
    last_pts_ = pts;
    return pts;
  }

  AudioTrack::Mux mux_fn() {
    return [this](AVPacket* p) { mux(p); };
  }

  void drain_packets() {
    for (;;) {
      const int rc = avcodec_receive_packet(codec_.get(), packet_.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      if (rc < 0) fail("video '", path_, "': encoder failed: ", av_error_text(rc));
      av_packet_rescale_ts(packet_.get(), codec_->time_base, video_->time_base);
      packet_->stream_index = video_->index;
      mux(packet_.get());
    }
  }

  void mux(AVPacket* packet) {
    const int rc = av_interleaved_write_frame(out_, packet);  // takes the packet's reference
    if (rc < 0) fail("video '", path_, "': writing '", tmp_, "' failed: ", av_error_text(rc));
  }

  // Flushes the encoder, writes audio up to `audio_until_s`, writes the trailer and renames the
  // temporary file over the output.
  void finish(double audio_until_s) {
    VR_CHECK(!closed_, "video '", path_, "': already closed");
    try {
      int rc = avcodec_send_frame(codec_.get(), nullptr);
      if (rc < 0) fail("video '", path_, "': flushing the encoder failed: ", av_error_text(rc));
      drain_packets();
      if (audio_) {
        audio_->write_until(audio_until_s, mux_fn());
        audio_->flush(mux_fn());
      }
      rc = av_write_trailer(out_);
      if (rc < 0) fail("video '", path_, "': writing the trailer failed: ", av_error_text(rc));
      rc = avio_closep(&out_->pb);
      if (rc < 0) fail("video '", path_, "': closing '", tmp_, "' failed: ", av_error_text(rc));
      std::error_code ec;
      fs::rename(tmp_, path_, ec);
      if (ec) fail("video '", path_, "': cannot move '", tmp_, "' into place: ", ec.message());
      tmp_.clear();
    } catch (...) {
      abort();
      throw;
    }
    abort();  // frees the contexts; the file is already renamed, so nothing is removed
  }

  WriterOptions options_;
  int depth_ = 8;
  std::string tmp_;  // the file being written; removed by abort() until renamed
  AVFormatContext* out_ = nullptr;
  AVStream* video_ = nullptr;
  CodecContextPtr codec_;
  FramePtr frame_;
  PacketPtr packet_;
  SwsPtr sws_;
  std::unique_ptr<AudioTrack> audio_;
  bool timed_ = false;                      // frames carry timestamps (options_.time_base set)
  AVRational timestamps_tb_{1, 1};          // their time base
  int64_t frame_ticks_ = 1;                 // one frame interval in the encoder's time base
  int64_t last_pts_ = AV_NOPTS_VALUE;       // encoder time base
  int64_t last_given_ = AV_NOPTS_VALUE;     // timestamps_tb_
  double end_of_last_frame_s_ = 0;          // output time where the last written frame ends
  bool closed_ = false;
};

}  // namespace

namespace {

// The first encoder of `id` that is neither a hardware wrapper (VAAPI, QSV: need a device) nor
// experimental.
const AVCodec* software_encoder(AVCodecID id) {
  void* it = nullptr;
  while (const AVCodec* c = av_codec_iterate(&it))
    if (av_codec_is_encoder(c) && c->id == id &&
        !(c->capabilities & (AV_CODEC_CAP_HARDWARE | AV_CODEC_CAP_EXPERIMENTAL)))
      return c;
  return nullptr;
}

}  // namespace

std::string default_video_codec(const std::string& path) {
  const AVOutputFormat* format = av_guess_format(nullptr, path.c_str(), nullptr);
  if (!format) return "";
  // 1: the container says it takes the codec; < 0: it keeps no list (then only its own default
  // is trusted).
  auto takes = [format](const AVCodec* c, bool own_default) {
    if (!c) return false;
    const int rc = container_takes(format, c->id);
    return rc == 1 || (own_default && rc < 0);
  };
  if (const AVCodec* x264 = avcodec_find_encoder_by_name("libx264"); takes(x264, false)) return x264->name;
  if (format->video_codec != AV_CODEC_ID_NONE)
    if (const AVCodec* own = software_encoder(format->video_codec); takes(own, true)) return own->name;
  if (const AVCodec* mpeg4 = avcodec_find_encoder_by_name("mpeg4"); takes(mpeg4, false)) return mpeg4->name;
  return "";
}

std::unique_ptr<FrameWriter> open_video_writer(const std::string& path, const WriterOptions& options) {
  return std::make_unique<VideoWriter>(path, options);
}

}  // namespace vrestore::io
