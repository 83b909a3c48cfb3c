"""vrestore weights converter: official PyTorch checkpoints -> safetensors, without torch.

Modules:
  torch_checkpoint  read .pth files (legacy and zip containers) with a restricted unpickler
  wrappers          remove the BasicSR / mmedit / VRT wrapper around the state dict
  recognise         identify the upstream class, infer its arguments, verify every key and shape
  families/         one module per network family: key generators and argument inference
  safetensors_file  write (and read back) safetensors files with the standard library + numpy
"""
import os
import sys

try:  # every module of the package needs numpy: say so in one line rather than with a traceback
    import numpy  # noqa: F401
except ModuleNotFoundError as e:
    if e.name != 'numpy':
        raise
    print(f'{os.path.basename(sys.argv[0]) or "vrestore converter"} needs numpy, which {sys.executable} '
          'does not have: apt-get install python3-numpy or pip install numpy', file=sys.stderr)
    sys.exit(2)


class ConversionError(Exception):
    """A problem with the input (file, layout, keys, arguments); reported as one line, exit code 2."""
