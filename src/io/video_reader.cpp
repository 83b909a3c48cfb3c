// A video file as a FrameReader: libavformat demuxes, libavcodec decodes, libswscale converts to
// packed RGB24/RGB48 (rules in media_io.h).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "io/ffmpeg_util.h"
#include "io/io_internal.h"

extern "C" {
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>
}

namespace vrestore::io {
namespace {

int max_component_depth(AVPixelFormat format) {
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(format);
  int depth = 0;
  for (int c = 0; desc && c < desc->nb_components; ++c) depth = std::max(depth, desc->comp[c].depth);
  return depth;
}

bool is_yuv(AVPixelFormat format) {
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(format);
  return desc && !(desc->flags & AV_PIX_FMT_FLAG_RGB) && desc->nb_components >= 3;
}

const char* pix_fmt_name(int format) {
  const char* name = av_get_pix_fmt_name(static_cast<AVPixelFormat>(format));
  return name ? name : "unknown";
}

class VideoReader final : public FrameReader {
 public:
  explicit VideoReader(const std::string& path) {
    path_ = path;
    fmt_ = open_input("video", path);
    const AVCodec* decoder = nullptr;
    const int index = av_find_best_stream(fmt_.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0);
    if (index == AVERROR_STREAM_NOT_FOUND) fail("video '", path, "': no video stream", stream_summary());
    if (index == AVERROR_DECODER_NOT_FOUND) {
      // Name the codec the stream needs: that is what the user can search for.
      const char* codec = "unknown";
      for (unsigned i = 0; i < fmt_->nb_streams; ++i)
        if (fmt_->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO)
          codec = avcodec_get_name(fmt_->streams[i]->codecpar->codec_id);
      fail("video '", path, "': no decoder for codec '", codec, "' in this FFmpeg build");
    }
    if (index < 0) fail("video '", path, "': cannot select a video stream: ", av_error_text(index));
    stream_ = fmt_->streams[index];
    for (unsigned i = 0; i < fmt_->nb_streams; ++i)
      if (static_cast<int>(i) != index) fmt_->streams[i]->discard = AVDISCARD_ALL;

    codec_.reset(avcodec_alloc_context3(decoder));
    VR_CHECK(codec_, "video '", path, "': out of memory creating the decoder");
    int rc = avcodec_parameters_to_context(codec_.get(), stream_->codecpar);
    if (rc < 0) fail("video '", path, "': bad stream parameters: ", av_error_text(rc));
    codec_->pkt_timebase = stream_->time_base;
    rc = avcodec_open2(codec_.get(), decoder, nullptr);
    if (rc < 0) fail("video '", path, "': cannot open the ", decoder->name, " decoder: ", av_error_text(rc));

    width_ = stream_->codecpar->width;
    height_ = stream_->codecpar->height;
    if (width_ <= 0 || height_ <= 0) fail("video '", path, "': stream has no frame size");
    const auto format = static_cast<AVPixelFormat>(stream_->codecpar->format);
    if (format == AV_PIX_FMT_NONE) fail("video '", path, "': stream has no pixel format");
    if (!sws_isSupportedInput(format))
      fail("video '", path, "': unsupported pixel format '", pix_fmt_name(format), "'");
    bit_depth_ = max_component_depth(format) > 8 ? 16 : 8;

    AVRational rate = av_guess_frame_rate(fmt_.get(), stream_, nullptr);
    // A stream without timing (e.g. a single image) plays at the PNG-folder default.
    if (rate.num <= 0 || rate.den <= 0) rate = AVRational{25, 1};
    frame_rate_ = Rational{rate.num, rate.den};
    const AVRational sar = av_guess_sample_aspect_ratio(fmt_.get(), stream_, nullptr);
    if (sar.num > 0 && sar.den > 0) sample_aspect_ratio_ = Rational{sar.num, sar.den};
    size_t matrix_bytes = 0;
    const uint8_t* matrix = av_stream_get_side_data(stream_, AV_PKT_DATA_DISPLAYMATRIX, &matrix_bytes);
    if (matrix && matrix_bytes >= 9 * sizeof(int32_t)) {
      display_matrix_.resize(9);
      std::memcpy(display_matrix_.data(), matrix, 9 * sizeof(int32_t));
    }
    time_base_ = Rational{stream_->time_base.num, stream_->time_base.den};
    // One frame interval in stream ticks (at least one): the step for frames without a usable
    // timestamp.
    frame_ticks_ = std::max<int64_t>(1, av_rescale_q(1, av_inv_q(rate), stream_->time_base));

    header_frames_ = stream_->nb_frames > 0 ? stream_->nb_frames : -1;
    if (stream_->duration != AV_NOPTS_VALUE && stream_->duration > 0) {
      const int64_t start = stream_->start_time != AV_NOPTS_VALUE ? stream_->start_time : 0;
      stream_end_s_ = (start + stream_->duration) * av_q2d(stream_->time_base);
      duration_s_ = stream_->duration * av_q2d(stream_->time_base);
    } else if (fmt_->duration != AV_NOPTS_VALUE && fmt_->duration > 0) {
      duration_s_ = fmt_->duration / static_cast<double>(AV_TIME_BASE);
    }
    if (header_frames_ > 0) estimate_ = header_frames_;
    else if (duration_s_ > 0) estimate_ = std::llround(duration_s_ * frame_rate_.value());
    // AVI counts its frame total in ticks of the nominal rate, skipped ticks included (opencv's
    // tree.avi: 444 ticks, 68 frames); its index, like MP4's, lists every stored frame. (Matroska
    // indexes key frames only, so its index is no count.)
    const std::string demuxer = fmt_->iformat->name;
    const int indexed = avformat_index_get_entries_count(stream_);
    if (indexed > 0 && (demuxer == "avi" || demuxer.find("mp4") != std::string::npos) &&
        (estimate_ < 0 || indexed < estimate_))
      estimate_ = indexed;

    frame_.reset(av_frame_alloc());
    packet_.reset(av_packet_alloc());
    VR_CHECK(frame_ && packet_, "video '", path, "': out of memory");
  }

  int64_t num_frames() const override { return estimate_; }

  // " (streams: audio aac, data none; ...)" for the no-video message: a stream of unknown codec is
  // what a container cut inside its header leaves.
  std::string stream_summary() const {
    std::string list;
    bool unknown = false;
    for (unsigned i = 0; i < fmt_->nb_streams; ++i) {
      const AVCodecParameters* par = fmt_->streams[i]->codecpar;
      const char* type = av_get_media_type_string(par->codec_type);
      list += concat(list.empty() ? "" : ", ", type ? type : "unknown", " ", avcodec_get_name(par->codec_id));
      unknown |= par->codec_id == AV_CODEC_ID_NONE;
    }
    if (list.empty()) return " (no streams at all: truncated or damaged?)";
    return concat(" (streams: ", list, unknown ? "; a stream of unknown codec: truncated or damaged?)" : ")");
  }
  bool num_frames_exact() const override { return false; }

 protected:
  bool decode_next(std::vector<uint8_t>& rgb8, std::vector<uint16_t>& rgb16) override {
    for (;;) {
      int rc = avcodec_receive_frame(codec_.get(), frame_.get());
      if (rc == 0) {
        // A decoder that concealed damage still returns the frame, flagged: a damaged picture
        // must not pass for a restored one.
        if ((frame_->flags & AV_FRAME_FLAG_CORRUPT) || frame_->decode_error_flags != 0) {
          av_frame_unref(frame_.get());
          fail("video '", path_, "': damaged stream: frame ", frames_read(), " decoded with errors");
        }
        convert(rgb8, rgb16);
        av_frame_unref(frame_.get());
        return true;
      }
      if (rc == AVERROR_EOF) return finish();
      if (rc != AVERROR(EAGAIN)) {
        // The decoder itself failed: nothing more will come out of it.
        fail("video '", path_, "': damaged stream: decode error at frame ", frames_read(), ": ", av_error_text(rc));
      }
      feed();
    }
  }

 private:
  // Sends the next packet of our stream to the decoder, or starts draining it at the end of the
  // input or at the first damage (so the frames before the damage still come out).
  void feed() {
    if (draining_) fail("video '", path_, "': decoder wants input after the end of the stream");
    for (;;) {
      const int rc = av_read_frame(fmt_.get(), packet_.get());
      if (rc == AVERROR_EOF) return drain();
      if (rc < 0) {
        damage_ = concat("read error: ", av_error_text(rc));
        return drain();
      }
      if (packet_->stream_index != stream_->index) {
        av_packet_unref(packet_.get());
        continue;
      }
      if (packet_->flags & AV_PKT_FLAG_CORRUPT) {
        av_packet_unref(packet_.get());
        damage_ = "packet marked corrupt (file truncated or damaged)";
        return drain();
      }
      const int sent = avcodec_send_packet(codec_.get(), packet_.get());
      av_packet_unref(packet_.get());
      if (sent < 0 && sent != AVERROR(EAGAIN)) {
        damage_ = concat("decode error: ", av_error_text(sent));
        return drain();
      }
      return;
    }
  }

  void drain() {
    draining_ = true;
    avcodec_send_packet(codec_.get(), nullptr);
  }

  // At the decoder's end: report damage seen on the way, or a stream shorter than its header.
  bool finish() {
    if (!damage_.empty())
      fail("video '", path_, "': damaged stream at frame ", frames_read(), ": ", damage_);
    // Containers with an index (AVI, MP4, MKV cues) state the frame count and duration; a stream
    // that stops well before both was cut short. The duration test keeps edit lists and trimmed
    // streams (fewer frames than samples, but a matching duration) from counting as damage.
    const double frame_s = 1.0 / frame_rate_.value();
    const bool short_of_count = header_frames_ > 0 && frames_read() < header_frames_;
    const bool short_of_time = stream_end_s_ <= 0 || last_end_s_ < stream_end_s_ - 0.5 * frame_s;
    if (short_of_count && short_of_time)
      fail("video '", path_, "': stream ends early, at frame ", frames_read(), " of the ", header_frames_,
           " its header states (truncated or damaged file)");
    return false;
  }

  void convert(std::vector<uint8_t>& rgb8, std::vector<uint16_t>& rgb16) {
    AVFrame* f = frame_.get();
    if (f->width != width_ || f->height != height_)
      fail("video '", path_, "': frame ", frames_read(), " is ", f->width, "x", f->height, ", the stream began at ",
           width_, "x", height_, ": size changes are not supported");
    const auto src = static_cast<AVPixelFormat>(f->format);
    const AVPixelFormat dst = bit_depth_ == 16 ? AV_PIX_FMT_RGB48 : AV_PIX_FMT_RGB24;
    sws_.reset(sws_getCachedContext(sws_.release(), width_, height_, src, width_, height_, dst,
                                    SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, nullptr, nullptr, nullptr));
    if (!sws_) fail("video '", path_, "': unsupported pixel format '", pix_fmt_name(src), "' at frame ", frames_read());
    if (is_yuv(src)) {
      // The stream's own matrix and range (swscale would otherwise assume BT.601, limited range).
      const bool full_range = f->color_range == AVCOL_RANGE_JPEG;
      sws_setColorspaceDetails(sws_.get(), yuv_coefficients(f->colorspace, height_), full_range,
                               sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
    }
    const size_t n = static_cast<size_t>(width_) * height_ * 3;
    uint8_t* out[4] = {nullptr, nullptr, nullptr, nullptr};
    int stride[4] = {0, 0, 0, 0};
    if (bit_depth_ == 16) {
      rgb16.resize(n);
      out[0] = reinterpret_cast<uint8_t*>(rgb16.data());
      stride[0] = width_ * 6;
    } else {
      rgb8.resize(n);
      out[0] = rgb8.data();
      stride[0] = width_ * 3;
    }
    sws_scale(sws_.get(), f->data, f->linesize, 0, height_, out, stride);
    const int64_t ts = f->best_effort_timestamp;
    if (ts != AV_NOPTS_VALUE) last_end_s_ = ts * av_q2d(stream_->time_base) + 1.0 / frame_rate_.value();
    set_timestamp(ts);
  }

  // The rule of FrameReader::timestamp(): relative to the first frame, always increasing.
  void set_timestamp(int64_t ts) {
    if (frames_read() == 0) {
      first_ts_ = ts;
      timestamp_ = 0;
      return;
    }
    const int64_t next = timestamp_ + frame_ticks_;
    if (ts == AV_NOPTS_VALUE || first_ts_ == AV_NOPTS_VALUE || ts - first_ts_ <= timestamp_) timestamp_ = next;
    else timestamp_ = ts - first_ts_;
  }

  InputContextPtr fmt_;
  AVStream* stream_ = nullptr;
  CodecContextPtr codec_;
  FramePtr frame_;
  PacketPtr packet_;
  SwsPtr sws_;
  int64_t frame_ticks_ = 1;              // one frame interval in stream ticks
  int64_t first_ts_ = AV_NOPTS_VALUE;    // the first frame's timestamp (stream ticks)
  int64_t header_frames_ = -1;  // the container's frame count, -1 when it states none
  int64_t estimate_ = -1;
  double duration_s_ = 0;
  double stream_end_s_ = 0;  // start + duration of the stream (seconds), 0 when unknown
  double last_end_s_ = 0;    // end time of the last decoded frame (seconds)
  bool draining_ = false;
  std::string damage_;
};

}  // namespace

std::unique_ptr<FrameReader> open_video_reader(const std::string& path) {
  return std::make_unique<VideoReader>(path);
}

}  // namespace vrestore::io
