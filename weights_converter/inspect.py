#!/usr/bin/env python3
"""Show what a checkpoint (.pth) or converted file (.safetensors) holds: container, wrapper,
recognised network and arguments (or why it is not recognised), and the tensor table.

usage: inspect.py FILE
"""
import os
import sys

if __name__ == '__main__' and not __package__:
    # This file is named like the standard library's inspect module: import this folder as a
    # package (PEP 366) from its parent, and keep this directory off sys.path.
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[0] = os.path.dirname(_here)
    __package__ = os.path.basename(_here)


import json  # noqa: E402
import signal  # noqa: E402

from . import ConversionError, safetensors_file, torch_checkpoint, wrappers  # noqa: E402
from .recognise import recognise  # noqa: E402


def print_table(rows):
    """rows: (name, dtype, shape list)."""
    width = max((len(name) for name, _, _ in rows), default=0)
    for name, dtype, shape in rows:
        print(f'  {name:<{width}}  {dtype:<4}  {shape}')
    print(f'{len(rows)} tensors')


def inspect_safetensors(path):
    metadata, header, _ = safetensors_file.read_header(path)
    print(f'{path}: safetensors')
    for key, value in metadata.items():
        print(f'  {key} = {value}')
    print_table([(name, info['dtype'], info['shape']) for name, info in header.items()])


def inspect_checkpoint(path):
    with torch_checkpoint.load(path) as checkpoint:
        unwrapped = wrappers.unwrap(checkpoint.obj)
        print(f'{path}: {checkpoint.container} torch checkpoint, {unwrapped.wrapper}')
        if unwrapped.ignored:
            print(f'  ignored: {wrappers.summarize(unwrapped.ignored)}')
        try:
            rec = recognise(unwrapped.state)
            print(f'  arch = {rec.arch.name}, scale {rec.scale}')
            print(f'  config = {json.dumps(rec.args, separators=(",", ":"))}')
            if rec.dropped:
                print(f'  dropped on conversion: {", ".join(rec.dropped)}')
        except ConversionError as e:
            print(f'  not convertible as it is: {e}')
        print_table([(name, t.dtype_name, list(t.shape)) for name, t in unwrapped.state.items()])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0].startswith('-'):
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    path = argv[0]
    if hasattr(signal, 'SIGPIPE'):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quiet exit when piped into head
    try:
        if path.endswith('.safetensors'):
            inspect_safetensors(path)
        else:
            inspect_checkpoint(path)
    except ConversionError as e:
        print(f'inspect.py: error: {e}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
