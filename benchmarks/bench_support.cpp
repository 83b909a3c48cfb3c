#include "bench_support.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace vrestore::bench {

Tensor random_uniform(const Shape& shape, float lo, float hi, uint32_t seed) {
  Tensor t = Tensor::empty(shape);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = dist(rng);
  return t;
}

namespace {

// Offsets of trained EDVR DCNs are fractional and a few pixels large. A per-channel shift in
// [-3, 3] px plus a spatially varying part from the features gives mean |offset| ~1.5-2 px, spatial
// spread 0.2-0.8 px and peaks of 5-8 px at 64x64 (measured with compare_pytorch.py's twin model).
// The gain is large because the offset features are small (~1e-2) under the default init.
constexpr float kOffsetBiasPx = 3.0f;
constexpr float kOffsetWeightGain = 100.0f;

// Collects named random parameters in BasicSR's key spelling.
class RandomParams {
 public:
  explicit RandomParams(uint32_t seed) : seed_(seed) {}

  // nn.Conv2d default init: weight and bias uniform in +-1/sqrt(fan_in).
  void conv(const std::string& name, int64_t out, int64_t in, int64_t k) {
    const float bound = 1.0f / std::sqrt(static_cast<float>(in * k * k));
    add(name + ".weight", random_uniform({out, in, k, k}, -bound, bound, seed_++));
    add(name + ".bias", random_uniform({out}, -bound, bound, seed_++));
  }
  void residual_blocks(const std::string& name, int64_t channels, int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
      conv(name + "." + std::to_string(i) + ".conv1", channels, channels, 3);
      conv(name + "." + std::to_string(i) + ".conv2", channels, channels, 3);
    }
  }
  // DCNv2Pack: main 3x3 weight/bias plus conv_offset C -> 3*G*9 ([offsets (2/3) | mask logits]).
  void dcn_pack(const std::string& name, int64_t channels, int64_t groups) {
    conv(name, channels, channels, 3);
    conv(name + ".conv_offset", 3 * groups * 9, channels, 3);
    Tensor& weight = tensors_[tensors_.size() - 2].second;
    Tensor& bias = tensors_.back().second;
    const int64_t offset_channels = 2 * groups * 9, per_channel = channels * 9;
    for (int64_t i = 0; i < offset_channels * per_channel; ++i) weight.data()[i] *= kOffsetWeightGain;
    Tensor shift = random_uniform({offset_channels}, -kOffsetBiasPx, kOffsetBiasPx, seed_++);
    std::copy(shift.data(), shift.data() + offset_channels, bias.data());
  }

  // SpyNet: 6 levels of 5 convs 7x7 (8 -> 32 -> 64 -> 32 -> 16 -> 2). BasicSR keys
  // basic_module.<L>.basic_module.<0|2|4|6|8>, mmedit basic_module.<L>.basic_module.<0..4>.conv.
  void spynet(const std::string& name, bool mmedit_names) {
    static constexpr int64_t kChannels[6] = {8, 32, 64, 32, 16, 2};
    for (int level = 0; level < 6; ++level)
      for (int i = 0; i < 5; ++i) {
        const std::string base = name + ".basic_module." + std::to_string(level) + ".basic_module.";
        conv(mmedit_names ? base + std::to_string(i) + ".conv" : base + std::to_string(2 * i), kChannels[i + 1],
             kChannels[i], 7);
      }
  }
  // BasicSR ConvResidualBlocks / mmedit ResidualBlocksWithInputConv.
  void conv_residual_blocks(const std::string& name, int64_t in, int64_t channels, int64_t count) {
    conv(name + ".main.0", channels, in, 3);
    residual_blocks(name + ".main.2", channels, count);
  }
  // BasicVSR (BasicSR BasicVSR / mmedit BasicVSRNet) under `prefix`.
  void basicvsr(const std::string& prefix, bool mmedit_names, int64_t c, int64_t blocks) {
    spynet(prefix + "spynet", mmedit_names);
    conv_residual_blocks(prefix + (mmedit_names ? "backward_resblocks" : "backward_trunk"), c + 3, c, blocks);
    conv_residual_blocks(prefix + (mmedit_names ? "forward_resblocks" : "forward_trunk"), c + 3, c, blocks);
    conv(prefix + "fusion", c, 2 * c, 1);
    conv(prefix + (mmedit_names ? "upsample1.upsample_conv" : "upconv1"), 4 * c, c, 3);
    conv(prefix + (mmedit_names ? "upsample2.upsample_conv" : "upconv2"), 64 * 4, c, 3);
    conv(prefix + "conv_hr", 64, 64, 3);
    conv(prefix + "conv_last", 3, 64, 3);
  }

  std::vector<std::pair<std::string, Tensor>>& tensors() { return tensors_; }

 private:
  void add(std::string name, Tensor t) { tensors_.emplace_back(std::move(name), std::move(t)); }
  uint32_t seed_;
  std::vector<std::pair<std::string, Tensor>> tensors_;
};

// Deletes a temporary file when leaving scope, also on exceptions.
struct RemoveOnExit {
  std::filesystem::path path;
  ~RemoveOnExit() {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
  }
};

// One random weights file per process, removed when the loader returns: the loaded tensors keep
// the file's mapping alive.
std::filesystem::path temp_weights_path(const std::string& stem) {
  return std::filesystem::temp_directory_path() / ("vrestore_bench_" + stem + "_" + std::to_string(getpid()) +
                                                   ".safetensors");
}

std::string env_path(const char* name) {
  const char* env = std::getenv(name);
  return env && *env ? std::string(env) : std::string();
}

}  // namespace

void write_random_edvr_weights(const std::string& path, const EdvrConfig& cfg, uint32_t seed) {
  const int64_t c = cfg.num_feat, t = cfg.num_frame, g = cfg.deformable_groups;
  RandomParams p(seed);
  p.conv("conv_first", c, 3, 3);
  p.residual_blocks("feature_extraction", c, cfg.num_extract_block);
  p.conv("conv_l2_1", c, c, 3);
  p.conv("conv_l2_2", c, c, 3);
  p.conv("conv_l3_1", c, c, 3);
  p.conv("conv_l3_2", c, c, 3);
  for (int level = 3; level >= 1; --level) {
    const std::string l = ".l" + std::to_string(level);
    p.conv("pcd_align.offset_conv1" + l, c, 2 * c, 3);
    p.conv("pcd_align.offset_conv2" + l, c, level == 3 ? c : 2 * c, 3);
    if (level < 3) p.conv("pcd_align.offset_conv3" + l, c, c, 3);
    p.dcn_pack("pcd_align.dcn_pack" + l, c, g);
    if (level < 3) p.conv("pcd_align.feat_conv" + l, c, 2 * c, 3);
  }
  p.conv("pcd_align.cas_offset_conv1", c, 2 * c, 3);
  p.conv("pcd_align.cas_offset_conv2", c, c, 3);
  p.dcn_pack("pcd_align.cas_dcnpack", c, g);
  if (cfg.with_tsa) {
    p.conv("fusion.temporal_attn1", c, c, 3);
    p.conv("fusion.temporal_attn2", c, c, 3);
    p.conv("fusion.feat_fusion", c, t * c, 1);
    p.conv("fusion.spatial_attn1", c, t * c, 1);
    p.conv("fusion.spatial_attn2", c, 2 * c, 1);
    p.conv("fusion.spatial_attn3", c, c, 3);
    p.conv("fusion.spatial_attn4", c, c, 1);
    p.conv("fusion.spatial_attn5", c, c, 3);
    p.conv("fusion.spatial_attn_l1", c, c, 1);
    p.conv("fusion.spatial_attn_l2", c, 2 * c, 3);
    p.conv("fusion.spatial_attn_l3", c, c, 3);
    p.conv("fusion.spatial_attn_add1", c, c, 1);
    p.conv("fusion.spatial_attn_add2", c, c, 1);
  } else {
    p.conv("fusion", c, t * c, 1);
  }
  p.residual_blocks("reconstruction", c, cfg.num_reconstruct_block);
  p.conv("upconv1", 4 * c, c, 3);
  p.conv("upconv2", 64 * 4, c, 3);  // the tail is 64 channels wide whatever num_feat is
  p.conv("conv_hr", 64, 64, 3);
  p.conv("conv_last", 3, 64, 3);

  const nlohmann::json config = {{"num_in_ch", 3},
                                 {"num_out_ch", 3},
                                 {"num_feat", c},
                                 {"num_frame", t},
                                 {"deformable_groups", g},
                                 {"num_extract_block", cfg.num_extract_block},
                                 {"num_reconstruct_block", cfg.num_reconstruct_block},
                                 {"center_frame_idx", cfg.center_frame_idx},
                                 {"hr_in", false},
                                 {"with_predeblur", false},
                                 {"with_tsa", cfg.with_tsa}};
  save_safetensors(path, p.tensors(),
                   {{"vrestore.format_version", kWeightsFormatVersion},
                    {"vrestore.arch", "basicsr.EDVR"},
                    {"vrestore.config", config.dump()}});
}

BenchEdvr load_bench_edvr() {
  auto load = [](const std::string& path) {
    Weights w = Weights::open(path);
    auto model = std::make_unique<Edvr>(w);
    w.finish();  // a file with extra keys is not the model we think we are timing
    return model;
  };
  if (std::string env = env_path("VRESTORE_BENCH_WEIGHTS"); !env.empty()) return {load(env), env};

  RemoveOnExit file{temp_weights_path("edvr_m")};
  write_random_edvr_weights(file.path.string(), EdvrConfig{}, /*seed=*/2024);
  return {load(file.path.string()), "EDVR-M, random weights"};
}

double edvr_macs(const EdvrConfig& cfg, int64_t h, int64_t w) {
  if (cfg.with_predeblur) return 0.0;
  const double c = static_cast<double>(cfg.num_feat), t = static_cast<double>(cfg.num_frame);
  const double groups = static_cast<double>(cfg.deformable_groups);
  const double l1 = static_cast<double>(h) * static_cast<double>(w), l2 = l1 / 4, l3 = l1 / 16;  // pixels per level
  auto conv = [](double out, double in, double k, double pixels) { return out * in * k * k * pixels; };
  auto dcn_pack = [&](double pixels) { return conv(27 * groups, c, 3, pixels) + conv(c, c, 3, pixels); };

  // Every frame: features, pyramid, PCD alignment to the centre frame (levels 3, 2, 1, cascade).
  double per_frame = conv(c, 3, 3, l1) + 2.0 * static_cast<double>(cfg.num_extract_block) * conv(c, c, 3, l1) +
                     2 * conv(c, c, 3, l2) + 2 * conv(c, c, 3, l3);
  per_frame += conv(c, 2 * c, 3, l3) + conv(c, c, 3, l3) + dcn_pack(l3);
  for (double pixels : {l2, l1})
    per_frame += 3 * conv(c, 2 * c, 3, pixels) + conv(c, c, 3, pixels) + dcn_pack(pixels);
  per_frame += conv(c, 2 * c, 3, l1) + conv(c, c, 3, l1) + dcn_pack(l1);
  double macs = t * per_frame;

  if (cfg.with_tsa) {
    macs += (1 + t) * conv(c, c, 3, l1) + 2 * conv(c, t * c, 1, l1);         // temporal attn, feat_fusion, attn1
    macs += conv(c, 2 * c, 1, l2) + conv(c, c, 1, l2) + conv(c, c, 3, l2) + conv(c, c, 1, l2);  // attn2, l1, 3, 4
    macs += conv(c, 2 * c, 3, l3) + conv(c, c, 3, l3);                        // attn_l2, attn_l3
    macs += conv(c, c, 3, l1) + 2 * conv(c, c, 1, l1);                        // attn5, add1, add2
  } else {
    macs += conv(c, t * c, 1, l1);
  }
  macs += 2.0 * static_cast<double>(cfg.num_reconstruct_block) * conv(c, c, 3, l1);
  macs += conv(4 * c, c, 3, l1) + conv(256, c, 3, 4 * l1) + conv(64, 64, 3, 16 * l1) + conv(3, 64, 3, 16 * l1);
  return macs;
}

// ---- recurrent family ---------------------------------------------------------------------------

void write_random_basicvsr_weights(const std::string& path, const BasicVsrConfig& cfg, uint32_t seed) {
  RandomParams p(seed);
  p.basicvsr("", /*mmedit_names=*/false, cfg.num_feat, cfg.num_block);
  const nlohmann::json config = {{"num_feat", cfg.num_feat}, {"num_block", cfg.num_block}};
  save_safetensors(path, p.tensors(),
                   {{"vrestore.format_version", kWeightsFormatVersion},
                    {"vrestore.arch", "basicsr.BasicVSR"},
                    {"vrestore.config", config.dump()},
                    {"vrestore.scale", "4"}});
}

void write_random_realbasicvsr_weights(const std::string& path, const RealBasicVsrConfig& cfg, uint32_t seed) {
  const int64_t c = cfg.mid_channels;
  RandomParams p(seed);
  p.conv_residual_blocks("image_cleaning.0", 3, c, cfg.num_cleaning_blocks);
  p.conv("image_cleaning.1", 3, c, 3);
  p.basicvsr("basicvsr.", /*mmedit_names=*/true, c, cfg.num_propagation_blocks);
  const nlohmann::json config = {{"mid_channels", c},
                                 {"num_propagation_blocks", cfg.num_propagation_blocks},
                                 {"num_cleaning_blocks", cfg.num_cleaning_blocks},
                                 {"dynamic_refine_thres", cfg.dynamic_refine_thres},
                                 {"is_fix_cleaning", false},
                                 {"is_sequential_cleaning", false}};
  save_safetensors(path, p.tensors(),
                   {{"vrestore.format_version", kWeightsFormatVersion},
                    {"vrestore.arch", "mmedit.RealBasicVSRNet"},
                    {"vrestore.config", config.dump()},
                    {"vrestore.scale", "4"}});
}

namespace {

constexpr uint32_t kBasicVsrSeed = 2025, kRealBasicVsrSeed = 2026;

BasicVsrConfig basicvsr_config_of(const Weights& w) {
  const bool mmedit = w.arch() == "mmedit.BasicVSRNet";
  return {w.config_int(mmedit ? "mid_channels" : "num_feat"), w.config_int(mmedit ? "num_blocks" : "num_block")};
}

// Runs `use` on the BasicVSR weights the benchmarks use (see load_bench_basicvsr).
template <typename Fn>
auto with_basicvsr_weights(Fn use) {
  if (std::string env = env_path("VRESTORE_BENCH_BASICVSR_WEIGHTS"); !env.empty()) {
    Weights w = Weights::open(env);
    return use(w, env);
  }
  RemoveOnExit file{temp_weights_path("basicvsr")};
  write_random_basicvsr_weights(file.path.string(), BasicVsrConfig{}, kBasicVsrSeed);
  Weights w = Weights::open(file.path.string());
  return use(w, std::string("BasicVSR (c64 b30), random weights"));
}

}  // namespace

BenchBasicVsr load_bench_basicvsr() {
  return with_basicvsr_weights([](Weights& w, const std::string& source) {
    BenchBasicVsr b{std::make_unique<BasicVsr>(BasicVsr::load(w)), basicvsr_config_of(w), source};
    w.finish();  // a file with extra keys is not the model we think we are timing
    return b;
  });
}

BenchSpyNet load_bench_spynet() {
  return with_basicvsr_weights([](Weights& w, const std::string& source) {
    const bool mmedit = w.arch().rfind("mmedit.", 0) == 0;
    return BenchSpyNet{SpyNet::load(w, "spynet.", mmedit), "SpyNet of " + source};
  });
}

BenchRealBasicVsr load_bench_realbasicvsr() {
  auto load = [](Weights& w, const std::string& source) {
    BenchRealBasicVsr b{std::make_unique<RealBasicVsr>(w),
                        {w.config_int("mid_channels"), w.config_int("num_propagation_blocks"),
                         w.config_int("num_cleaning_blocks"), w.config_number("dynamic_refine_thres")},
                        source};
    w.finish();
    return b;
  };
  if (std::string env = env_path("VRESTORE_BENCH_REALBASICVSR_WEIGHTS"); !env.empty()) {
    Weights w = Weights::open(env);
    return load(w, env);
  }
  RemoveOnExit file{temp_weights_path("realbasicvsr")};
  write_random_realbasicvsr_weights(file.path.string(), RealBasicVsrConfig{}, kRealBasicVsrSeed);
  Weights w = Weights::open(file.path.string());
  return load(w, "RealBasicVSR (c64 b20 clean20), random weights");
}

namespace {

double conv_macs(double out, double in, double k, double pixels) { return out * in * k * k * pixels; }

// One BasicVSR frame without its flows: two trunks, fusion and the x4 tail.
double basicvsr_frame_macs(double c, double blocks, double pixels) {
  const double trunk = conv_macs(c, c + 3, 3, pixels) + 2 * blocks * conv_macs(c, c, 3, pixels);
  return 2 * trunk + conv_macs(c, 2 * c, 1, pixels) + conv_macs(4 * c, c, 3, pixels) +
         conv_macs(256, c, 3, 4 * pixels) + conv_macs(64, 64, 3, 16 * pixels) + conv_macs(3, 64, 3, 16 * pixels);
}

}  // namespace

double spynet_macs(int64_t h, int64_t w) {
  static constexpr double kChannels[6] = {8, 32, 64, 32, 16, 2};
  double per_pixel = 0;
  for (int i = 0; i < 5; ++i) per_pixel += conv_macs(kChannels[i + 1], kChannels[i], 7, 1);
  double pixels = static_cast<double>((h + 31) / 32 * 32) * static_cast<double>((w + 31) / 32 * 32);
  double macs = 0;
  for (int level = 5; level >= 0; --level, pixels /= 4) macs += per_pixel * pixels;
  return macs;
}

double basicvsr_macs_per_frame(const BasicVsrConfig& cfg, int64_t t, int64_t h, int64_t w) {
  const double pixels = static_cast<double>(h) * static_cast<double>(w);
  const double flows_per_frame = 2.0 * static_cast<double>(t - 1) / static_cast<double>(t);
  return basicvsr_frame_macs(static_cast<double>(cfg.num_feat), static_cast<double>(cfg.num_block), pixels) +
         flows_per_frame * spynet_macs(h, w);
}

double realbasicvsr_macs_per_frame(const RealBasicVsrConfig& cfg, int64_t t, int64_t h, int64_t w, int passes) {
  const double pixels = static_cast<double>(h) * static_cast<double>(w), c = static_cast<double>(cfg.mid_channels);
  const double cleaning = conv_macs(c, 3, 3, pixels) +
                          2 * static_cast<double>(cfg.num_cleaning_blocks) * conv_macs(c, c, 3, pixels) +
                          conv_macs(3, c, 3, pixels);
  return basicvsr_macs_per_frame({cfg.mid_channels, cfg.num_propagation_blocks}, t, h, w) + passes * cleaning;
}

}  // namespace vrestore::bench
