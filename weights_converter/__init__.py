"""vrestore weights converter: official PyTorch checkpoints -> safetensors, without torch.

Modules:
  torch_checkpoint  read .pth files (legacy and zip containers) with a restricted unpickler
  wrappers          remove the BasicSR / mmedit / VRT wrapper around the state dict
  recognise         identify the upstream class, infer its arguments, verify every key and shape
  families/         one module per network family: key generators and argument inference
  safetensors_file  write (and read back) safetensors files with the standard library + numpy
"""


class ConversionError(Exception):
    """A problem with the input (file, layout, keys, arguments); reported as one line, exit code 2."""
