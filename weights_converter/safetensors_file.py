"""safetensors with the standard library + numpy (https://huggingface.co/docs/safetensors).

Layout: 8-byte little-endian header length N, N bytes of JSON (padded with spaces to a multiple of
8 so the data starts 8-byte aligned), then the tensors back to back, no gaps, in the given order.
"""
import collections
import json
import os
import secrets
import struct

import numpy as np

from . import ConversionError

NUMPY_DTYPES = {'F64': '<f8', 'F32': '<f4', 'F16': '<f2', 'I64': '<i8', 'I32': '<i4',
                'I16': '<i2', 'I8': 'i1', 'U8': 'u1', 'BOOL': '?'}
FLOAT_OUTPUT = {'f32': 'F32', 'f16': 'F16'}
MAX_DATA_BYTES = (1 << 62)  # data_offsets are read as 64-bit integers


def output_dtype(tensor, float_dtype):
    """Float tensors take the requested float type; integer buffers keep theirs."""
    return FLOAT_OUTPUT[float_dtype] if tensor.is_float else tensor.dtype_name


def write(path, tensors, metadata, float_dtype='f32'):
    """tensors: [(name, StoredTensor)]; metadata: {str: str}. Returns names that overflowed in F16.

    Atomic: the file is written under a temporary name in the destination folder and renamed at
    the end; on any error (or KeyboardInterrupt) the temporary file is removed and nothing exists
    at `path` that was not there before."""
    header = {'__metadata__': metadata}
    offset = 0
    for name, tensor in tensors:
        dtype = output_dtype(tensor, float_dtype)
        end = offset + tensor.numel * np.dtype(NUMPY_DTYPES[dtype]).itemsize
        header[name] = {'dtype': dtype, 'shape': list(tensor.shape), 'data_offsets': [offset, end]}
        offset = end
    if offset > MAX_DATA_BYTES:
        raise ConversionError(f'the output would hold {offset} bytes of tensor data, too large')
    try:
        blob = json.dumps(header, separators=(',', ':'), allow_nan=False).encode('utf-8')
    except ValueError as e:  # a NaN/Infinity would make the header invalid JSON for every reader
        raise ConversionError(f'cannot write {path}: metadata is not valid JSON ({e})') from None
    blob += b' ' * (-len(blob) % 8)
    overflowed = []
    tmp = None
    try:
        fd, tmp = _create_temporary(path)
        with os.fdopen(fd, 'wb') as f:
            f.write(struct.pack('<Q', len(blob)))
            f.write(blob)
            for name, tensor in tensors:
                target = NUMPY_DTYPES[header[name]['dtype']]
                for block in tensor.blocks():
                    with np.errstate(over='ignore'):  # F16 overflow is reported by the caller
                        out = block.astype(target, copy=False)
                    if out.dtype == np.float16 and name not in overflowed \
                            and np.isinf(out).sum() > np.isinf(block).sum():
                        overflowed.append(name)
                    f.write(out.tobytes())
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise ConversionError(f'cannot write {path}: {e.strerror or e}') from None
    finally:
        if tmp is not None:
            _remove_quietly(tmp)
    return overflowed


def _create_temporary(path):
    """(fd, name) of a new file next to `path` (same folder, so the final rename is atomic).
    Created with mode 0666 minus the umask, like the final file would be."""
    folder, base = os.path.split(os.path.abspath(path))
    for _ in range(100):
        name = os.path.join(folder, f'.{base}.{secrets.token_hex(4)}.tmp')
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_BINARY', 0),
                           0o666), name
        except FileExistsError:
            continue
    raise ConversionError(f'cannot create a temporary file next to {path}')


def _remove_quietly(name):
    try:
        os.remove(name)
    except OSError:
        pass


def read_header(path):
    """(metadata dict, OrderedDict name -> {'dtype', 'shape', 'data_offsets'}, data start)."""
    try:
        with open(path, 'rb') as f:
            raw = f.read(8)
            (length,) = struct.unpack('<Q', raw)
            header = json.loads(f.read(length).decode('utf-8'), object_pairs_hook=collections.OrderedDict)
    except (OSError, struct.error, ValueError) as e:
        raise ConversionError(f'{path} is not a readable safetensors file ({e})') from None
    metadata = header.pop('__metadata__', {})
    return metadata, header, 8 + length


def read_tensors(path):
    """(metadata, OrderedDict name -> ndarray)."""
    metadata, header, start = read_header(path)
    tensors = collections.OrderedDict()
    for name, info in header.items():
        begin, end = info['data_offsets']
        dtype = np.dtype(NUMPY_DTYPES[info['dtype']])
        count = (end - begin) // dtype.itemsize
        data = np.fromfile(path, dtype=dtype, count=count, offset=start + begin)
        tensors[name] = data.reshape(info['shape'])
    return metadata, tensors
