// A video file as a FrameWriter: libswscale converts packed RGB to the encoder's pixel format,
// libavcodec encodes, libavformat muxes into a temporary file (renamed into place when complete)
// with the audio of `audio_from` stream-copied alongside (rules in media_io.h).
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <system_error>

#include "core/check.h"
#include "io/ffmpeg_util.h"
#include "io/io_internal.h"

extern "C" {
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

std::string supported_pixel_formats(const AVCodec* encoder) {
  std::string list;
  for (const AVPixelFormat* p = encoder->pix_fmts; p && *p != AV_PIX_FMT_NONE; ++p)
    list += (list.empty() ? "" : ", ") + std::string(av_get_pix_fmt_name(*p));
  return list;
}

// "dir/.name.<pid>.partial.ext": hidden, unique per process, same folder (so rename is atomic).
std::string temporary_path(const std::string& path) {
  const fs::path p(path);
  std::string name = ".";
  name.append(p.stem().string()).append(".").append(std::to_string(::getpid()));
  name.append(".partial").append(p.extension().string());
  return (p.parent_path() / name).string();
}

// Audio packets are copied as they are, in step with the video; time stamps move from the
// source's time base and start (the video's first frame is time 0 in the output) to the output's.
struct AudioCopy {
  InputContextPtr input;
  AVStream* in = nullptr;
  AVStream* out = nullptr;
  int64_t offset = 0;  // the source video's start, in `in` time base
  PacketPtr pending;   // read but not yet due
  bool has_pending = false;
  bool done = false;
};

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
    finish(static_cast<double>(frames_written_) / options_.frame_rate.value());
  }

  void abort() noexcept override {
    audio_.input.reset();
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

    const std::string codec_name = options_.codec.empty() ? default_video_codec() : options_.codec;
    const AVCodec* encoder = avcodec_find_encoder_by_name(codec_name.c_str());
    if (!encoder || encoder->type != AVMEDIA_TYPE_VIDEO)
      fail("video '", path_, "': no video encoder '", codec_name, "' in this FFmpeg build");
    if (avformat_query_codec(format, encoder->id, FF_COMPLIANCE_NORMAL) == 0)
      fail("video '", path_, "': container '", format->name, "' does not accept codec '", codec_name, "'");

    const AVPixelFormat pix = av_get_pix_fmt(options_.pixel_format.c_str());
    if (pix == AV_PIX_FMT_NONE) fail("video '", path_, "': unknown pixel format '", options_.pixel_format, "'");
    bool supported = encoder->pix_fmts == nullptr;
    for (const AVPixelFormat* p = encoder->pix_fmts; p && *p != AV_PIX_FMT_NONE; ++p) supported |= *p == pix;
    if (!supported)
      fail("video '", path_, "': encoder '", codec_name, "' does not take pixel format '", options_.pixel_format,
           "'; it takes ", supported_pixel_formats(encoder));
    const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(pix);
    const int wstep = 1 << desc->log2_chroma_w, hstep = 1 << desc->log2_chroma_h;
    if (width_ % wstep != 0 || height_ % hstep != 0)
      fail("video '", path_, "': pixel format '", options_.pixel_format, "' needs a width divisible by ", wstep,
           " and a height divisible by ", hstep, ", got ", width_, "x", height_);
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
    c->time_base = av_inv_q(rate);
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

    AVDictionary* opts = nullptr;
    if (encoder_has_option(encoder, "crf")) {
      c->bit_rate = 0;  // libvpx: crf with a bit rate would be "constrained quality"
      av_dict_set_int(&opts, "crf", options_.crf < 0 ? 18 : options_.crf, 0);
    } else if (options_.crf >= 0) {
      fail("video '", path_, "': encoder '", codec_name, "' has no CRF option; leave crf unset (it then uses a "
           "fixed quantiser)");
    } else {
      // mpeg4 and friends: fixed quantiser 3 (2..31, lower is better), visually close to x264 CRF 18.
      c->flags |= AV_CODEC_FLAG_QSCALE;
      c->global_quality = FF_QP2LAMBDA * 3;
    }
    if (encoder_has_option(encoder, "preset") && !options_.preset.empty())
      av_dict_set(&opts, "preset", options_.preset.c_str(), 0);
    rc = avcodec_open2(c, encoder, &opts);
    av_dict_free(&opts);
    if (rc < 0) fail("video '", path_, "': cannot open the ", codec_name, " encoder: ", av_error_text(rc));
    rc = avcodec_parameters_from_context(video_->codecpar, c);
    if (rc < 0) fail("video '", path_, "': ", av_error_text(rc));
    video_->time_base = c->time_base;
    video_->sample_aspect_ratio = c->sample_aspect_ratio;
    video_->avg_frame_rate = rate;
    video_->r_frame_rate = rate;

    if (!options_.audio_from.empty()) add_audio(format);

    rc = avio_open(&out_->pb, tmp_.c_str(), AVIO_FLAG_WRITE);
    if (rc < 0) fail("video '", path_, "': cannot create '", tmp_, "': ", av_error_text(rc));
    rc = avformat_write_header(out_, nullptr);
    if (rc < 0) fail("video '", path_, "': cannot write the header: ", av_error_text(rc));

    frame_.reset(av_frame_alloc());
    packet_.reset(av_packet_alloc());
    VR_CHECK(frame_ && packet_, "video '", path_, "': out of memory");
    frame_->format = pix;
    frame_->width = width_;
    frame_->height = height_;
    rc = av_frame_get_buffer(frame_.get(), 0);
    if (rc < 0) fail("video '", path_, "': cannot allocate a frame: ", av_error_text(rc));
  }

  void add_audio(const AVOutputFormat* format) {
    const std::string& source = options_.audio_from;
    audio_.input = open_input("audio source", source);
    AVFormatContext* in = audio_.input.get();
    const int index = av_find_best_stream(in, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    if (index < 0) {  // no audio: nothing to keep
      audio_.input.reset();
      return;
    }
    audio_.in = in->streams[index];
    const AVCodecID id = audio_.in->codecpar->codec_id;
    if (avformat_query_codec(format, id, FF_COMPLIANCE_NORMAL) != 1) {
      warn(options_, concat("video '", path_, "': container '", format->name, "' does not take the ",
                            avcodec_get_name(id), " audio of '", source, "'; audio dropped"));
      audio_.input.reset();
      return;
    }
    for (unsigned i = 0; i < in->nb_streams; ++i)
      if (static_cast<int>(i) != index) in->streams[i]->discard = AVDISCARD_ALL;
    // Time 0 of the output is the source's first video frame (what the reader delivers first).
    const int video_index = av_find_best_stream(in, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    if (video_index >= 0 && in->streams[video_index]->start_time != AV_NOPTS_VALUE) {
      const AVStream* v = in->streams[video_index];
      audio_.offset = av_rescale_q(v->start_time, v->time_base, audio_.in->time_base);
    } else if (in->start_time != AV_NOPTS_VALUE) {
      audio_.offset = av_rescale_q(in->start_time, AVRational{1, AV_TIME_BASE}, audio_.in->time_base);
    }
    audio_.out = avformat_new_stream(out_, nullptr);
    VR_CHECK(audio_.out, "video '", path_, "': out of memory");
    const int rc = avcodec_parameters_copy(audio_.out->codecpar, audio_.in->codecpar);
    if (rc < 0) fail("video '", path_, "': cannot copy the audio parameters: ", av_error_text(rc));
    audio_.out->codecpar->codec_tag = 0;  // the source container's tag may mean nothing in ours
    audio_.out->time_base = audio_.in->time_base;
    audio_.pending.reset(av_packet_alloc());
    VR_CHECK(audio_.pending, "video '", path_, "': out of memory");
  }

  void encode_rgb(const uint8_t* rgb, AVPixelFormat src, int stride) {
    VR_CHECK(!closed_, "video '", path_, "': write after close");
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
      frame_->pts = frames_written_;
      rc = avcodec_send_frame(codec_.get(), frame_.get());
      if (rc < 0) fail("video '", path_, "': encoding frame ", frames_written_, " failed: ", av_error_text(rc));
      drain_packets();
      copy_audio_until(static_cast<double>(frames_written_ + 1) / options_.frame_rate.value());
    } catch (...) {
      abort();
      throw;
    }
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

  // Copies source audio packets that start before `until_s` (output time, seconds).
  void copy_audio_until(double until_s) {
    if (!audio_.out || audio_.done) return;
    AVPacket* p = audio_.pending.get();
    for (;;) {
      if (!audio_.has_pending) {
        const int rc = av_read_frame(audio_.input.get(), p);
        if (rc < 0) {
          if (rc != AVERROR_EOF)
            warn(options_, concat("video '", path_, "': audio source '", options_.audio_from, "' read error (",
                                  av_error_text(rc), "); audio ends here"));
          audio_.done = true;
          return;
        }
        if (p->stream_index != audio_.in->index) {
          av_packet_unref(p);
          continue;
        }
        audio_.has_pending = true;
      }
      const int64_t ts = p->pts != AV_NOPTS_VALUE ? p->pts : p->dts;
      if (ts != AV_NOPTS_VALUE && (ts - audio_.offset) * av_q2d(audio_.in->time_base) >= until_s) return;
      if (p->pts != AV_NOPTS_VALUE) p->pts -= audio_.offset;
      if (p->dts != AV_NOPTS_VALUE) p->dts -= audio_.offset;
      av_packet_rescale_ts(p, audio_.in->time_base, audio_.out->time_base);
      p->stream_index = audio_.out->index;
      p->pos = -1;
      audio_.has_pending = false;
      mux(p);
    }
  }

  // Flushes the encoder, copies audio up to `audio_until_s`, writes the trailer and renames the
  // temporary file over the output.
  void finish(double audio_until_s) {
    VR_CHECK(!closed_, "video '", path_, "': already closed");
    try {
      int rc = avcodec_send_frame(codec_.get(), nullptr);
      if (rc < 0) fail("video '", path_, "': flushing the encoder failed: ", av_error_text(rc));
      drain_packets();
      copy_audio_until(audio_until_s);
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
  AudioCopy audio_;
  bool closed_ = false;
};

}  // namespace

std::string default_video_codec() {
  return avcodec_find_encoder_by_name("libx264") ? "libx264" : "mpeg4";
}

std::unique_ptr<FrameWriter> open_video_writer(const std::string& path, const WriterOptions& options) {
  return std::make_unique<VideoWriter>(path, options);
}

}  // namespace vrestore::io
