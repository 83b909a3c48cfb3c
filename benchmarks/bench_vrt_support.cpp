#include "bench_vrt_support.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <utility>

#include <nlohmann/json.hpp>

#include "bench_support.h"
#include "core/check.h"
#include "weights/weights.h"

namespace vrestore::bench {

std::vector<int64_t> relative_position_index(const std::array<int, 3>& window) {
  const int64_t wd = window[0], wh = window[1], ww = window[2], n = wd * wh * ww;
  std::vector<int64_t> index(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const int64_t di = i / (wh * ww), hi = i / ww % wh, wi = i % ww;
      const int64_t dj = j / (wh * ww), hj = j / ww % wh, wj = j % ww;
      index[static_cast<size_t>(i * n + j)] =
          (di - dj + wd - 1) * (2 * wh - 1) * (2 * ww - 1) + (hi - hj + wh - 1) * (2 * ww - 1) + (wi - wj + ww - 1);
    }
  return index;
}

Tensor sine_position_encoding(int wh, int ww, int64_t dim) {
  const int64_t npf = dim / 2;
  Tensor t = Tensor::empty({1, int64_t{wh} * ww, 2 * npf});
  constexpr double kTwoPi = 6.283185307179586;
  // Upstream computes in float32: cumsum / (last + 1e-6) * 2π, then / 10000^(2⌊i/2⌋/npf).
  for (int r = 0; r < wh; ++r)
    for (int c = 0; c < ww; ++c) {
      const float y = static_cast<float>(r + 1) / (static_cast<float>(wh) + 1e-6f) * static_cast<float>(kTwoPi);
      const float x = static_cast<float>(c + 1) / (static_cast<float>(ww) + 1e-6f) * static_cast<float>(kTwoPi);
      float* out = t.data() + (int64_t{r} * ww + c) * 2 * npf;
      for (int64_t i = 0; i < npf; ++i) {
        const auto tau = static_cast<float>(std::pow(10000.0, 2.0 * static_cast<double>(i / 2) / double(npf)));
        out[i] = i % 2 == 0 ? std::sin(y / tau) : std::cos(y / tau);
        out[npf + i] = i % 2 == 0 ? std::sin(x / tau) : std::cos(x / tau);
      }
    }
  return t;
}

namespace {

// One tensor of the file: float32 values or int64 ones (VRT's relative_position_index).
struct Entry {
  std::string name;
  Shape shape;
  Tensor f32;
  std::vector<int64_t> i64;
};

// safetensors with F32 and I64 tensors (save_safetensors writes F32 only).
void save_mixed_safetensors(const std::string& path, const std::vector<Entry>& entries,
                            const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const Entry& e : entries) {
    const uint64_t bytes = e.f32.defined() ? uint64_t(e.f32.numel()) * 4 : uint64_t(e.i64.size()) * 8;
    header[e.name] = {{"dtype", e.f32.defined() ? "F32" : "I64"}, {"shape", e.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  VR_CHECK(out.good(), "benchmark weights '", path, "': cannot create the file");
  const uint64_t n = text.size();
  char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((n >> (8 * i)) & 0xff);  // little endian
  out.write(len, 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const Entry& e : entries) {
    if (e.f32.defined())
      out.write(reinterpret_cast<const char*>(e.f32.data()), static_cast<std::streamsize>(e.f32.numel() * 4));
    else
      out.write(reinterpret_cast<const char*>(e.i64.data()), static_cast<std::streamsize>(e.i64.size() * 8));
  }
  out.close();
  VR_CHECK(!out.fail(), "benchmark weights '", path, "': write failed (disk full?)");
}

// Named random parameters in the converter's key spelling, PyTorch's default init.
class VrtParams {
 public:
  explicit VrtParams(uint32_t seed) : seed_(seed) {}

  void uniform(const std::string& name, const Shape& shape, float bound) {
    add(name, random_uniform(shape, -bound, bound, seed_++));
  }
  void constant(const std::string& name, const Shape& shape, float value) {
    Tensor t = Tensor::empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = value;
    add(name, std::move(t));
  }
  void linear(const std::string& name, int64_t out, int64_t in) {
    const float bound = 1.0f / std::sqrt(static_cast<float>(in));
    uniform(name + ".weight", {out, in}, bound);
    uniform(name + ".bias", {out}, bound);
  }
  void layer_norm(const std::string& name, int64_t c) {
    constant(name + ".weight", {c}, 1.0f);
    constant(name + ".bias", {c}, 0.0f);
  }
  // nn.Conv2d (kernel k x k) or, with conv3d, nn.Conv3d with kernel (1, k, k).
  void conv(const std::string& name, int64_t out, int64_t in, int64_t k, bool conv3d = false) {
    const float bound = 1.0f / std::sqrt(static_cast<float>(in * k * k));
    uniform(name + ".weight", conv3d ? Shape{out, in, 1, k, k} : Shape{out, in, k, k}, bound);
    uniform(name + ".bias", {out}, bound);
  }
  void index(const std::string& name, const std::array<int, 3>& window) {
    const int64_t n = int64_t{window[0]} * window[1] * window[2];
    entries_.push_back({name, {n, n}, Tensor(), relative_position_index(window)});
  }

  // TMSA block: norm1, attn (bias table, index, position_bias when mutual, qkv_self, proj,
  // qkv_mut), norm2, GEGLU mlp; the converter's order.
  void attention_block(const std::string& name, int64_t dim, int64_t heads, const std::array<int, 3>& window,
                       bool mutual, double mlp_ratio) {
    const int64_t rows = int64_t{2 * window[0] - 1} * (2 * window[1] - 1) * (2 * window[2] - 1);
    const auto hidden = static_cast<int64_t>(static_cast<double>(dim) * mlp_ratio);
    layer_norm(name + ".norm1", dim);
    uniform(name + ".attn.relative_position_bias_table", {rows, heads}, 0.02f * std::sqrt(3.0f));
    index(name + ".attn.relative_position_index", window);
    if (mutual) add(name + ".attn.position_bias", sine_position_encoding(window[1], window[2], dim));
    linear(name + ".attn.qkv_self", 3 * dim, dim);
    linear(name + ".attn.proj", dim, mutual ? 2 * dim : dim);
    if (mutual) linear(name + ".attn.qkv_mut", 3 * dim, dim);
    layer_norm(name + ".norm2", dim);
    linear(name + ".mlp.fc11", hidden, dim);
    linear(name + ".mlp.fc12", hidden, dim);
    linear(name + ".mlp.fc2", dim, hidden);
  }

  std::vector<Entry>& entries() { return entries_; }

 private:
  void add(const std::string& name, Tensor t) { entries_.push_back({name, t.shape(), std::move(t), {}}); }
  uint32_t seed_;
  std::vector<Entry> entries_;
};

const char* const kReshapes[7] = {"none", "down", "down", "down", "up", "up", "up"};

nlohmann::json config_json(const VrtConfig& cfg) {
  return {{"upscale", cfg.upscale},
          {"in_chans", cfg.in_chans},
          {"out_chans", cfg.out_chans},
          {"img_size", cfg.img_size},
          {"window_size", cfg.window},
          {"depths", cfg.depths},
          {"indep_reconsts", cfg.indep_reconsts},
          {"embed_dims", cfg.embed_dims},
          {"num_heads", cfg.num_heads},
          {"mul_attn_ratio", cfg.mul_attn_ratio},
          {"mlp_ratio", cfg.mlp_ratio},
          {"qkv_bias", true},
          {"qk_scale", nullptr},
          {"drop_path_rate", 0.2},
          {"pa_frames", cfg.pa_frames},
          {"deformable_groups", cfg.deformable_groups},
          {"recal_all_flows", false},
          {"nonblind_denoising", cfg.nonblind_denoising},
          {"use_checkpoint_attn", false},
          {"use_checkpoint_ffn", false},
          {"no_checkpoint_attn_blocks", nlohmann::json::array()},
          {"no_checkpoint_ffn_blocks", nlohmann::json::array()}};
}

}  // namespace

void write_random_vrt_weights(const std::string& path, const VrtConfig& cfg, uint32_t seed) {
  const size_t layers = cfg.depths.size();
  VR_CHECK(layers >= 8 && cfg.embed_dims.size() == layers && cfg.num_heads.size() == layers,
           "write_random_vrt_weights: depths, embed_dims and num_heads need the same length (>= 8)");
  VR_CHECK(cfg.pa_frames == 2 || cfg.pa_frames == 4 || cfg.pa_frames == 6,
           "write_random_vrt_weights: pa_frames is ", cfg.pa_frames, ", expected 2, 4 or 6 (restoration models)");
  const auto& dims = cfg.embed_dims;
  const int pa = cfg.pa_frames;
  VrtParams p(seed);
  p.conv("conv_first", dims[0], cfg.in_chans * 9 + (cfg.nonblind_denoising ? 1 : 0), 3, /*conv3d=*/true);
  static constexpr int64_t kSpyNet[6] = {8, 32, 64, 32, 16, 2};
  for (int level = 0; level < 6; ++level)
    for (int i = 0; i < 5; ++i)
      p.conv("spynet.basic_module." + std::to_string(level) + ".basic_module." + std::to_string(2 * i), kSpyNet[i + 1],
             kSpyNet[i], 7);
  for (size_t i = 0; i < 7; ++i) {
    const std::string s = "stage" + std::to_string(i + 1);
    const int64_t dim = dims[i], in_dim = dims[i == 0 ? 0 : i - 1], heads = cfg.num_heads[i];
    if (std::strcmp(kReshapes[i], "none") == 0) {
      p.layer_norm(s + ".reshape.1", dim);
    } else {
      const int64_t width = std::strcmp(kReshapes[i], "down") == 0 ? 4 * in_dim : in_dim / 4;
      p.layer_norm(s + ".reshape.1", width);
      p.linear(s + ".reshape.2", dim, width);
    }
    const auto mutual_depth = static_cast<int64_t>(static_cast<double>(cfg.depths[i]) * cfg.mul_attn_ratio);
    for (int64_t j = 0; j < mutual_depth; ++j)
      p.attention_block(s + ".residual_group1.blocks." + std::to_string(j), dim, heads, {2, cfg.window[1], cfg.window[2]},
                        true, cfg.mlp_ratio);
    p.linear(s + ".linear1", dim, dim);
    for (int64_t j = 0; j < cfg.depths[i] - mutual_depth; ++j)
      p.attention_block(s + ".residual_group2.blocks." + std::to_string(j), dim, heads, cfg.window, false, cfg.mlp_ratio);
    p.linear(s + ".linear2", dim, dim);
    p.uniform(s + ".pa_deform.weight", {dim, dim, 3, 3}, 1.0f / std::sqrt(static_cast<float>(dim * 9)));
    p.constant(s + ".pa_deform.bias", {dim}, 0.0f);
    p.conv(s + ".pa_deform.conv_offset.0", dim, (1 + pa / 2) * dim + pa, 3);
    p.conv(s + ".pa_deform.conv_offset.2", dim, dim, 3);
    p.conv(s + ".pa_deform.conv_offset.4", dim, dim, 3);
    p.conv(s + ".pa_deform.conv_offset.6", 27 * cfg.deformable_groups, dim, 3);
    p.linear(s + ".pa_fuse.fc11", 3 * dim, 3 * dim);
    p.linear(s + ".pa_fuse.fc12", 3 * dim, 3 * dim);
    p.linear(s + ".pa_fuse.fc2", dim, 3 * dim);
  }
  p.layer_norm("stage8.0.1", dims[6]);
  p.linear("stage8.0.2", dims[7], dims[6]);
  for (size_t i = 7; i < layers; ++i) {
    bool indep = false;
    for (int64_t r : cfg.indep_reconsts) indep |= r == static_cast<int64_t>(i);
    const std::array<int, 3> window = indep ? std::array<int, 3>{1, cfg.window[1], cfg.window[2]} : cfg.window;
    const std::string s = "stage8." + std::to_string(i - 6);
    for (int64_t j = 0; j < cfg.depths[i]; ++j)
      p.attention_block(s + ".residual_group.blocks." + std::to_string(j), dims[i], cfg.num_heads[i], window, false,
                        cfg.mlp_ratio);
    p.linear(s + ".linear", dims[i], dims[i]);
  }
  p.layer_norm("norm", dims.back());
  p.linear("conv_after_body", dims[0], dims.back());
  if (cfg.upscale == 1) {
    p.conv("conv_last", cfg.out_chans, dims[0], 3, true);
  } else {
    VR_CHECK(cfg.upscale > 1 && (cfg.upscale & (cfg.upscale - 1)) == 0,
             "write_random_vrt_weights: upscale is ", cfg.upscale, ", expected 1 or a power of 2");
    p.conv("conv_before_upsample.0", 64, dims[0], 3, true);
    int steps = 0;
    for (int64_t s = cfg.upscale; s > 1; s /= 2) p.conv("upsample." + std::to_string(5 * steps++), 256, 64, 3, true);
    p.conv("upsample." + std::to_string(5 * steps), 64, 64, 3, true);
    p.conv("conv_last", cfg.out_chans, 64, 3, true);
  }
  save_mixed_safetensors(path, p.entries(),
                         {{"vrestore.format_version", kWeightsFormatVersion},
                          {"vrestore.arch", "vrt.VRT"},
                          {"vrestore.config", config_json(cfg).dump()},
                          {"vrestore.scale", std::to_string(cfg.upscale)},
                          {"vrestore.source", "random weights (vrestore benchmarks)"}});
}

namespace {

// One TMSAG of `depth` blocks on a t x h x w volume: windows clipped to the volume, padded token
// count for everything that runs on windows, unpadded tokens for the MLP (spec §4.2).
double tmsag_macs(int64_t depth, int64_t dim, int64_t t, int64_t h, int64_t w, const std::array<int, 3>& window,
                  bool mutual, double mlp_ratio) {
  const int64_t size[3] = {t, h, w};
  int64_t padded = 1, tokens = 1;
  for (int a = 0; a < 3; ++a) {
    const int64_t win = std::min<int64_t>(size[a], window[a]);
    padded *= (size[a] + win - 1) / win * win;
    tokens *= win;
  }
  const double np = double(padded), nw = double(tokens), c = double(dim);
  const double hidden = std::floor(c * mlp_ratio);
  double per_block = np * c * 3 * c + 2 * np * nw * c + np * c * c * (mutual ? 2 : 1) +
                     double(t * h * w) * 3 * c * hidden;
  if (mutual) per_block += np * c * 3 * c + np * nw * c;  // qkv_mut, two half-size products
  return double(depth) * per_block;
}

}  // namespace

double window_attention_macs(int64_t windows, int64_t tokens, int64_t dim, bool mutual) {
  const double np = double(windows * tokens), nw = double(tokens), c = double(dim);
  double macs = np * c * 3 * c + 2 * np * nw * c + np * c * c * (mutual ? 2 : 1);
  if (mutual) macs += np * c * 3 * c + np * nw * c;
  return macs;
}

double dcn_flow_guided_macs(int64_t channels, int pa_frames, int64_t deformable_groups, int64_t h, int64_t w) {
  const double c = double(channels), k = double(pa_frames / 2), pixels = double(h * w);
  return 9 * pixels * (((1 + k) * c + 2 * k) * c + 2 * c * c + c * 27 * double(deformable_groups) + c * c);
}

double vrt_macs(const VrtConfig& cfg, int64_t t, int64_t h, int64_t w) {
  const auto& dims = cfg.embed_dims;
  const double frames = double(t);
  double macs = 0;
  const int pa = cfg.pa_frames;
  if (pa) macs += 2 * double(t - 1) * spynet_macs(h, w);
  const int64_t first_in = pa ? cfg.in_chans * 9 + (cfg.nonblind_denoising ? 1 : 0) : cfg.in_chans;
  macs += double(dims[0] * first_in * 9) * frames * double(h * w);
  static constexpr int kScale[7] = {0, 1, 2, 3, 2, 1, 0};
  for (size_t i = 0; i < 7; ++i) {
    const int64_t c = dims[i], in_dim = dims[i == 0 ? 0 : i - 1], sh = h >> kScale[i], sw = w >> kScale[i];
    const double tokens = frames * double(sh * sw);
    if (std::strcmp(kReshapes[i], "down") == 0) macs += tokens * double(4 * in_dim * c);
    if (std::strcmp(kReshapes[i], "up") == 0) macs += tokens * double(in_dim / 4 * c);
    const auto mutual_depth = static_cast<int64_t>(static_cast<double>(cfg.depths[i]) * cfg.mul_attn_ratio);
    macs += tmsag_macs(mutual_depth, c, t, sh, sw, {2, cfg.window[1], cfg.window[2]}, true, cfg.mlp_ratio);
    macs += tmsag_macs(cfg.depths[i] - mutual_depth, c, t, sh, sw, cfg.window, false, cfg.mlp_ratio);
    macs += 2 * tokens * double(c * c);  // linear1, linear2
    if (pa) {
      macs += 2 * double(t - 1) * dcn_flow_guided_macs(c, pa, cfg.deformable_groups, sh, sw);
      macs += tokens * 21 * double(c * c);  // pa_fuse: 3C -> 3C twice, 3C -> C
    }
  }
  const double tokens = frames * double(h * w);
  macs += tokens * double(dims[6] * dims[7]);
  for (size_t i = 7; i < cfg.depths.size(); ++i) {
    bool indep = false;
    for (int64_t r : cfg.indep_reconsts) indep |= r == static_cast<int64_t>(i);
    const std::array<int, 3> window = indep ? std::array<int, 3>{1, cfg.window[1], cfg.window[2]} : cfg.window;
    macs += tmsag_macs(cfg.depths[i], dims[i], t, h, w, window, false, cfg.mlp_ratio) + tokens * double(dims[i] * dims[i]);
  }
  macs += tokens * double(dims.back() * dims[0]);  // conv_after_body
  if (!pa) {  // frame interpolation head: linear_fuse 1x1 over all frames, 7x7 conv_last, one frame
    macs += double(h * w) * double(64 * t * dims[0]) + double(h * w) * 49 * 64 * double(cfg.out_chans);
  } else if (cfg.upscale == 1) {
    macs += tokens * 9 * double(cfg.out_chans * dims[0]);
  } else {
    macs += tokens * 9 * double(64 * dims[0]);  // conv_before_upsample
    double scale = 1;
    for (int64_t s = cfg.upscale; s > 1; s /= 2, scale *= 4) macs += tokens * scale * 9 * 256 * 64;
    macs += tokens * scale * 9 * (64 * 64 + 64 * double(cfg.out_chans));
  }
  return macs;
}

}  // namespace vrestore::bench
