#!/usr/bin/env python3
"""Convert an official EDVR / BasicVSR / IconVSR / RealBasicVSR / BasicVSR++ / SpyNet / VRT
checkpoint (.pth) into a vrestore safetensors file. Needs only Python 3 + numpy (no torch).

usage: convert.py SRC.pth DST.safetensors [--config CFG.json] [--dtype f32|f16]

The network and its constructor arguments are recognised from the key names and shapes; every key
and shape is then checked against the upstream class (see README.md). Errors are reported as one
line "convert.py: error: ..." with exit code 2.
"""
import os
import sys

if __name__ == '__main__' and not __package__:
    # Run as a script: import this file's folder as a package (PEP 366), whatever it is named and
    # wherever it was installed. Its parent replaces this folder on sys.path so that the sibling
    # inspect.py can never shadow the standard library's inspect module.
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[0] = os.path.dirname(_here)
    __package__ = os.path.basename(_here)


import argparse  # noqa: E402
import json  # noqa: E402

from . import ConversionError, safetensors_file, torch_checkpoint, wrappers  # noqa: E402
from .recognise import recognise  # noqa: E402

FORMAT_VERSION = '1'


def log(message):
    print(f'convert.py: {message}', file=sys.stderr)


def read_config(path):
    """(args dict, upstream class name or None) from a JSON file with an "args" object."""
    if path is None:
        return {}, None
    try:
        with open(path, encoding='utf-8') as f:
            config = json.load(f, object_pairs_hook=_unique_keys)
    except OSError as e:
        raise ConversionError(f'cannot read --config {path}: {e.strerror or e}') from None
    except RecursionError:
        raise ConversionError(f'--config {path} is nested too deeply') from None
    except ValueError as e:
        raise ConversionError(f'--config {path} is not valid JSON ({e})') from None
    if not isinstance(config, dict) or not isinstance(config.get('args'), dict):
        raise ConversionError(f'--config {path} needs an "args" object with constructor arguments')
    upstream_class = config.get('upstream_class')
    return config['args'], upstream_class if isinstance(upstream_class, str) else None


def _unique_keys(pairs):
    keys = [k for k, _ in pairs]
    for k in keys:
        if keys.count(k) > 1:
            raise ValueError(f'key {k!r} appears twice')
    return dict(pairs)


def _same_file(a, b):
    """True if paths a and b name the same file (also through links); b exists."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # a does not exist yet
        return False


def check_output_path(dst, inputs):
    """inputs: {description: path}. The output may never replace an input, nor be a folder."""
    for what, path in inputs.items():
        if path is not None and _same_file(dst, path):
            raise ConversionError(f'the output {dst} is the {what} {path}; choose another output path')
    if os.path.isdir(dst):
        raise ConversionError(f'the output {dst} is a folder; give a file name')


def load_and_recognise(src, config_args=None, config_class=None):
    """(Checkpoint, Unwrapped, Recognition); the caller closes the Checkpoint."""
    checkpoint = torch_checkpoint.load(src)
    try:
        unwrapped = wrappers.unwrap(checkpoint.obj)
        return checkpoint, unwrapped, recognise(unwrapped.state, config_args, config_class)
    except BaseException:
        checkpoint.close()
        raise


def metadata(src, container, unwrapped, recognition):
    return {
        'vrestore.format_version': FORMAT_VERSION,
        'vrestore.arch': recognition.arch.name,
        'vrestore.config': json.dumps(recognition.args, separators=(',', ':'), allow_nan=False),
        'vrestore.scale': str(recognition.scale),
        'vrestore.source': f'{os.path.basename(src)} ({container}, {unwrapped.wrapper})',
    }


def convert(src, dst, config_path=None, float_dtype='f32'):
    check_output_path(dst, {'input checkpoint': src, '--config file': config_path})
    config_args, config_class = read_config(config_path)
    checkpoint, unwrapped, rec = load_and_recognise(src, config_args, config_class)
    with checkpoint:
        log(f'read {src}: {checkpoint.container} torch checkpoint, {unwrapped.wrapper}, '
            f'{len(unwrapped.state)} tensors')
        if unwrapped.ignored:
            log(f'ignored entries outside the network weights: {wrappers.summarize(unwrapped.ignored)}')
        log(f'recognised {rec.arch.name}, scale {rec.scale}, arguments '
            f'{json.dumps(rec.args, separators=(",", ":"))}')
        for note in rec.notes:
            log(note)
        if rec.dropped:
            log(f'dropped constant SpyNet normalisation buffers: {", ".join(rec.dropped)}')
        tensors = [(name, unwrapped.state[name]) for name in rec.kept]
        overflowed = safetensors_file.write(dst, tensors, metadata(src, checkpoint.container, unwrapped, rec),
                                            float_dtype)
    for name in overflowed:
        log(f'warning: {name} has values beyond the F16 range (stored as inf)')
    size_mb = os.path.getsize(dst) / 1e6
    log(f'wrote {dst}: {len(tensors)} tensors, {size_mb:.1f} MB, floats as {float_dtype.upper()}')
    return rec


def main(argv=None):
    parser = argparse.ArgumentParser(prog='convert.py', description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='official checkpoint (.pth, legacy or zip torch format)')
    parser.add_argument('dst', help='output .safetensors file')
    parser.add_argument('--config', help='JSON file whose "args" object holds upstream constructor '
                                         'arguments; they override the inferred ones')
    parser.add_argument('--dtype', choices=['f32', 'f16'], default='f32',
                        help='storage type of floating-point tensors (default f32)')
    options = parser.parse_args(argv)
    try:
        convert(options.src, options.dst, options.config, options.dtype)
    except ConversionError as e:
        parser.exit(2, f'convert.py: error: {e}\n')
    except MemoryError:
        parser.exit(2, 'convert.py: error: out of memory\n')
    except KeyboardInterrupt:
        parser.exit(130, 'convert.py: interrupted; nothing was written\n')
    except Exception as e:  # malformed input that slipped past the checks: still one line, no traceback
        if os.environ.get('VRESTORE_DEBUG'):
            raise
        parser.exit(2, f'convert.py: error: cannot convert {options.src}: {type(e).__name__}: {e}\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
