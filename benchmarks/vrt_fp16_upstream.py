#!/usr/bin/env python3
"""How far upstream VRT's own half precision lands from its fp32 golden outputs (shared/fixtures/vrt_*).

vrestore's f16 VRT is checked against the fp32 `expected` of each golden case. These tiny random
networks amplify rounding a few hundred times (fp32 -> fp64 already moves them by up to 1.4e-4,
fixtures README), so this script measures what upstream itself gives in fp16 on the same cases,
the yardstick for vrestore's f16 figures:

  autocast    upstream's forward under torch.autocast('cpu', torch.float16) (PyTorch's AMP: f16
              matmuls and convs, LayerNorm and softmax in f32), with SpyNet and the deformable
              convolution's inputs in f32 as vrestore keeps them (torchvision's CPU deform_conv2d
              does not take mixed dtypes, and an f16 SpyNet moves the flows far past the 1.2e-5 px
              margin of the nearest4 input warp).
  f16 weights upstream in fp32 with only its Linear/Conv/table parameters rounded to fp16 (the
              LayerNorms and the offset branches kept): the share of the error that weight
              storage alone causes, whatever the activations' precision.

Needs PyTorch >= 2.4 (CPU autocast in float16; e.g. /work/venv-torch2) and a VRT checkout:

    PYTHON_TORCH2 benchmarks/vrt_fp16_upstream.py --vrt-repo VRT_CHECKOUT [--fixtures ../shared/fixtures]
        [--cases vrt_sr_x4_pa2,vrt_deblur_pa2,vrt_denoise_pa4,vrt_vfi]
"""
import argparse
import contextlib
import json
import sys
import warnings
from pathlib import Path

import torch
import torchvision

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import compare_pytorch as cp  # noqa: E402  (safetensors reader)
import compare_vrt as cv  # noqa: E402  (upstream import with the einops stand-in)

CASES = ("vrt_sr_x4_pa2", "vrt_deblur_pa2", "vrt_denoise_pa4", "vrt_vfi")


def load_case(upstream, fixtures, case):
    config = json.loads((fixtures / case / "config.json").read_text())
    model = upstream.VRT(**config["args"]).eval()
    state = torch.load(fixtures / case / "weights.pth", map_location="cpu")["params"]
    model.load_state_dict(state, strict=False)  # the relative_position_index buffers are rebuilt alike
    io = cp.read_safetensors(str(fixtures / case / "io.safetensors"))
    return model, io["input"], io["expected"]


def kept_f32(name):
    return name.startswith("spynet") or "conv_offset" in name


@contextlib.contextmanager
def f32_islands(model):
    """SpyNet and deform_conv2d's operands in f32 while autocast is on (as vrestore runs them)."""
    spynet_forward, deform = model.spynet.forward if hasattr(model, "spynet") else None, torchvision.ops.deform_conv2d

    def as_f32(values):
        return [v.float() if torch.is_tensor(v) else v for v in values]

    def spynet_f32(*args, **kwargs):
        with torch.autocast("cpu", enabled=False):
            return spynet_forward(*as_f32(args), **kwargs)

    def deform_f32(*args, **kwargs):
        with torch.autocast("cpu", enabled=False):
            return deform(*as_f32(args), **dict(zip(kwargs, as_f32(kwargs.values()))))

    if spynet_forward:
        model.spynet.forward = spynet_f32
    torchvision.ops.deform_conv2d = deform_f32
    try:
        yield
    finally:
        torchvision.ops.deform_conv2d = deform
        if spynet_forward:
            del model.spynet.forward


def round_weights(model):
    with torch.no_grad():
        for name, module in model.named_modules():
            if kept_f32(name) or isinstance(module, torch.nn.LayerNorm):
                continue
            for p in module.parameters(recurse=False):
                p.copy_(p.half().float())


def differences(out, expected):
    d = (out.float() - expected).abs()
    return d.max().item(), d.mean().item()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vrt-repo", required=True)
    parser.add_argument("--fixtures", default=str(HERE.parent.parent / "shared" / "fixtures"))
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    upstream = cv.import_upstream(args.vrt_repo)
    fixtures = Path(args.fixtures)
    print(f"torch {torch.__version__}; max-abs / mean-abs against each case's fp32 `expected`")
    print(f"{'case':18} {'fp32 (check)':>22} {'fp16 autocast':>22} {'f16 weights':>22}")
    for case in args.cases.split(","):
        model, x, expected = load_case(upstream, fixtures, case)
        with torch.no_grad():
            fp32 = differences(model(x), expected)
            with f32_islands(model), torch.autocast("cpu", dtype=torch.float16):
                amp = differences(model(x), expected)
            round_weights(model)
            weights = differences(model(x), expected)
        cells = [f"{a:.3e} / {b:.1e}" for a, b in (fp32, amp, weights)]
        print(f"{case:18} {cells[0]:>22} {cells[1]:>22} {cells[2]:>22}", flush=True)


if __name__ == "__main__":
    main()
