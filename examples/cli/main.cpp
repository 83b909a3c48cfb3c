// vrestore command-line tool.
//   vrestore restore -i INPUT -o OUTPUT [-m MODEL.safetensors] [options]   video / PNG folder
//   vrestore restore --weights W --input IN.safetensors --output OUT.safetensors [options]
//   vrestore run     --weights W --input IN --output OUT [--device cpu|cuda] [--precision f32|f16] [--stats]
//   vrestore info    W
//   vrestore diff    A.safetensors:TENSOR[i] B.safetensors:TENSOR[j]
// Errors are one line on stderr and exit code 1 (2 for usage errors: unknown or repeated options,
// values out of range; 130 when Ctrl-C interrupted a restoration).
#include <cstdio>
#include <cstring>
#include <string>

#include "cli/commands.h"

// Set by examples/CMakeLists.txt from the project version.
#ifndef VRESTORE_VERSION_TEXT
#define VRESTORE_VERSION_TEXT "(version unknown)"
#endif

namespace vrestore::cli {

const std::vector<OptionSpec> kRunOptions = {
    {"weights", 1, "m"}, {"input", 1, "i"},   {"output", 1, "o"},       {"device", 1},
    {"precision", 1},    {"device-index", 1}, {"threads", 1},           {"allow-non-finite", 0},
    {"stats", 0},        {"matmul-precision", 1}};
const std::vector<OptionSpec> kRestoreOptions = {
    {"weights", 1, "m"},           {"input", 1, "i"},         {"output", 1, "o"},
    {"device", 1},                 {"precision", 1},          {"tile", 2},
    {"tile-overlap", 1},           {"tile-frames", 1},        {"tile-overlap-frames", 1},
    {"memory-budget", 1},          {"chunk-frames", 1, nullptr, "chunk"},
    {"lookahead-frames", 1, nullptr, "lookahead"},            {"independent-chunks", 1},
    {"threads", 1},                {"quiet", 0, "q"},         {"crf", 1},
    {"codec", 1},                  {"scale", 1},              {"allow-non-finite", 0},
    {"device-index", 1},           {"stats", 0},              {"matmul-precision", 1},
    {"noise-level", 1}};

namespace {

const char* kUsage =
    "usage:\n"
    "  vrestore restore -i INPUT -o OUTPUT [-m MODEL.safetensors] [--device cpu|cuda] [--precision f32|f16]\n"
    "                   [--device-index N] [--scale N] [--tile H W] [--tile-frames T] [--tile-overlap P]\n"
    "                   [--tile-overlap-frames P] [--memory-budget SIZE] [--chunk N] [--lookahead L]\n"
    "                   [--threads N] [--matmul-precision highest|high] [--crf N] [--codec NAME] [--quiet]\n"
    "                   [--noise-level SIGMA] [--stats]\n"
    "      restores a video file or a folder of PNG frames into a video file or PNG folder: one output\n"
    "      frame per input frame (except VRT frame interpolation: docs/models.md), at the input's frame\n"
    "      rate (an input with gaps in its timestamps keeps each frame's time), with its rotation\n"
    "      (MP4/MOV) and its audio (copied, else re-encoded to AAC/Opus, else dropped with a warning;\n"
    "      damaged audio packets are skipped, as ffmpeg does).\n"
    "      A path that is a folder or ends with '/' is a PNG folder (frames in natural name order; 8-\n"
    "      and 16-bit; grey -> R=G=B, alpha dropped); anything else a video (container from the name).\n"
    "      Without -m: the default x4 model (" "vrestore_default_x4.safetensors" "; $VRESTORE_DEFAULT_MODEL overrides).\n"
    "      Frames stream through: memory does not grow with the clip's length. Ctrl-C stops after the\n"
    "      frames in progress (a recurrent model's chunk) and leaves a playable output of the frames\n"
    "      done (exit code 130).\n"
    "  vrestore restore --weights W.safetensors --input IN.safetensors --output OUT.safetensors [options]\n"
    "      restores the clip in tensor 'input' ((T,C,H,W) or (1,T,C,H,W); C = 3, or 4 for VRT's\n"
    "      denoiser: RGB + sigma/255) into tensor 'output'\n"
    "  vrestore run     --weights W.safetensors --input IN.safetensors --output OUT.safetensors\n"
    "                   [--device cpu|cuda] [--precision f32|f16] [--device-index N] [--threads N]\n"
    "                   [--matmul-precision highest|high] [--allow-non-finite] [--stats]\n"
    "      applies the network's forward once to tensor 'input', writes tensor 'output'\n"
    "  vrestore info    W.safetensors\n"
    "      prints architecture, config and the tensor table\n"
    "  vrestore diff    A.safetensors:NAME[i] B.safetensors:NAME[j]\n"
    "      max-abs / mean-abs difference and PSNR of two tensors ([i] selects along dimension 0);\n"
    "      NaN and Inf count as differences: they make max_abs nan (or inf) and the exit code 1\n"
    "options:\n"
    "  -m, --weights M        model file from weights_converter (restore: default model when omitted)\n"
    "  -i, --input IN         -o, --output OUT: the output may never be an input (nor the model file);\n"
    "                         a video appears under its name only when complete; a PNG folder fills\n"
    "                         frame by frame\n"
    "  --device cpu|cuda      where the model runs (default cpu); without a usable GPU, cuda is a one-line error\n"
    "  --precision f32|f16    weights and features in f32 or f16 (f16 needs --device cuda; default f32)\n"
    "  --device-index N       which CUDA device (default 0; --device cuda only)\n"
    "  --scale N              refuse a model whose scale is not N (default: the model's)\n"
    "  --tile H W             VRT: spatial tiles of H x W input pixels (releases: multiples of 8, >= 64; 0 = chosen\n"
    "                         for the memory budget: the whole frame when it fits; default 0 0)\n"
    "  --tile-frames T        VRT: temporal clips of T frames (0 = chosen for the budget; default 0)\n"
    "  --tile-overlap P       VRT: input pixels shared by neighbouring tiles, both axes, < tile (default 20)\n"
    "  --tile-overlap-frames P  VRT: frames shared by neighbouring clips, < T (default 2)\n"
    "  --memory-budget SIZE   VRT: memory one restoration plans for, on its device: bytes, or with K, M, G\n"
    "                         (10^3, 10^6, 10^9) or KiB, MiB, GiB (2^10, 2^20, 2^30) (default 8GiB)\n"
    "                         these five apply to VRT only (docs/tiling.md); other models refuse them\n"
    "  --threads N            CPU threads, 1 to 1024 (default: OpenMP's, e.g. OMP_NUM_THREADS)\n"
    "  --matmul-precision highest|high  high: on a CPU with AMX-BF16, EDVR's and (Real)BasicVSR's 3x3\n"
    "                         convolutions use bf16x3 products (~1e-5 of upstream instead of ~1e-6;\n"
    "                         docs/embedding.md); elsewhere the same as highest, fp32 (default: highest,\n"
    "                         or $VRESTORE_FLOAT32_MATMUL_PRECISION)\n"
    "  --chunk N              (--chunk-frames) frames per chunk, >= 1 (default 32)\n"
    "  --lookahead L          (--lookahead-frames) look-ahead beyond each chunk, >= 0 (default 16)\n"
    "  --independent-chunks 0|1  upstream's max_seq_len mode: chunks without shared state (default 0)\n"
    "                         these three apply to recurrent models (BasicVSR, RealBasicVSR) only; EDVR\n"
    "                         refuses them\n"
    "  --crf N                video quality, 0 to 63, lower is better (default 18 for libx264)\n"
    "  --codec NAME           video encoder as FFmpeg names it (default: libx264 where the container takes\n"
    "                         it, else the container's own, e.g. libvpx-vp9 for .webm; mpeg4 without libx264).\n"
    "                         Pixel format: yuv420p for lossy codecs at even sizes, else the encoder's closest\n"
    "                         to RGB (ffv1/png keep RGB exactly; odd sizes get 4:4:4; frames are never padded)\n"
    "  -q, --quiet            no progress, no summary and no FFmpeg/encoder log on stderr (errors still are)\n"
    "  --stats                after the run, print on stdout: frames, wall time, fps, peak host RSS and\n"
    "                         (cuda) the model's peak device memory, in bytes and MiB\n"
    "  --allow-non-finite     accept NaN/Inf input pixels (default: an error naming the frame)\n"
    "  --noise-level SIGMA    VRT non-blind denoising (008): the noise's standard deviation on the 0-255\n"
    "                         scale (upstream's --sigma, e.g. 25), given to the model as a fourth input\n"
    "                         channel SIGMA/255; required by that model, refused by the others\n"
    "progress goes to stderr: one redrawn line on a terminal, a line every 10 frames or 5 s otherwise.\n";

// info and diff take positional arguments only.
void check_positional(int argc, char** argv, int count) {
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--", 0) == 0) throw UsageError("unknown option " + arg, true);
  }
  if (argc != 2 + count)
    throw UsageError("'" + std::string(argv[1]) + "' takes " + std::to_string(count) + " argument(s), got " +
                         std::to_string(argc - 2),
                     true);
}

int print_usage() {
  std::fputs(kUsage, stdout);
  if (!media_io_available())
    std::fputs("this build has no video or PNG-folder I/O (FFmpeg or libpng were missing at build time)\n", stdout);
  return 0;
}

int print_version() {
  std::string reason;
  const bool cuda = cuda_available(&reason);
  std::printf("vrestore %s\nvideo and PNG-folder I/O: %s\nCUDA: %s\n", VRESTORE_VERSION_TEXT,
              media_io_available() ? "yes" : "no (FFmpeg or libpng missing at build time)",
              cuda ? "available" : reason.c_str());
  return 0;
}

// `vrestore run --help`, `vrestore restore --version`: anywhere after the command, before parsing
// the rest (which may be incomplete).
bool asks_for(int argc, char** argv, const char* long_name, const char* short_name) {
  for (int i = 2; i < argc; ++i)
    if (std::strcmp(argv[i], long_name) == 0 || (short_name && std::strcmp(argv[i], short_name) == 0)) return true;
  return false;
}

int dispatch(int argc, char** argv) {
  if (argc < 2) throw UsageError("missing command", true);
  const std::string cmd = argv[1];
  if (cmd == "run" || cmd == "restore") {
    if (asks_for(argc, argv, "--help", "-h")) return print_usage();
    if (asks_for(argc, argv, "--version", nullptr)) return print_version();
  }
  if (cmd == "run") return cmd_run(Options(argc, argv, 2, kRunOptions));
  if (cmd == "restore") return cmd_restore(Options(argc, argv, 2, kRestoreOptions));
  if (cmd == "info") {
    check_positional(argc, argv, 1);
    return cmd_info(argv[2]);
  }
  if (cmd == "diff") {
    check_positional(argc, argv, 2);
    return cmd_diff(argv[2], argv[3]);
  }
  if (cmd == "--help" || cmd == "-h" || cmd == "help") return print_usage();
  if (cmd == "--version" || cmd == "version") return print_version();
  throw UsageError("unknown command or wrong arguments: '" + cmd + "'", true);
}

}  // namespace
}  // namespace vrestore::cli

int main(int argc, char** argv) {
  using vrestore::cli::UsageError;
  try {
    return vrestore::cli::dispatch(argc, argv);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "vrestore: %s\n%s", e.what(), e.show_usage ? vrestore::cli::kUsage : "");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vrestore: error: %s\n", e.what());
    return 1;
  }
}
